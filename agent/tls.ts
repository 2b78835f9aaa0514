/**
 * Who may ask this node for a trace: a client certificate signed by the chart's CA (checked by
 * TLS itself: `requestCert` + `rejectUnauthorized`, so anything else is refused at the handshake)
 * that carries the controller's identity (checked per request: `authorizePeer`, pure). The agent
 * has no Kubernetes credentials at all; this is its only door.
 *
 * The certificate files are re-read when they change (cert-manager rotates them) without a
 * restart: `watchCertificates` swaps the server's secure context.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Server as TlsServer, ServerOptions } from 'node:https';
import type { PeerCertificate } from 'node:tls';

export interface TlsPaths {
  cert: string;
  key: string;
  ca: string;
}

/** The server's TLS options from the mounted files; throws one line naming the file. */
export function tlsOptions(paths: TlsPaths): ServerOptions {
  const read = (what: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (e) {
      throw new Error(
        `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} ` +
          "(the chart mounts the agent's TLS Secret at /etc/rewind/tls)",
      );
    }
  };
  return {
    cert: read('certificate', paths.cert),
    key: read('private key', paths.key),
    ca: read('CA certificate', paths.ca),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  };
}

export type PeerDecision = { ok: true } | { ok: false; status: 401 | 403; reason: string };

/** The DNS names of a certificate's subjectAltName ("DNS:a, DNS:b, IP Address:…"). */
export function dnsNames(subjectaltname: string | undefined): string[] {
  return (subjectaltname ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
}

/**
 * Whether the verified client certificate names the controller: its common name, or one of its
 * DNS names, equals `identity`. `authorized` is what TLS concluded about the chain.
 */
export function authorizePeer(
  authorized: boolean,
  cert: Partial<PeerCertificate> | undefined,
  identity: string,
): PeerDecision {
  if (!authorized || !cert || !cert.subject)
    return { ok: false, status: 401, reason: 'a client certificate signed by the CA is required' };
  const cn = cert.subject.CN;
  const names = [...(Array.isArray(cn) ? cn : cn ? [cn] : []), ...dnsNames(cert.subjectaltname)];
  if (names.includes(identity)) return { ok: true };
  return {
    ok: false,
    status: 403,
    reason: `the client certificate names ${names.join(', ') || 'nobody'}, not ${identity}`,
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
      server.setSecureContext(tlsOptions(paths));
      onEvent('reloaded', 'certificates reloaded');
    } catch (e) {
      onEvent('failed', (e as Error).message);
    }
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
