/**
 * Certificates for the agent's mutual TLS tests, made with openssl as the chart's `genCA` /
 * `genSignedCert` make them: one CA signing the agent's certificate (server and client auth,
 * DNS names) and the controller's (common name = the controller's name); plus an intruder
 * signed by the same CA under another name, and a look-alike controller signed by another CA.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  cert: string;
  key: string;
  certPem: Buffer;
  keyPem: Buffer;
}

export interface TestPki {
  dir: string;
  ca: string;
  caPem: Buffer;
  agent: KeyPair;
  controller: KeyPair;
  intruder: KeyPair;
  foreignController: KeyPair;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): void {
  openssl(
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
      '-subj',
      `/CN=${name}`,
      '-days',
      '2',
    ],
    dir,
  );
}

function makeLeaf(dir: string, ca: string, file: string, cn: string, dns: string[]): KeyPair {
  openssl(
    [
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      `${file}.key`,
      '-out',
      `${file}.csr`,
      '-subj',
      `/CN=${cn}`,
    ],
    dir,
  );
  const ext = join(dir, `${file}.ext`);
  writeFileSync(
    ext,
    `subjectAltName=${[...dns.map((d) => `DNS:${d}`), 'IP:127.0.0.1'].join(',')}\n` +
      'extendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n',
  );
  openssl(
    [
      'x509',
      '-req',
      '-in',
      `${file}.csr`,
      '-CA',
      `${ca}.crt`,
      '-CAkey',
      `${ca}.key`,
      '-CAcreateserial',
      '-out',
      `${file}.crt`,
      '-days',
      '2',
      '-extfile',
      ext,
    ],
    dir,
  );
  const cert = join(dir, `${file}.crt`);
  const key = join(dir, `${file}.key`);
  return { cert, key, certPem: readFileSync(cert), keyPem: readFileSync(key) };
}

export function makeTestPki(root = tmpdir()): TestPki {
  const dir = mkdtempSync(join(root, 'rewind-pki-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other-ca');
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    caPem: readFileSync(join(dir, 'ca.crt')),
    agent: makeLeaf(dir, 'ca', 'agent', 'rewind-agent', [
      'rewind-agent',
      'rewind-agent.rewind.svc',
      'localhost',
    ]),
    controller: makeLeaf(dir, 'ca', 'controller', 'rewind-controller', [
      'rewind-controller',
      'rewind-controller.rewind.svc',
    ]),
    intruder: makeLeaf(dir, 'ca', 'intruder', 'someone-else', ['someone-else']),
    foreignController: makeLeaf(dir, 'other-ca', 'foreign', 'rewind-controller', [
      'rewind-controller',
    ]),
  };
}
