/**
 * `npm run k8s:up [-- --install]`: start the test control plane by hand, print how to use it,
 * and keep it running until Ctrl-C (or SIGTERM), which stops etcd and kube-apiserver cleanly.
 * With --install, the chart is installed into namespace rewind-system first.
 */
import { Command } from 'commander';
import { binaryPath, runOk } from './binaries';
import { CHART_DIR } from './chart';
import { startControlPlane } from './controlPlane';

export async function main(argv: string[]): Promise<void> {
  const program = new Command('k8s:up')
    .description('Start etcd + kube-apiserver on 127.0.0.1 until Ctrl-C')
    .option('--install', 'helm install charts/rewind into namespace rewind-system')
    .option('--keep', 'keep the temporary directory (PKI, logs) after stopping')
    .parse(argv, { from: 'user' });
  const options = program.opts<{ install?: boolean; keep?: boolean }>();

  const started = Date.now();
  const cp = await startControlPlane({ keepDir: options.keep === true });
  const stop = async (signal: string): Promise<void> => {
    console.log(`\n${signal}: stopping kube-apiserver and etcd...`);
    await cp.stop();
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
      `control plane ready in ${((Date.now() - started) / 1000).toFixed(1)} s (no kubelet: pods never run)`,
      `  server:     ${cp.server}`,
      `  kubeconfig: ${cp.kubeconfigPath}`,
      `  logs:       ${cp.dir}/kube-apiserver.log, ${cp.dir}/etcd.log`,
      '',
      'use it from another shell:',
      `  export KUBECONFIG=${cp.kubeconfigPath}`,
      `  ${kubectl} get namespaces      # the pinned kubectl`,
      '',
      `stop it: Ctrl-C here, or kill ${process.pid}`,
    ].join('\n'),
  );
  await new Promise<never>(() => {
    // run until a signal arrives
  });
}
