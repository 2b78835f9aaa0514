/** The controller's configuration: environment variables set by its Deployment, with defaults. */
import { z } from 'zod';
import { lifecycleVariables, parseConfig, port } from '../common/config';

const schema = z
  .object({
    /** Port of /healthz, /readyz and /metrics. */
    REWIND_CONTROLLER_HEALTH_PORT: port(9090),
    /** Address the controller listens on. */
    REWIND_CONTROLLER_BIND: z.string().default('0.0.0.0'),
    ...lifecycleVariables,
  })
  .transform((e) => ({
    healthPort: e.REWIND_CONTROLLER_HEALTH_PORT,
    bind: e.REWIND_CONTROLLER_BIND,
    drainMs: e.REWIND_DRAIN_SECONDS * 1000,
  }));

export type ControllerConfig = z.output<typeof schema>;

export function controllerConfig(env: NodeJS.ProcessEnv = process.env): Readonly<ControllerConfig> {
  return parseConfig('rewind-controller', schema, env);
}
