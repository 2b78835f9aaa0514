/**
 * Who may ask this node for a trace: a client certificate signed by the chart's CA (checked by
 * TLS itself: `requestCert` + `rejectUnauthorized`, so anything else is refused at the handshake)
 * that carries the controller's identity (checked per request: `authorizePeer`, pure). The agent
 * has no Kubernetes credentials at all; this is its only door.
 *
 * The certificate files and their reload: common/tls.ts.
 */
import type { PeerCertificate } from 'node:tls';

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
