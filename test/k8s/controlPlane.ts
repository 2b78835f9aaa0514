/**
 * A real Kubernetes control plane on 127.0.0.1 for tests and demos: etcd plus a pinned
 * kube-apiserver, with TLS, a static admin token, ServiceAccount token signing (TokenRequest and
 * TokenReview work), RBAC authorization and CRDs. No controller-manager, scheduler or kubelet:
 * objects are stored, validated, watched and authorized, but no pod ever runs. With `nodes`, the
 * same API server is set up to serve a cluster whose pods run (nodeCluster.ts starts the rest).
 *
 *   const cp = await startControlPlane();
 *   await cp.kubectl(['get', 'ns']);
 *   await cp.stop();
 *
 * Every start gets its own temporary directory and free loopback ports, so parallel runs do not
 * collide. The directory holds the PKI, the kubeconfig, etcd's data and both processes' logs;
 * stop() ends both processes (SIGTERM, then SIGKILL after a grace period) and removes it.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { binaryPath, run, runOk, type RunOptions, type RunResult } from './binaries';
import { type CertificateAuthority, type KeyPair, makeCertificateAuthority } from './pki';
import { httpGet, spawnLogged, waitFor } from './process';
import { ChildGroup } from '../child';
import { freePorts } from '../ports';

export interface ControlPlane {
  /** Path of a kubeconfig whose current context is the admin (group system:masters). */
  kubeconfigPath: string;
  /** https://127.0.0.1:<port> */
  server: string;
  /** Bearer token of the admin user. */
  adminToken: string;
  /** PEM file of the CA that signed the API server's serving certificate. */
  caFile: string;
  /** The API server's port (on 127.0.0.1, and on every address with `nodes`). */
  port: number;
  /** The CA, to issue the components' certificates (client certificates authenticate). */
  ca: CertificateAuthority;
  /** PEM private key that signs ServiceAccount tokens (the controller-manager needs it). */
  serviceAccountKeyFile: string;
  /** The ServiceAccount token issuer (`iss` claim) and default audience. */
  serviceAccountIssuer: string;
  /** Temporary directory holding PKI, kubeconfig, etcd data and logs. */
  dir: string;
  /** etcd's data: on /dev/shm when there is one, else in `dir`. */
  etcdDataDir: string;
  /** Run the pinned kubectl against this control plane (adds --kubeconfig). */
  kubectl(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Like kubectl(), but throws with stderr on a non-zero exit; returns stdout. */
  kubectlOk(args: string[], options?: RunOptions): Promise<string>;
  /**
   * A kubeconfig for a component that authenticates with a client certificate of this CA (user
   * `commonName`, groups `organizations`); `server` defaults to this API server on 127.0.0.1.
   */
  componentKubeconfig(
    name: string,
    commonName: string,
    organizations?: string[],
    server?: string,
  ): Promise<string>;
  /** Authenticated HTTPS request to the API server; body is parsed when JSON. */
  request(method: string, urlPath: string, body?: unknown, token?: string): Promise<ApiResponse>;
  /** Stop kube-apiserver and etcd and remove the directory (unless keepDir). Idempotent. */
  stop(): Promise<void>;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  text: string;
}

export interface ControlPlaneOptions {
  /** Keep the temporary directory after stop() (for debugging). Default false. */
  keepDir?: boolean;
  /** How long to wait for etcd and the API server to become ready. Default 120 s. */
  readyTimeoutMs?: number;
  /** kube-apiserver log verbosity (--v). Default 1. */
  verbosity?: number;
  /** Parent of the temporary directory. Default os.tmpdir(). */
  baseDir?: string;
  /**
   * Serve a cluster with nodes: listen on every address and advertise `advertiseAddress` (the
   * lease endpoint reconciler makes it the `kubernetes` Service's endpoint, which pods reach),
   * authorize with Node,RBAC and NodeRestriction admission, call kubelets with a client
   * certificate and check theirs against the CA. The serving certificate also names
   * `advertiseAddress` and `extraAddresses`. Default: loopback only, RBAC, no kubelet.
   */
  nodes?: { advertiseAddress: string; extraAddresses?: string[] };
}

const SERVICE_ACCOUNT_ISSUER = 'https://kubernetes.default.svc.cluster.local';

