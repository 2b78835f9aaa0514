/**
 * The user's own Kubernetes connection, as kubectl makes it: the kubeconfig from `--kubeconfig`,
 * KUBECONFIG or ~/.kube/config, the context from `--context`, the namespace from `-n` or the
 * context. Every call is made with the user's credentials, so the API server's RBAC answers for
 * the user; a refusal becomes one line naming the verb and resource that were refused, and a
 * missing CRD says how to install Rewind.
 */
import { CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { apiFailureBody, apiFailureMessage, apiStatus } from '../controller/kube/client';
import { bearerToken } from '../controller/alerts/token';
import { GROUP, PLURAL } from '../controller/model';
import { oneLine } from '../common/errors';
import { CliError } from './errors';

export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

export interface UserKube {
  kc: KubeConfig;
  /** The namespace commands act in (`-n`, else the context's, else `default`). */
  namespace: string;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  /** The API server's URL (for messages). */
  server: string;
}

export function loadUserKube(flags: KubeFlags): UserKube {
  const kc = new KubeConfig();
  try {
    if (flags.kubeconfig !== undefined) kc.loadFromFile(flags.kubeconfig);
    else kc.loadFromDefault();
  } catch (e) {
    throw new CliError(
      `cannot read the kubeconfig${flags.kubeconfig ? ` ${flags.kubeconfig}` : ''}: ${oneLine(e)}`,
    );
  }
  if (flags.context !== undefined) {
    if (!kc.getContextObject(flags.context))
      throw new CliError(
        `no context ${JSON.stringify(flags.context)} in the kubeconfig (kubectl config get-contexts lists them)`,
      );
    kc.setCurrentContext(flags.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster)
    throw new CliError(
      'no cluster to talk to: set KUBECONFIG or --kubeconfig, or pick a context with --context',
    );
  const namespace =
    flags.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? 'default';
  return {
    kc,
    namespace,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    server: cluster.server,
  };
}

/**
 * The bearer token the kubeconfig's user presents (a token, a token file, an exec or OIDC
 * plugin): what the controller's TokenReview checks. Undefined for a user who authenticates
 * with a client certificate only.
 */
export async function bearerTokenOf(kc: KubeConfig): Promise<string | undefined> {
  const options: { headers?: Record<string, string> } = { headers: {} };
  await kc.applyToHTTPSOptions(options);
  return bearerToken(options.headers?.Authorization ?? options.headers?.authorization);
}

/** What was asked, for messages: `create tracesnapshots.rewind.dev in namespace "x"`. */
export interface Attempt {
  verb: string;
  resource: string;
  namespace?: string;
  name?: string;
}

export function describeAttempt(a: Attempt): string {
  return (
    `${a.verb} ${a.resource}${a.name ? ` ${JSON.stringify(a.name)}` : ''}` +
    (a.namespace ? ` in namespace ${JSON.stringify(a.namespace)}` : ' (cluster-wide)')
  );
}

export const SNAPSHOTS = `${PLURAL}.${GROUP}`;

export const INSTALL_HINT =
  'is Rewind installed? helm install rewind charts/rewind -n rewind-system --create-namespace';

/** One actionable line for a failed API call. */
export function kubeFailure(e: unknown, attempt: Attempt, server: string): CliError {
  if (e instanceof CliError) return e;
  const status = apiStatus(e);
  const body = apiFailureBody(e);
  const message = apiFailureMessage(e);
  if (status === undefined) {
    return new CliError(`cannot reach the API server at ${server}: ${oneLine(e)}`);
  }
  if (status === 401)
    return new CliError(
      `the API server at ${server} does not accept your credentials (401): log in again or check the kubeconfig's user`,
    );
  if (status === 403)
    return new CliError(
      `you may not ${describeAttempt(attempt)}: ${oneLine(message || 'forbidden')}`,
    );
  if (status === 404) {
    // A missing object is a Status with reason NotFound; an unknown resource is the server's
    // plain "404 page not found".
    const isStatus =
      typeof body === 'object' && body?.kind === 'Status' && body.reason === 'NotFound';
    if (!isStatus && attempt.resource === SNAPSHOTS)
      return new CliError(
        `the cluster has no TraceSnapshot resource (${SNAPSHOTS}): ${INSTALL_HINT}`,
      );
    return new CliError(
      attempt.name
        ? `no ${attempt.resource} ${JSON.stringify(attempt.name)}${attempt.namespace ? ` in namespace ${JSON.stringify(attempt.namespace)}` : ''}`
        : oneLine(message || `not found: ${describeAttempt(attempt)}`),
    );
  }
  if (status === 422 || status === 400)
    return new CliError(`the API server refused it (${status}): ${oneLine(message)}`);
  return new CliError(
    `could not ${describeAttempt(attempt)}: the API server answered ${status}${message ? `: ${oneLine(message)}` : ''}`,
  );
}

/** Runs `call`, turning its failure into one line about `attempt`. */
export async function asUser<T>(
  kube: UserKube,
  attempt: Attempt,
  call: () => Promise<T>,
): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw kubeFailure(e, attempt, kube.server);
  }
}
