// A real cluster with a real node on this machine (nodeCluster.ts): the kubelet registers and its
// node becomes Ready; the scheduler places a Deployment's pod, which runs with an address of the
// pod network; from inside a pod the API server answers through the `kubernetes` Service, and a
// Service's DNS name resolves (CoreDNS, through the kube-dns Service) to its ClusterIP, which
// answers (kube-proxy); `kubectl logs` and `exec` reach the kubelet; a claim with no storage
// class binds to a volume made for it and a pod writes there; a second cluster is refused the
// machine's node; and stopping leaves the host as it was.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import { KUBERNETES_VERSION } from './binaries';
import { hostSnapshot, type HostSnapshot } from './hostNode';
import { type NodeCluster, startCluster } from './nodeCluster';

const NS = 'node-test';
const TOKEN = randomBytes(8).toString('hex');

let cluster: NodeCluster;
let before: HostSnapshot;
let scratch = '';

beforeAll(async () => {
  before = await hostSnapshot();
  scratch = mkdtempSync(path.join(os.tmpdir(), 'rewind-node-test-'));
  // Another cluster's node may hold this machine for a while (the lock): wait, but fail before
  // jest's timeout, with the holder named.
  cluster = await startCluster({ hostLockTimeoutMs: 300_000, log: (line) => console.log(line) });
  await cluster.createNamespace(NS);
}, 400_000);

afterAll(async () => {
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 200_000);

const kubectl = (args: string[], input?: string): Promise<string> =>
  cluster.kubectlOk(['-n', NS, ...args], { timeoutMs: 170_000, ...(input ? { input } : {}) });
const apply = (...objects: unknown[]): Promise<string> =>
  kubectl(['apply', '-f', '-'], objects.map((o) => dump(o)).join('---\n'));
const json = async <T>(args: string[]): Promise<T> =>
  JSON.parse(await kubectl([...args, '-o', 'json'])) as T;
/** Run a shell command in the probe pod. */
const inProbe = (script: string): Promise<string> =>
  kubectl(['exec', 'probe', '--', 'sh', '-c', script]);

/** A busybox container whose shell leaves on SIGTERM (PID 1 gets only the signals it handles). */
function busybox(name: string, script: string, extra: Record<string, unknown> = {}): unknown {
  return {
    name,
    image: cluster.images.busybox,
    imagePullPolicy: 'Never',
    command: ['/bin/sh', '-c', `trap 'exit 0' TERM\n${script}`],
    ...extra,
  };
}

const SLEEP = 'while :; do sleep 1 & wait $!; done';

interface Pod {
  metadata: { name: string; uid: string };
  spec: { nodeName?: string };
  status: { phase: string; podIP?: string; hostIP?: string };
}

test('the node registers with the API server and becomes Ready', async () => {
  console.log(
    `cluster up in ${cluster.timings.totalMs} ms: kube-apiserver ready after ` +
      `${cluster.timings.apiServerReadyMs} ms, node Ready ${cluster.timings.nodesReadyMs} ms later`,
  );
  const node = await json<{
    metadata: { name: string };
    status: {
      conditions: { type: string; status: string }[];
      addresses: { type: string; address: string }[];
      nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string };
      daemonEndpoints: { kubeletEndpoint: { Port: number } };
    };
  }>(['get', 'node', cluster.nodeNames[0]]);
  expect(node.status.conditions.find((c) => c.type === 'Ready')?.status).toBe('True');
  expect(node.status.addresses).toContainEqual({
    type: 'InternalIP',
    address: cluster.hostAddress,
  });
  expect(node.status.nodeInfo.kubeletVersion).toBe(KUBERNETES_VERSION);
  expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.6\./);
  // The kubelet is who its certificate says: the Node authorizer lets it read only its own node's
  // objects, so it may not list Secrets (a refusal from the API server, not from kubectl).
  const asNode = await cluster.kubectl([
    `--kubeconfig=${path.join(cluster.cp.dir, `kubelet-${cluster.nodeNames[0]}.kubeconfig`)}`,
    'get',
    'secrets',
    '-A',
  ]);
  expect(asNode.code).not.toBe(0);
  expect(asNode.stderr).toMatch(
    new RegExp(`User "system:node:${cluster.nodeNames[0]}" cannot list resource "secrets"`),
  );
  // The kubelet's API: its serving certificate is the cluster CA's, for the node's address; no
  // anonymous requests; a token is reviewed by the API server, which authorizes it.
  const kubelet = `https://${cluster.hostAddress}:${node.status.daemonEndpoints.kubeletEndpoint.Port}`;
  const ca = readFileSync(cluster.cp.caFile);
  expect(await verifiedStatus(`${kubelet}/pods`, ca)).toBe(401);
  expect(await verifiedStatus(`${kubelet}/pods`, ca, cluster.cp.adminToken)).toBe(200);
});

