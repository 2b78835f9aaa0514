/**
 * Who may read traces through the controller's API (9411): Kubernetes decides. A caller presents
 * a bearer token; a TokenReview says who it is (401 if nobody), a SubjectAccessReview says whether
 * that identity may `get` the TraceSnapshot (or `list` tracesnapshots, for the agents' status)
 * (403 with the review's reason if not). This is kube-rbac-proxy's scheme, so `kubectl auth can-i`
 * and ordinary Roles answer who may download a trace.
 *
 * The API server's answers are cached briefly by (token hash, attributes): allowed for longer than
 * denied, so a new RoleBinding takes effect within seconds while a busy client does not send two
 * reviews per request. A failed review (API server down, timed out, the controller itself not
 * permitted to review) is a 503 and is never cached: an error never allows. Tokens are never
 * logged or kept; only their SHA-256 is, as a cache key.
 */
import { createHash } from 'node:crypto';
import { oneLine } from '../../common/errors';
import { TtlCache } from './ttl-cache';

/** What a request asks to do, as a SubjectAccessReview's resourceAttributes. */
export interface ResourceAttributes {
  verb: 'get' | 'list';
  group: string;
  resource: string;
  /** Absent: cluster-wide. */
  namespace?: string;
  name?: string;
}

export interface UserInfo {
  username: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

export interface TokenReviewResult {
  authenticated: boolean;
  user?: UserInfo;
  /** The audiences the token was found valid for (when audiences were asked). */
  audiences?: string[];
}

export interface AccessReviewResult {
  allowed: boolean;
  reason?: string;
  evaluationError?: string;
}

/** The two Kubernetes calls behind the decision (review-client.ts over client-node; fakes in tests). */
export interface ReviewClient {
  tokenReview(token: string, audiences?: string[]): Promise<TokenReviewResult>;
  subjectAccessReview(
    user: string,
    groups: string[],
    uid: string | undefined,
    extra: Record<string, string[]> | undefined,
    attributes: ResourceAttributes,
  ): Promise<AccessReviewResult>;
}

export type Decision =
  | { allowed: true; status: 200; user: string }
  | { allowed: false; status: 401 | 403 | 503; reason: string };

export interface AuthorizerOptions {
  client: ReviewClient;
  /** Milliseconds since an arbitrary origin (Date.now in the process, a variable in tests). */
  now: () => number;
  /** Token audiences to require (default: the API server's own). */
  audiences?: string[];
  /** How long an allow is reused (kube-rbac-proxy: minutes; here 60 s). */
  allowedTtlMs?: number;
  /** How long a 401/403 is reused (short, so a new RoleBinding soon applies). */
  deniedTtlMs?: number;
  /** Most decisions kept. */
  maxEntries?: number;
}

/** How the request reads in a 403: `get tracesnapshots.rewind.dev "x" in namespace "y"`. */
export function describeAttributes(a: ResourceAttributes): string {
  const resource = a.group ? `${a.resource}.${a.group}` : a.resource;
  const name = a.name ? ` "${a.name}"` : '';
  const where = a.namespace ? ` in namespace "${a.namespace}"` : ' at the cluster scope';
  return `${a.verb} ${resource}${name}${where}`;
}

export class Authorizer {
  private readonly cache: TtlCache<Decision>;
  /** Identical checks in flight share one review (a client retrying, a burst of downloads). */
  private readonly inFlight = new Map<string, Promise<Decision>>();
  private readonly allowedTtlMs: number;
  private readonly deniedTtlMs: number;

  constructor(private readonly options: AuthorizerOptions) {
    this.allowedTtlMs = options.allowedTtlMs ?? 60_000;
    this.deniedTtlMs = options.deniedTtlMs ?? 10_000;
    this.cache = new TtlCache(options.maxEntries ?? 4096, options.now);
  }

  /** Decides whether the holder of `token` may do `attributes`. Never rejects. */
  async authorize(token: string | undefined, attributes: ResourceAttributes): Promise<Decision> {
    if (!token) return { allowed: false, status: 401, reason: 'a bearer token is required' };
    const key = `${createHash('sha256').update(token).digest('hex')} ${JSON.stringify([
      attributes.verb,
      attributes.group,
      attributes.resource,
      attributes.namespace ?? '',
      attributes.name ?? '',
    ])}`;
    const cached = this.cache.get(key);
    if (cached) return cached;
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const decision = this.review(token, attributes).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, decision);
    const d = await decision;
    if (d.status !== 503) this.cache.set(key, d, d.allowed ? this.allowedTtlMs : this.deniedTtlMs);
    return d;
  }

  private async review(token: string, attributes: ResourceAttributes): Promise<Decision> {
    const { client, audiences } = this.options;
    let identity: TokenReviewResult;
    try {
      identity = await client.tokenReview(token, audiences);
    } catch (e) {
      return { allowed: false, status: 503, reason: `cannot check the token: ${oneLine(e)}` };
    }
    const user = identity.user;
    const audienceOk =
      !audiences?.length || (identity.audiences ?? []).some((a) => audiences.includes(a));
    if (!identity.authenticated || !user?.username || !audienceOk) {
      // The review's own error text stays out of the answer: it helps probing, not the caller.
      return { allowed: false, status: 401, reason: 'the bearer token is not valid' };
    }
    let access: AccessReviewResult;
    try {
      access = await client.subjectAccessReview(
        user.username,
        user.groups ?? [],
        user.uid,
        user.extra,
        attributes,
      );
    } catch (e) {
      return { allowed: false, status: 503, reason: `cannot authorize: ${oneLine(e)}` };
    }
    if (access.allowed) return { allowed: true, status: 200, user: user.username };
    const why = access.reason || access.evaluationError;
    return {
      allowed: false,
      status: 403,
      reason: `forbidden: "${user.username}" cannot ${describeAttributes(attributes)}${why ? `: ${oneLine(why)}` : ''}`,
    };
  }
}
