/**
 * The port-forward tunnel to the controller's pod: a listener on 127.0.0.1 whose every accepted
 * connection gets its own port-forward websocket through the API server (client-node's
 * `PortForward`), with the user's own kubeconfig credentials — so the API server's RBAC on
 * `pods/portforward` applies to the user, and what the controller's API does with the request is
 * decided by the user's token, not the plugin's.
 *
 * The protocol is the kubelet's `v4.channel.k8s.io` (pkg/kubelet/cri/streaming/portforward/
 * websocket.go): binary frames whose first byte is the channel, data on 0 and errors on 1, each
 * channel's first frame the port (client-node strips it). The API server passes it through to the
 * kubelet unchanged (its SPDY translation is only for the `SPDY/3.1+portforward.k8s.io`
 * subprotocol). v4 has no half-close: the local client's end of a connection ends the websocket,
 * and the websocket's end ends the connection; a line on the error channel (the kubelet's
 * "error forwarding port 9411 to pod …, uid : failed to connect …") is reported through
 * `onError` and the connection is destroyed instead of ended.
 *
 * `openTunnel` opens one websocket first and waits for the upgrade, so a refusal (no right to
 * get/create pods/portforward, no such pod, bad credentials) rejects it with a PortForwardError the
 * caller prints as it is, instead of surfacing later as a reset connection. The probe proves the
 * way to the kubelet, not that the pod listens on the port: that failure is per connection, on
 * the error channel. Uploads through a connection are not flow-controlled (client-node sends
 * each chunk as it comes): they are small requests; downloads are (the websocket is paused while
 * the local socket's buffer is full). The websocket is
 * made here, not in client-node's WebSocketHandler, because that one drops the refusal's body
 * (the API server's Status message) and keeps only "Unexpected server response: 403".
 */
import * as net from 'node:net';
import { Readable, Writable } from 'node:stream';
import { type KubeConfig, PortForward } from '@kubernetes/client-node';
import WebSocket, { type ClientOptions } from 'ws';
import { z } from 'zod';
import { oneLine } from '../common/errors';

export interface TunnelTarget {
  namespace: string;
  pod: string;
  /** The port in the pod. */
  port: number;
}

export interface Tunnel {
  /** Always 127.0.0.1. */
  host: string;
  /** The local port, picked by the kernel. */
  port: number;
  /** Stop listening and end every open connection; resolves when all are closed. */
  close(): Promise<void>;
}

export interface TunnelOptions {
  /** One line per connection that failed (an error from the kubelet, a refused upgrade). */
  onError?: (line: string) => void;
}

