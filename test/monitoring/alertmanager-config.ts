/**
 * An Alertmanager configuration made of what the chart's NOTES tell an operator to add (pure):
 * the `receivers:` block (and the `route:` block's `routes:`) cut out of the NOTES text by
 * indentation, with the in-cluster webhook URL and the Secret's mount paths replaced by a test's
 * own, under a root route whose default receiver is a null one, as in an operator's
 * Alertmanager where Rewind's route is one among others. Anything in the blocks a test cannot
 * stand for (another mount, no URL to replace) is an error: the chart changed, and so must this.
 */
import { load } from 'js-yaml';

/** Where the NOTES mount the Secret holding the token and the CA (`<dir>/<key>`). */
const SECRET_MOUNT = /^\/etc\/alertmanager\/secrets\/[^/]+\/([^/]+)$/;

export const NULL_RECEIVER = 'null';

/** The test's stand-ins for what the chart's URL and Secret name. */
export interface WebhookConnection {
  /** The controller's webhook as the test reaches it (https://127.0.0.1:<port>/v1/alerts). */
  webhookUrl: string;
  /** A file holding the bearer token (the Secret's `token`). */
  tokenFile: string;
  /** The CA that signed the webhook's certificate (the Secret's `ca.crt`). */
  caFile: string;
  /**
   * Verify the controller's certificate against the in-cluster name the NOTES post to (its
   * `tls_config.server_name`) while connecting to `webhookUrl`: a certificate the chart made
   * carries the Service's name, not 127.0.0.1.
   */
  verifyInClusterName?: boolean;
}

/** The root route's timers; Alertmanager's defaults (30s, 5m, 4h) are too slow for a test. */
export interface RouteTiming {
  groupWait: string;
  groupInterval: string;
  repeatInterval: string;
}

export const TEST_TIMING: RouteTiming = {
  groupWait: '1s',
  groupInterval: '1s',
  repeatInterval: '1h',
};

/**
 * The YAML block `key:` of a NOTES text, parsed: the line that is only `key:`, and every line
 * after it indented deeper (blank lines inside kept). Undefined when there is none; an error
 * when there are two.
 */
export function notesYamlBlock(notes: string, key: string): unknown {
  const lines = notes.split('\n');
  const head = new RegExp(`^( *)${key}:\\s*$`);
  const starts = lines.flatMap((l, i) => (head.test(l) ? [i] : []));
  if (starts.length === 0) return undefined;
  if (starts.length > 1) throw new Error(`NOTES print ${starts.length} "${key}:" blocks`);
  const start = starts[0] as number;
  const indent = (head.exec(lines[start] as string)?.[1] ?? '').length;
  const block = [key + ':'];
  for (const line of lines.slice(start + 1)) {
    if (line.trim() !== '' && line.length - line.trimStart().length <= indent) break;
    block.push(line.slice(indent));
  }
  let doc: Record<string, unknown> | null;
  try {
    doc = load(block.join('\n').trimEnd()) as Record<string, unknown> | null;
  } catch (error) {
    throw new Error(
      `NOTES' "${key}:" block is not YAML: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  return doc?.[key];
}

/** A copy of `value` with the Secret's mount paths and the in-cluster URL made the test's. */
function localize(
  value: unknown,
  conn: WebhookConnection,
  urls: { n: number; host?: string },
): unknown {
  if (Array.isArray(value)) return value.map((v) => localize(v, conn, urls));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(
      Object.entries(value).map(([k, v]) => {
        if (k === 'url' && typeof v === 'string') {
          if (!/^https:\/\/[^/]+\.svc(:\d+)?\/v1\/alerts$/.test(v)) {
            throw new Error(`NOTES' receiver posts to ${v}, not an in-cluster controller webhook`);
          }
          urls.n++;
          urls.host = new URL(v).hostname;
          return [k, conn.webhookUrl];
        }
        if (k === 'tls_config' && conn.verifyInClusterName) {
          // The receiver's url comes before its http_config: its host is known here.
          if (urls.host === undefined) throw new Error('NOTES print a tls_config before its url');
          const tls = localize(v, conn, urls) as Record<string, unknown>;
          return [k, { ...tls, server_name: urls.host }];
        }
        return [k, localize(v, conn, urls)];
      }),
    );
  }
  if (typeof value === 'string') {
    const file = SECRET_MOUNT.exec(value)?.[1];
    if (file === 'token') return conn.tokenFile;
    if (file === 'ca.crt') return conn.caFile;
    if (file !== undefined) throw new Error(`NOTES mount ${value}: no test file stands for it`);
  }
  return value;
}

export function alertmanagerConfigFromNotes(
  notes: string,
  conn: WebhookConnection,
  timing: RouteTiming = TEST_TIMING,
): Record<string, unknown> {
  const receivers = notesYamlBlock(notes, 'receivers');
  if (!Array.isArray(receivers) || receivers.length === 0) {
    throw new Error('NOTES print no receivers: block (is the controller enabled?)');
  }
  const urls: { n: number; host?: string } = { n: 0 };
  const local = localize(receivers, conn, urls) as { name?: unknown }[];
  if (urls.n === 0) throw new Error('NOTES print a receiver without a webhook url');
  const route = notesYamlBlock(notes, 'route') as { routes?: unknown } | undefined;
  if (route === undefined) throw new Error("NOTES print no route: block (Rewind's route)");
  if (!Array.isArray(route.routes)) {
    throw new Error('NOTES print a route: block without routes:');
  }
  const routes = route.routes as Record<string, unknown>[];
  const names = new Set(local.map((r) => r.name));
  for (const r of routes) {
    if (!names.has(r.receiver)) {
      throw new Error(`NOTES route to receiver ${String(r.receiver)}, which they do not print`);
    }
  }
  return {
    route: {
      receiver: NULL_RECEIVER,
      group_wait: timing.groupWait,
      group_interval: timing.groupInterval,
      repeat_interval: timing.repeatInterval,
      routes,
    },
    receivers: [{ name: NULL_RECEIVER }, ...local],
  };
}
