/**
 * `helm install` of charts/rewind with its default values on a cluster with a node inside a VM
 * of the harness (vmNode.ts): Debian's kernel under qemu, cgroup v2, the same kubelet,
 * containerd and runc as the node on this machine, the image built by `npm run image`. There the
 * kernel loads modules, so the whole path runs for real: the node DaemonSet's loader loads
 * rewind.ko in its pod, the device plugin advertises /dev/rewind, the agent's pod gets the
 * device and records, a TraceSnapshot applied with kubectl reaches Complete with the VM node's
 * trace (merged by the controller's pod on the host node, read by babeltrace2), and an upgrade
 * replaces the pods while the module keeps its history.
 *
 * The degraded node on this machine is node-install.test.ts's subject; here it only has to stay
 * out of the way (its agent Pending), and the controller runs there, with its volume.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildFailure, buildImage, IMAGE_NAME, requireBuildTools } from '../image/build';
import { installPlugin } from '../kubectl-rewind/plugin';
import { CHART_DIR } from './chart';
import { type NodeCluster, startCluster } from './nodeCluster';
import { isReady, localVolume, type Pod, release, type Release, until } from './release';
import { VM_NODE_TAINT, type VmNode } from './vmNode';

const NS = 'rewind-system';
const RELEASE = 'rewind';
const RESOURCE = 'rewind.dev/recorder';
/** The chart's default number of device IDs (node.devicePlugin.devices). */
const DEVICES = 4;
/** The controller's data folder in its container (the chart's volume mount). */
const CONTROLLER_DATA_DIR = '/var/lib/rewind/traces';
/** Under TCG every `node` start in the VM takes tens of seconds; a rollout, minutes. */
const VM_POD_TIMEOUT_MS = 600_000;
/** A test that waits for VM pods: their timeout and room for its own checks. */
const VM_TEST_TIMEOUT_MS = VM_POD_TIMEOUT_MS + 300_000;

let cluster: NodeCluster;
let vmNode: VmNode;
let host = '';
let scratch = '';
let volume = '';
let r: Release;
let installedAt = 0;

const guest = (command: string): Promise<string> => vmNode.vm.run(command, { timeoutMs: 60_000 });

/** The agent's counters, from its metrics on the health port (plain HTTP, as Prometheus does). */
async function eventsWritten(pod: Pod): Promise<number> {
  const res = await fetch(`http://${pod.status.podIP}:9402/metrics`, {
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  const samples = [...text.matchAll(/^rewind_agent_events_written_total\{[^}]*\} (\d+)/gm)];
  if (samples.length === 0) throw new Error(`no rewind_agent_events_written_total in:\n${text}`);
  return samples.reduce((sum, m) => sum + Number(m[1]), 0);
}

/** Every container of `pods` started once (the kubelet never restarted one). */
function expectNoRestarts(...pods: Pod[]): void {
  const restarts = pods.flatMap((p) =>
    (p.status.containerStatuses ?? []).map((c) => [p.metadata.name, c.name, c.restartCount]),
  );
  expect(restarts).toEqual(restarts.map(([pod, container]) => [pod, container, 0]));
}

/** The VM node's pod of `component` once Ready, having never restarted. */
async function readyVmPod(component: string): Promise<Pod> {
  const pod = await r.readyPod(component, vmNode.name, VM_POD_TIMEOUT_MS);
  console.log(`VM ${component} pod Ready ${Date.now() - installedAt} ms after helm install`);
  expectNoRestarts(pod);
  return pod;
}

/** How many times the module was loaded in the VM since it booted (its own line in dmesg). */
async function moduleLoads(): Promise<number> {
  return (await guest('dmesg')).split('\n').filter((l) => /rewind: loaded, ABI/.test(l)).length;
}

/** Apply a TraceSnapshot of the VM node and wait for its end; returns its status. */
async function snapshot(name: string, windowSeconds: number): Promise<SnapshotStatus> {
  await r.kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'rewind.dev/v1alpha1',
      kind: 'TraceSnapshot',
      metadata: { name, namespace: NS },
      spec: { target: { nodeNames: [vmNode.name] }, windowSeconds },
    }),
  );
  return until(
    `TraceSnapshot ${name} to end`,
    async () => {
      const s = (await r.json<{ status?: SnapshotStatus }>(['get', 'tracesnapshot', name])).status;
      return s && ['Complete', 'PartiallyFailed', 'Failed'].includes(s.phase) ? s : undefined;
    },
    300_000,
  );
}

