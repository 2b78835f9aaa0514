/**
 * The end-to-end scenario's cluster, shared by the controller's e2e suite and `npm run demo`: a
 * real kube-apiserver and etcd; three VMs booting Debian's kernel, each a node with this tree's
 * module loaded by the built `rewind-agent load-module` and recorded by the built `rewind-agent
 * serve`; the VMs on a private Ethernet segment of their own (a VDE switch; 10.99.0.0/24 exists
 * only inside the guests, each link delayed by NETWORK_DELAY_MS); the built controller as a
 * process. The chart is installed for real
 * (`helm install`: the CRD, ServiceAccounts, RBAC, certificates, webhook token, connection
 * ConfigMap), and the agents and the controller run as it configures them: their environment
 * from the live DaemonSet and Deployment, their Secrets as files (chart-pods.ts), the
 * controller with its ServiceAccount's token and nothing more.
 *
 * There is no kubelet: each VM stands for a node. Its agent's port is forwarded on a loopback
 * address of its own (127.0.1.N:9401), and a Node plus a pod of the agent DaemonSet are registered
 * per VM with that address as `status.podIP` and Ready — what the kubelet would report. Pods of
 * workloads are registered the same way, with the container ids of cgroups made in the VM (laid
 * out as the kubelet and containerd's systemd driver make them), and their processes run in
 * those cgroups.
 *
 * Plain async functions (no jest globals): the demo runs them too. A start that fails stops what
 * it had started; stop() ends everything, also after a partial start.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AGENT_API,
  AGENT_HEALTH,
  LOADER_HEALTH,
  loadModuleInVm,
  startAgentProcessInVm,
} from '../agent/vm-node';
import { run } from '../k8s/binaries';
import { CHART_DIR } from '../k8s/chart';
import { userKubeconfig } from '../kubectl-rewind/plugin';
import { containerEnvironment, localVolumes, podTemplate } from './chart-pods';
import { startController, type ControllerProcess } from '../controller/controller-process';
import { startControlPlane, type ControlPlane } from '../k8s/controlPlane';
import { startVm, stopVm } from '../vm/jest';
import { startSwitch, type VdeSwitch } from '../vm/switch';
import type { Vm } from '../vm/vm';

export const NS = 'rewind-system';
export const APP_NS = 'shop';
export const NODES = ['node-1', 'node-2', 'node-3'] as const;
/** Where node i's agent API is reached from the host: its "pod IP". */
export const agentAddress = (i: number) => `127.0.1.${i + 2}`;
/** Node i's address on the private segment, seen only by the guests. */
export const privateAddress = (i: number) => `10.99.0.${i + 2}`;
export const RELEASE = 'rewind';
/**
 * The private network's one-way delay (netem on each node's private NIC). A segment crosses the
 * VDE switch in well under a millisecond, while the clock alignment here is good to some
 * milliseconds on a quiet host and some tens on a loaded one: its exchanges cross qemu's
 * user-mode forwarding under TCG, round trips of 20-150 ms (seen between node-1 and node-2: 0.7 to
 * 13.5 ms alone; 12.6, 24.7 and 30.3 ms in a CI run beside the host lane, with stated
 * uncertainties of 21-75 ms per node). With no delay, "each segment received after it was sent"
 * would ask more of the alignment than it claims. With this one, the check proves the alignment's
 * error below it — unaligned VMs are commonly hundreds of ms apart (clocks set from the RTC at
 * boot, to the second) — and the e2e also checks the error estimated from the segments against
 * the uncertainties the alignment states.
 */
export const NETWORK_DELAY_MS = 100;
/** The chart's values for these nodes: rings of 32 × 64 KiB per CPU (a TCG VM writes slowly). */
export const CHART_VALUES = ['agent.ring.subbufs=32', 'agent.ring.subbufBytes=65536'];

/**
 * A workload pod: a cgroup made in the VM as containerd's systemd driver names it, after the pod's
 * uid (the API server's, known once the pod is registered).
 */
export interface Workload {
  node: number;
  name: string;
  container: string;
  containerId: string;
  /** The name its process runs under (the kernel's comm): a link named so to the program. */
  comm: string;
}

