/**
 * Every setting of `rewind-agent`, written once: its name (the key of the typed configuration
 * and of the optional configuration file), its environment variable, its flag, its type and
 * default, and its help. The commands' schemas
 * (config.ts), their command-line options (cli.ts), the file's accepted keys and the chart's
 * environment (test/k8s/chart-env.test.ts) are all derived from this table.
 *
 * Every value arrives as a string (a flag or a variable; a file's scalars and lists are turned
 * into the same strings), so one zod type per setting checks all three sources alike.
 */
import { z } from 'zod';
import { bindAddress, dns1123Subdomain, port, seconds } from '../common/config';
import {
  absolutePath,
  boolean,
  integer,
  list,
  powerOfTwo,
  processSettings,
  setting,
  tlsSettings,
  settingsVariables,
  type Setting,
  type Settings,
} from '../common/settings';
import { PROBES, type Probe } from '../native';
import { RESOURCE_NAME } from './device-plugin/options';

const probeList = z
  .string()
  .default('all')
  .transform((v, ctx): 'all' | Probe[] => {
    if (v.trim() === 'all') return 'all';
    const names = v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const unknown = names.filter((n) => !(PROBES as readonly string[]).includes(n));
    if (names.length === 0 || unknown.length > 0) {
      ctx.addIssue({
        code: 'custom',
        message:
          `must be 'all' or probe names (${PROBES.join(', ')})` +
          (unknown.length ? `; unknown: ${unknown.join(', ')}` : ''),
      });
      return z.NEVER;
    }
    return names as Probe[];
  });

const kernelRelease = z
  .string()
  .regex(/^[\w.+~*-]+$/, 'must be kernel releases (uname -r; * for any run of characters)');

/**
 * Where the loader keeps its state for the agent: `load-module` writes it on every change,
 * `serve` reads it into /v1/status (the loader runs in another pod, and the agent has no
 * Kubernetes API to ask). One setting in both tables, so the two cannot disagree on a default.
 */
const moduleStateFile = setting(
  'REWIND_MODULE_STATE_FILE',
  'module-state-file',
  absolutePath('/var/run/rewind/module/state.json'),
  "The module loader's state (JSON): load-module writes it on every change, serve reads it " +
    'into /v1/status; a folder both can reach (the chart: a host path on the node).',
);

/** Settings of every command. */
export const shared = {
  nodeName: setting(
    'NODE_NAME',
    'node-name',
    dns1123Subdomain(),
    "The node this process runs on, its identity (the chart sets it from the pod's spec.nodeName).",
  ),
  bind: setting(
    'REWIND_AGENT_BIND',
    'bind',
    bindAddress('0.0.0.0'),
    'Address to listen on (default: every address of the pod).',
  ),
  ...processSettings,
} as const;

/** `rewind-agent serve`: the recorder and its snapshot API. */
export const serveSettings = {
  ...shared,
  apiPort: setting(
    'REWIND_AGENT_API_PORT',
    'api-port',
    port(9401),
    'HTTPS port of the snapshot API (mutual TLS: the controller only).',
  ),
  healthPort: setting(
    'REWIND_AGENT_HEALTH_PORT',
    'health-port',
    port(9402),
    'Plain HTTP port of /healthz, /readyz and /metrics.',
  ),
  ...tlsSettings({
    cert: "The agent's certificate (PEM) for the snapshot API.",
    ca: 'The CA (PEM) that must have signed the client certificate.',
  }),
  controllerIdentity: setting(
    'REWIND_CONTROLLER_IDENTITY',
    'controller-identity',
    z.string().min(1, 'must not be empty').default('rewind-controller'),
    "The name the client certificate must carry (its common name or a DNS name): the chart's " +
      'controller certificate.',
  ),
  device: setting('REWIND_DEVICE', 'device', absolutePath('/dev/rewind'), "The module's device."),
  subbufBytes: setting(
    'REWIND_RING_SUBBUF_BYTES',
    'ring-subbuf-bytes',
    powerOfTwo(64 * 1024, 4096, 64 * 1024 * 1024),
    'Bytes of one sub-buffer (one CTF packet) of each CPU ring: a power of two.',
  ),
  subbufs: setting(
    'REWIND_RING_SUBBUFS',
    'ring-subbufs',
    powerOfTwo(16, 2, 65536),
    'Sub-buffers per CPU ring: a power of two; ring bytes per CPU = subbufs x subbuf bytes.',
  ),
  mode: setting(
    'REWIND_RING_MODE',
    'ring-mode',
    z
      .enum(['overwrite', 'discard'], { error: 'must be overwrite or discard' })
      .default('overwrite'),
    'overwrite: keep the newest history (flight recorder); discard: keep the oldest.',
  ),
  probes: setting(
    'REWIND_PROBES',
    'probes',
    probeList,
    `'all' or a comma-separated list of probes: ${PROBES.join(', ')}.`,
  ),
  reconfigure: setting(
    'REWIND_RING_RECONFIGURE',
    'ring-reconfigure',
    boolean(false),
    'Apply ring settings that differ from the running recorder (drops its history); otherwise ' +
      'the agent keeps recording as it is and says what differs.',
  ),
  snapshotDir: setting(
    'REWIND_SNAPSHOT_DIR',
    'snapshot-dir',
    absolutePath('/var/run/rewind/snapshots'),
    'Scratch folder where a snapshot is written before it streams out (removed after).',
  ),
  cgroupRoot: setting(
    'REWIND_CGROUP_ROOT',
    'cgroup-root',
    absolutePath('/sys/fs/cgroup'),
    "The node's cgroup hierarchy, read to name containers.",
  ),
  moduleStateFile,
} as const;