interface SnapshotStatus {
  phase: string;
  trace?: { location: string; sizeBytes: number };
  nodes?: { name: string; phase: string; error?: string }[];
  conditions?: { type: string; message?: string }[];
}

/** babeltrace2's text of a trace the controller wrote on its volume (a folder on this host). */
function readTrace(location: string): { code: number | null; lines: string[]; stderr: string } {
  expect(location.startsWith(`${CONTROLLER_DATA_DIR}/`)).toBe(true);
  const onHost = path.join(volume, path.relative(CONTROLLER_DATA_DIR, location));
  const bt = spawnSync('babeltrace2', [onHost], { encoding: 'utf8', maxBuffer: 1 << 30 });
  return { code: bt.status, lines: bt.stdout.split('\n').filter(Boolean), stderr: bt.stderr };
}

beforeAll(async () => {
  requireBuildTools();
  const image = await buildImage();
  if (image.code !== 0) throw new Error(buildFailure(image));
  console.log(`image ${IMAGE_NAME}: ${image.archive} (${image.seconds.toFixed(0)} s)`);
  scratch = mkdtempSync(path.join(os.tmpdir(), 'rewind-node-install-vm-'));
  cluster = await startCluster({
    nodes: ['host', 'vm'],
    images: [image.archive],
    hostLockTimeoutMs: 600_000,
    log: (line) => console.log(line),
  });
  host = cluster.nodeNames[0];
  vmNode = cluster.vmNodes[0];
  r = release(cluster, NS);
  volume = path.join(scratch, 'traces');
  mkdirSync(volume);
  await localVolume(cluster, 'rewind-traces', volume, host);
  await cluster.createNamespace(NS);
  // As NOTES.txt tells an operator (node-install.test.ts shows the restricted level refusing).
  await cluster.kubectlOk([
    'label',
    'namespace',
    NS,
    'pod-security.kubernetes.io/enforce=privileged',
  ]);
  installedAt = Date.now();
  const installed = await r.helm(['install', RELEASE, CHART_DIR, '-n', NS]);
  if (installed.code !== 0) {
    throw new Error(`helm install failed:\n${installed.stderr}${installed.stdout}`);
  }
  console.log(`helm install: ${Date.now() - installedAt} ms`);
}, 1_800_000);

afterAll(async () => {
  await cluster?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
}, 600_000);

