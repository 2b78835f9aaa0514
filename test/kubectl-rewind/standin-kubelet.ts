/**
 * A stand-in for the kubelet's port-forward endpoint, for tests against the real kube-apiserver.
 *
 * Why a stand-in: no kubelet runs on this machine (issue 15 builds one), and the API server
 * forwards `pods/portforward` to the pod's node's kubelet, so without one a real API server
 * cannot forward anywhere. Everything up to the kubelet is real: the API server authenticates
 * and authorizes the request (RBAC on `pods/portforward`), reads the pod and its node, and
 * proxies the upgrade to `https://<node InternalIP>:<kubeletEndpoint port>/portForward/<ns>/<pod>`
 * (without verifying the kubelet's certificate: test/k8s/controlPlane.ts sets no
 * `--kubelet-certificate-authority`). Requests with the tunnelling subprotocol
 * (`SPDY/3.1+portforward.k8s.io`) would be translated to SPDY first; client-node asks
 * `v4.channel.k8s.io`, which the API server passes through unchanged, so this speaks what the
 * kubelet's streaming server speaks for it (pkg/kubelet/cri/streaming/portforward/websocket.go):
 *
 * - subprotocols `v4.channel.k8s.io` (binary frames), `v4.base64.channel.k8s.io` (text frames,
 *   channel as an ASCII digit, base64 data), or none (binary); the first the client offers wins;
 * - for the i-th port of `?port=` (the API server's name for the client's `?ports=`), channel 2i carries data both ways and 2i+1 errors; the first
 *   frame on each is the port, 2 bytes little-endian;
 * - a failure to reach the port is written on its error channel as
 *   `error forwarding port P to pod SANDBOX, uid : <cause>`, then both channels close, and the
 *   websocket closes once every port is done;
 * - when one direction ends, the other gets containerd's grace (1 s) before the pair is closed
 *   (containerd's PortForward); a pod the kubelet does not run is a 404 `pod does not exist`.
 *
 * Each websocket is relayed to `127.0.0.1:<pod port>`, or to the local port a mapping given at
 * construction names. The `ws` package does the websocket framing. Not served: SPDY upgrades
 * (kubectl's own port-forward), which the real kubelet also accepts.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket as WsSocket } from 'ws';
import type { ControlPlane } from '../k8s/controlPlane';

/** What the stand-in saw of one upgrade request the API server proxied to it. */
export interface ForwardRequest {
  path: string;
  /** The query string as the API server built it (`?port=9411`). */
  search: string;
  /** The subprotocols the client offered, in order. */
  offered: string[];
  /** The subprotocol chosen ('' for none), or undefined when the request was refused. */
  protocol?: string;
  ports: number[];
  /** The HTTP status when refused (404 unknown pod, 400 bad ports or protocols). */
  refused?: number;
}

export interface StandinKubelet {
  /** The HTTPS port, for the Node's `status.daemonEndpoints.kubeletEndpoint.Port`. */
  port: number;
  /** Every upgrade request, in arrival order. */
  requests: ForwardRequest[];
  /** Run a pod on this "node": port-forward to it is served from now on. */
  addPod(namespace: string, name: string): void;
  /** Stop serving `namespace/name` (the kubelet no longer runs it). */
  removePod(namespace: string, name: string): void;
  /** Websockets currently open. */
  openStreams(): number;
  /** Stop listening and drop every open websocket and relay. */
  close(): Promise<void>;
}

export interface StandinKubeletOptions {
  /** Pod port → local TCP port on 127.0.0.1; a port not listed is dialled as is. */
  ports?: Record<number, number>;
  /** How long the other direction may go on after one has ended (containerd: 1 s). */
  graceMs?: number;
}

const BINARY_PROTOCOL = 'v4.channel.k8s.io';
const BASE64_PROTOCOL = 'v4.base64.channel.k8s.io';
/** Stop reading the target while this many frames wait to be written to the websocket. */
const MAX_FRAMES_IN_FLIGHT = 16;

