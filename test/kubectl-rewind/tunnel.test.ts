/**
 * The port-forward tunnel of `kubectl rewind` (kubectl-rewind/tunnel.ts) through a real
 * kube-apiserver: its authentication, RBAC on pods/portforward, pod lookup and upgrade proxying
 * to the node's kubelet are all real. The kubelet is a stand-in (standin-kubelet.ts: no kubelet
 * runs on this machine yet) speaking the kubelet's websocket port-forward protocol, relaying to
 * local servers that play the controller: a TCP echo server, one that says goodbye and hangs up,
 * and an HTTPS server with its own CA.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import WebSocketModule from 'ws';
import {
  openTunnel,
  portForwardFailure,
  PortForwardError,
  type Tunnel,
} from '../../kubectl-rewind/tunnel';
import { type ControlPlane, startControlPlane } from '../k8s/controlPlane';
import {
  registerNodeAndPod,
  sandboxId,
  type StandinKubelet,
  startStandinKubelet,
} from './standin-kubelet';

// Generous for a busy machine, short enough that a stuck tunnel fails rather than idles.
jest.setTimeout(90_000);

const NS = 'rewind';
const POD = 'rewind-controller-7d9f';
const SERVER_NAME = 'rewind-controller.rewind.svc';
/** Pod ports, each relayed by the stand-in kubelet to a local server (or to nothing). */
const ECHO = 9411;
const GOODBYE = 9412;
const HTTPS = 9443;
const NOBODY = 9999;

let cp: ControlPlane;
let kubelet: StandinKubelet;
let admin: KubeConfig;
let scratch: string;
let tls: { ca: Buffer; key: Buffer; cert: Buffer };
const servers: net.Server[] = [];
const echoConnections = new Set<net.Socket>();

function listenOn(server: net.Server): Promise<number> {
  servers.push(server);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** A kubeconfig for the control plane with `token` as its user. */
function kubeConfigFor(token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      { name: 'test', server: cp.server, caData: readFileSync(cp.caFile).toString('base64') },
    ],
    users: [{ name: 'user', token }],
    contexts: [{ name: 'test', cluster: 'test', user: 'user', namespace: NS }],
    currentContext: 'test',
  });
  return kc;
}