/**
 * Start etcd and kube-apiserver and wait until /readyz answers 200. Free ports are picked, then
 * released for the processes to bind; if another process takes one in between, start again.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      const lostPortRace = error instanceof Error && /address already in use/.test(error.message);
      if (!lostPortRace || attempt === 3) throw error;
    }
  }
}

async function startOnce(options: ControlPlaneOptions): Promise<ControlPlane> {
  // Resolve binaries first so a missing one fails fast with the build hint.
  const etcdBin = binaryPath('etcd');
  const apiserverBin = binaryPath('kube-apiserver');
  binaryPath('kubectl');
  const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;

  const dir = mkdtempSync(path.join(options.baseDir ?? os.tmpdir(), 'rewind-k8s-'));
  const children = new ChildGroup();
  // etcd's data on tmpfs when there is one: its fsyncs dominate API latency on a busy VM.
  const etcdData = existsSync('/dev/shm')
    ? mkdtempSync(path.join('/dev/shm', 'rewind-etcd-'))
    : path.join(dir, 'etcd');
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // API server first so it does not log a storm of etcd errors while shutting down.
    await children.stop(15_000);
    rmSync(etcdData, { recursive: true, force: true });
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = await makePki(dir, [
      ...(options.nodes ? [options.nodes.advertiseAddress] : []),
      ...(options.nodes?.extraAddresses ?? []),
    ]);
    const adminToken = randomBytes(24).toString('hex');
    const tokenFile = path.join(dir, 'tokens.csv');
    writeFileSync(tokenFile, `${adminToken},rewind-admin,rewind-admin,"system:masters"\n`, {
      mode: 0o600,
    });

    const [etcdClientPort, etcdPeerPort, apiPort] = await freePorts(3);
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    const etcd = spawnLogged(
      etcdBin,
      [
        '--name=rewind',
        `--data-dir=${etcdData}`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=rewind=${peerUrl}`,
        '--initial-cluster-state=new',
        // Any string will do: this one names the directory, so that etcd's command line does.
        `--initial-cluster-token=${dir}`,
        '--logger=zap',
        '--log-outputs=stderr',
        '--log-level=warn',
        '--quota-backend-bytes=2147483648',
      ],
      path.join(dir, 'etcd.log'),
      // Debian's etcd reads ETCD_* variables; keep ours from leaking in.
      Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_'))),
    );
    children.add(etcd);
    await waitFor('etcd', etcd, path.join(dir, 'etcd.log'), readyTimeoutMs, async () =>
      (await httpGet(`${etcdUrl}/health`)).text.includes('"health":"true"'),
    );
    const nodes = options.nodes;
    const kubeletClient = nodes
      ? await pki.ca.issue({
          name: 'apiserver-kubelet-client',
          commonName: KUBELET_CLIENT_USER,
          usage: 'client',
        })
      : undefined;

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = spawnLogged(
      apiserverBin,
      [
        `--etcd-servers=${etcdUrl}`,
        `--bind-address=${nodes ? '0.0.0.0' : '127.0.0.1'}`,
        `--advertise-address=${nodes ? nodes.advertiseAddress : '127.0.0.1'}`,
        `--secure-port=${apiPort}`,
        `--cert-dir=${dir}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${tokenFile}`,
        `--authorization-mode=${nodes ? 'Node,RBAC' : 'RBAC'}`,
        '--anonymous-auth=false',
        '--allow-privileged=true',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.saPublicKey}`,
        `--service-account-signing-key-file=${pki.saPrivateKey}`,
        `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-cluster-ip-range=${SERVICE_CIDR}`,
        ...(nodes && kubeletClient
          ? [
              // The lease reconciler keeps the `kubernetes` Service's endpoint: this address.
              '--endpoint-reconciler-type=lease',
              '--enable-admission-plugins=NodeRestriction',
              `--kubelet-client-certificate=${kubeletClient.cert}`,
              `--kubelet-client-key=${kubeletClient.key}`,
              `--kubelet-certificate-authority=${pki.caCert}`,
              '--kubelet-preferred-address-types=InternalIP,Hostname',
            ]
          : // Loopback addresses are invalid in Endpoints; nothing routes to the Service anyway.
            ['--endpoint-reconciler-type=none']),
        '--profiling=false',
        `--v=${options.verbosity ?? 1}`,
      ],
      path.join(dir, 'kube-apiserver.log'),
    );
    children.add(apiserver);
    const ca = readFileSync(pki.caCert);
    const request = (
      method: string,
      urlPath: string,
      body?: unknown,
      token: string = adminToken,
    ): Promise<ApiResponse> => httpsRequest(server, ca, token, method, urlPath, body);
    await waitFor(
      'kube-apiserver',
      apiserver,
      path.join(dir, 'kube-apiserver.log'),
      readyTimeoutMs,
      async () => (await request('GET', '/readyz')).status === 200,
    );

    const kubeconfigPath = path.join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfigPath,
      kubeconfig(server, ca, { name: 'rewind-admin', token: adminToken }),
      {
        mode: 0o600,
      },
    );
    const withKubeconfig = (args: string[]): string[] => [
      `--kubeconfig=${kubeconfigPath}`,
      ...args,
    ];
    const componentKubeconfig = async (
      name: string,
      commonName: string,
      organizations: string[] = [],
      componentServer: string = server,
    ): Promise<string> => {
      const pair = await pki.ca.issue({ name, commonName, organizations, usage: 'client' });
      const file = path.join(dir, `${name}.kubeconfig`);
      writeFileSync(file, kubeconfig(componentServer, ca, { name, ...pair }), { mode: 0o600 });
      return file;
    };
    return {
      kubeconfigPath,
      server,
      adminToken,
      caFile: pki.caCert,
      port: apiPort,
      etcdDataDir: etcdData,
      ca: pki.ca,
      serviceAccountKeyFile: pki.saPrivateKey,
      componentKubeconfig,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      dir,
      kubectl: (args, runOptions) => run('kubectl', withKubeconfig(args), runOptions),
      kubectlOk: (args, runOptions) => runOk('kubectl', withKubeconfig(args), runOptions),
      request,
      stop,
    };
  } catch (error) {
    children.kill();
    await stop();
    throw error;
  }
}

/** The user the API server calls kubelets as (kubeadm's name); bound to system:kubelet-api-admin. */
export const KUBELET_CLIENT_USER = 'kube-apiserver-kubelet-client';
/** Service ClusterIPs: 10.96.0.1 is the `kubernetes` Service. */
export const SERVICE_CIDR = '10.96.0.0/24';