/** The port-forward could not be opened; `status` is the HTTP status of a refused upgrade. */
export class PortForwardError extends Error {
  override name = 'PortForwardError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** Why an upgrade failed: the refusal's status and body, or the cause when nothing answered. */
export interface UpgradeFailure {
  status?: number;
  body?: string;
  cause?: string;
}

/** The only subprotocol the kubelet serves port-forward with over a websocket (binary). */
const PORT_FORWARD_PROTOCOL = 'v4.channel.k8s.io';
/** The API server's own answers are Status objects; a kubelet's are plain text. */
const apiStatusSchema = z.object({
  kind: z.literal('Status'),
  message: z.string().optional(),
  reason: z.string().optional(),
});
const USER_AGENT = 'kubectl-rewind';
/** An API server that accepts the connection but never answers the upgrade fails it after this. */
const HANDSHAKE_TIMEOUT_MS = 30_000;
/** Enough of a refusal's body for a message. */
const MAX_BODY = 16 * 1024;

/**
 * The one line for a port-forward that could not be opened (pure). Who refused matters: the API
 * server answers with a Status object (RBAC, no such pod), the node's kubelet with plain text.
 */
export function portForwardFailure(target: TunnelTarget, f: UpgradeFailure): PortForwardError {
  const where = `pod ${target.namespace}/${target.pod}`;
  const parsed = f.body === undefined ? undefined : parseJson(f.body);
  const api = apiStatusSchema.safeParse(parsed);
  const said = oneLine(
    (api.success ? api.data.message : f.body?.slice(0, 300)) || f.cause || 'no reason given',
  );
  switch (f.status) {
    case undefined:
      return new PortForwardError(`cannot port-forward to ${where}: ${said}`);
    case 401:
      return new PortForwardError(
        `the API server did not accept your credentials (401) when port-forwarding to ${where}: ` +
          'log in again or check the user of your kubeconfig context',
        401,
      );
    case 403:
      return api.success
        ? new PortForwardError(
            `you may not ${deniedVerb(said)} pods/portforward in namespace ${target.namespace}, ` +
              `which reaching ${where} needs (the API server said: ${said})`,
            403,
          )
        : new PortForwardError(
            `the kubelet of ${where}'s node refused the port-forward (403): ${said}`,
            403,
          );
    case 404:
      return api.success
        ? new PortForwardError(`${where} not found (${said})`, 404)
        : new PortForwardError(
            `${where} is not running on its node (the kubelet said: ${said})`,
            404,
          );
    default:
      return new PortForwardError(
        `cannot port-forward to ${where} (${f.status}): ${said}`,
        f.status,
      );
  }
}

/**
 * The verb RBAC denied, from the API server's message (`User "…" cannot get resource
 * "pods/portforward" …`). A websocket upgrade is a GET, so up to Kubernetes 1.34 it needs `get`;
 * from 1.35 (AuthorizePodWebsocketUpgradeCreatePermission) `create` as well, checked second.
 */
function deniedVerb(message: string): string {
  return /\bcannot (\w+) resource "pods\/portforward"/.exec(message)?.[1] ?? 'get and create';
}

/** One line of an error, also from another realm (node's own errors under jest's vm). */
function messageOf(e: unknown): string {
  const message =
    typeof e === 'object' && e !== null && 'message' in e ? String(e.message) : String(e);
  return oneLine(message);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

// client-node's PortForward drives a `ws` WebSocket (isomorphic-ws is `ws` under Node).
type ForwardSocket = WebSocket;
type WebSocketOptions = ClientOptions;

/**
 * Opens one port-forward websocket to `target` with client-node's PortForward: data from the
 * websocket goes to `output`, the error channel to `errors`, `input` to the websocket. Rejects
 * with a PortForwardError when the upgrade fails.
 */
async function openForward(
  kc: KubeConfig,
  target: TunnelTarget,
  output: Writable,
  errors: Writable,
  input: Readable,
): Promise<ForwardSocket> {
  let failure: UpgradeFailure | undefined;
  // PortForward's handler: builds the URL as client-node's WebSocketHandler does (the server's
  // path prefix kept), with the user's credentials, and keeps a refusal's status and body.
  const handler = {
    async connect(
      path: string,
      _text: ((text: string) => boolean) | null,
      binary: ((channel: number, data: Buffer) => boolean) | null,
    ): Promise<ForwardSocket> {
      const server = kc.getCurrentCluster()?.server;
      if (!server) throw new Error('the kubeconfig has no current cluster');
      const url = server.replace(/^http/, 'ws').replace(/\/+$/, '') + path;
      const options: WebSocketOptions = { handshakeTimeout: HANDSHAKE_TIMEOUT_MS };
      await kc.applyToHTTPSOptions(options);
      // Named in the API server's request and audit logs.
      options.headers = { ...options.headers, 'user-agent': USER_AGENT };
      return new Promise<ForwardSocket>((resolve, reject) => {
        const ws = new WebSocket(url, [PORT_FORWARD_PROTOCOL], options);
        let opened = false;
        ws.on('unexpected-response', (_req, res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const done = (): void => {
            failure = {
              status: res.statusCode,
              body: Buffer.concat(chunks).toString('utf8'),
            };
            ws.terminate(); // rejects below, with the failure kept
          };
          res.on('data', (c: Buffer) => {
            if (size < MAX_BODY) chunks.push(c);
            size += c.length;
          });
          res.once('end', done);
          res.once('error', done);
        });
        ws.on('open', () => {
          opened = true;
          resolve(ws);
        });
        // After the upgrade an error is followed by 'close', which the caller handles.
        ws.on('error', (err) => {
          if (!opened) reject(err);
        });
        ws.on('message', (raw, isBinary) => {
          const data = raw as Buffer;
          if (isBinary && data.length > 0 && binary?.(data[0], data.subarray(1)) === false)
            ws.close();
        });
      });
    },
  };
  try {
    const forward = new PortForward(kc, true, handler);
    return (await forward.portForward(
      target.namespace,
      target.pod,
      [target.port],
      output,
      errors,
      input,
    )) as ForwardSocket;
  } catch (e) {
    throw portForwardFailure(target, failure ?? { cause: messageOf(e) });
  }
}

/** Resolves once `ws` has closed (at once when it already has). */
function closed(ws: ForwardSocket): Promise<void> {
  return new Promise((resolve) => {
    if (ws.readyState === WebSocket.CLOSED) resolve();
    else ws.on('close', () => resolve());
  });
}

interface Connection {
  /** End the connection (the websocket closed, the socket ended then destroyed). */
  end(): void;
  /** Resolves when the socket and its websocket are both closed. */
  done: Promise<void>;
}

/** Relays one accepted socket over its own port-forward websocket. */
function relay(
  kc: KubeConfig,
  target: TunnelTarget,
  socket: net.Socket,
  report: (line: string) => void,
): Connection {
  let forward: ForwardSocket | undefined;
  let ending = false;
  const errorText: Buffer[] = [];
  let waitingForDrain = false;
  // Websocket → socket, pausing the websocket while the socket's buffer is full.
  const output = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (!socket.write(chunk) && !waitingForDrain && forward !== undefined) {
        waitingForDrain = true;
        forward.pause();
        socket.once('drain', () => {
          waitingForDrain = false;
          forward?.resume();
        });
      }
      callback();
    },
  });
  const errors = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      if (errorText.length < 64) errorText.push(chunk);
      callback();
    },
  });
  socket.on('error', () => undefined); // a reset by the local client; 'close' follows
  const socketClosed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  const endSocket = (): void => {
    socket.end(() => socket.destroy());
  };

  const forwardClosed = openForward(kc, target, output, errors, socket).then(
    (ws) => {
      forward = ws;
      const wsClosed = closed(ws);
      void wsClosed.then(() => {
        const line = oneLine(Buffer.concat(errorText).toString('utf8'));
        if (line !== '') {
          report(line);
          socket.resetAndDestroy(); // the local client sees a reset, not a clean end
        } else endSocket();
      });
      // The local side gone (reset or closed while the upgrade ran): the websocket goes too.
      if (socket.destroyed || ending) ws.close();
      else void socketClosed.then(() => ws.close());
      return wsClosed;
    },
    (e: unknown) => {
      report(messageOf(e));
      socket.resetAndDestroy();
    },
  );
  return {
    end() {
      ending = true;
      forward?.close();
      endSocket();
    },
    done: Promise.all([socketClosed, forwardClosed]).then(() => undefined),
  };
}