/** Polls `condition` until it holds (the tunnel closes asynchronously on both sides). */
async function eventually(what: string, condition: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`not after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function connect(tunnel: Tunnel): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(tunnel.port, tunnel.host, () => resolve(s));
    s.once('error', reject);
  });
}

interface Ending {
  data: Buffer;
  /** 'end' when the tunnel ended the connection in order, 'error' when it was reset. */
  how: 'end' | 'error';
}

/** Everything `socket` receives until it closes, and how it closed. */
function received(socket: net.Socket): Promise<Ending> {
  const chunks: Buffer[] = [];
  let how: Ending['how'] = 'end';
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => (how = 'error'));
  return new Promise((resolve) =>
    socket.once('close', () => resolve({ data: Buffer.concat(chunks), how })),
  );
}

/** Sends `payload` through the tunnel to the echo server and reads it all back. */
async function echo(tunnel: Tunnel, payload: Buffer): Promise<Buffer> {
  const s = await connect(tunnel);
  const chunks: Buffer[] = [];
  let size = 0;
  const back = new Promise<Buffer>((resolve, reject) => {
    s.on('data', (c: Buffer) => {
      chunks.push(c);
      size += c.length;
      if (size >= payload.length) resolve(Buffer.concat(chunks));
    });
    s.once('close', () => reject(new Error(`closed after ${size} of ${payload.length} bytes`)));
  });
  s.write(payload);
  const data = await back;
  s.destroy();
  return data;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function makeTls(dir: string): Promise<{ ca: Buffer; key: Buffer; cert: Buffer }> {
  const f = (name: string): string => path.join(dir, name);
  const openssl = (args: string[]): Promise<void> =>
    new Promise((resolve, reject) =>
      execFile('openssl', args, (error, _out, stderr) =>
        error === null ? resolve() : reject(new Error(stderr)),
      ),
    );
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '1',
    '-subj', '/CN=rewind-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign',
  ]); // prettier-ignore
  await openssl([
    'req', '-new', ...ec, '-keyout', f('tls.key'), '-out', f('tls.csr'), '-subj', '/CN=controller',
  ]); // prettier-ignore
  writeFileSync(f('ext'), `subjectAltName=DNS:${SERVER_NAME}\nextendedKeyUsage=serverAuth\n`);
  await openssl([
    'x509', '-req', '-in', f('tls.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-days', '1', '-extfile', f('ext'), '-out', f('tls.crt'),
  ]); // prettier-ignore
  return {
    ca: readFileSync(f('ca.crt')),
    key: readFileSync(f('tls.key')),
    cert: readFileSync(f('tls.crt')),
  };
}

beforeAll(async () => {
  scratch = mkdtempSync(path.join(os.tmpdir(), 'rewind-tunnel-'));
  const [started, certs] = await Promise.all([startControlPlane(), makeTls(scratch)]);
  cp = started;
  tls = certs;
  const echoPort = await listenOn(
    net.createServer((s) => {
      echoConnections.add(s);
      s.on('close', () => echoConnections.delete(s));
      s.on('error', () => undefined);
      s.pipe(s);
    }),
  );
  const goodbyePort = await listenOn(net.createServer((s) => s.end('goodbye\n')));
  const httpsPort = await listenOn(
    https.createServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ path: req.url, via: 'controller' }));
    }),
  );
  // A port that was free a moment ago: nothing listens there.
  const nobodyPort = await listenOn(net.createServer());
  await new Promise((resolve) => servers.pop()?.close(resolve));
  kubelet = await startStandinKubelet({
    ports: { [ECHO]: echoPort, [GOODBYE]: goodbyePort, [HTTPS]: httpsPort, [NOBODY]: nobodyPort },
  });
  await registerNodeAndPod(cp, kubelet, { node: 'node-a', namespace: NS, pod: POD });
  admin = new KubeConfig();
  admin.loadFromFile(cp.kubeconfigPath);
}, 180_000); // the control plane may take long to start on a busy machine

afterAll(async () => {
  await kubelet?.close();
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  await cp?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('openTunnel through a real kube-apiserver', () => {
  test("bytes round-trip over several connections at once, in the kubelet's v4 protocol", async () => {
    const before = kubelet.requests.length;
    const tunnel = await openTunnel(admin, { namespace: NS, pod: POD, port: ECHO });
    try {
      expect(tunnel.host).toBe('127.0.0.1');
      const payloads = Array.from({ length: 6 }, (_, i) => randomBytes(1000 + i * 7919));
      const back = await Promise.all(payloads.map((p) => echo(tunnel, p)));
      expect(back.map(sha)).toEqual(payloads.map(sha));
    } finally {
      await tunnel.close();
    }
    // The probe and six connections, each its own websocket, as the API server proxied them.
    const seen = kubelet.requests.slice(before);
    expect(seen).toHaveLength(7);
    for (const r of seen) {
      expect(r).toEqual({
        path: `/portForward/${NS}/${POD}`,
        search: `?port=${ECHO}`,
        offered: ['v4.channel.k8s.io'],
        protocol: 'v4.channel.k8s.io',
        ports: [ECHO],
      });
    }
    await eventually('every websocket closed at the kubelet', () => kubelet.openStreams() === 0);
  });

  test('4 MiB each way through one connection', async () => {
    const tunnel = await openTunnel(admin, { namespace: NS, pod: POD, port: ECHO });
    try {
      const payload = randomBytes(4 * 1024 * 1024);
      expect(sha(await echo(tunnel, payload))).toBe(sha(payload));
    } finally {
      await tunnel.close();
    }
  });

  test('the local client closing ends the websocket and the relay to the pod', async () => {
    const tunnel = await openTunnel(admin, { namespace: NS, pod: POD, port: ECHO });
    try {
      await eventually('the probe is gone', () => echoConnections.size === 0);
      const s = await connect(tunnel);
      const ending = received(s);
      s.write('ping');
      await eventually('the echo server has the connection', () => echoConnections.size === 1);
      await eventually('the echo came back', () => s.bytesRead === 4);
      s.end();
      expect((await ending).data.toString()).toBe('ping');
      await eventually('the websocket closed at the kubelet', () => kubelet.openStreams() === 0);
      await eventually("the controller's side closed", () => echoConnections.size === 0);
    } finally {
      await tunnel.close();
    }
  });

  test('the controller closing ends the local connection in order, with no error', async () => {
    const errors: string[] = [];
    const tunnel = await openTunnel(
      admin,
      { namespace: NS, pod: POD, port: GOODBYE },
      { onError: (line) => errors.push(line) },
    );
    try {
      const s = await connect(tunnel);
      const ending = await received(s);
      expect(ending).toEqual({ data: Buffer.from('goodbye\n'), how: 'end' });
      expect(errors).toEqual([]);
    } finally {
      await tunnel.close();
    }
  });

  test('close() ends open connections and stops listening', async () => {
    const tunnel = await openTunnel(admin, { namespace: NS, pod: POD, port: ECHO });
    const s = await connect(tunnel);
    const ending = received(s);
    s.write('x');
    await eventually('the echo came back', () => s.bytesRead === 1);
    await tunnel.close();
    expect((await ending).data.toString()).toBe('x');
    await expect(connect(tunnel)).rejects.toThrow(/ECONNREFUSED/);
    await eventually('the websocket closed at the kubelet', () => kubelet.openStreams() === 0);
    await tunnel.close(); // idempotent
  });

  test('HTTPS through the tunnel, verified with the CA and the name on the certificate', async () => {
    const tunnel = await openTunnel(admin, { namespace: NS, pod: POD, port: HTTPS });
    const get = (servername: string) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = https.request(
          {
            host: tunnel.host,
            port: tunnel.port,
            path: '/v1/agents',
            servername,
            ca: tls.ca,
            agent: false,
          },
          (res) => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (body += c));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.once('error', reject);
        req.end();
      });
    try {
      expect(await get(SERVER_NAME)).toEqual({
        status: 200,
        body: JSON.stringify({ path: '/v1/agents', via: 'controller' }),
      });
      // The same tunnel with another name: the certificate is checked, not just any accepted.
      await expect(get('rewind-controller.elsewhere.svc')).rejects.toThrow(
        /does not match certificate's altnames/,
      );
    } finally {
      await tunnel.close();
    }
  });

  test("the port nobody listens on: the connection is reset and the kubelet's line reported", async () => {
    const errors: string[] = [];
    const tunnel = await openTunnel(
      admin,
      { namespace: NS, pod: POD, port: NOBODY },
      { onError: (line) => errors.push(line) },
    );
    try {
      const s = await connect(tunnel);
      const ending = await received(s);
      expect(ending.data.length).toBe(0);
      expect(ending.how).toBe('error');
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBe(
        `error forwarding port ${NOBODY} to pod ${sandboxId(NS, POD)}, uid : ` +
          `failed to connect to localhost:${NOBODY} inside namespace "${sandboxId(NS, POD)}", ` +
          `IPv4: ${errors[0].split('IPv4: ')[1]}`,
      );
      expect(errors[0]).toMatch(/IPv4: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
    } finally {
      await tunnel.close();
    }
  });
});

describe('the API server passes the subprotocol through', () => {
  test('v4.base64.channel.k8s.io reaches the kubelet as asked (text frames, base64 data)', async () => {
    const WebSocket = WebSocketModule as unknown as new (
      url: string,
      protocols: string[],
      options: { ca: Buffer; headers: Record<string, string> },
    ) => {
      protocol: string;
      send(text: string): void;
      close(): void;
      on(event: 'open' | 'close', listener: () => void): void;
      on(event: 'message', listener: (data: Buffer, isBinary: boolean) => void): void;
    };
    const ws = new WebSocket(
      `${cp.server.replace('https', 'wss')}/api/v1/namespaces/${NS}/pods/${POD}/portforward?ports=${ECHO}`,
      ['v4.base64.channel.k8s.io'],
      { ca: readFileSync(cp.caFile), headers: { authorization: `Bearer ${cp.adminToken}` } },
    );
    const frames: string[] = [];
    await new Promise<void>((resolve) => ws.on('open', resolve));
    expect(ws.protocol).toBe('v4.base64.channel.k8s.io');
    ws.on('message', (data, isBinary) => {
      expect(isBinary).toBe(false);
      frames.push(data.toString());
    });
    const port = Buffer.alloc(2);
    port.writeUInt16LE(ECHO);
    await eventually('both port frames', () => frames.length === 2);
    expect(frames.sort()).toEqual([`0${port.toString('base64')}`, `1${port.toString('base64')}`]);
    ws.send(`0${Buffer.from('hello, kubelet').toString('base64')}`);
    await eventually('the echo', () => frames.length === 3);
    expect(frames[2]).toBe(`0${Buffer.from('hello, kubelet').toString('base64')}`);
    const closed = new Promise<void>((resolve) => ws.on('close', resolve));
    ws.close();
    await closed;
  });
});

describe('openTunnel refused', () => {
  const target = { namespace: NS, pod: POD, port: ECHO };

  async function refusal(kc: KubeConfig, t = target): Promise<PortForwardError> {
    const before = kubelet.requests.length;
    const error = await openTunnel(kc, t).then(
      () => {
        throw new Error('the tunnel opened');
      },
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(PortForwardError);
    refusedAt = kubelet.requests.slice(before);
    return error as PortForwardError;
  }
  let refusedAt: unknown[] = [];

  /** A ServiceAccount in NS bound to a Role with `rules`, and a TokenRequest token for it. */
  async function userWith(name: string, rules: unknown[]): Promise<KubeConfig> {
    await cp.kubectlOk(['-n', NS, 'create', 'serviceaccount', name]);
    const ok = async (p: string, body: unknown) => {
      const r = await cp.request('POST', p, body);
      if (r.status !== 201) throw new Error(`${p}: ${r.status} ${r.text}`);
    };
    await ok(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles`, {
      metadata: { name },
      rules,
    });
    await ok(`/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, {
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects: [{ kind: 'ServiceAccount', name, namespace: NS }],
    });
    const token = (await cp.kubectlOk(['-n', NS, 'create', 'token', name, '--duration=1h'])).trim();
    return kubeConfigFor(token);
  }

  test('a user who may read pods but not port-forward: 403 naming the right, nothing reaches the node', async () => {
    const viewer = await userWith('viewer', [
      { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
    ]);
    const e = await refusal(viewer);
    expect(e.status).toBe(403);
    expect(e.message).toBe(
      `you may not get pods/portforward in namespace ${NS}, which reaching pod ${NS}/${POD} needs ` +
        `(the API server said: pods "${POD}" is forbidden: User "system:serviceaccount:${NS}:viewer" ` +
        `cannot get resource "pods/portforward" in API group "" in the namespace "${NS}")`,
    );
    expect(refusedAt).toEqual([]);
  });

  test('the websocket upgrade is a GET: on 1.34 `create pods/portforward` alone is refused, `get` alone is enough', async () => {
    const creator = await userWith('creator', [
      { apiGroups: [''], resources: ['pods/portforward'], verbs: ['create'] },
    ]);
    const e = await refusal(creator);
    expect(e.status).toBe(403);
    expect(e.message).toMatch(/^you may not get pods\/portforward in namespace rewind, /);
    const getter = await userWith('getter', [
      { apiGroups: [''], resources: ['pods/portforward'], verbs: ['get'] },
    ]);
    const tunnel = await openTunnel(getter, target);
    try {
      const payload = Buffer.from('as the user');
      expect(await echo(tunnel, payload)).toEqual(payload);
    } finally {
      await tunnel.close();
    }
  });

  test('a pod that does not exist: 404 from the API server', async () => {
    const e = await refusal(admin, { ...target, pod: 'nope' });
    expect(e.status).toBe(404);
    expect(e.message).toBe(`pod ${NS}/nope not found (pods "nope" not found)`);
    expect(refusedAt).toEqual([]);
  });

  test('a pod its node does not run: 404 from the kubelet', async () => {
    kubelet.removePod(NS, POD);
    try {
      const e = await refusal(admin);
      expect(e.status).toBe(404);
      expect(e.message).toBe(
        `pod ${NS}/${POD} is not running on its node (the kubelet said: pod does not exist)`,
      );
      expect(refusedAt).toEqual([expect.objectContaining({ refused: 404 })]);
    } finally {
      kubelet.addPod(NS, POD);
    }
  });

  test('credentials the API server does not accept: 401', async () => {
    const e = await refusal(kubeConfigFor('not-a-token'));
    expect(e.status).toBe(401);
    expect(e.message).toMatch(/^the API server did not accept your credentials \(401\)/);
  });

  test('an API server that is not there: the cause, no status', async () => {
    const kc = kubeConfigFor('x');
    const closedPort = await listenOn(net.createServer());
    await new Promise((resolve) => servers.pop()?.close(resolve));
    kc.clusters[0] = { ...kc.clusters[0], server: `https://127.0.0.1:${closedPort}` };
    const e = await refusal(kc);
    expect(e.status).toBeUndefined();
    expect(e.message).toBe(
      `cannot port-forward to pod ${NS}/${POD}: connect ECONNREFUSED 127.0.0.1:${closedPort}`,
    );
  });
});

