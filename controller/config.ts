/**
 * The controller's configuration: the environment variables its Deployment sets.
 * `controllerEnvironment` is the one list of them (see agent/config.ts).
 */
import { z } from 'zod';
import {
  bindAddress,
  commonSettings,
  commonVariables,
  parseConfig,
  port,
  variableNames,
} from '../common/config';

export const controllerEnvironment = z.object({
  /** Port of /healthz, /readyz and /metrics (chart: `controller.healthPort`). */
  REWIND_CONTROLLER_HEALTH_PORT: port(9090),
  /** Address the controller listens on; the chart leaves the default. */
  REWIND_CONTROLLER_BIND: bindAddress('0.0.0.0'),
  ...commonVariables,
});

export const controllerVariables: readonly string[] = variableNames(controllerEnvironment);

const schema = controllerEnvironment.transform((e) => ({
  healthPort: e.REWIND_CONTROLLER_HEALTH_PORT,
  bind: e.REWIND_CONTROLLER_BIND,
  ...commonSettings(e),
}));

export type ControllerConfig = z.output<typeof schema>;

export function controllerConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ControllerConfig> {
  return parseConfig(schema, env);
}
