/**
 * The webhook's `create` against the real API server: one POST of a TraceSnapshot through
 * client-node's CustomObjectsApi, answering the name the API server generated. Errors are left
 * as client-node throws them (ApiException with the HTTP status, FetchError for a connection), the
 * shapes retry.ts classifies.
 */
import type { CustomObjectsApi } from '@kubernetes/client-node';
import { GROUP, PLURAL, VERSION } from '../model';
import type { NewTraceSnapshot } from './snapshot-object';

export function traceSnapshotCreator(
  api: Pick<CustomObjectsApi, 'createNamespacedCustomObject'>,
): (object: NewTraceSnapshot) => Promise<{ name: string }> {
  return async (object) => {
    const created = (await api.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: object.metadata.namespace,
      plural: PLURAL,
      body: object,
    })) as { metadata?: { name?: unknown } };
    const name = created.metadata?.name;
    if (typeof name !== 'string') throw new Error('the API server answered no object name');
    return { name };
  };
}
