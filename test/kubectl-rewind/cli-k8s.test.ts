/**
 * `kubectl rewind` against a real kube-apiserver, run by the real kubectl (plugin lookup on PATH)
 * with real ServiceAccount tokens: what the API server itself decides — creating, listing,
 * reading and deleting TraceSnapshots with the user's rights, each refusal naming the verb and
 * resource, no CRD saying how to install Rewind, no controller saying so — and the ways to the
 * controller failing with lines a person can act on. Collecting and downloading with a running
 * controller and agents is in test/controller/e2e-vm.test.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { binaryPath } from '../k8s/binaries';
import { startControlPlane, type ControlPlane } from '../k8s/controlPlane';
import { projectRoot } from '../vm/kernel';
import { freePort } from '../vm/vm';
import { registerNodeAndPod, startStandinKubelet } from './standin-kubelet';
import {
  grantSnapshots,
  installPlugin,
  publishConnection,
  serviceAccountToken,
  userKubeconfig,
  type Plugin,
} from './plugin';

const CRD = join(projectRoot, 'charts/rewind/crds/tracesnapshots.rewind.dev.yaml');
const TEAM = 'team';
const REWIND_NS = 'rewind-system';

describe('kubectl rewind against a real API server', () => {
  let cp: ControlPlane;
  let dir: string;
  let plugin: Plugin;
  let admin: string;
  let creator: string;
  let nobody: string;

  const expectOneLineError = (stderr: string, ...parts: (string | RegExp)[]) => {
    const lines = stderr.split('\n').filter(Boolean);
    expect(lines).toHaveLength(1);
    for (const p of parts) expect(lines[0]).toMatch(p);
  };

  beforeAll(async () => {
    // test-output/ exists once `npm test` ran; a suite run alone on a fresh clone makes it.
    mkdirSync(join(projectRoot, 'test-output'), { recursive: true });
    dir = mkdtempSync(join(projectRoot, 'test-output', 'kubectl-rewind-'));
    plugin = installPlugin(dir);
    cp = await startControlPlane();
    admin = userKubeconfig(cp, dir, 'admin', cp.adminToken, TEAM);
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('without the CRD: says Rewind is not installed and how to install it', async () => {
    const r = await plugin.run(['list'], admin);
    expect(r.code).toBe(1);
    expectOneLineError(r.stderr, /no TraceSnapshot resource/, /is Rewind installed\? helm install/);
  });

  describe('with the CRD', () => {
    beforeAll(async () => {
      await cp.kubectlOk(['apply', '-f', CRD]);
      await cp.kubectlOk(['wait', '--for=condition=Established', 'crd/tracesnapshots.rewind.dev']);
      await cp.kubectlOk(['create', 'namespace', TEAM]);
      await cp.kubectlOk(['create', 'namespace', REWIND_NS]);
      // No controller-manager here makes each namespace's default ServiceAccount.
      await cp.kubectlOk(['-n', TEAM, 'create', 'serviceaccount', 'default']);
      const creatorToken = await serviceAccountToken(cp, TEAM, 'creator');
      await grantSnapshots(cp, TEAM, { namespace: TEAM, name: 'creator' }, ['create']);
      creator = userKubeconfig(cp, dir, 'creator', creatorToken, TEAM);
      nobody = userKubeconfig(
        cp,
        dir,
        'nobody',
        await serviceAccountToken(cp, TEAM, 'nobody'),
        TEAM,
      );
    }, 120_000);

    it('a user with no rights: the refusal names create on tracesnapshots in the namespace', async () => {
      const r = await plugin.run(['snapshot', '--node', 'node-1'], nobody);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expectOneLineError(
        r.stderr,
        /you may not create tracesnapshots\.rewind\.dev in namespace "team"/,
        /system:serviceaccount:team:nobody/,
      );
      const list = await plugin.run(['list'], nobody);
      expect(list.code).toBe(1);
      expectOneLineError(
        list.stderr,
        /you may not list tracesnapshots\.rewind\.dev in namespace "team"/,
      );
    });

    it('a user who may create but not get: the snapshot is made, following it is refused by name', async () => {
      const r = await plugin.run(
        ['snapshot', '--node', 'node-1', '--wait', '--window', '5s'],
        creator,
      );
      expect(r.code).toBe(1);
      const name = /^tracesnapshot\.rewind\.dev\/(\S+) created$/m.exec(r.stdout)?.[1];
      expect(name).toMatch(/^manual-/);
      expectOneLineError(
        r.stderr,
        new RegExp(`you may not get tracesnapshots\\.rewind\\.dev "${name}" in namespace "team"`),
      );
      // It exists, as asked.
      const got = await cp.request(
        'GET',
        `/apis/rewind.dev/v1alpha1/namespaces/${TEAM}/tracesnapshots/${name}`,
      );
      expect(got.status).toBe(200);
      const spec = (got.body as { spec: { target: unknown; windowSeconds: number } }).spec;
      expect(spec).toMatchObject({ target: { nodeNames: ['node-1'] }, windowSeconds: 5 });
    });

    it('the admin creates, lists, gets and deletes; --pod and -l choose the nodes of pods', async () => {
      await cp.kubectlOk(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'v1',
          kind: 'Pod',
          metadata: { name: 'web-1', namespace: TEAM, labels: { app: 'web' } },
          spec: { nodeName: 'node-7', containers: [{ name: 'c', image: 'x' }] },
        }),
      });
      const byPod = await plugin.run(
        [
          'snapshot',
          '--pod',
          'web-1',
          '--name',
          'by-pod',
          '--reason',
          'slow checkout',
          '--window',
          '30s',
        ],
        admin,
      );
      expect(byPod.stderr).toBe('');
      expect(byPod.code).toBe(0);
      expect(byPod.stdout).toBe('tracesnapshot.rewind.dev/by-pod created\n');
      const bySelector = await plugin.run(
        ['snapshot', '-l', 'app=web,tier!=db', '--name', 'by-label'],
        admin,
      );
      expect(bySelector.code).toBe(0);
      const objects = JSON.parse((await plugin.run(['list', '-o', 'json'], admin)).stdout) as {
        items: { metadata: { name: string }; spec: { target: unknown; reason?: string } }[];
      };
      const byName = new Map(objects.items.map((i) => [i.metadata.name, i.spec]));
      expect(byName.get('by-pod')).toMatchObject({
        target: { nodeNames: ['node-7'] },
        reason: 'slow checkout',
      });
      expect(byName.get('by-label')).toMatchObject({
        target: {
          pods: {
            namespace: TEAM,
            labelSelector: {
              matchLabels: { app: 'web' },
              matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['db'] }],
            },
          },
        },
      });

      const table = (await plugin.run(['list'], admin)).stdout.split('\n');
      expect(table[0]).toMatch(/^NAME\s+PHASE\s+TRIGGER\s+NODES\s+EVENTS\s+SIZE\s+AGE$/);
      expect(table.find((l) => l.startsWith('by-pod '))).toMatch(/^by-pod\s+Pending\s+manual\s/);
      const all = (await plugin.run(['list', '-A'], admin)).stdout;
      expect(all).toMatch(/^NAMESPACE\s+NAME/);
      expect(all).toMatch(/\nteam\s+by-pod\s/);

      const get = await plugin.run(['get', 'by-pod'], admin);
      expect(get.code).toBe(0);
      expect(get.stdout).toMatch(/^Name:\s+by-pod$/m);
      expect(get.stdout).toMatch(/^Target:\s+nodes node-7$/m);
      expect(get.stdout).toMatch(/^Reason:\s+slow checkout$/m);

      const missing = await plugin.run(['get', 'no-such'], admin);
      expect(missing.code).toBe(1);
      expectOneLineError(
        missing.stderr,
        /no tracesnapshots\.rewind\.dev "no-such" in namespace "team"/,
      );

      const del = await plugin.run(['delete', 'by-pod', 'by-label'], admin);
      expect(del.code).toBe(0);
      expect(del.stdout).toBe(
        'tracesnapshot.rewind.dev "by-pod" deleted\ntracesnapshot.rewind.dev "by-label" deleted\n',
      );
    });

    it('no controller: each missing piece is named', async () => {
      const notInstalled = await plugin.run(['agents'], admin);
      expect(notInstalled.code).toBe(1);
      expectOneLineError(
        notInstalled.stderr,
        /Rewind is not installed in namespace "rewind-system"/,
        /--rewind-namespace/,
      );

      await publishConnection(cp, {
        namespace: REWIND_NS,
        caPem: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
        serverName: 'rewind-controller.rewind.svc',
        apiPort: 9411,
        selector: 'app.kubernetes.io/name=rewind,app.kubernetes.io/component=controller',
      });
      const noPod = await plugin.run(['agents'], admin);
      expect(noPod.code).toBe(1);
      expectOneLineError(
        noPod.stderr,
        /no controller is running: no Ready pod in namespace "rewind-system"/,
      );

      const refused = await plugin.run(['agents', '--controller-address', '127.0.0.1:1'], admin);
      expect(refused.code).toBe(1);
      expectOneLineError(refused.stderr, /cannot talk to the controller at 127\.0\.0\.1:1/);

      // A controller pod whose port nobody listens on: the kubelet's own line (on the
      // port-forward's error channel) is in the error. The kubelet is a stand-in
      // (standin-kubelet.ts: none runs here yet); the API server and the port-forward are real.
      const kubelet = await startStandinKubelet({ ports: { 9411: await freePort() } });
      try {
        await registerNodeAndPod(cp, kubelet, {
          node: 'control-1',
          namespace: REWIND_NS,
          pod: 'rewind-controller-0',
        });
        await cp.kubectlOk([
          '-n',
          REWIND_NS,
          'label',
          'pod',
          'rewind-controller-0',
          'app.kubernetes.io/name=rewind',
          'app.kubernetes.io/component=controller',
        ]);
        const pod = (
          await cp.request('GET', `/api/v1/namespaces/${REWIND_NS}/pods/rewind-controller-0`)
        ).body as { status: Record<string, unknown> };
        const ready = await cp.request(
          'PUT',
          `/api/v1/namespaces/${REWIND_NS}/pods/rewind-controller-0/status`,
          { ...pod, status: { ...pod.status, conditions: [{ type: 'Ready', status: 'True' }] } },
        );
        expect(ready.status).toBe(200);
        const cut = await plugin.run(['agents'], admin);
        expect(cut.code).toBe(1);
        expectOneLineError(
          cut.stderr,
          /cannot talk to the controller pod rewind-system\/rewind-controller-0 \(port-forward\)/,
          /\(the port-forward: error forwarding port 9411 to pod /,
        );
      } finally {
        await kubelet.close();
      }

      // A user who may not read the connection ConfigMap is told which right is missing.
      const denied = await plugin.run(['agents'], nobody);
      expect(denied.code).toBe(1);
      expectOneLineError(
        denied.stderr,
        /you may not get configmaps "rewind-connection" in namespace "rewind-system"/,
      );
    });

    it('Ctrl-C while following: the snapshot keeps running, and the line says how to follow it again', async () => {
      // No controller runs here: the snapshot stays Pending, so --wait follows until interrupted.
      const child = spawn(
        binaryPath('kubectl'),
        ['rewind', 'snapshot', '--node', 'node-1', '--name', 'interrupted', '--wait'],
        {
          env: {
            ...process.env,
            PATH: `${plugin.binDir}:${process.env.PATH ?? ''}`,
            KUBECONFIG: admin,
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      const following = new Promise<void>((resolve) =>
        child.stderr.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (/interrupted\s+Pending/.test(stderr)) resolve();
        }),
      );
      const exited = new Promise<number | null>((resolve) =>
        child.once('exit', (code) => resolve(code)),
      );
      await following;
      child.kill('SIGINT');
      expect(await exited).toBe(130);
      expect(stdout).toBe('tracesnapshot.rewind.dev/interrupted created\n');
      const last = stderr.trim().split('\n').pop() as string;
      expect(last).toMatch(
        /^error: stopped following; team\/interrupted keeps running in the cluster\./,
      );
      expect(last).toContain('kubectl rewind get interrupted -n team --wait');
      const still = await cp.request(
        'GET',
        `/apis/rewind.dev/v1alpha1/namespaces/${TEAM}/tracesnapshots/interrupted`,
      );
      expect(still.status).toBe(200);
    });

    it('a reader that goes away (… | true): exit 0, no stack', () => {
      const r = spawnSync(
        'bash',
        [
          '-c',
          `${binaryPath('kubectl')} rewind completion bash | true; echo "exit \${PIPESTATUS[0]}" >&2`,
        ],
        {
          env: { ...process.env, PATH: `${plugin.binDir}:${process.env.PATH ?? ''}` },
          encoding: 'utf8',
        },
      );
      expect(r.stderr).toBe('exit 0\n');
    });

    it('runs through kubectl: help exits 0, a bad flag exits 2 with one line', async () => {
      const help = await plugin.run(['snapshot', '--help'], admin);
      expect(help.code).toBe(0);
      expect(help.stdout).toMatch(/Usage: kubectl rewind snapshot/);
      expect(help.stdout).toMatch(/Examples:\n\s+kubectl rewind snapshot/);
      const bad = await plugin.run(['snapshot', '--nod', 'x'], admin);
      expect(bad.code).toBe(2);
      expectOneLineError(bad.stderr, /unknown option '--nod'/, /kubectl rewind snapshot --help/);
    });
  });
});
