/**
 * TraceSnapshot objects for the plugin's unit tests, shaped as the controller writes them
 * (controller/model.ts): a fixed clock, and a builder that fills what every object has.
 */
import {
  API_VERSION,
  KIND,
  LABEL_TRIGGER,
  type TraceSnapshot,
  type TraceSnapshotSpec,
  type TraceSnapshotStatus,
} from '../../controller/model';

export const NOW = Date.parse('2025-03-01T12:00:00Z');

/** An ISO time `seconds` before NOW. */
export const ago = (seconds: number): string => new Date(NOW - seconds * 1000).toISOString();

export function snapshot(o: {
  name: string;
  namespace?: string;
  trigger?: string;
  created?: string;
  spec?: Partial<TraceSnapshotSpec>;
  status?: TraceSnapshotStatus;
}): TraceSnapshot {
  return {
    apiVersion: API_VERSION,
    kind: KIND,
    metadata: {
      name: o.name,
      namespace: o.namespace ?? 'default',
      uid: `uid-${o.name}`,
      ...(o.created !== undefined ? { creationTimestamp: o.created } : {}),
      ...(o.trigger !== undefined ? { labels: { [LABEL_TRIGGER]: o.trigger } } : {}),
    },
    spec: { target: { nodeNames: ['node-a'] }, windowSeconds: 10, ...o.spec },
    ...(o.status !== undefined ? { status: o.status } : {}),
  };
}
