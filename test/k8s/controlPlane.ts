/**
 * A real Kubernetes control plane on 127.0.0.1 for tests and demos: etcd plus a pinned
 * kube-apiserver, with TLS, a static admin token, ServiceAccount token signing (TokenRequest and
 * TokenReview work), RBAC authorization and CRDs. No controller-manager, scheduler or kubelet:
 * objects are stored, validated, watched and authorized, but no pod ever runs.
 *
 *   const cp = await startControlPlane();
 *   await cp.kubectl(['get', 'ns']);
 *   await cp.stop();
 *
 * Every start gets its own temporary directory and free loopback ports, so parallel runs do not
 * collide. The directory holds the PKI, the kubeconfig, etcd's data and both processes' logs;
 * stop() ends both processes (SIGTERM, then SIGKILL after a grace period) and removes it.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as os from 'node:os';
import * as path from 'node:path';
import { binaryPath, run, runOk, type RunOptions, type RunResult } from './binaries';
import { exited, stopChild } from '../child';
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
  /** The ServiceAccount token issuer (`iss` claim) and default audience. */
  serviceAccountIssuer: string;
  /** Temporary directory holding PKI, kubeconfig, etcd data and logs. */
  dir: string;
  /** Run the pinned kubectl against this control plane (adds --kubeconfig). */
  kubectl(args: string[], options?: RunOptions): Promise<RunResult>;
  /** Like kubectl(), but throws with stderr on a non-zero exit; returns stdout. */
  kubectlOk(args: string[], options?: RunOptions): Promise<string>;
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
  const children: ChildProcess[] = [];
  const killAll = (): void => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  };
  process.on('exit', killAll);
  // etcd's data on tmpfs when there is one: its fsyncs dominate API latency on a busy VM.
  const etcdData = existsSync('/dev/shm')
    ? mkdtempSync(path.join('/dev/shm', 'rewind-etcd-'))
    : path.join(dir, 'etcd');
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // API server first so it does not log a storm of etcd errors while shutting down.
    for (const child of [...children].reverse()) await stopChild(child, 15_000);
    process.removeListener('exit', killAll);
    rmSync(etcdData, { recursive: true, force: true });
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  try {
    const pki = await makePki(dir);
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
        '--logger=zap',
        '--log-outputs=stderr',
        '--log-level=warn',
        '--quota-backend-bytes=2147483648',
      ],
      path.join(dir, 'etcd.log'),
      // Debian's etcd reads ETCD_* variables; keep ours from leaking in.
      Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('ETCD_'))),
    );
    children.push(etcd);
    await waitFor('etcd', etcd, path.join(dir, 'etcd.log'), readyTimeoutMs, async () =>
      (await httpGet(`${etcdUrl}/health`)).includes('"health":"true"'),
    );

    const server = `https://127.0.0.1:${apiPort}`;
    const apiserver = spawnLogged(
      apiserverBin,
      [
        `--etcd-servers=${etcdUrl}`,
        '--bind-address=127.0.0.1',
        '--advertise-address=127.0.0.1',
        `--secure-port=${apiPort}`,
        `--cert-dir=${dir}`,
        `--tls-cert-file=${pki.serverCert}`,
        `--tls-private-key-file=${pki.serverKey}`,
        `--client-ca-file=${pki.caCert}`,
        `--token-auth-file=${tokenFile}`,
        '--authorization-mode=RBAC',
        '--anonymous-auth=false',
        '--allow-privileged=true',
        `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
        `--service-account-key-file=${pki.saPublicKey}`,
        `--service-account-signing-key-file=${pki.saPrivateKey}`,
        `--api-audiences=${SERVICE_ACCOUNT_ISSUER}`,
        '--service-cluster-ip-range=10.96.0.0/24',
        // Loopback addresses are invalid in Endpoints; nothing routes to the Service anyway.
        '--endpoint-reconciler-type=none',
        '--profiling=false',
        `--v=${options.verbosity ?? 1}`,
      ],
      path.join(dir, 'kube-apiserver.log'),
    );
    children.push(apiserver);
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
    writeFileSync(kubeconfigPath, kubeconfig(server, ca, adminToken), { mode: 0o600 });
    const withKubeconfig = (args: string[]): string[] => [
      `--kubeconfig=${kubeconfigPath}`,
      ...args,
    ];
    return {
      kubeconfigPath,
      server,
      adminToken,
      caFile: pki.caCert,
      serviceAccountIssuer: SERVICE_ACCOUNT_ISSUER,
      dir,
      kubectl: (args, runOptions) => run('kubectl', withKubeconfig(args), runOptions),
      kubectlOk: (args, runOptions) => runOk('kubectl', withKubeconfig(args), runOptions),
      request,
      stop,
    };
  } catch (error) {
    killAll();
    await stop();
    throw error;
  }
}

interface Pki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  saPrivateKey: string;
  saPublicKey: string;
}

async function makePki(dir: string): Promise<Pki> {
  const f = (name: string): string => path.join(dir, name);
  const openssl = (args: string[]): Promise<void> =>
    new Promise((resolve, reject) => {
      execFile('openssl', args, { cwd: dir }, (error, _stdout, stderr) => {
        if (error === null) resolve();
        else
          reject(
            new Error(`openssl ${args[0]} failed (is Debian's openssl installed?): ${stderr}`),
          );
      });
    });
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '7',
    '-subj', '/CN=rewind-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  await openssl([
    'req', '-new', ...ec, '-keyout', f('apiserver.key'), '-out', f('apiserver.csr'),
    '-subj', '/CN=kube-apiserver',
  ]); // prettier-ignore
  writeFileSync(
    f('apiserver.ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth',
      'subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,' +
        'DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local',
      '',
    ].join('\n'),
  );
  await openssl([
    'x509', '-req', '-in', f('apiserver.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'),
    '-CAcreateserial', '-days', '7', '-extfile', f('apiserver.ext'), '-out', f('apiserver.crt'),
  ]); // prettier-ignore
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(f('sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  writeFileSync(f('sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  return {
    caCert: f('ca.crt'),
    serverCert: f('apiserver.crt'),
    serverKey: f('apiserver.key'),
    saPrivateKey: f('sa.key'),
    saPublicKey: f('sa.pub'),
  };
}

function kubeconfig(server: string, ca: Buffer, token: string): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: rewind-test',
    '  cluster:',
    `    server: ${server}`,
    `    certificate-authority-data: ${ca.toString('base64')}`,
    'users:',
    '- name: rewind-admin',
    '  user:',
    `    token: ${token}`,
    'contexts:',
    '- name: rewind-test',
    '  context:',
    '    cluster: rewind-test',
    '    user: rewind-admin',
    '    namespace: default',
    'current-context: rewind-test',
    '',
  ].join('\n');
}

function spawnLogged(
  file: string,
  args: string[],
  logFile: string,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  const log = openSync(logFile, 'a');
  return spawn(file, args, { stdio: ['ignore', log, log], env });
}

function tail(file: string, lines = 30): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

async function waitFor(
  what: string,
  child: ChildProcess,
  logFile: string,
  timeoutMs: number,
  probe: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (exited(child)) {
      throw new Error(
        `${what} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready; ` +
          `last lines of ${logFile}:\n${tail(logFile)}`,
      );
    }
    try {
      if (await probe()) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${what} not ready after ${timeoutMs} ms; last lines of ${logFile}:\n${tail(logFile)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 2000 }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve(text));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
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
