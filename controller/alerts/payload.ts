/**
 * Alertmanager's webhook payload, version 4 (pure): the zod schema of what Alertmanager posts to
 * a `webhook_config` receiver, and `parseWebhookPayload`, which turns a parsed JSON body into a
 * typed notification or one line naming the first bad field (`alerts[3].startsAt: invalid date`).
 * The version is checked before anything else, so a future payload version gets a refusal that
 * says so instead of a list of field errors.
 */
import { z } from 'zod';

/** The one payload version this webhook understands. */
export const PAYLOAD_VERSION = '4';

/**
 * RFC 3339 as Go's time.Time marshals it (Alertmanager is Go): fractional seconds up to
 * nanoseconds, `Z` or a numeric offset. Date.parse alone would also accept `2024` or `May 5`.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

const date = z.string().refine((s) => RFC3339.test(s) && !Number.isNaN(Date.parse(s)), {
  message: 'invalid date',
});

const labelSet = z.record(z.string(), z.string());
const status = z.enum(['firing', 'resolved']);

export const alertSchema = z.object({
  status,
  labels: labelSet,
  annotations: labelSet.default({}),
  startsAt: date,
  /** `0001-01-01T00:00:00Z` while the alert has no known end. */
  endsAt: date,
  generatorURL: z.string().default(''),
  fingerprint: z.string().min(1).max(128),
});

export const webhookPayloadSchema = z.object({
  version: z.literal(PAYLOAD_VERSION),
  groupKey: z.string().min(1),
  truncatedAlerts: z.number().int().min(0).default(0),
  status,
  receiver: z.string(),
  groupLabels: labelSet.default({}),
  commonLabels: labelSet.default({}),
  commonAnnotations: labelSet.default({}),
  externalURL: z.string().default(''),
  alerts: z.array(alertSchema),
});

export type Alert = z.output<typeof alertSchema>;
export type WebhookPayload = z.output<typeof webhookPayloadSchema>;

export type ParsedPayload =
  | { ok: true; payload: WebhookPayload }
  | { ok: false; /** One line naming the field. */ error: string };

/** `alerts[3].startsAt`, `groupKey`, or `body` for the whole document. */
export function issuePath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out === '' ? 'body' : out;
}

/** zod's messages mention JavaScript types; these are the ones an operator reads. */
const operatorMessages: z.core.$ZodErrorMap = (issue) => {
  if (issue.input === undefined && issue.code !== 'custom') return 'missing';
  if (issue.code === 'invalid_type') return `expected ${issue.expected}`;
  if (issue.code === 'invalid_value') {
    return `expected ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}`;
  }
  return undefined;
};

export function parseWebhookPayload(body: unknown): ParsedPayload {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { ok: false, error: 'body: expected a JSON object (an Alertmanager webhook payload)' };
  }
  const version = (body as { version?: unknown }).version;
  if (version !== PAYLOAD_VERSION) {
    const seen = version === undefined ? 'no version' : `version ${JSON.stringify(version)}`;
    return {
      ok: false,
      error: `unsupported payload: ${seen}; this webhook accepts Alertmanager's version "4"`,
    };
  }
  const parsed = webhookPayloadSchema.safeParse(body, { error: operatorMessages });
  if (parsed.success) return { ok: true, payload: parsed.data };
  const issues = parsed.error.issues;
  const first = issues
    .slice(0, 3)
    .map((i) => `${issuePath(i.path)}: ${i.message}`)
    .join('; ');
  const more = issues.length > 3 ? ` (and ${issues.length - 3} more)` : '';
  return { ok: false, error: `invalid payload: ${first}${more}`.replace(/\s*\n\s*/g, ' ') };
}

/** The key that identifies one firing of one alert, the same from both of an HA pair. */
export function alertKey(alert: Pick<Alert, 'fingerprint' | 'startsAt'>): string {
  // Normalised to epoch milliseconds, so `…Z` and `…+00:00` spellings of one instant agree.
  return `${alert.fingerprint}@${Date.parse(alert.startsAt)}`;
}
