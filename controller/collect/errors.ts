/**
 * Why a node could not be collected, as one line that says what to do next, with the reason the
 * metrics count (`NodeFailureReason`). `classifyRequestError` (pure) turns what node:https and
 * node:tls throw into that; the collection's own refusals (over budget, timeout, bad archive)
 * are built as `CollectError`s directly, and pass through unchanged.
 */
import { oneLine } from '../../common/errors';
import type { NodeFailureReason } from '../metrics';

export class CollectError extends Error {
  constructor(
    readonly reason: NodeFailureReason,
    message: string,
    /** For 'busy': the seconds the agent asked to wait (Retry-After). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
    this.name = 'CollectError';
  }
}

/** Network errors: the agent cannot be reached at that address, or went away. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

/**
 * Errors of verifying the agent's certificate (node:tls' `code`s from OpenSSL's verify results,
 * and the name check).
 */
function agentCertificateRefused(code: string): boolean {
  return (
    code === 'ERR_TLS_CERT_ALTNAME_INVALID' ||
    code.includes('CERT') ||
    code.includes('ISSUER') ||
    code.includes('SELF_SIGNED') ||
    code === 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'
  );
}

/**
 * Alerts the agent sends when it refuses the controller's client certificate during the
 * handshake (unknown CA, bad or missing certificate).
 */
function controllerCertificateRefused(code: string): boolean {
  return /^ERR_SSL_.*ALERT_(UNKNOWN_CA|BAD_CERTIFICATE|CERTIFICATE_REQUIRED|CERTIFICATE_UNKNOWN|DECRYPT_ERROR|HANDSHAKE_FAILURE|ACCESS_DENIED)/.test(
    code,
  );
}

/**
 * One failure of a request to the agent at `where` (`host:port`) as a CollectError. `phase` says
 * how far the request got: before any answer, or while the archive streamed.
 */
export function classifyRequestError(
  e: unknown,
  where: string,
  phase: 'connect' | 'stream',
): CollectError {
  if (e instanceof CollectError) return e;
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? '';
  const detail = oneLine(e);
  if (controllerCertificateRefused(code))
    return new CollectError(
      'tls',
      `agent ${where} refused the controller's certificate (${detail}): check that both come from the chart's CA`,
    );
  if (agentCertificateRefused(code))
    return new CollectError(
      'tls',
      `the certificate of agent ${where} failed verification (${code}: ${detail}): check the CA the controller trusts and the agent name it expects (--agent-server-name)`,
    );
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_'))
    return new CollectError(
      'tls',
      `TLS with agent ${where} failed (${detail}): check that agent and controller certificates come from the chart's CA`,
    );
  if (code === 'ETIMEDOUT')
    return new CollectError(
      'timeout',
      `agent ${where} did not answer in time (${detail}): check the node's network and the agent's load`,
    );
  if (UNREACHABLE.has(code) || /socket hang up|aborted/i.test(detail))
    return phase === 'stream'
      ? new CollectError(
          'unreachable',
          `agent ${where} went away in the middle of the snapshot (${detail}): check that the agent pod is running and not restarting`,
        )
      : new CollectError(
          'unreachable',
          `agent ${where} is unreachable (${detail}): check that the agent pod is running and its port 9401 is reachable from the controller`,
        );
  return new CollectError('other', `agent ${where}: ${detail}`);
}

/** An HTTP error answer of the agent (`{error}` body, already read) as a CollectError. */
export function classifyAnswer(
  status: number,
  error: string,
  where: string,
  retryAfterSeconds?: number,
): CollectError {
  const said = error ? `: ${error}` : '';
  if (status === 401 || status === 403)
    return new CollectError(
      'tls',
      `agent ${where} refused the controller (HTTP ${status}${said}): the controller's certificate must name the identity the agent expects (--controller-identity)`,
    );
  if (status === 429)
    return new CollectError(
      'busy',
      `agent ${where} is busy with another snapshot (HTTP 429${said})${retryAfterSeconds === undefined ? '' : `; retry after ${retryAfterSeconds} s`}`,
      retryAfterSeconds,
    );
  if (status === 503)
    return new CollectError(
      'refused',
      `agent ${where} cannot take a snapshot (HTTP 503${said}): check the agent's /healthz on its node`,
    );
  return new CollectError('refused', `agent ${where} refused the request (HTTP ${status}${said})`);
}