const OPEN = 1;

export async function startStandinKubelet(
  options: StandinKubeletOptions = {},
): Promise<StandinKubelet> {
  const graceMs = options.graceMs ?? 1000;
  const { key, cert } = await selfSignedCertificate();
  const pods = new Set<string>();
  const requests: ForwardRequest[] = [];
  const sockets = new Set<WsSocket>();
  const targets = new Set<net.Socket>();
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => {
      for (const p of offered) if (p === BINARY_PROTOCOL || p === BASE64_PROTOCOL) return p;
      return false;
    },
  });

  const server = https.createServer({ key, cert }, (_req, res) => {
    // The kubelet's portForward answers only upgrades (SPDY or websocket).
    res.writeHead(400, { 'content-type': 'text/plain' }).end('Upgrade request required');
  });
  const connections = new Set<net.Socket>();
  server.on('secureConnection', (s: net.Socket) => {
    connections.add(s);
    s.on('close', () => connections.delete(s));
  });

  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'https://kubelet');
    const offered = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    const seen: ForwardRequest = { path: url.pathname, search: url.search, offered, ports: [] };
    requests.push(seen);
    const refuse = (status: number, text: string): void => {
      seen.refused = status;
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Type: text/plain\r\n` +
          `Content-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
    };
    // /portForward/{namespace}/{pod} or /portForward/{namespace}/{pod}/{uid}
    const m = /^\/portForward\/([^/]+)\/([^/]+)(?:\/[^/]+)?$/.exec(url.pathname);
    if (m === null) return refuse(404, '404 page not found');
    const [namespace, pod] = [decodeURIComponent(m[1]), decodeURIComponent(m[2])];
    const ports = parsePorts(url.searchParams.getAll('port'));
    if (typeof ports === 'string') return refuse(400, ports);
    seen.ports = ports;
    if (!pods.has(`${namespace}/${pod}`)) return refuse(404, 'pod does not exist');
    // The real kubelet also serves SPDY (kubectl's port-forward, or the API server's translation
    // of the tunnelling subprotocol); the stand-in does not.
    if (String(req.headers.upgrade).toLowerCase() !== 'websocket')
      return refuse(400, `the stand-in kubelet serves websocket only, not ${req.headers.upgrade}`);
    if (offered.length > 0 && !offered.some((p) => p === BINARY_PROTOCOL || p === BASE64_PROTOCOL))
      return refuse(
        400,
        `unable to upgrade websocket connection: requested protocol(s) are not supported: ` +
          `[${offered.join(' ')}]; supports [${BINARY_PROTOCOL} ${BASE64_PROTOCOL}]`,
      );
    wss.handleUpgrade(req, socket, head, (ws) => {
      seen.protocol = ws.protocol;
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      serveForward(ws, sandboxId(namespace, pod), ports);
    });
  });

  /** The kubelet's websocketStreamHandler: one relay per port, the websocket closed after all. */
  function serveForward(ws: WsSocket, sandbox: string, ports: number[]): void {
    const base64 = ws.protocol === BASE64_PROTOCOL;
    let framesInFlight = 0;
    const send = (channel: number, data: Buffer, onSent?: () => void): void => {
      if (ws.readyState !== OPEN) return;
      const frame = base64
        ? String.fromCharCode(48 + channel) + data.toString('base64')
        : Buffer.concat([Buffer.from([channel]), data]);
      ws.send(frame, () => onSent?.());
    };
    let pending = ports.length;
    const portDone = (): void => {
      if (--pending === 0) ws.close(1000);
    };
    /** Per data channel: the target socket, and what to do when the client's side is over. */
    const relays = new Map<number, { target: net.Socket; clientEnded: () => void }>();

    ports.forEach((port, i) => {
      const portBytes = Buffer.alloc(2);
      portBytes.writeUInt16LE(port);
      send(2 * i, portBytes);
      send(2 * i + 1, portBytes);
      const target = net.connect({
        host: '127.0.0.1',
        port: options.ports?.[port] ?? port,
        allowHalfOpen: true,
      });
      targets.add(target);
      let connected = false;
      let done = false;
      let graceTimer: NodeJS.Timeout | undefined;
      const finish = (error?: string): void => {
        if (done) return;
        done = true;
        clearTimeout(graceTimer);
        if (error !== undefined) {
          const line = `error forwarding port ${port} to pod ${sandbox}, uid : ${error}`;
          send(2 * i + 1, Buffer.from(line));
        }
        target.destroy();
        portDone();
      };
      // One direction over: the other gets the grace, then the pair closes (containerd).
      const oneDirectionEnded = (): void => {
        graceTimer ??= setTimeout(() => finish(), graceMs);
      };
      relays.set(2 * i, {
        target,
        clientEnded: () => {
          if (!target.destroyed) target.end();
          oneDirectionEnded();
        },
      });
      target.on('connect', () => (connected = true));
      target.on('data', (chunk: Buffer) => {
        framesInFlight++;
        if (framesInFlight >= MAX_FRAMES_IN_FLIGHT) target.pause();
        send(2 * i, chunk, () => {
          framesInFlight--;
          if (framesInFlight < MAX_FRAMES_IN_FLIGHT) target.resume();
        });
      });
      target.on('end', oneDirectionEnded);
      target.on('drain', () => ws.resume());
      target.on('error', (err: Error) => {
        const where = `failed to connect to localhost:${port} inside namespace "${sandbox}"`;
        finish(connected ? err.message : `${where}, IPv4: ${err.message}`);
      });
      target.on('close', () => {
        targets.delete(target);
        finish();
      });
    });

    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (data.length === 0) return;
      let channel: number;
      let payload: Buffer;
      if (isBinary && !base64) {
        channel = data[0];
        payload = data.subarray(1);
      } else {
        const text = data.toString('latin1');
        channel = text.charCodeAt(0) - 48;
        payload = Buffer.from(text.slice(1), 'base64');
      }
      // Data from the client is read on data channels only; anything else is ignored (wsstream).
      const target = relays.get(channel)?.target;
      if (target === undefined || target.destroyed || !target.writable) return;
      if (!target.write(payload)) ws.pause();
    });
    ws.on('error', () => undefined);
    // The client's data streams are over: end the writes, then the grace (containerd).
    ws.on('close', () => relays.forEach((r) => r.clientEnded()));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    requests,
    addPod: (namespace, name) => void pods.add(`${namespace}/${name}`),
    removePod: (namespace, name) => void pods.delete(`${namespace}/${name}`),
    openStreams: () => sockets.size,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const ws of sockets) ws.terminate();
      for (const s of targets) s.destroy();
      for (const c of connections) c.destroy();
      wss.close();
      await closed;
    },
  };
}