describe('helm install with default values on a cluster with a node inside a VM (the module loads there)', () => {
  test(
    'the VM node joined over the VM link: Ready, its kernel, cgroup v2, containerd, the taint; the API server reaches its kubelet',
    async () => {
      console.log(
        `cluster up in ${cluster.timings.totalMs} ms (API server ${cluster.timings.apiServerReadyMs} ms, ` +
          `nodes Ready ${cluster.timings.nodesReadyMs} ms after it); node disk ${cluster.vmNodeDisk?.file}`,
      );
      const node = JSON.parse(
        await cluster.kubectlOk(['get', 'node', vmNode.name, '-o', 'json']),
      ) as {
        spec: { taints?: { key: string; value?: string; effect: string }[] };
        status: {
          addresses: { type: string; address: string }[];
          nodeInfo: { kernelVersion: string; containerRuntimeVersion: string };
        };
      };
      expect(node.status.addresses).toContainEqual({ type: 'InternalIP', address: vmNode.address });
      expect(node.status.nodeInfo.kernelVersion).toBe(vmNode.vm.kernel.release);
      expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.6\./);
      expect(node.spec.taints).toContainEqual(VM_NODE_TAINT);
      expect((await guest('stat -fc %T /sys/fs/cgroup')).trim()).toBe('cgroup2fs');
      // The image came on the node disk, with a module built for this VM's kernel.
      expect(vmNode.images).toContain(IMAGE_NAME);
      expect(cluster.vmNodeDisk?.prebuiltModules).toContain(vmNode.vm.kernel.release);
    },
    VM_TEST_TIMEOUT_MS,
  );

  test(
    "the node pod in the VM loads rewind.ko: its loader's state, the kernel's log, the device plugin's devices allocatable",
    async () => {
      const pod = await readyVmPod('node');
      // The loader's own account (kubectl logs: the API server → the VM's kubelet).
      const loaderLog = await until('the loader to say the module is loaded', async () => {
        const log = await r.kubectl(['logs', pod.metadata.name, '-c', 'loader']);
        return /"result":"loaded"/.test(log) ? log : undefined;
      });
      console.log(`loader log:\n${loaderLog.split('\n').slice(0, 10).join('\n')}`);
      // From the module the image ships for this kernel, not built on the node.
      expect(loaderLog).toMatch(
        new RegExp(
          `"step":"prebuilt","path":"/app/modules/${vmNode.vm.kernel.release}/rewind.ko",` +
            '"result":"loaded"',
        ),
      );
      const state = JSON.parse(await guest('cat /run/rewind/module/state.json')) as {
        state: string;
        kernelRelease: string;
      };
      expect([state.state, state.kernelRelease]).toEqual(['loaded', vmNode.vm.kernel.release]);
      expect((await guest('cat /sys/module/rewind/initstate')).trim()).toBe('live');
      expect(await moduleLoads()).toBe(1);
      const node = await until('the recorder to be allocatable on the VM node', async () => {
        const n = JSON.parse(
          await cluster.kubectlOk(['get', 'node', vmNode.name, '-o', 'json']),
        ) as {
          status: { capacity: Record<string, string>; allocatable: Record<string, string> };
        };
        return n.status.allocatable[RESOURCE] === String(DEVICES) ? n : undefined;
      });
      expect(node.status.capacity[RESOURCE]).toBe(String(DEVICES));
      expect((await guest('ls /var/lib/kubelet/device-plugins')).split('\n')).toEqual(
        expect.arrayContaining(['kubelet.sock', 'rewind.sock']),
      );
      // On this machine's node the same pod stays degraded (node-install.test.ts looks closer).
      const hostPod = await r.readyPod('node', host);
      expect(await r.kubectl(['logs', hostPod.metadata.name, '-c', 'loader'])).toMatch(/degraded/);
    },
    VM_TEST_TIMEOUT_MS,
  );

  test(
    'the agent pod in the VM gets /dev/rewind and records; kubectl rewind agents says so',
    async () => {
      const pod = await readyVmPod('agent');
      const device = await r.kubectl([
      'exec', pod.metadata.name, '-c', 'agent', '--', 'stat', '-c', '%F %n', '/dev/rewind',
    ]); // prettier-ignore
      expect(device.trim()).toBe('character special file /dev/rewind');
      const first = await eventsWritten(pod);
      const later = await until('the recorder to write more events', async () => {
        const n = await eventsWritten(pod);
        return n > first ? n : undefined;
      });
      console.log(`events written: ${first}, then ${later}`);
      // The host node's agent pod waits for a device it will never have: never scheduled.
      const agents0 = await r.podsOf('agent');
      expect(
        agents0.map((p) => [p.spec.nodeName ?? '(not scheduled)', p.status.phase]).sort(),
      ).toEqual([
        ['(not scheduled)', 'Pending'],
        [vmNode.name, 'Running'],
      ]);
      const plugin = installPlugin(scratch);
      // The controller asks every agent every 30 s, and one whose pod turned Ready within a
      // second of it (controller/api/agent-status.ts): it may have asked while the agent was
      // starting (its API port not yet listening), but not kept that answer past the pod's
      // Ready. So the listing shows the agent recording within seconds, not a whole round.
      const recording = new RegExp(`^${vmNode.name}\\s+loaded\\s+yes\\s+\\d+s\\s`, 'm');
      let agents = await plugin.run(['agents'], cluster.kubeconfigPath);
      const seen = Date.now();
      agents = await until(
        'kubectl rewind agents to show the VM node recording',
        async () => {
          agents = await plugin.run(['agents'], cluster.kubeconfigPath);
          return agents.code === 0 && recording.test(agents.stdout) ? agents : undefined;
        },
        20_000,
      ).catch(() => agents);
      console.log(
        `kubectl rewind agents (${Date.now() - seen} ms after the first look):\n` +
          `${agents.stdout}${agents.stderr}`,
      );
      expect(agents.code).toBe(0);
      expect(agents.stdout).toMatch(recording);
    },
    VM_TEST_TIMEOUT_MS,
  );

  test(
    "a TraceSnapshot applied with kubectl reaches Complete with the VM node's trace, pods named, read by babeltrace2",
    async () => {
      const started = Date.now();
      const status = await snapshot('vm-node-first', 10);
      console.log(`TraceSnapshot vm-node-first: ${status.phase} in ${Date.now() - started} ms`);
      expect(status.nodes?.map((n) => [n.name, n.phase, n.error])).toEqual([
        [vmNode.name, 'Collected', undefined],
      ]);
      expect(status.phase).toBe('Complete');
      const trace = readTrace(status.trace?.location ?? '');
      expect(trace.stderr).toBe('');
      expect(trace.code).toBe(0);
      console.log(`babeltrace2: ${trace.lines.length} events`);
      expect(trace.lines.length).toBeGreaterThan(100);
      expect(trace.lines.every((l) => l.includes(` ${vmNode.name} `))).toBe(true);
      // The agent's own processes, named by the controller from the cgroups the agent reported:
      // cgroup v2 paths of a real containerd's pods.
      const agent = (await r.podsOf('agent', vmNode.name))[0];
      expect(
        trace.lines.some(
          (l) =>
            l.includes('process_pod') &&
            l.includes(`namespace = "${NS}", pod = "${agent.metadata.name}"`),
        ),
      ).toBe(true);
    },
    VM_TEST_TIMEOUT_MS,
  );

  test(
    "helm upgrade with a changed value replaces the VM node's pods; the module stays loaded and its history survives",
    async () => {
      const agentBefore = await r.readyPod('agent', vmNode.name);
      const nodeBefore = await r.readyPod('node', vmNode.name);
      const writtenBefore = await eventsWritten(agentBefore);
      const upgradedAt = Date.now();
      const up = await r.helm([
      'upgrade', RELEASE, CHART_DIR, '-n', NS, '--reuse-values',
      '--set', 'node.logLevel=debug,agent.logLevel=debug',
    ]); // prettier-ignore
      if (up.code !== 0) throw new Error(`helm upgrade failed:\n${up.stderr}${up.stdout}`);
      const replaced = async (component: string, uid: string): Promise<Pod> =>
        until(
          `the ${component} pod on ${vmNode.name} to be replaced and Ready`,
          async () => {
            const pods = await r.podsOf(component, vmNode.name);
            return pods.length === 1 && pods[0].metadata.uid !== uid && isReady(pods[0])
              ? pods[0]
              : undefined;
          },
          VM_POD_TIMEOUT_MS,
        );
      const nodeAfter = await replaced('node', nodeBefore.metadata.uid);
      const agentAfter = await replaced('agent', agentBefore.metadata.uid);
      console.log(`VM pods replaced and Ready ${Date.now() - upgradedAt} ms after helm upgrade`);
      expectNoRestarts(nodeAfter, agentAfter);
      // The new loader found the module loaded and left it; the kernel loaded it once in all.
      const loaderLog = await r.kubectl(['logs', nodeAfter.metadata.name, '-c', 'loader']);
      expect(loaderLog).toMatch(/already loaded/);
      expect(await moduleLoads()).toBe(1);
      // The counters live in the module: a reload would have reset them.
      const writtenAfter = await eventsWritten(agentAfter);
      console.log(`events written before the upgrade ${writtenBefore}, after ${writtenAfter}`);
      expect(writtenAfter).toBeGreaterThan(writtenBefore);
      const status = await snapshot('vm-node-after-upgrade', 10);
      expect(status.phase).toBe('Complete');
      const trace = readTrace(status.trace?.location ?? '');
      expect([trace.code, trace.stderr]).toEqual([0, '']);
      expect(trace.lines.length).toBeGreaterThan(100);
    },
    VM_TEST_TIMEOUT_MS,
  );

  test(
    'helm uninstall: the pods go, the module stays loaded (unloadOnExit off), the device plugin unregistered',
    async () => {
      const un = await r.helm(['uninstall', RELEASE, '-n', NS, '--wait', '--timeout', '5m']);
      expect(un.code).toBe(0);
      await until(
        'every pod of the release to be gone',
        async () =>
          (await r.json<{ items: Pod[] }>(['get', 'pods'])).items.length === 0 ? true : undefined,
        VM_POD_TIMEOUT_MS,
      );
      expect((await guest('cat /sys/module/rewind/initstate')).trim()).toBe('live');
      expect((await guest('ls /var/lib/kubelet/device-plugins')).split('\n')).not.toContain(
        'rewind.sock',
      );
    },
    VM_TEST_TIMEOUT_MS,
  );

  test(
    'the cluster stops clean: nothing left on this machine, no problem in the VM kernel log',
    async () => {
      const report = await cluster.stop();
      console.log(`cluster stopped in ${report.ms} ms`);
      expect(report.undrainedPods).toEqual([]);
      expect(report.vmProblems).toEqual([]);
      expect(report.leftovers).toEqual([]);
      expect(spawnSync('ip', ['link', 'show', 'rwvm0']).status).not.toBe(0);
    },
    VM_TEST_TIMEOUT_MS,
  );
});