test('the scheduler places a Deployment’s pod, which runs with a pod IP', async () => {
  await apply(
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: NS },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: 'web' } },
        template: {
          metadata: { labels: { app: 'web' } },
          spec: {
            containers: [
              busybox(
                'httpd',
                'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html\n' +
                  'httpd -f -p 8080 -h /www &\nwait',
                {
                  ports: [{ containerPort: 8080 }],
                  // The kubelet probes the pod's address from the host, across the bridge.
                  readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 },
                },
              ),
            ],
          },
        },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NS },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  );
  await kubectl(['rollout', 'status', 'deployment/web', '--timeout=150s']);
  const pods = await json<{ items: Pod[] }>(['get', 'pods', '-l', 'app=web']);
  expect(pods.items).toHaveLength(1);
  const pod = pods.items[0];
  expect(pod.status.phase).toBe('Running');
  expect(pod.spec.nodeName).toBe(cluster.nodeNames[0]);
  expect(pod.status.hostIP).toBe(cluster.hostAddress);
  expect(pod.status.podIP).toMatch(/^10\.244\.0\.\d+$/);
  const events = await json<{ items: { reason: string; reportingComponent: string }[] }>([
    'get',
    'events',
    '--field-selector',
    `involvedObject.name=${pod.metadata.name},reason=Scheduled`,
  ]);
  expect(events.items.map((e) => e.reportingComponent)).toEqual(['default-scheduler']);
});

test('from inside a pod: the API server through the kubernetes Service; kubectl logs', async () => {
  await apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'probe', namespace: NS },
    spec: { containers: [busybox('probe', `echo "probe says ${TOKEN}"\n${SLEEP}`)] },
  });
  await kubectl(['wait', '--for=condition=Ready', 'pod/probe', '--timeout=150s']);
  expect(await kubectl(['logs', 'probe'])).toBe(`probe says ${TOKEN}\n`);

  const service = await cluster.kubectlOk([
    'get', 'service', 'kubernetes', '-n', 'default', '-o', 'jsonpath={.spec.clusterIP}',
  ]); // prettier-ignore
  expect(await inProbe('echo $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT')).toBe(
    `${service}:443\n`,
  );
  // The lease reconciler made the API server's advertised address the Service's endpoint.
  const slice = await cluster.kubectlOk([
    'get', 'endpointslice', 'kubernetes', '-n', 'default',
    '-o', 'jsonpath={.endpoints[0].addresses[0]}:{.ports[0].port}',
  ]); // prettier-ignore
  expect(slice).toBe(`${cluster.hostAddress}:${cluster.cp.port}`);
  // In-cluster configuration, as a client library does it: the Service's address from the
  // environment and the pod's ServiceAccount token. (busybox's wget does not check certificates.)
  const version = await inProbe(
    'wget -q -O- --no-check-certificate ' +
      '--header "Authorization: Bearer $(cat /var/run/secrets/kubernetes.io/serviceaccount/token)" ' +
      'https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/version',
  );
  expect((JSON.parse(version) as { gitVersion: string }).gitVersion).toBe(KUBERNETES_VERSION);
  // The certificate holds for the addresses clients use: the Service's, from the host through
  // kube-proxy's rules, and the advertised one.
  const ca = readFileSync(cluster.cp.caFile);
  for (const url of [
    `https://${service}/version`,
    `https://${cluster.hostAddress}:${cluster.cp.port}/version`,
  ]) {
    expect(await verifiedStatus(url, ca, cluster.cp.adminToken)).toBe(200);
  }
});

test('a Service’s DNS name resolves to its ClusterIP, which answers', async () => {
  const clusterIp = await kubectl(['get', 'service', 'web', '-o', 'jsonpath={.spec.clusterIP}']);
  expect(clusterIp).toMatch(/^10\.96\.0\.\d+$/);
  expect(await nslookup(`web.${NS}.svc.cluster.local`)).toEqual([clusterIp]);
  expect(await nslookup('kubernetes.default.svc.cluster.local')).toEqual(['10.96.0.1']);
  expect(await nslookup(`nothing-here.${NS}.svc.cluster.local`)).toEqual([]);
  // The short names a chart uses (`<service>.<namespace>.svc`) through the pod's search path.
  const resolvConf = await inProbe('cat /etc/resolv.conf');
  expect(resolvConf).toMatch(
    new RegExp(`^search ${NS}\\.svc\\.cluster\\.local svc\\.cluster\\.local cluster\\.local`, 'm'),
  );
  expect(resolvConf).toMatch(/^nameserver 10\.96\.0\.10$/m);
  expect(await resolveAsLibc(resolvConf, `web.${NS}.svc`)).toEqual([clusterIp]);
  expect(await resolveAsLibc(resolvConf, 'kubernetes.default')).toEqual(['10.96.0.1']);
  const webPod = (await json<{ items: Pod[] }>(['get', 'pods', '-l', 'app=web'])).items[0];
  expect(await inProbe(`wget -q -O- http://${clusterIp}/`)).toBe(
    `hello from ${webPod.metadata.name}\n`,
  );
});