/** `rewind-agent load-module`: the module's loader (needs CAP_SYS_MODULE). */
export const loadModuleSettings = {
  ...shared,
  healthPort: setting(
    'REWIND_LOADER_HEALTH_PORT',
    'health-port',
    port(9403),
    "Plain HTTP port of the loader's /healthz (its state and reason), /readyz and /metrics.",
  ),
  load: setting(
    'REWIND_MODULE_LOAD',
    'module-load',
    z.enum(['auto', 'never'], { error: 'must be auto or never' }).default('auto'),
    'auto: load the module (prebuilt, else built from source); never: the kill switch.',
  ),
  allowedReleases: setting(
    'REWIND_MODULE_ALLOWED_RELEASES',
    'module-allowed-releases',
    list(kernelRelease),
    'Kernel releases (uname -r) the module may be loaded on, comma-separated, * matching any ' +
      'run of characters (6.1.0-*-amd64); empty: any.',
  ),
  prebuiltDir: setting(
    'REWIND_MODULE_PREBUILT_DIR',
    'module-prebuilt-dir',
    absolutePath('/app/modules'),
    'Prebuilt modules shipped with the agent, as <dir>/<release>/rewind.ko.',
  ),
  sourceDir: setting(
    'REWIND_MODULE_SOURCE_DIR',
    'module-source-dir',
    absolutePath('/app/kmod'),
    "The module's source, built against the node's headers when no prebuilt module fits.",
  ),
  buildCacheDir: setting(
    'REWIND_MODULE_BUILD_CACHE',
    'module-build-cache',
    absolutePath('/var/cache/rewind/modules'),
    'Where modules built on the node are kept, per kernel release and source hash (a host path).',
  ),
  headersRoot: setting(
    'REWIND_MODULE_HEADERS_ROOT',
    'module-headers-root',
    absolutePath('/lib/modules'),
    "The host's /lib/modules (mounted read-only): <root>/<release>/build holds the headers.",
  ),
  retryMaxSeconds: setting(
    'REWIND_MODULE_RETRY_MAX_SECONDS',
    'module-retry-max-seconds',
    seconds(300, 86400),
    'Longest wait between two attempts to load the module (the backoff doubles up to it).',
  ),
  unloadOnExit: setting(
    'REWIND_MODULE_UNLOAD_ON_EXIT',
    'module-unload-on-exit',
    boolean(false),
    'Unload the module when the loader stops (drops the recorded history).',
  ),
  moduleStateFile,
} as const;

/** `rewind-agent device-plugin`: hands /dev/rewind to the agent's container (a kubelet plugin). */
export const devicePluginSettings = {
  ...shared,
  healthPort: setting(
    'REWIND_DEVICE_PLUGIN_HEALTH_PORT',
    'health-port',
    port(9404),
    "Plain HTTP port of the device plugin's /healthz, /readyz and /metrics.",
  ),
  device: setting(
    'REWIND_DEVICE',
    'device',
    absolutePath('/dev/rewind'),
    "The module's device on the host: the path handed to the agent's container.",
  ),
  watchPath: setting(
    'REWIND_DEVICE_PLUGIN_WATCH',
    'watch-path',
    absolutePath('/dev/rewind'),
    "Where this container sees the host's device (the chart mounts the host's /dev at /host/dev): " +
      'the devices are advertised healthy while it exists.',
  ),
  pluginDir: setting(
    'REWIND_DEVICE_PLUGIN_DIR',
    'plugin-dir',
    absolutePath('/var/lib/kubelet/device-plugins'),
    "The kubelet's device plugin folder (kubelet.sock).",
  ),
  resourceName: setting(
    'REWIND_DEVICE_RESOURCE',
    'resource-name',
    z
      .string()
      .regex(RESOURCE_NAME, 'must be an extended resource name, domain/name')
      .default('rewind.dev/recorder'),
    'The extended resource the agent requests (limits: {<name>: 1}).',
  ),
  deviceCount: setting(
    'REWIND_DEVICE_PLUGIN_DEVICES',
    'devices',
    integer(4, 1, 64),
    'How many agents may hold the device at once (rolling updates and debug pods need more than one).',
  ),
} as const;

/** The commands and their settings. */
export const COMMANDS = {
  serve: serveSettings,
  'load-module': loadModuleSettings,
  'device-plugin': devicePluginSettings,
} as const;

export type CommandName = keyof typeof COMMANDS;

/** The variables a command reads, in table order: the chart sets exactly these. */
export function commandVariables(command: CommandName): string[] {
  return settingsVariables(COMMANDS[command] as Settings);
}

export type { Setting, Settings };