/**
 * `?port=` as the kubelet parses it (NewV4Options, the query parameter api.PortHeader "port":
 * the API server turns the client's `?ports=` into it): repeated and comma-separated, 1–65535.
 */
export function parsePorts(values: string[]): number[] | string {
  if (values.length === 0) return 'query parameter "port" is required';
  const ports: number[] = [];
  for (const value of values) {
    if (value === '') return 'query parameter "port" cannot be empty';
    for (const p of value.split(',')) {
      if (!/^[0-9]{1,5}$/.test(p) || Number(p) > 65535)
        return `unable to parse "${value}" as a port`;
      if (Number(p) < 1) return `port "${value}" must be > 0`;
      ports.push(Number(p));
    }
  }
  return ports;
}

/** A pod's sandbox id as a CRI runtime shows it (64 hex digits); the kubelet's error names it. */
export function sandboxId(namespace: string, pod: string): string {
  return createHash('sha256').update(`${namespace}/${pod}`).digest('hex');
}

async function selfSignedCertificate(): Promise<{ key: Buffer; cert: Buffer }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rewind-standin-kubelet-'));
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(
        'openssl',
        [
          'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
          '-keyout', path.join(dir, 'key.pem'), '-out', path.join(dir, 'cert.pem'), '-days', '1',
          '-subj', '/CN=standin-kubelet', '-addext', 'subjectAltName=IP:127.0.0.1',
        ], // prettier-ignore
        (error, _stdout, stderr) =>
          error === null ? resolve() : reject(new Error(`openssl req failed: ${stderr}`)),
      ),
    );
    return {
      key: readFileSync(path.join(dir, 'key.pem')),
      cert: readFileSync(path.join(dir, 'cert.pem')),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface NodeAndPod {
  node: string;
  namespace: string;
  pod: string;
  /** The pod's container ports (informational: the stand-in forwards any port). */
  containerPort?: number;
}

/**
 * Register in the real API server what a kubelet would: a Node whose status names the stand-in
 * (InternalIP 127.0.0.1, kubeletEndpoint = its port, written through the status subresource),
 * and a Pod bound to it (spec.nodeName, as the scheduler would) reported Running. The pod's
 * namespace and its `default` ServiceAccount are made when missing (no controller-manager here).
 * The stand-in is told to serve the pod.
 */
export async function registerNodeAndPod(
  cp: ControlPlane,
  kubelet: StandinKubelet,
  { node, namespace, pod, containerPort = 9411 }: NodeAndPod,
): Promise<void> {
  const ok = async (
    what: string,
    call: Promise<{ status: number; text: string; body: unknown }>,
    alsoOk: number[] = [],
  ): Promise<unknown> => {
    const r = await call;
    if ((r.status < 200 || r.status > 299) && !alsoOk.includes(r.status))
      throw new Error(`${what}: ${r.status} ${r.text}`);
    return r.body;
  };
  await ok(
    'create namespace',
    cp.request('POST', '/api/v1/namespaces', { metadata: { name: namespace } }),
    [409],
  );
  await ok(
    'create ServiceAccount default',
    cp.request('POST', `/api/v1/namespaces/${namespace}/serviceaccounts`, {
      metadata: { name: 'default' },
    }),
    [409],
  );
  await ok(
    'create Node',
    cp.request('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: node },
    }),
    [409],
  );
  const current = (await ok('get Node', cp.request('GET', `/api/v1/nodes/${node}`))) as {
    status?: Record<string, unknown>;
  };
  await ok(
    'update Node status',
    cp.request('PUT', `/api/v1/nodes/${node}/status`, {
      ...current,
      status: {
        ...current.status,
        // InternalIP only: the API server's default --kubelet-preferred-address-types tries
        // Hostname first, and the node's name does not resolve here.
        addresses: [{ type: 'InternalIP', address: '127.0.0.1' }],
        daemonEndpoints: { kubeletEndpoint: { Port: kubelet.port } },
        conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady' }],
      },
    }),
  );
  await ok(
    'create Pod',
    cp.request('POST', `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: pod },
      spec: {
        nodeName: node,
        automountServiceAccountToken: false,
        containers: [
          { name: 'main', image: 'rewind.invalid/standin:1', ports: [{ containerPort }] },
        ],
      },
    }),
  );
  const created = (await ok(
    'get Pod',
    cp.request('GET', `/api/v1/namespaces/${namespace}/pods/${pod}`),
  )) as { status?: Record<string, unknown> };
  await ok(
    'update Pod status',
    cp.request('PUT', `/api/v1/namespaces/${namespace}/pods/${pod}/status`, {
      ...created,
      status: {
        ...created.status,
        phase: 'Running',
        podIP: '127.0.0.1',
        podIPs: [{ ip: '127.0.0.1' }],
        hostIP: '127.0.0.1',
      },
    }),
  );
  kubelet.addPod(namespace, pod);
}
