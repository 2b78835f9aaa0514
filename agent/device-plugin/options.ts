/**
 * The device plugin's options, checked once before anything is bound or dialled: a bad value is
 * one line naming the option and its value. The agent's config.ts parses the environment into
 * these; the checks here are the ones the kubelet or the socket layer would otherwise fail on
 * later with an obscure message.
 */
import { isAbsolute, join } from 'node:path';
import type { BackoffOptions } from '../../common/backoff';

/** The socket file this plugin binds in the plugin folder (RegisterRequest.endpoint). */
export const PLUGIN_SOCKET = 'rewind.sock';
/** The kubelet's registration socket in the same folder. */
export const KUBELET_SOCKET = 'kubelet.sock';

export const DEFAULT_POLL_MS = 1000;
export const DEFAULT_BACKOFF: BackoffOptions = { initialMs: 500, maxMs: 30_000 };
export const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;
/** The kubelet keeps device IDs as strings of at most 63 characters; 4096 is plenty of pods. */
export const MAX_DEVICE_COUNT = 4096;

/** sockaddr_un.sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_UNIX_SOCKET_PATH = 107;

/**
 * An extended resource name as the kubelet accepts one from a device plugin: `<domain>/<name>`,
 * the domain a DNS subdomain outside kubernetes.io, the name a qualified-name part.
 */
export const RESOURCE_NAME =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

export interface CheckedPluginOptions {
  pluginDir: string;
  resourceName: string;
  devicePath: string;
  watchPath: string;
  deviceCount: number;
  pollMs: number;
  backoff: BackoffOptions;
  registerTimeoutMs: number;
  socketPath: string;
  kubeletSocketPath: string;
}

export interface PluginOptionsInput {
  pluginDir: string;
  resourceName: string;
  devicePath: string;
  watchPath?: string;
  deviceCount: number;
  pollMs?: number;
  backoff?: BackoffOptions;
  registerTimeoutMs?: number;
}

/** The options with defaults filled in and every value checked; throws one line on a bad one. */
export function checkPluginOptions(input: PluginOptionsInput): CheckedPluginOptions {
  const bad = (name: string, value: unknown, why: string): never => {
    throw new Error(`device plugin option ${name}=${JSON.stringify(value)}: ${why}`);
  };
  if (!isAbsolute(input.pluginDir)) bad('pluginDir', input.pluginDir, 'must be an absolute path');
  if (!isAbsolute(input.devicePath)) {
    bad('devicePath', input.devicePath, 'must be an absolute path');
  }
  const watchPath = input.watchPath ?? input.devicePath;
  if (!isAbsolute(watchPath)) bad('watchPath', watchPath, 'must be an absolute path');
  if (!RESOURCE_NAME.test(input.resourceName) || input.resourceName.length > 253) {
    bad('resourceName', input.resourceName, 'must be <domain>/<name>, e.g. rewind.dev/recorder');
  }
  const domain = input.resourceName.split('/')[0];
  if (domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io')) {
    bad('resourceName', input.resourceName, 'the kubernetes.io domain is reserved');
  }
  const positive = (name: string, value: number, max = Number.MAX_SAFE_INTEGER): number => {
    if (!Number.isInteger(value) || value < 1 || value > max) {
      bad(name, value, `must be an integer from 1 to ${max}`);
    }
    return value;
  };
  const deviceCount = positive('deviceCount', input.deviceCount, MAX_DEVICE_COUNT);
  const pollMs = positive('pollMs', input.pollMs ?? DEFAULT_POLL_MS);
  const backoff = input.backoff ?? DEFAULT_BACKOFF;
  positive('backoff.initialMs', backoff.initialMs);
  positive('backoff.maxMs', backoff.maxMs);
  if (backoff.maxMs < backoff.initialMs) bad('backoff.maxMs', backoff.maxMs, 'is below initialMs');
  const registerTimeoutMs = positive(
    'registerTimeoutMs',
    input.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS,
  );
  const socketPath = join(input.pluginDir, PLUGIN_SOCKET);
  const kubeletSocketPath = join(input.pluginDir, KUBELET_SOCKET);
  for (const path of [socketPath, kubeletSocketPath]) {
    if (Buffer.byteLength(path) > MAX_UNIX_SOCKET_PATH) {
      bad('pluginDir', input.pluginDir, `${path} is longer than a unix socket path may be`);
    }
  }
  return {
    pluginDir: input.pluginDir,
    resourceName: input.resourceName,
    devicePath: input.devicePath,
    watchPath,
    deviceCount,
    pollMs,
    backoff,
    registerTimeoutMs,
    socketPath,
    kubeletSocketPath,
  };
}
