/**
 * An accepted alert notification → the TraceSnapshot object to create (pure). Alerts and people
 * take one path: the webhook creates an ordinary TraceSnapshot, which the reconciler collects like
 * any other, and the object is the audit trail — its labels say it came from an alert and which
 * (so `kubectl get ts -l rewind.dev/trigger=alert` lists them), its annotations carry the alerts
 * themselves and their Alertmanager group.
 *
 * Every value is made acceptable to the API server here (DNS-1123 name prefix, label values,
 * bounded annotations, the CRD's reason and window limits), so an alert can never produce an
 * object the API server refuses — such a refusal would be a 5xx that Alertmanager retries forever.
 */
import {
  ANNOTATION_ALERT,
  ANNOTATION_ALERT_GROUP,
  API_VERSION,
  KIND,
  LABEL_ALERTNAME,
  LABEL_ALERT_FINGERPRINT,
  LABEL_TRIGGER,
  type SnapshotTarget,
  type TraceSnapshot,
} from '../model';
import type { Alert, WebhookPayload } from './payload';

export interface SnapshotObjectOptions {
  /** Where the objects are created (the controller's namespace). */
  namespace: string;
  /** spec.windowSeconds when no alert asks for another. */
  windowSeconds: number;
  /** The alert label or annotation that asks for a window. Default `rewind_window_seconds`. */
  windowKey?: string;
  /** UTF-8 bytes of the rewind.dev/alert annotation at most. Default 16384. */
  maxAlertAnnotationBytes?: number;
}

/** A TraceSnapshot as the webhook creates it: the API server picks the name. */
export type NewTraceSnapshot = Pick<TraceSnapshot, 'apiVersion' | 'kind' | 'spec'> & {
  metadata: {
    generateName: string;
    namespace: string;
    labels: Record<string, string>;
    annotations: Record<string, string>;
  };
};

export const DEFAULT_WINDOW_KEY = 'rewind_window_seconds';
const DEFAULT_ALERT_ANNOTATION_BYTES = 16_384;
/** The API server appends 5 characters to generateName and cuts the prefix to 58 (63 − 5). */
export const MAX_GENERATE_NAME = 58;
/** The CRD's limits. */
const MAX_REASON = 1024;
const MAX_WINDOW = 3600;
/** A group key is Alertmanager's route path plus the group labels; keep the annotation sane. */
const MAX_GROUP_KEY = 4096;

/** A DNS-1123 label prefix for generateName: `alert-<name>-`, at most MAX_GENERATE_NAME long. */
export function generateNameFor(alertname: string): string {
  const room = MAX_GENERATE_NAME - 'alert-'.length - '-'.length;
  const slug = alertname
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/-+/g, '-')
    .slice(0, room)
    .replace(/^-+|-+$/g, '');
  return slug === '' ? 'alert-' : `alert-${slug}-`;
}

/** A valid label value (≤ 63, alphanumeric at both ends, `-_.` inside); may be empty. */
export function labelValue(s: string): string {
  return s
    .replace(/[^A-Za-z0-9_.-]+/g, '_')
    .slice(0, 63)
    .replace(/^[^A-Za-z0-9]+|[^A-Za-z0-9]+$/g, '');
}

/** At most `max` code points (never half a surrogate pair), with `…` when cut. */
export function truncate(s: string, max: number): string {
  const points = Array.from(s);
  return points.length <= max ? s : `${points.slice(0, max - 1).join('')}…`;
}

/** The notification's alert name: shared by all its alerts, else the first one's. */
export function notificationAlertname(payload: WebhookPayload, alerts: readonly Alert[]): string {
  return payload.commonLabels.alertname ?? alerts[0]?.labels.alertname ?? 'unnamed';
}

/**
 * The window the alerts ask for (the widest valid one, label or annotation), else the default.
 * A value that is not a whole number in 1..3600 is ignored and reported.
 */