/**
 * Opens the tunnel: probes the port-forward once (rejects with a PortForwardError naming the pod
 * and what is missing), then listens on 127.0.0.1 on a port the kernel picks.
 */
export async function openTunnel(
  kc: KubeConfig,
  target: TunnelTarget,
  options: TunnelOptions = {},
): Promise<Tunnel> {
  const report = options.onError ?? (() => undefined);
  const nowhere = (): Writable => new Writable({ write: (_c, _e, callback) => callback() });
  const probe = await openForward(kc, target, nowhere(), nowhere(), new Readable({ read() {} }));
  probe.close();
  await closed(probe);

  const connections = new Set<Connection>();
  const server = net.createServer((socket) => {
    const connection = relay(kc, target, socket, report);
    connections.add(connection);
    void connection.done.then(() => connections.delete(connection));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) =>
      reject(
        new PortForwardError(`cannot listen on 127.0.0.1 for the port-forward: ${oneLine(e)}`),
      ),
    );
    server.listen(0, '127.0.0.1', () => resolve());
  });
  server.on('error', (e) => report(`port-forward listener: ${oneLine(e)}`));
  const { port } = server.address() as net.AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const open = [...connections];
        for (const c of open) c.end();
        await Promise.all([stopped, ...open.map((c) => c.done)]);
      })();
      return closing;
    },
  };
}
