/**
 * `rewind-agent device-plugin` (the I/O shell): Rewind's kubelet device plugin (device-plugin/)
 * with its health, readiness (registered with the kubelet) and metrics on its own port.
 */
import type { Logger } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { healthApp, type Lifecycle } from '../common/lifecycle';
import type { DevicePluginConfig } from './config';
import { startDevicePlugin } from './device-plugin/plugin';
import { collectProcessMetrics } from '../common/metrics';

export async function startDevicePluginCommand(
  config: DevicePluginConfig,
  lifecycle: Lifecycle,
  log: Logger,
): Promise<void> {
  const plugin = await startDevicePlugin(
    {
      pluginDir: config.pluginDir,
      resourceName: config.resourceName,
      devicePath: config.device,
      watchPath: config.watchPath,
      deviceCount: config.deviceCount,
      log,
    },
    lifecycle,
  );
  lifecycle.onStop(() => plugin.stop());
  const registry = new Registry();
  collectProcessMetrics(registry, 'rewind_agent_');
  new Gauge({
    name: 'rewind_agent_device_plugin_registered',
    help: 'Whether the kubelet knows this device plugin (1) or not yet (0).',
    registers: [registry],
    collect() {
      this.set(plugin.status().registered ? 1 : 0);
    },
  });
  new Gauge({
    name: 'rewind_agent_device_present',
    help: "Whether the module's device exists on the node (the advertised devices are healthy).",
    registers: [registry],
    collect() {
      this.set(plugin.status().devicePresent ? 1 : 0);
    },
  });
  const health = () => {
    const s = plugin.status();
    const detail = s.registered
      ? s.devicePresent
        ? 'ok'
        : `degraded: no device (${config.watchPath} is absent: is the module loaded?)`
      : `degraded: not registered with the kubelet${s.problem ? ` (${s.problem})` : ''}`;
    return { alive: true, detail };
  };
  await lifecycle.serve(
    'health',
    healthApp(registry, lifecycle.gates, health),
    config.healthPort,
    config.bind,
  );
  log.info(
    { resource: config.resourceName, listening: lifecycle.addresses() },
    'device plugin started',
  );
}
