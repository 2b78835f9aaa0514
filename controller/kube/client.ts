/**
 * The Kubernetes connection of the controller: a KubeConfig from an explicit `--kubeconfig`
 * file, from the pod's ServiceAccount when running in a cluster, or from the default places
 * (KUBECONFIG, ~/.kube/config) for a person running it by hand; and the API objects the
 * controller uses, made once.
 */
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';
import { oneLine } from '../../common/errors';

export interface KubeConfigSource {
  /** A kubeconfig file (the `--kubeconfig` flag); wins over everything else. */
  kubeconfig?: string;
  /** The environment (KUBERNETES_SERVICE_HOST tells a pod); process.env by default. */
  env?: NodeJS.ProcessEnv;
}

export function loadKubeConfig({
  kubeconfig,
  env = process.env,
}: KubeConfigSource = {}): KubeConfig {
  const kc = new KubeConfig();
  if (kubeconfig !== undefined) kc.loadFromFile(kubeconfig);
  // In a pod, the ServiceAccount: a stray KUBECONFIG in the image must not redirect it.
  else if (env.KUBERNETES_SERVICE_HOST) kc.loadFromCluster();
  else kc.loadFromDefault();
  if (kc.getCurrentCluster() === null) {
    throw new Error(
      kubeconfig !== undefined
        ? `kubeconfig ${kubeconfig} has no current cluster`
        : 'no Kubernetes configuration: not in a pod, and no KUBECONFIG or ~/.kube/config',
    );
  }
  return kc;
}

export interface KubeClients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
  coordination: CoordinationV1Api;
}

export function kubeClients(kc: KubeConfig): KubeClients {
  return {
    kc,
    core: kc.makeApiClient(CoreV1Api),
    custom: kc.makeApiClient(CustomObjectsApi),
    coordination: kc.makeApiClient(CoordinationV1Api),
  };
}

/** The HTTP status of a failed API call (ApiException.code, or a watch error's statusCode). */
export function apiStatus(e: unknown): number | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const { code, statusCode } = e as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

/** What a failed API call's body says: a Kubernetes Status (parsed), or the text as it came. */
export type ApiFailureBody =
  { kind?: string; reason?: string; message?: string } | string | undefined;

/** The body of a failed API call (client-node's ApiException carries it as a string). */
export function apiFailureBody(e: unknown): ApiFailureBody {
  let body = (e as { body?: unknown } | null)?.body;
  if (typeof body === 'string') {
    const text = body;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }
  return body && typeof body === 'object'
    ? (body as { kind?: string; reason?: string; message?: string })
    : undefined;
}

/** The API server's own message in a failed call's body ('' when there is none). */
export function apiFailureMessage(e: unknown): string {
  const body = apiFailureBody(e);
  if (typeof body === 'string') return body.trim();
  return typeof body?.message === 'string' ? body.message : '';
}

/**
 * One line for a failed API call: its status and the API server's own message (client-node's
 * ApiException carries headers and body in its `message`); any other error as it is.
 */
export function describeApiError(e: unknown): string {
  const status = apiStatus(e);
  if (status !== undefined) {
    const message = apiFailureMessage(e);
    return oneLine(`the API server answered ${status}${message ? `: ${message}` : ''}`).slice(
      0,
      500,
    );
  }
  return oneLine(e).slice(0, 500);
}

export const isConflict = (e: unknown): boolean => apiStatus(e) === 409;
export const isNotFound = (e: unknown): boolean => apiStatus(e) === 404;
