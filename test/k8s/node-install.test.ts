/**
 * `helm install` of charts/rewind with its default values on a real cluster whose pods run
 * (nodeCluster.ts: a kubelet + containerd + runc node on this machine), with the image built by
 * `npm run image` (scripts/build-image.sh) from the project's Dockerfile, over a local stand-in
 * base for node:20-bookworm-slim (scripts/node-base-image.sh says why).
 *
 * This machine's kernel cannot load modules, so its node is the degraded case, for real: the node
 * DaemonSet's loader stays up and says why, the device plugin registers with the kubelet and
 * advertises the recorder's devices as unhealthy, and the agent's pod, which requests one, waits
 * Pending for it (no crash loop). The controller runs with its volume, `helm test` passes, an
 * upgrade rolls the pods, and `helm uninstall` leaves only what the chart documents. Pod
 * Security: the namespace as NOTES.txt labels it admits every pod; a `restricted` one refuses
 * the node-side pods with the reasons and admits the controller.
 *
 * What this file does not reach yet: a node whose kernel loads rewind.ko (a kubelet in a VM of
 * the harness), so no agent records here and no TraceSnapshot completes on this cluster.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildFailure, buildImage, IMAGE_NAME, requireBuildTools } from '../image/build';
import { installPlugin } from '../kubectl-rewind/plugin';
import type { RunResult } from './binaries';
import { CHART_DIR } from './chart';
import { type NodeCluster, startCluster } from './nodeCluster';
import { localVolume, type Pod, release, type Release, until } from './release';

const NS = 'rewind-system';
const RELEASE = 'rewind';
const RESOURCE = 'rewind.dev/recorder';
/** The chart's default number of device IDs (node.devicePlugin.devices). */
const DEVICES = 4;

let cluster: NodeCluster;
let scratch = '';
let installed: RunResult;
/** The loader's state folder on the node (a hostPath, DirectoryOrCreate). */
const MODULE_STATE_DIR = '/var/run/rewind/module';
/** What the node DaemonSet's DirectoryOrCreate hostPath volumes make (values.yaml's defaults). */
const HOST_FOLDERS = ['/var/run/rewind', '/var/cache/rewind/modules'];
const hostFoldersBefore = HOST_FOLDERS.filter((d) => existsSync(d));

let kubectl: Release['kubectl'];
let json: Release['json'];
let helm: Release['helm'];
let podsOf: Release['podsOf'];
let readyPod: (component: string) => Promise<Pod>;

beforeAll(async () => {
  requireBuildTools();
  const image = await buildImage();
  if (image.code !== 0) throw new Error(buildFailure(image));
  console.log(`image ${IMAGE_NAME}: ${image.archive} (${image.seconds.toFixed(0)} s)`);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'rewind-node-install-'));
  cluster = await startCluster({
    images: [image.archive],
    hostLockTimeoutMs: 600_000,
    log: (line) => console.log(line),
  });
  const r = release(cluster, NS);
  ({ kubectl, json, helm, podsOf } = r);
  readyPod = (component) => r.readyPod(component);
  // The install itself is the first test (into a restricted namespace, then labelled as
  // NOTES.txt says). The controller's claim has no storage class: this cluster has no
  // provisioner, so a local volume on the node is made for it, as an operator of such a cluster
  // would.
  const volume = path.join(scratch, 'traces');
  mkdirSync(volume);
  await localVolume(cluster, 'rewind-traces', volume, cluster.nodeNames[0]);
}, 1_800_000);