export const cgroupOf = (w: Workload, uid: string) =>
  `/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice/` +
  `kubepods-besteffort-pod${uid.replace(/-/g, '_')}.slice/cri-containerd-${w.containerId}.scope`;

export interface ScenarioCluster {
  out: string;
  cp: ControlPlane;
  /** The CA of the chart's certificates (the controller's Secret's ca.crt). */
  caFile: string;
  /** The webhook token's file, from the chart's Secret, as mounted into the controller. */
  webhookTokenFile: string;
  /** The controller's trace volume. */
  data: string;
  vms: Vm[];
  vm(i: number): Vm;
  controllers: ControllerProcess[];
  /** An API call as the cluster's admin; a status >= 300 throws with the body. */
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  /** A pod bound to a node, then given the status a kubelet would write; returns its uid. */
  registerPod(
    ns: string,
    name: string,
    node: string,
    labels: Record<string, string>,
    status: Record<string, unknown>,
  ): Promise<string>;
  /** A workload's pod registered Running with its container; returns its uid. */
  registerWorkload(w: Workload): Promise<string>;
  /**
   * Starts a process in the background inside the workload's container cgroup: `program` run
   * under the name `w.comm` (the kernel's comm: a link so named) with `argv0` and `args` (shell
   * words, as written).
   */
  runInPod(
    w: Workload,
    uid: string,
    run: { program: string; argv0?: string; args?: string },
  ): Promise<void>;
  /** The agent of node i, as the chart runs it (again, after it was killed). */
  startAgent(i: number, options?: { ready?: boolean }): Promise<void>;
  /** A controller replica as the chart runs it, pod `name`; `env` adds to the chart's. */
  startController(name: string, env?: Record<string, string>): Promise<ControllerProcess>;
  stopControllers(): Promise<void>;
  stop(): Promise<void>;
}

export interface ScenarioOptions {
  /** Logs, certificates, the trace volume. */
  out: string;
  /** What it is doing, for a person. */
  say?: (line: string) => void;
  /**
   * Abandons the start (Ctrl-C in the demo): what was started, or is starting, is stopped once
   * it can be, then the start rejects.
   */
  signal?: AbortSignal;
}