export function alertWindowSeconds(
  alerts: readonly Alert[],
  key: string,
  fallback: number,
): { windowSeconds: number; ignored: string[] } {
  let widest: number | undefined;
  const ignored: string[] = [];
  for (const alert of alerts) {
    for (const raw of [alert.labels[key], alert.annotations[key]]) {
      if (raw === undefined) continue;
      const n = /^\s*\d{1,4}\s*$/.test(raw) ? Number(raw) : NaN;
      if (Number.isInteger(n) && n >= 1 && n <= MAX_WINDOW) widest = Math.max(widest ?? 0, n);
      else ignored.push(`${key}=${JSON.stringify(truncate(raw, 40))} (expected 1..${MAX_WINDOW})`);
    }
  }
  return { windowSeconds: widest ?? fallback, ignored };
}

/** Compact JSON of the alerts, dropping the last ones (counted) to stay within maxBytes. */
export function alertAnnotation(
  alerts: readonly Alert[],
  truncatedByAlertmanager: number,
  maxBytes: number,
): string {
  const entries = alerts.map((a) => ({
    fingerprint: a.fingerprint,
    startsAt: a.startsAt,
    labels: a.labels,
  }));
  const render = (n: number, shrinkFirst = false): string => {
    const kept = entries.slice(0, n);
    if (shrinkFirst && kept[0]) {
      const alertname = kept[0].labels.alertname;
      const labels: Record<string, string> =
        alertname === undefined ? {} : { alertname: truncate(alertname, 256) };
      kept[0] = { ...kept[0], labels };
    }
    const omitted = entries.length - n;
    return JSON.stringify({
      alerts: kept,
      ...(omitted > 0 ? { omitted } : {}),
      ...(truncatedByAlertmanager > 0 ? { truncatedByAlertmanager } : {}),
    });
  };
  const fits = (s: string) => Buffer.byteLength(s, 'utf8') <= maxBytes;
  // The most alerts that fit: rendering grows with n, so a binary search (a storm can be
  // thousands of alerts; trying each n would be quadratic).
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(render(mid))) lo = mid;
    else hi = mid - 1;
  }
  if (lo >= 1) return render(lo);
  // Even one alert is too big (huge labels): keep its identity and name only.
  const one = render(Math.min(1, entries.length), true);
  return fits(one) ? one : render(0);
}

export function alertSnapshotObject(
  accepted: { payload: WebhookPayload; alerts: readonly Alert[]; target: SnapshotTarget },
  o: SnapshotObjectOptions,
): { object: NewTraceSnapshot; warnings: string[] } {
  const { payload, alerts, target } = accepted;
  const alertname = notificationAlertname(payload, alerts);
  const window = alertWindowSeconds(alerts, o.windowKey ?? DEFAULT_WINDOW_KEY, o.windowSeconds);
  const summary =
    payload.commonAnnotations.summary ??
    alerts[0]?.annotations.summary ??
    alerts[0]?.annotations.description;
  const more = alerts.length > 1 ? ` (+${alerts.length - 1} more alerts)` : '';
  const reason = truncate(
    `alert ${alertname}${summary ? `: ${summary}` : ''}${more}`.replace(/\s*\n\s*/g, ' '),
    MAX_REASON,
  );
  const labels: Record<string, string> = { [LABEL_TRIGGER]: 'alert' };
  const nameLabel = labelValue(alertname);
  if (nameLabel) labels[LABEL_ALERTNAME] = nameLabel;
  const fingerprint = labelValue(alerts[0]?.fingerprint ?? '');
  if (fingerprint) labels[LABEL_ALERT_FINGERPRINT] = fingerprint;
  return {
    object: {
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        generateName: generateNameFor(alertname),
        namespace: o.namespace,
        labels,
        annotations: {
          [ANNOTATION_ALERT]: alertAnnotation(
            alerts,
            payload.truncatedAlerts,
            o.maxAlertAnnotationBytes ?? DEFAULT_ALERT_ANNOTATION_BYTES,
          ),
          [ANNOTATION_ALERT_GROUP]: truncate(payload.groupKey, MAX_GROUP_KEY),
        },
      },
      spec: { target, windowSeconds: window.windowSeconds, reason },
    },
    warnings: window.ignored,
  };
}
