/**
 * Kubernetes Events about TraceSnapshots (what `kubectl describe tracesnapshot` shows): one when a
 * snapshot finishes. Best effort: an Event that cannot be written is logged, never retried, and
 * never fails the reconciliation.
 */
import type { CoreV1Api } from '@kubernetes/client-node';
import { oneLine } from '../../common/errors';
import { API_VERSION, KIND, type TraceSnapshot } from '../model';

export interface EventRecorder {
  record(s: TraceSnapshot, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

export function eventRecorder(
  core: CoreV1Api,
  component: string,
  log: { warn(fields: object, msg: string): void },
  now: () => number = Date.now,
): EventRecorder {
  return {
    record(s, type, reason, message) {
      const { namespace, name, uid, resourceVersion } = s.metadata;
      const time = new Date(now());
      core
        .createNamespacedEvent({
          namespace,
          body: {
            metadata: { generateName: `${name}.`, namespace },
            involvedObject: {
              apiVersion: API_VERSION,
              kind: KIND,
              namespace,
              name,
              uid,
              resourceVersion,
            },
            type,
            reason,
            message: message.slice(0, 1024),
            source: { component },
            reportingComponent: component,
            firstTimestamp: time,
            lastTimestamp: time,
            count: 1,
          },
        })
        .catch((e: unknown) =>
          log.warn({ snapshot: `${namespace}/${name}`, err: oneLine(e) }, 'event not recorded'),
        );
    },
  };
}
