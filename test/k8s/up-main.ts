/**
 * `npm run k8s:up [-- --node [--vm-node]] [-- --install]`: start the test cluster by hand, print how to use
 * it, and keep it running until Ctrl-C (or SIGTERM), which stops it cleanly.
 *
 * Without --node: etcd + kube-apiserver on 127.0.0.1 (controlPlane.ts; no pod ever runs). With
 * --node: a cluster whose pods run (nodeCluster.ts): the controllers, CoreDNS, and a node on this
 * machine (containerd, the kubelet, kube-proxy), with --image archives imported into it; with
 * --vm-node also a node inside a test VM (vmNode.ts), where the module loads. With
 * --install, the chart is installed into namespace rewind-system first.
 */
import { Command } from 'commander';
import { binaryPath, runOk } from './binaries';
import { CHART_DIR } from './chart';
import { type ControlPlane, startControlPlane } from './controlPlane';
import { startCluster } from './nodeCluster';

interface UpOptions {
  install?: boolean;
  keep?: boolean;
  node?: boolean;
  vmNode?: boolean;
  image?: string[];
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('k8s:up')
    .description('Start a test cluster until Ctrl-C')
    .option('--node', 'controllers, CoreDNS and a node on this machine: pods run')
    .option('--vm-node', 'with --node: a second node inside a test VM (its kernel loads modules)')
    .option('--image <archive...>', 'with --node: image archives (OCI or Docker) to import')
    .option('--install', 'helm install charts/rewind into namespace rewind-system')
    .option('--keep', 'keep the temporary directory (PKI, logs) after stopping')
    .parse(argv, { from: 'user' });
  const options = program.opts<UpOptions>();
  if (options.image && !options.node) throw new Error('--image needs --node');
  if (options.vmNode && !options.node) throw new Error('--vm-node needs --node');

  const started = Date.now();
  let cp: ControlPlane;
  let stopAll: () => Promise<void>;
  let summary: string[];
  if (options.node) {
    const cluster = await startCluster({
      keepDir: options.keep === true,
      images: options.image ?? [],
      nodes: options.vmNode ? ['host', 'vm'] : ['host'],
      // A second cluster fails at once rather than waiting for this machine's node.
      hostLockTimeoutMs: 0,
      log: (line) => console.log(line),
    });
    cp = cluster.cp;
    stopAll = async () => {
      const report = await cluster.stop();
      console.log(`stopped in ${(report.ms / 1000).toFixed(1)} s`);
      for (const line of report.leftovers) console.log(`  cleaned after the programs: ${line}`);
      for (const line of report.vmProblems) console.log(`  VM node: ${line}`);
    };
    summary = [
      `cluster ready in ${seconds(cluster.timings.totalMs)}: kube-apiserver after ` +
        `${seconds(cluster.timings.apiServerReadyMs)}, node ${cluster.nodeNames.join(', ')} ` +
        `Ready ${seconds(cluster.timings.nodesReadyMs)} later`,
      `  images:     ${cluster.images.busybox}, ${cluster.images.pause} (imagePullPolicy: Never)`,
      `  logs:       ${Object.values(cluster.logs).join('\n              ')}`,
    ];
  } else {
    cp = await startControlPlane({ keepDir: options.keep === true });
    stopAll = () => cp.stop();
    summary = [
      `control plane ready in ${seconds(Date.now() - started)} (no kubelet: pods never run)`,
      `  logs:       ${cp.dir}/kube-apiserver.log, ${cp.dir}/etcd.log`,
    ];
  }
  const stop = async (signal: string): Promise<void> => {
    console.log(`\n${signal}: stopping...`);
    await stopAll();
    console.log('stopped.');
    process.exit(0);
  };
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));

  if (options.install) {
    const kc = `--kubeconfig=${cp.kubeconfigPath}`;
    await cp.kubectlOk(['create', 'namespace', 'rewind-system']);
    process.stdout.write(
      await runOk('helm', ['install', 'rewind', CHART_DIR, '-n', 'rewind-system', kc]),
    );
  }
  const kubectl = binaryPath('kubectl');
  console.log(
    [
      ...summary,
      `  server:     ${cp.server}`,
      `  kubeconfig: ${cp.kubeconfigPath}`,
      '',
      'use it from another shell:',
      `  export KUBECONFIG=${cp.kubeconfigPath}`,
      `  ${kubectl} get ${options.node ? 'nodes,pods -A' : 'namespaces'}      # the pinned kubectl`,
      '',
      `stop it: Ctrl-C here, or kill ${process.pid}`,
    ].join('\n'),
  );
  await new Promise<never>(() => {
    // run until a signal arrives
  });
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