afterAll(async () => {
  const report = await cluster?.stop();
  // The folders the node DaemonSet's hostPath volumes made (DirectoryOrCreate) on this machine.
  for (const dir of HOST_FOLDERS.filter((d) => !hostFoldersBefore.includes(d))) {
    rmSync(dir, { recursive: true, force: true });
  }
  if (report) console.log(`cluster stopped in ${report.ms} ms`);
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 300_000);

interface Event {
  reason: string;
  message: string;
  involvedObject: { kind: string; name: string };
}
const eventsOf = async (kind: string, name: string, reason: string): Promise<Event[]> =>
  (
    await json<{ items: Event[] }>([
      'get',
      'events',
      '--field-selector',
      `involvedObject.kind=${kind},involvedObject.name=${name},reason=${reason}`,
    ])
  ).items;

describe('helm install with default values on a real node (this machine: no module)', () => {
  test('in a namespace Pod Security holds to restricted, the controller is admitted and the node-side pods are refused, with the reasons', async () => {
    await cluster.createNamespace(NS);
    await cluster.kubectlOk([
      'label',
      'namespace',
      NS,
      'pod-security.kubernetes.io/enforce=restricted',
    ]);
    const started = Date.now();
    installed = await helm(['install', RELEASE, CHART_DIR, '-n', NS]);
    if (installed.code !== 0) {
      throw new Error(`helm install failed:\n${installed.stderr}${installed.stdout}`);
    }
    console.log(`helm install: ${Date.now() - started} ms`);
    expect(installed.stdout).toContain(
      `kubectl label namespace ${NS} pod-security.kubernetes.io/enforce=privileged --overwrite`,
    );
    // The DaemonSet controller's pods are refused by the API server's admission, which names
    // every rule broken; the event is what `kubectl describe daemonset` shows an operator.
    const refusal = async (daemonSet: string): Promise<string> =>
      (
        await until(`the ${daemonSet} DaemonSet's pods to be refused`, async () => {
          const events = await eventsOf('DaemonSet', daemonSet, 'FailedCreate');
          return events.length > 0 ? events : undefined;
        })
      )[0].message;
    const node = await refusal('rewind-node');
    expect(node).toMatch(/is forbidden: violates PodSecurity "restricted:latest"/);
    expect(node).toMatch(
      /unrestricted capabilities \(container "loader" must not include "SYS_MODULE"/,
    );
    expect(node).toMatch(
      /restricted volume types \(volumes .*"host-modules".* use restricted volume type "hostPath"\)/,
    );
    const agent = await refusal('rewind-agent');
    expect(agent).toMatch(/is forbidden: violates PodSecurity "restricted:latest"/);
    expect(agent).toMatch(/restricted volume types \(volume.* "host-cgroup".* "hostPath"\)/);
    expect(agent).toMatch(/runAsNonRoot != true/);
    // The controller (non-root, no capability, no host path) is admitted.
    const controller = await until('the controller pod to be made', async () => {
      const pods = await podsOf('controller');
      return pods.length === 1 ? pods[0] : undefined;
    });
    expect(controller.metadata.labels['app.kubernetes.io/instance']).toBe(RELEASE);
    expect(await podsOf('node')).toEqual([]);
    expect(await podsOf('agent')).toEqual([]);
  });

  test('labelled privileged as NOTES.txt says, the node pod runs: the loader degraded and saying why, the device plugin registered', async () => {
    await cluster.kubectlOk([
      'label',
      'namespace',
      NS,
      'pod-security.kubernetes.io/enforce=privileged',
      '--overwrite',
    ]);
    const labelled = Date.now();
    const pod = await readyPod('node');
    console.log(`node pod Ready ${Date.now() - labelled} ms after the namespace was labelled`);
    expect(pod.spec.nodeName).toBe(cluster.nodeNames[0]);
    for (const c of pod.status.containerStatuses ?? []) expect(c.restartCount).toBe(0);
    const loaderLog = await until('the loader to say it is degraded', async () => {
      const log = await kubectl(['logs', pod.metadata.name, '-c', 'loader']);
      return /degraded/.test(log) ? log : undefined;
    });
    console.log(`loader log:\n${loaderLog.split('\n').slice(0, 12).join('\n')}`);
    // Why, in the loader's words: this kernel's release, and a reason of the documented set.
    expect(loaderLog).toContain(os.release());
    expect(loaderLog).toMatch(
      /no-headers|modules-disabled|build-failed|release-not-allowed|lockdown|signature-required/,
    );
    // The device plugin found the kubelet's registration socket and registered the resource:
    // the kubelet lists it in the node's capacity, none allocatable (no /dev/rewind here).
    const node = await until('the kubelet to list the recorder resource', async () => {
      const n = JSON.parse(
        await cluster.kubectlOk(['get', 'node', cluster.nodeNames[0], '-o', 'json']),
      ) as { status: { capacity: Record<string, string>; allocatable: Record<string, string> } };
      return n.status.capacity[RESOURCE] !== undefined ? n : undefined;
    });
    expect(node.status.capacity[RESOURCE]).toBe(String(DEVICES));
    expect(node.status.allocatable[RESOURCE]).toBe('0');
    const pluginLog = await kubectl(['logs', pod.metadata.name, '-c', 'device-plugin']);
    expect(pluginLog).toMatch(/device node absent: devices advertised Unhealthy/);
    expect(readdirSync('/var/lib/kubelet/device-plugins')).toEqual(
      expect.arrayContaining(['kubelet.sock', 'rewind.sock']),
    );
  });

  test('the agent pod waits for a device: Pending, unschedulable for the resource, never started', async () => {
    const pod = await until('the scheduler to refuse the agent pod', async () => {
      const pods = await podsOf('agent');
      const scheduled = pods[0]?.status.conditions?.find((c) => c.type === 'PodScheduled');
      return pods.length === 1 && scheduled?.status === 'False' ? pods[0] : undefined;
    });
    expect(pod.status.phase).toBe('Pending');
    const scheduled = pod.status.conditions?.find((c) => c.type === 'PodScheduled');
    expect(scheduled?.reason).toBe('Unschedulable');
    expect(scheduled?.message).toContain(`Insufficient ${RESOURCE}`);
    expect(pod.status.containerStatuses ?? []).toEqual([]);
  });

  test('the controller runs with its volume, its probes passing', async () => {
    const pod = await readyPod('controller');
    const claims = await json<{
      items: { spec: { volumeName?: string }; status: { phase: string } }[];
    }>(['get', 'pvc', '-l', 'app.kubernetes.io/component=controller']);
    expect(claims.items.map((c) => [c.status.phase, c.spec.volumeName])).toEqual([
      ['Bound', 'rewind-traces'],
    ]);
    const controller = pod.status.containerStatuses?.find((c) => c.name === 'controller');
    expect(controller?.ready).toBe(true);
    expect(controller?.restartCount).toBe(0);
    // fsGroup made the volume the controller's: it keeps its traces there.
    const files = await kubectl([
      'exec',
      pod.metadata.name,
      '-c',
      'controller',
      '--',
      'node',
      '-e',
      'const fs=require("fs");const d=process.env.REWIND_DATA_DIR;fs.writeFileSync(d+"/.probe","x");console.log(d, fs.statSync(d).gid)',
    ]);
    expect(files.trim()).toBe('/var/lib/rewind/traces 65532');
  });

  test('helm test passes', async () => {
    // As NOTES.txt prints it. The test pod exits 0 only on a 200 from the controller's /readyz
    // through its Service's DNS name; a passing pod is deleted (hook-succeeded), a failing one
    // is kept for `kubectl logs`.
    const r = await helm(['test', RELEASE, '-n', NS, '--timeout', '3m']);
    console.log(r.stdout);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /TEST SUITE:\s+rewind-test\n.*\nLast Completed:.*\nPhase:\s+Succeeded/,
    );
    expect(await podsOf('test')).toEqual([]);
  });

  test("kubectl rewind, through the kubelet's port-forward to the controller: agents and a snapshot say the node's agent pod is not scheduled, and why", async () => {
    const plugin = installPlugin(scratch);
    const node = cluster.nodeNames[0];
    const agents = await plugin.run(['agents'], cluster.kubeconfigPath);
    console.log(`kubectl rewind agents:\n${agents.stdout}${agents.stderr}`);
    expect(agents.code).toBe(0);
    const rows = agents.stdout.trimEnd().split('\n');
    expect(rows[0]).toMatch(/^NODE\s+MODULE\s+RECORDING\s/);
    // The node's agent pod exists, Pending: the reason is the scheduler's, and what to look at.
    const why =
      `the agent pod is not scheduled \\(0/1 nodes are available: 1 Insufficient ${RESOURCE}\\): ` +
      'the device plugin advertises the recorder only while the module is loaded on the node';
    expect(rows.slice(1)).toEqual([
      expect.stringMatching(new RegExp(`^${node}\\s+(unknown|unreachable)\\s+${why}`)),
    ]);
    const snapshot = await plugin.run(
      ['snapshot', '--node', node, '--window', '2s', '--wait'],
      cluster.kubeconfigPath,
      {},
      240_000,
    );
    console.log(`kubectl rewind snapshot:\n${snapshot.stdout}${snapshot.stderr}`);
    expect(snapshot.code).toBe(1);
    expect(snapshot.stdout).toMatch(/created/);
    // Progress lines (stderr), then the failure, once, with the reason.
    const lines = snapshot.stderr.trim().split('\n');
    expect(lines.at(-2)).toMatch(/^manual-\w+\s+Failed\s+nodes 1\/1\s/);
    expect(lines.slice(-1)).toEqual([
      expect.stringMatching(
        new RegExp(
          `^error: snapshot default/manual-\\w+ failed: no node could be collected: ${node}: ` +
            `rewind agent pod ${NS}/rewind-agent-\\w+ is not scheduled \\(0/1 nodes are available: ` +
            `1 Insufficient ${RESOURCE}\\): the device plugin advertises the recorder only while ` +
            "the module is loaded on the node \\(the node DaemonSet's loader says why it is not\\)$",
        ),
      ),
    ]);
  });

  test('helm upgrade with a changed value rolls the pods; the controller keeps its volume', async () => {
    const before = {
      node: (await readyPod('node')).metadata.uid,
      controller: (await readyPod('controller')).metadata.uid,
      agent: (await podsOf('agent'))[0].metadata.uid,
    };
    const r = await helm([
      'upgrade',
      RELEASE,
      CHART_DIR,
      '-n',
      NS,
      '--reuse-values',
      '--set',
      'node.logLevel=debug,agent.logLevel=debug,controller.logLevel=debug',
    ]);
    expect(r.code).toBe(0);
    const rolled = async (component: string, uid: string): Promise<Pod> =>
      until(`the ${component} pod to be replaced`, async () => {
        const pods = await podsOf(component);
        return pods.length === 1 && pods[0].metadata.uid !== uid ? pods[0] : undefined;
      });
    await rolled('node', before.node);
    await rolled('agent', before.agent);
    await rolled('controller', before.controller);
    const node = await readyPod('node');
    const controller = await readyPod('controller');
    const env = await kubectl([
      'exec',
      node.metadata.name,
      '-c',
      'loader',
      '--',
      'printenv',
      'REWIND_LOG_LEVEL',
    ]);
    expect(env.trim()).toBe('debug');
    const kept = await kubectl([
      'exec', controller.metadata.name, '-c', 'controller', '--',
      'node', '-e', 'console.log(require("fs").readFileSync(process.env.REWIND_DATA_DIR+"/.probe","utf8"))',
    ]); // prettier-ignore
    expect(kept.trim()).toBe('x');
  });

  test('helm uninstall leaves only what the chart documents: the CRD and the traces claim', async () => {
    const r = await helm(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '3m']);
    expect(r.code).toBe(0);
    await until('every pod of the release to be gone', async () =>
      (await json<{ items: Pod[] }>(['get', 'pods'])).items.length === 0 ? true : undefined,
    );
    const kinds = (
      await cluster.kubectlOk(['api-resources', '--verbs=list', '--namespaced', '-o', 'name'])
    )
      .split('\n')
      .filter((k) => k !== '' && k !== 'events' && k !== 'events.events.k8s.io');
    const left = (await kubectl(['get', kinds.join(','), '-o', 'name', '--ignore-not-found']))
      .split('\n')
      .filter((l) => l !== '')
      .sort();
    // Besides the namespace's own (its CA bundle, its default ServiceAccount): the claim the
    // chart keeps (helm.sh/resource-policy: keep) and the Lease the controller made to elect
    // its leader, as charts/rewind/README.md says.
    expect(left).toEqual([
      'configmap/kube-root-ca.crt',
      'lease.coordination.k8s.io/rewind-controller-leader',
      'persistentvolumeclaim/rewind-controller-traces',
      'serviceaccount/default',
    ]);
    const clusterWide = await cluster.kubectlOk([
      'get',
      'clusterroles,clusterrolebindings,customresourcedefinitions,priorityclasses',
      '-l',
      `app.kubernetes.io/instance=${RELEASE}`,
      '-o',
      'name',
    ]);
    expect(clusterWide.trim().split('\n').filter(Boolean)).toEqual([]);
    expect(await cluster.kubectlOk(['get', 'crd', 'tracesnapshots.rewind.dev', '-o', 'name'])).toBe(
      'customresourcedefinition.apiextensions.k8s.io/tracesnapshots.rewind.dev\n',
    );
    // On the node: the device plugin left the kubelet's folder as it found it; the loader's
    // folder holds at most its last state (kept unless it unloaded the module on its way out,
    // node.loader.unloadOnExit), here the degraded one.
    expect(readdirSync('/var/lib/kubelet/device-plugins')).not.toContain('rewind.sock');
    const stateFiles = readdirSync(MODULE_STATE_DIR);
    expect(stateFiles.filter((f) => f !== 'state.json')).toEqual([]);
    if (stateFiles.length > 0) {
      const last = JSON.parse(readFileSync(path.join(MODULE_STATE_DIR, 'state.json'), 'utf8')) as {
        state: string;
        reason: string;
        kernelRelease: string;
      };
      expect([last.state, last.reason, last.kernelRelease]).toEqual([
        'degraded',
        'no-headers',
        os.release(),
      ]);
    }
  });
});