test('a claim with no storage class binds to a volume made for it, which a pod writes', async () => {
  const hostDir = path.join(scratch, 'pv');
  await apply(
    {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'node-test-pv' },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Retain',
        hostPath: { path: hostDir, type: 'DirectoryOrCreate' },
      },
    },
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data', namespace: NS },
      spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
    },
  );
  await kubectl(['wait', '--for=jsonpath={.status.phase}=Bound', 'pvc/data', '--timeout=120s']);
  expect(await kubectl(['get', 'pvc', 'data', '-o', 'jsonpath={.spec.volumeName}'])).toBe(
    'node-test-pv',
  );
  await apply({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'writer', namespace: NS },
    spec: {
      restartPolicy: 'Never',
      containers: [
        busybox('writer', `echo ${TOKEN} > /data/written`, {
          volumeMounts: [{ name: 'data', mountPath: '/data' }],
        }),
      ],
      volumes: [{ name: 'data', persistentVolumeClaim: { claimName: 'data' } }],
    },
  });
  await kubectl([
    'wait',
    '--for=jsonpath={.status.phase}=Succeeded',
    'pod/writer',
    '--timeout=150s',
  ]);
  expect(readFileSync(path.join(hostDir, 'written'), 'utf8')).toBe(`${TOKEN}\n`);
});

test('a second cluster is refused the machine’s node while this one runs', async () => {
  await expect(startCluster({ hostLockTimeoutMs: 0 })).rejects.toThrow(
    /another cluster runs a node on this machine \(pid \d+, .*\): only one may use \/var\/lib\/kubelet/,
  );
});

test('stop() leaves nothing behind: processes, mounts, iptables rules, links, cgroups', async () => {
  const during = await hostSnapshot();
  // The snapshot sees the cluster (so its comparison below can fail).
  expect(during.processes.length).toBeGreaterThan(before.processes.length);
  expect(during.mounts.length).toBeGreaterThan(before.mounts.length);
  expect(during.iptables.length).toBeGreaterThan(before.iptables.length);
  expect(during.links).toContain('rewind0 bridge');
  const report = await cluster.stop();
  console.log(`cluster stopped in ${report.ms} ms`);
  expect(report.undrainedPods).toEqual([]);
  expect(report.leftovers).toEqual([]);
  expect(await hostSnapshot()).toEqual(before);
});

/** The addresses busybox's nslookup finds for `name` in the probe pod (none: NXDOMAIN). */
async function nslookup(name: string): Promise<string[]> {
  const result = await cluster.kubectl(['-n', NS, 'exec', 'probe', '--', 'nslookup', name]);
  return [...result.stdout.matchAll(/^Name:\s*\S+\s*\nAddress:\s*(\S+)/gm)].map((m) => m[1]);
}

/**
 * Resolve `name` as the C library of a pod would with its resolv.conf: while the name has fewer
 * dots than `ndots`, each search domain in turn, then the name as it is. (busybox's nslookup
 * queries only the name it is given, and its other applets cannot resolve: see images.ts.)
 */
async function resolveAsLibc(resolvConf: string, name: string): Promise<string[]> {
  const search = /^search (.+)$/m.exec(resolvConf)?.[1].trim().split(/\s+/) ?? [];
  const ndots = Number(/ndots:(\d+)/.exec(resolvConf)?.[1] ?? '1');
  const qualified = search.map((domain) => `${name}.${domain}`);
  const order = name.split('.').length - 1 < ndots ? [...qualified, name] : [name, ...qualified];
  for (const candidate of order) {
    const addresses = await nslookup(candidate);
    if (addresses.length > 0) return addresses;
  }
  return [];
}

/** Status of an HTTPS GET that verifies the server's certificate against `ca`. */
function verifiedStatus(url: string, ca: Buffer, token?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = https.get(
      url,
      {
        ca,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        timeout: 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${url}: timeout`)));
    req.on('error', reject);
  });
}
