/**
 * The test cluster's certificates, made with openssl: one CA (ECDSA P-256, valid 7 days) signs the
 * API server's serving certificate, each component's client certificate (the identity RBAC and the
 * Node authorizer see: CN = user, O = groups) and the kubelet's serving certificate.
 *
 * Every certificate gets a random serial number, so several can be issued at once.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';

export interface KeyPair {
  /** PEM certificate file. */
  cert: string;
  /** PEM private key file (unencrypted). */
  key: string;
}

export interface CertificateRequest {
  /** Base name of the files written (`<name>.crt`, `<name>.key`). */
  name: string;
  /** Subject CN: the user name of a client certificate. */
  commonName: string;
  /** Subject O entries: the groups of a client certificate. */
  organizations?: string[];
  /** What the certificate is for (extendedKeyUsage). */
  usage: 'server' | 'client' | 'server+client';
  /** subjectAltName IP entries (servers). */
  ips?: string[];
  /** subjectAltName DNS entries (servers). */
  dnsNames?: string[];
}

export interface CertificateAuthority extends KeyPair {
  /** The folder the CA and every certificate it issues are written to. */
  dir: string;
  /** Issue a certificate signed by this CA into `dir`. */
  issue(request: CertificateRequest): Promise<KeyPair>;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

function openssl(dir: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd: dir }, (error, _stdout, stderr) => {
      if (error === null) resolve();
      else
        reject(new Error(`openssl ${args[0]} failed (is Debian's openssl installed?): ${stderr}`));
    });
  });
}

/** Make a CA in `dir` (`ca.crt`, `ca.key`). */
export async function makeCertificateAuthority(dir: string): Promise<CertificateAuthority> {
  const ca = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
  await openssl(dir, [
    'req', '-x509', ...EC_KEY, '-keyout', ca.key, '-out', ca.cert, '-days', '7',
    '-subj', '/CN=rewind-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]); // prettier-ignore
  return { ...ca, dir, issue: (request) => issue(dir, ca, request) };
}

async function issue(dir: string, ca: KeyPair, request: CertificateRequest): Promise<KeyPair> {
  const f = (suffix: string): string => path.join(dir, `${request.name}.${suffix}`);
  const subject =
    (request.organizations ?? []).map((o) => `/O=${o}`).join('') + `/CN=${request.commonName}`;
  await openssl(dir, [
    'req',
    '-new',
    ...EC_KEY,
    '-keyout',
    f('key'),
    '-out',
    f('csr'),
    '-subj',
    subject,
  ]);
  const usage = {
    server: 'serverAuth',
    client: 'clientAuth',
    'server+client': 'serverAuth,clientAuth',
  }[request.usage];
  const sans = [
    ...(request.ips ?? []).map((ip) => `IP:${ip}`),
    ...(request.dnsNames ?? []).map((name) => `DNS:${name}`),
  ];
  writeFileSync(
    f('ext'),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      `extendedKeyUsage=${usage}`,
      ...(sans.length > 0 ? [`subjectAltName=${sans.join(',')}`] : []),
      '',
    ].join('\n'),
  );
  await openssl(dir, [
    'x509', '-req', '-in', f('csr'), '-CA', ca.cert, '-CAkey', ca.key,
    '-set_serial', `0x${randomBytes(16).toString('hex')}`, '-days', '7',
    '-extfile', f('ext'), '-out', f('crt'),
  ]); // prettier-ignore
  return { cert: f('crt'), key: f('key') };
}
