/**
 * The way to the controller's API: its connection ConfigMap (connection-info.ts) read with the
 * user's rights, a Ready controller pod found by its labels, a port-forward to it through the
 * API server (tunnel.ts), and HTTPS over that tunnel verified against Rewind's CA and the name on
 * the controller's certificate. `--controller-address HOST:PORT` dials an address instead of
 * port-forwarding (a Service exposed some other way; the tests' controller on the host). Every
 * request carries the user's own bearer token: the controller's TokenReview and
 * SubjectAccessReview apply the user's RBAC.
 */
import type { IncomingMessage } from 'node:http';
import { request } from 'node:https';
import type { V1ConfigMap, V1Pod } from '@kubernetes/client-node';
import { apiStatus } from '../controller/kube/client';
import { oneLine } from '../common/errors';
import { CliError, UsageError } from './errors';
import {
  CONNECTION_CONFIGMAP,
  CONNECTION_KEYS,
  connectionInfoSchema,
  type ConnectionInfoData,
} from './connection-info';
import { asUser, bearerTokenOf, kubeFailure, type UserKube } from './kube';
import { openTunnel, type Tunnel } from './tunnel';

export interface ConnectionFlags {
  /** Rewind's namespace (where the controller runs and the ConfigMap lives). */
  rewindNamespace: string;
  /** `HOST:PORT` to dial instead of a port-forward. */
  controllerAddress?: string;
}

export interface ControllerClient {
  /** GET `path`; resolves with the response once its headers came (status not checked). */
  get(path: string, signal?: AbortSignal): Promise<IncomingMessage>;
  /** Where requests go, for messages. */
  describe: string;
  close(): Promise<void>;
}

/** A pod the port-forward may use: Running, Ready, not being deleted (pure). */
export function readyPod(pods: readonly V1Pod[]): V1Pod | undefined {
  return pods
    .filter(
      (p) =>
        !p.metadata?.deletionTimestamp &&
        p.status?.phase === 'Running' &&
        p.status.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    )
    .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1))[0];
}

/** `HOST:PORT` or `[v6]:PORT` (pure). */
export function parseAddress(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[3]) : 0;
  if (!m || port < 1 || port > 65535)
    throw new UsageError(`--controller-address: ${JSON.stringify(text)} is not HOST:PORT`);
  return { host: (m[1] ?? m[2]) as string, port };
}

async function readConnectionInfo(kube: UserKube, ns: string): Promise<ConnectionInfoData> {
  const attempt = {
    verb: 'get',
    resource: 'configmaps',
    namespace: ns,
    name: CONNECTION_CONFIGMAP,
  };
  let cm: V1ConfigMap;
  try {
    cm = await kube.core.readNamespacedConfigMap({ name: CONNECTION_CONFIGMAP, namespace: ns });
  } catch (e) {
    // Decided on the status, not on the wording of kubeFailure's line: only a refusal gets the
    // hint about the Role, only a missing ConfigMap the one about installing.
    const status = apiStatus(e);
    if (status === 404)
      throw new CliError(
        `Rewind is not installed in namespace "${ns}" (no ConfigMap ${CONNECTION_CONFIGMAP} there): ` +
          'pass --rewind-namespace (or REWIND_NAMESPACE) if it is elsewhere, or helm install it',
      );
    const failure = kubeFailure(e, attempt, kube.server);
    if (status === 403)
      throw new CliError(`${failure.message} (the chart's "-kubectl" Role in ${ns} grants it)`);
    throw failure;
  }
  const parsed = connectionInfoSchema.safeParse(cm.data ?? {});
  if (!parsed.success)
    throw new CliError(
      `ConfigMap ${ns}/${CONNECTION_CONFIGMAP} is not usable: ${oneLine(parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '))}`,
    );
  return parsed.data;
}

