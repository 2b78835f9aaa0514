/**
 * A process's TLS files (certificate, key, CA) as server options, re-read when they change
 * (cert-manager and the chart rotate them) without a restart: `watchCertificates` swaps the
 * server's secure context. The agent's API requires a client certificate signed by the CA; the
 * controller's API does not (its callers present Kubernetes tokens) but dials agents with one.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Server as TlsServer, ServerOptions } from 'node:https';

export interface TlsPaths {
  cert: string;
  key: string;
  ca: string;
}

/** Reads one of the TLS files; throws one line naming it and where it should come from. */
export function readTlsFile(what: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(
      `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} ` +
        "(the chart mounts the component's TLS Secret at /etc/rewind/tls)",
    );
  }
}

/**
 * The server's TLS options from the mounted files; throws one line naming the file. With
 * `clientCertificates: 'required'` a client without a certificate signed by the CA is refused at
 * the handshake.
 */
export function tlsOptions(
  paths: TlsPaths,
  clientCertificates: 'required' | 'none' = 'required',
): ServerOptions {
  const required = clientCertificates === 'required';
  return {
    cert: readTlsFile('certificate', paths.cert),
    key: readTlsFile('private key', paths.key),
    ca: readTlsFile('CA certificate', paths.ca),
    requestCert: required,
    rejectUnauthorized: required,
    minVersion: 'TLSv1.2',
  };
}

/**
 * Re-reads the certificate files every `everyMs` and swaps the server's secure context when one
 * changed; a broken new set is logged and the old one kept. Returns a stop function.
 */
export function watchCertificates(
  server: TlsServer,
  paths: TlsPaths,
  onEvent: (event: 'reloaded' | 'failed', detail: string) => void,
  everyMs = 30_000,
  clientCertificates: 'required' | 'none' = 'required',
): () => void {
  const stamp = (): string =>
    [paths.cert, paths.key, paths.ca]
      .map((p) => {
        try {
          const s = statSync(p);
          return `${s.mtimeMs}:${s.size}:${s.ino}`;
        } catch {
          return 'missing';
        }
      })
      .join('|');
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    last = now;
    try {
      server.setSecureContext(tlsOptions(paths, clientCertificates));
      onEvent('reloaded', 'certificates reloaded');
    } catch (e) {
      onEvent('failed', (e as Error).message);
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