interface Pki {
  ca: CertificateAuthority;
  caCert: string;
  serverCert: string;
  serverKey: string;
  saPrivateKey: string;
  saPublicKey: string;
}

async function makePki(dir: string, addresses: string[]): Promise<Pki> {
  const f = (name: string): string => path.join(dir, name);
  const ca = await makeCertificateAuthority(dir);
  const server = await ca.issue({
    name: 'apiserver',
    commonName: 'kube-apiserver',
    usage: 'server',
    ips: ['127.0.0.1', '10.96.0.1', ...addresses],
    dnsNames: [
      'localhost',
      'kubernetes',
      'kubernetes.default',
      'kubernetes.default.svc',
      'kubernetes.default.svc.cluster.local',
    ],
  });
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(f('sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(f('sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    ca,
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    saPrivateKey: f('sa.key'),
    saPublicKey: f('sa.pub'),
  };
}

type KubeconfigUser = { name: string; token: string } | ({ name: string } & KeyPair);

function kubeconfig(server: string, ca: Buffer, user: KubeconfigUser): string {
  const credentials =
    'token' in user
      ? [`    token: ${user.token}`]
      : [`    client-certificate: ${user.cert}`, `    client-key: ${user.key}`];
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: rewind-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca.toString('base64')}`,
    'users:',
    `- name: ${user.name}`,
    '  user:',
    ...credentials,
    'contexts:',
    '- name: rewind-test',
    '  context:',
    '    cluster: rewind-test',
    `    user: ${user.name}`,
    '    namespace: default',
    'current-context: rewind-test',
    '',
  ].join('\n');
}

function httpsRequest(
  server: string,
  ca: Buffer,
  token: string,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<ApiResponse> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = https.request(
      new URL(urlPath, server),
      {
        method,
        ca,
        timeout: 10_000,
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'application/json',
          ...(payload === undefined
            ? {}
            : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }),
        },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => {
          let parsed: unknown = text;
          try {
            parsed = JSON.parse(text);
          } catch {
            // plain text (e.g. /readyz)
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(payload);
  });
}
