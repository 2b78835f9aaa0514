/**
 * Alertmanager version 4 payloads for the webhook's tests, shaped as Alertmanager sends them
 * (the fields and their formats of its template.Data), built from a few parameters.
 */
export interface AlertSpec {
  fingerprint: string;
  labels: Record<string, string>;
  status?: 'firing' | 'resolved';
  startsAt?: string;
  annotations?: Record<string, string>;
}

export const STARTS_AT = '2026-03-01T10:00:00.123456789Z';

export function amAlert(a: AlertSpec): Record<string, unknown> {
  const status = a.status ?? 'firing';
  return {
    status,
    labels: a.labels,
    annotations: a.annotations ?? {},
    startsAt: a.startsAt ?? STARTS_AT,
    endsAt: status === 'resolved' ? '2026-03-01T10:05:00Z' : '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example:9090/graph?g0.expr=up',
    fingerprint: a.fingerprint,
  };
}

export function amPayload(
  groupKey: string,
  alerts: AlertSpec[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  const built = alerts.map(amAlert);
  const firing = alerts.some((a) => (a.status ?? 'firing') === 'firing');
  return {
    version: '4',
    groupKey,
    truncatedAlerts: 0,
    status: firing ? 'firing' : 'resolved',
    receiver: 'rewind',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts: built,
    ...extra,
  };
}