describe('portForwardFailure (pure): who refused, in one line', () => {
  const target = { namespace: 'rewind', pod: 'rewind-controller-0', port: 9411 };
  const status = (message: string) => JSON.stringify({ kind: 'Status', message });

  test.each([
    [
      'a 403 from the kubelet (plain text), not RBAC',
      {
        status: 403,
        body: 'Forbidden (user=kube-apiserver, verb=create, resource=nodes, subresource=proxy)',
      },
      "the kubelet of pod rewind/rewind-controller-0's node refused the port-forward (403): " +
        'Forbidden (user=kube-apiserver, verb=create, resource=nodes, subresource=proxy)',
    ],
    [
      'a 403 Status without the usual wording: both verbs named',
      { status: 403, body: status('forbidden by policy') },
      'you may not get and create pods/portforward in namespace rewind, which reaching pod ' +
        'rewind/rewind-controller-0 needs (the API server said: forbidden by policy)',
    ],
    [
      "1.35's second check, create",
      {
        status: 403,
        body: status(
          'pods "p" is forbidden: User "u" cannot create resource "pods/portforward" in API group "" in the namespace "rewind"',
        ),
      },
      /^you may not create pods\/portforward in namespace rewind, /,
    ],
    [
      'the node unreachable (500 Status)',
      { status: 500, body: status('error dialing backend: dial tcp 10.0.0.7:10250: i/o timeout') },
      'cannot port-forward to pod rewind/rewind-controller-0 (500): error dialing backend: dial tcp 10.0.0.7:10250: i/o timeout',
    ],
    [
      'a pod not yet scheduled (400 Status), its message folded to one line',
      { status: 400, body: status('pod rewind-controller-0 does not\nhave a host assigned') },
      'cannot port-forward to pod rewind/rewind-controller-0 (400): pod rewind-controller-0 does not have a host assigned',
    ],
    [
      'an empty answer',
      { status: 502, body: '' },
      'cannot port-forward to pod rewind/rewind-controller-0 (502): no reason given',
    ],
  ])('%s', (_what, failure, expected) => {
    const e = portForwardFailure(target, failure);
    expect(e).toBeInstanceOf(PortForwardError);
    expect(e.status).toBe(failure.status);
    if (typeof expected === 'string') expect(e.message).toBe(expected);
    else expect(e.message).toMatch(expected);
  });
});