async function caOf(kube: UserKube, ns: string, info: ConnectionInfoData): Promise<string> {
  const inline = info[CONNECTION_KEYS.ca];
  if (inline) return inline;
  const secretName = info[CONNECTION_KEYS.caSecret] as string;
  const secret = await asUser(
    kube,
    { verb: 'get', resource: 'secrets', namespace: ns, name: secretName },
    () => kube.core.readNamespacedSecret({ name: secretName, namespace: ns }),
  );
  const b64 = secret.data?.['ca.crt'];
  if (!b64)
    throw new CliError(`Secret ${ns}/${secretName} has no ca.crt: cannot verify the controller`);
  return Buffer.from(b64, 'base64').toString('utf8');
}

async function controllerPod(kube: UserKube, ns: string, selector: string): Promise<string> {
  const pods = await asUser(kube, { verb: 'list', resource: 'pods', namespace: ns }, () =>
    kube.core.listNamespacedPod({ namespace: ns, labelSelector: selector }),
  );
  const pod = readyPod(pods.items);
  if (!pod?.metadata?.name)
    throw new CliError(
      `no controller is running: no Ready pod in namespace "${ns}" with labels ${selector} ` +
        `(kubectl -n ${ns} get pods -l ${selector}; kubectl -n ${ns} describe deployment)`,
    );
  return pod.metadata.name;
}

/** Opens the way to the controller (port-forward unless an address is given). */
export async function connectController(
  kube: UserKube,
  flags: ConnectionFlags,
): Promise<ControllerClient> {
  const token = await bearerTokenOf(kube.kc);
  if (!token)
    throw new CliError(
      "your kubeconfig's user presents no bearer token (a client certificate only?): the controller " +
        'identifies you by a token (TokenReview); use a context whose user has a token, an exec or OIDC plugin',
    );
  const ns = flags.rewindNamespace;
  const info = await readConnectionInfo(kube, ns);
  const ca = await caOf(kube, ns, info);
  const servername = info[CONNECTION_KEYS.serverName];
  let host: string;
  let port: number;
  let tunnel: Tunnel | undefined;
  // What the kubelet last said on a connection's error channel: why a request was cut.
  let forwardError: string | undefined;
  let describe: string;
  if (flags.controllerAddress !== undefined) {
    ({ host, port } = parseAddress(flags.controllerAddress));
    describe = `the controller at ${flags.controllerAddress}`;
  } else {
    const pod = await controllerPod(kube, ns, info[CONNECTION_KEYS.controllerSelector]);
    const podPort = Number(info[CONNECTION_KEYS.apiPort]);
    tunnel = await openTunnel(
      kube.kc,
      { namespace: ns, pod, port: podPort },
      { onError: (line) => (forwardError = line) },
    ).catch((e: unknown) => {
      throw new CliError(oneLine(e));
    });
    ({ host, port } = tunnel);
    describe = `the controller pod ${ns}/${pod} (port-forward)`;
  }
  return {
    describe,
    get(path, signal) {
      return new Promise<IncomingMessage>((resolve, reject) => {
        const req = request({
          host,
          port,
          path,
          method: 'GET',
          ca,
          servername,
          agent: false,
          headers: {
            authorization: `Bearer ${token}`,
            accept: 'application/json, application/gzip',
          },
          ...(signal ? { signal } : {}),
        });
        req.once('response', resolve);
        req.once('error', (e) =>
          reject(
            new CliError(
              `cannot talk to ${describe}: ${oneLine(e)}` +
                (forwardError !== undefined ? ` (the port-forward: ${forwardError})` : ''),
            ),
          ),
        );
        req.end();
      });
    },
    async close() {
      await tunnel?.close();
    },
  };
}

/** The body of a JSON answer, or why not (its one-line `error`). */
export async function readJson(res: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { error: oneLine(text).slice(0, 300) };
  }
}

/** One line for an error answer of the controller's API. */
export async function controllerFailure(res: IncomingMessage, what: string): Promise<CliError> {
  const body = (await readJson(res)) as { error?: string };
  const why = body?.error ?? `status ${res.statusCode}`;
  switch (res.statusCode) {
    case 401:
      return new CliError(`the controller did not accept your token (401): ${why}`);
    case 403:
      return new CliError(`the controller refused to ${what} (403): ${why}`);
    case 503:
      return new CliError(
        `the controller cannot check your rights right now (503): ${why}; try again`,
      );
    default:
      return new CliError(`${why} (${res.statusCode})`);
  }
}
