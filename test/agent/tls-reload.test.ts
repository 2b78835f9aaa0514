/**
 * The agent's certificates are re-read when their files change (cert-manager rotates them in
 * place): a real HTTPS server with real certificates (openssl), files swapped on disk.
 */
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { tlsOptions, watchCertificates, type TlsPaths } from '../../common/tls';
import { makeTestPki, type TestPki } from './certs';

/** The common name of the certificate the server presents now. */
function servedName(port: number, pki: TestPki): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      {
        host: '127.0.0.1',
        port,
        ca: pki.caPem,
        cert: pki.controller.certPem,
        key: pki.controller.keyPem,
        servername: 'localhost',
        rejectUnauthorized: false,
      },
      () => {
        const cn = socket.getPeerCertificate().subject?.CN;
        socket.end();
        resolve(String(cn));
      },
    );
    socket.on('error', reject);
  });
}

describe('certificate reload', () => {
  let pki: TestPki;
  let dir: string;
  let server: Server;
  let port = 0;
  let paths: TlsPaths;
  const events: [string, string][] = [];
  let stop = (): void => undefined;

  beforeAll(async () => {
    pki = makeTestPki();
    dir = mkdtempSync(join(tmpdir(), 'rewind-tls-'));
    paths = { cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key'), ca: join(dir, 'ca.crt') };
    copyFileSync(pki.agent.cert, paths.cert);
    copyFileSync(pki.agent.key, paths.key);
    copyFileSync(pki.ca, paths.ca);
    server = createServer(tlsOptions(paths), (_req, res) => res.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    stop = watchCertificates(server, paths, (e, d) => events.push([e, d]), 20);
  });

  afterAll(() => {
    stop();
    server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(pki.dir, { recursive: true, force: true });
  });

  /** Waits for an event of this kind after the first `from` events. */
  const until = async (kind: string, from: number): Promise<void> => {
    const seen = () => events.slice(from).some(([e]) => e === kind);
    for (let i = 0; i < 500 && !seen(); i++) await new Promise((r) => setTimeout(r, 10));
  };

  it('serves the new certificate once its files change, without a restart', async () => {
    expect(await servedName(port, pki)).toBe('rewind-agent');
    // A rotation: another certificate of the same CA (the intruder's stands in for a new one).
    copyFileSync(pki.intruder.key, paths.key);
    copyFileSync(pki.intruder.cert, paths.cert);
    // A tick between the two copies sees a key without its certificate: refused, then the next
    // one reloads the pair.
    await until('reloaded', 0);
    expect(events.at(-1)?.[0]).toBe('reloaded');
    expect(await servedName(port, pki)).toBe('someone-else');
  });

  it('keeps the working certificate when the new files are broken, and says why', async () => {
    const before = events.length;
    writeFileSync(paths.cert, 'not a certificate');
    await until('failed', before);
    expect(events.at(-1)).toEqual(['failed', expect.any(String)]);
    expect(await servedName(port, pki)).toBe('someone-else');
  });
});
