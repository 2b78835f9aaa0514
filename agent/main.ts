/**
 * rewind-agent: the node's process, three commands in one image (cli.ts): `serve` (the recorder
 * and its snapshot API), `load-module` (gets rewind.ko loaded, or says why not) and
 * `device-plugin` (hands /dev/rewind to the agent's container). This file is the I/O shell that
 * reads the sources of the configuration and starts the command.
 */
import pino from 'pino';
import { runMain, type Lifecycle } from '../common/lifecycle';
import { readConfigFile } from '../common/settings-file';
import { clockSamples } from '../native';
import { version as VERSION } from '../package.json';
import { runCommandLine } from '../common/settings-cli';
import { agentProgram, type Invocation } from './cli';
import {
  CONFIG_FILE_VARIABLE,
  parseAgentConfig,
  type DevicePluginConfig,
  type LoadModuleConfig,
  type ServeConfig,
} from './config';

/** The trace clock now: the module's CLOCK_MONOTONIC. */
const monotonicNow = (): bigint => (clockSamples(1)[0] as { monotonicNs: bigint }).monotonicNs;

type AnyConfig = ServeConfig | LoadModuleConfig | DevicePluginConfig;

function configure(inv: Invocation, env: NodeJS.ProcessEnv) {
  const file = readConfigFile(inv.configFile ?? env[CONFIG_FILE_VARIABLE]);
  const config = parseAgentConfig(inv.command, { flags: inv.flags, env, file }) as AnyConfig;
  const drainMs = config.drainSeconds * 1000;
  // The chart's grace period is 30 s: drain, then up to 20 s for a snapshot in flight.
  return { config, drainMs, closeTimeoutMs: 20_000 };
}

async function start(
  inv: Invocation,
  { config }: ReturnType<typeof configure>,
  lifecycle: Lifecycle,
): Promise<void> {
  const log = pino({
    name: `rewind-agent ${inv.command}`,
    level: config.logLevel,
    base: { node: config.nodeName },
  });
  // Each command loads only its own modules (gRPC is the device plugin's alone): a node's
  // processes start faster, and a command never fails on another's dependency.
  switch (inv.command) {
    case 'serve': {
      const c = config as ServeConfig;
      const { defaultRecorderIo, startServe } = await import('./serve');
      const { nodeContainers } = await import('./containers');
      await startServe(c, lifecycle, log, {
        recorderIo: defaultRecorderIo,
        monotonicNow,
        containers: nodeContainers(c.cgroupRoot, log),
      });
      return;
    }
    case 'load-module': {
      const { startLoadModule } = await import('./load-module');
      await startLoadModule(config as LoadModuleConfig, lifecycle, log);
      return;
    }
    case 'device-plugin': {
      const { startDevicePluginCommand } = await import('./device-plugin-command');
      await startDevicePluginCommand(config as DevicePluginConfig, lifecycle, log);
      return;
    }
  }
}

export async function main(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  await runCommandLine(agentProgram(VERSION), argv, (invocation) =>
    runMain(
      `rewind-agent ${invocation.command}`,
      () => configure(invocation, env),
      (c, lifecycle) => start(invocation, c, lifecycle),
    ),
  );
}

if (require.main === module) void main(process.argv.slice(2), process.env);