export async function startScenarioCluster(options: ScenarioOptions): Promise<ScenarioCluster> {
  const say = options.say ?? (() => undefined);
  const out = options.out;
  mkdirSync(out, { recursive: true });
  const started: { cp?: ControlPlane; sw?: VdeSwitch; vms: Vm[] } = { vms: [] };
  const controllers: ControllerProcess[] = [];

  const stopControllers = async () => {
    await Promise.all(controllers.map((c) => c.kill('SIGTERM')));
    controllers.length = 0;
  };
  const stop = async () => {
    await stopControllers();
    await Promise.all(started.vms.map((v) => stopVm(v)));
    started.vms.length = 0;
    await started.sw?.stop();
    await started.cp?.stop();
  };

  // Every start of a process, so that a failure or an abort waits for those still starting (a VM
  // booting when another failed) and stops them too, instead of leaving them behind.
  const inflight: Promise<unknown>[] = [];
  const track = <T>(p: Promise<T>): Promise<T> => {
    inflight.push(p);
    return p;
  };
  const aborted = new Promise<never>((_, reject) => {
    const abort = () => reject(new Error('interrupted'));
    if (options.signal?.aborted) abort();
    options.signal?.addEventListener('abort', abort, { once: true });
  });
  aborted.catch(() => undefined);
  /** Waits for `p`, or rejects at once when the start is abandoned. */
  const step = <T>(p: Promise<T>): Promise<T> => Promise.race([p, aborted]);

  try {
    say(
      'starting etcd and kube-apiserver; the private network; booting three VMs (Debian kernel, qemu)',
    );
    const sw = await step(track(startSwitch(join(out, 'net'))).then((x) => (started.sw = x)));
    const vmsStarting = NODES.map((node, i) =>
      track(
        startVm({
          name: node,
          // One vCPU each: three VMs share two host cores, and one CPU is all a node needs here.
          cpus: 1,
          forwardPorts: [AGENT_HEALTH, LOADER_HEALTH],
          fixedForwards: [
            { hostAddress: agentAddress(i), hostPort: AGENT_API, guestPort: AGENT_API },
          ],
          privateNetwork: { switchSocket: sw.socket, address: `${privateAddress(i)}/24` },
        }).then((v) => {
          started.vms[i] = v;
          return v;
        }),
      ),
    );
    const [cp] = await step(
      Promise.all([track(startControlPlane().then((c) => (started.cp = c))), ...vmsStarting]),
    );
    const vms = started.vms;
    await step(
      Promise.all(
        vms.map((v) =>
          v.run(
            'modprobe sch_netem && tc qdisc add dev ' +
              `$(ip -o -4 addr show | awk '/ 10\\.99\\./ { print $2 }') ` +
              `root netem delay ${NETWORK_DELAY_MS}ms`,
          ),
        ),
      ),
    );

    say(`helm install ${RELEASE} charts/rewind -n ${NS} (CRD, RBAC, certificates, webhook token)`);
    const installed = await step(
      run(
        'helm',
        [
          'install',
          RELEASE,
          CHART_DIR,
          '--namespace',
          NS,
          '--create-namespace',
          '--kubeconfig',
          cp.kubeconfigPath,
          '--timeout',
          '2m',
          ...CHART_VALUES.flatMap((v) => ['--set', v]),
        ],
        { timeoutMs: 170_000 },
      ),
    );
    if (installed.code !== 0)
      throw new Error(`helm install failed:\n${installed.stderr}${installed.stdout}`);
    await cp.kubectlOk(['wait', '--for=condition=Established', 'crd/tracesnapshots.rewind.dev']);
    await cp.kubectlOk(['create', 'namespace', APP_NS]);
    // No controller-manager makes the default ServiceAccounts pods need.
    for (const ns of [NS, APP_NS])
      await cp.kubectlOk(['-n', ns, 'create', 'serviceaccount', 'default']);

    // The agent as the DaemonSet runs it: its Secret as files the guests read (the host's files),
    // its emptyDir in the guest's /tmp, its hostPaths the VM's own.
    const agent = await podTemplate(cp, NS, 'daemonsets', `${RELEASE}-agent`);
    const agentVolumes = await localVolumes(
      cp,
      NS,
      agent.spec,
      'agent',
      join(out, 'chart', 'agent'),
      (v) => `/tmp/rewind-${v}`,
    );
    const emptyDirs = Object.values(agentVolumes).filter((d) => d.startsWith('/tmp/rewind-'));
    const startAgent = (i: number, options: { ready?: boolean } = {}) =>
      startAgentProcessInVm(
        vms[i] as Vm,
        containerEnvironment(
          agent.spec,
          'agent',
          { namespace: NS, podName: `${RELEASE}-agent-${NODES[i]}`, nodeName: NODES[i] as string },
          agentVolumes,
        ),
        { ready: options.ready, dirs: emptyDirs },
      );
    say('loading rewind.ko on each node (rewind-agent load-module) and starting the agents');
    await step(
      Promise.all(
        // One after the other on each node: both at once on a node's one vCPU, beside a loaded
        // host, took the loader past its 180 s to become ready (seen in a CI rehearsal).
        NODES.map(async (node, i) => {
          await loadModuleInVm(vms[i] as Vm, node, out);
          await startAgent(i);
        }),
      ),
    );

    // The controller as the Deployment runs it, with its ServiceAccount's token.
    const controller = await podTemplate(cp, NS, 'deployments', `${RELEASE}-controller`);
    const controllerVolumes = await localVolumes(
      cp,
      NS,
      controller.spec,
      'controller',
      join(out, 'chart', 'controller'),
    );
    const sa = controller.spec.serviceAccountName ?? 'default';
    const token = (await cp.kubectlOk(['-n', NS, 'create', 'token', sa, '--duration=2h'])).trim();
    const controllerKubeconfig = userKubeconfig(cp, join(out, 'chart'), sa, token, NS);
    const controllerEnv = (pod: string) => {
      const env = containerEnvironment(
        controller.spec,
        'controller',
        { namespace: NS, podName: pod, nodeName: 'control-1' },
        controllerVolumes,
      );
      // Where a process on the host listens, and how long it drains, are the harness's
      // (controller-process.ts): free loopback ports, no drain.
      for (const k of [
        'REWIND_CONTROLLER_API_PORT',
        'REWIND_CONTROLLER_HEALTH_PORT',
        'REWIND_DRAIN_SECONDS',
      ])
        delete env[k];
      return env;
    };
    const probe = controllerEnv('probe');
    const data = probe.REWIND_DATA_DIR as string;
    const webhookTokenFile = probe.REWIND_WEBHOOK_TOKEN_FILE as string;
    const caFile = probe.REWIND_TLS_CA as string;

    const api = async (method: string, path: string, body?: unknown) => {
      const r = await cp.request(method, path, body);
      if (r.status >= 300) throw new Error(`${method} ${path}: ${r.status} ${r.text}`);
      return r.body;
    };
    const registerPod: ScenarioCluster['registerPod'] = async (ns, name, node, labels, status) => {
      const created = (await api('POST', `/api/v1/namespaces/${ns}/pods`, {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, labels },
        spec: {
          nodeName: node,
          automountServiceAccountToken: false,
          containers: [{ name: 'c', image: 'rewind:test' }],
        },
      })) as { metadata: { uid: string } };
      const current = (await api('GET', `/api/v1/namespaces/${ns}/pods/${name}`)) as Record<
        string,
        unknown
      >;
      await api('PUT', `/api/v1/namespaces/${ns}/pods/${name}/status`, { ...current, status });
      return created.metadata.uid;
    };

    say("registering the nodes, and the agents as the agent DaemonSet's pods");
    for (const [i, node] of NODES.entries()) {
      await api('POST', '/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: node, labels: { 'kubernetes.io/hostname': node, e2e: 'yes' } },
      });
      await registerPod(NS, `${RELEASE}-agent-${node}`, node, agent.labels, {
        phase: 'Running',
        podIP: agentAddress(i),
        podIPs: [{ ip: agentAddress(i) }],
        conditions: [{ type: 'Ready', status: 'True' }],
      });
    }

    const cluster: ScenarioCluster = {
      out,
      cp,
      caFile,
      webhookTokenFile,
      data,
      vms,
      vm: (i) => {
        const v = vms[i];
        if (!v) throw new Error(`no VM ${i}`);
        return v;
      },
      controllers,
      api,
      registerPod,
      registerWorkload: (w) =>
        registerPod(
          APP_NS,
          w.name,
          NODES[w.node] as string,
          { app: w.name },
          {
            phase: 'Running',
            containerStatuses: [
              {
                name: w.container,
                containerID: `containerd://${w.containerId}`,
                ready: true,
                restartCount: 0,
                image: 'rewind:test',
                imageID: '',
                state: { running: {} },
              },
            ],
          },
        ),
      async runInPod(w, uid, run) {
        // A script on the host (the guest sees the host's files): no quoting of quotes.
        const script = join(out, 'pods', `${w.name}.sh`);
        mkdirSync(join(out, 'pods'), { recursive: true });
        const cg = cgroupOf(w, uid);
        writeFileSync(
          script,
          [
            '#!/bin/bash',
            'set -e',
            `mkdir -p ${cg}`,
            `ln -sf ${run.program} /tmp/${w.comm}`,
            `echo $$ > ${cg}/cgroup.procs`,
            `exec -a ${run.argv0 ?? w.comm} /tmp/${w.comm} ${run.args ?? ''}`,
            '',
          ].join('\n'),
        );
        await cluster
          .vm(w.node)
          .run(`setsid bash ${script} >/tmp/${w.name}.log 2>&1 </dev/null & sleep 0.3`);
      },
      startAgent,
      async startController(name, env = {}) {
        const c = await startController(
          name,
          { ...controllerEnv(name), KUBECONFIG: controllerKubeconfig, ...env },
          out,
        );
        controllers.push(c);
        await c.waitReady();
        return c;
      },
      stopControllers,
      stop,
    };
    return cluster;
  } catch (err) {
    await Promise.allSettled(inflight);
    await stop().catch(() => undefined);
    throw err;
  }
}
