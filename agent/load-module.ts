/**
 * `rewind-agent load-module` (the I/O shell): the module loader (module/) with its health — the
 * state and the reason in /healthz's body — readiness (the module loaded) and metrics on its own
 * port, and the state written to the state file for the agent's /v1/status. It stays up whatever
 * happens to the module: a loader that crash-looped could not say why.
 */
import type { Logger } from 'pino';
import { Registry } from 'prom-client';
import type { Lifecycle } from '../common/lifecycle';
import type { LoadModuleConfig } from './config';
import { startModuleLoader } from './module/loader';
import { collectProcessMetrics } from '../common/metrics';

export async function startLoadModule(
  config: LoadModuleConfig,
  lifecycle: Lifecycle,
  log: Logger,
): Promise<void> {
  const registry = new Registry();
  collectProcessMetrics(registry, 'rewind_agent_');
  const loader = await startModuleLoader(
    {
      load: config.load,
      allowedReleases: config.allowedReleases,
      prebuiltDir: config.prebuiltDir,
      sourceDir: config.sourceDir,
      buildCacheDir: config.buildCacheDir,
      headersRoot: config.headersRoot,
      retryMaxSeconds: config.retryMaxSeconds,
      unloadOnExit: config.unloadOnExit,
    },
    lifecycle,
    {
      port: config.healthPort,
      bind: config.bind,
      log,
      registry,
      stateFile: config.moduleStateFile,
    },
  );
  lifecycle.onStop(() => loader.stop());
  log.info({ listening: lifecycle.addresses(), policy: config.load }, 'module loader started');
}
