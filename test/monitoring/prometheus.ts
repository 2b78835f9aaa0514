/**
 * A real Prometheus (Debian's package) for tests and the demo: it scrapes the given targets,
 * evaluates one rule file (the chart's, from chartRuleFile) and sends alerts to an Alertmanager;
 * its configuration, TSDB and log live in the caller's folder. Beside it, the pure parts: the
 * configuration it is given, and the schemas of the HTTP API answers it reads. A failure to
 * start, or an alert that does not come, says what Prometheus logged and what it knows (rules'
 * and targets' health).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { dump, load } from 'js-yaml';
import { z } from 'zod';
import { findBinary, startDaemon } from './daemon';

export interface ScrapeTarget {
  /** The scrape job: the chart's rules select on it (`rewind-agent`, `rewind-controller`). */
  job: string;
  /** host:port of its plain-HTTP /metrics. */
  address: string;
  /** Added to every series, as a ServiceMonitor's relabeling adds them (`node`). */
  labels: Record<string, string>;
}

export interface PrometheusOptions {
  /** Holds prometheus.yml, rules.yml, data/ and (by default) prometheus.log; the caller removes it after stop(). */
  dir: string;
  scrapeIntervalSeconds: number;
  evaluationIntervalSeconds: number;
  targets: ScrapeTarget[];
  /** The rule file's text (YAML `groups:`, as chartRuleFile returns it), not a path. */
  ruleFile: string;
  /** Where alerts go: an Alertmanager's http URL. */
  alertmanagerUrl?: string;
  /** Its log file; default `<dir>/prometheus.log`. */
  log?: string;
}

const labelSet = z.record(z.string(), z.string());

const alertSchema = z.object({
  labels: labelSet,
  annotations: labelSet.default({}),
  state: z.enum(['pending', 'firing', 'inactive']),
  activeAt: z.string().optional(),
  value: z.string().optional(),
});
export type Alert = z.output<typeof alertSchema>;

const sampleValue = z.tuple([z.number(), z.string()]);
const queryData = z.discriminatedUnion('resultType', [
  z.object({
    resultType: z.literal('vector'),
    result: z.array(z.object({ metric: labelSet, value: sampleValue })),
  }),
  z.object({ resultType: z.literal('scalar'), result: sampleValue }),
]);

const rulesData = z.object({
  groups: z.array(
    z.object({
      name: z.string(),
      rules: z.array(
        z.object({ name: z.string(), health: z.string(), lastError: z.string().optional() }),
      ),
    }),
  ),
});

const targetsData = z.object({
  activeTargets: z.array(
    z.object({
      scrapeUrl: z.string(),
      health: z.string(),
      lastError: z.string().default(''),
    }),
  ),
});

/** One series of an instant query: its labels and its value. */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface Prometheus {
  /** http://127.0.0.1:<port> */
  url: string;
  log: string;
  /** /api/v1/alerts: the alerts pending or firing now. */
  alerts(): Promise<Alert[]>;
  /** /api/v1/query, an instant query answered by a vector (or a scalar, as one sample). */
  query(expr: string): Promise<Sample[]>;
  /**
   * Polls /api/v1/alerts until alert `name` is in `state` (`pending` is met by `firing` too: it
   * is past pending) with every label of `labels`; rejects after timeoutMs with what it saw.
   */
  waitForAlert(
    name: string,
    state: 'pending' | 'firing',
    timeoutMs: number,
    labels?: Record<string, string>,
  ): Promise<Alert>;
  /** Resolves once the process exited. */
  stop(): Promise<void>;
}

/** The configuration Prometheus is started with (pure). */
export function prometheusConfig(
  opts: Omit<PrometheusOptions, 'dir' | 'ruleFile' | 'log'>,
  ruleFilePath: string,
): Record<string, unknown> {
  const jobs = [...new Set(opts.targets.map((t) => t.job))];
  const alertmanager =
    opts.alertmanagerUrl === undefined ? undefined : new URL(opts.alertmanagerUrl);
  return {
    global: {
      scrape_interval: `${opts.scrapeIntervalSeconds}s`,
      // Its default, 10 s, is refused when longer than the interval.
      scrape_timeout: `${opts.scrapeIntervalSeconds}s`,
      evaluation_interval: `${opts.evaluationIntervalSeconds}s`,
    },
    rule_files: [ruleFilePath],
    scrape_configs: jobs.map((job) => ({
      job_name: job,
      static_configs: opts.targets
        .filter((t) => t.job === job)
        .map((t) => ({ targets: [t.address], labels: t.labels })),
    })),
    ...(alertmanager === undefined
      ? {}
      : {
          alerting: {
            alertmanagers: [
              {
                api_version: 'v2',
                scheme: alertmanager.protocol.replace(/:$/, ''),
                path_prefix: alertmanager.pathname,
                static_configs: [{ targets: [alertmanager.host] }],
              },
            ],
          },
        }),
  };
}

/** The rule file's text, checked to be one: a path passed by mistake is refused here. */
function checkedRuleFile(text: string): string {
  const doc = load(text) as { groups?: unknown } | null;
  if (typeof doc !== 'object' || doc === null || !Array.isArray(doc.groups)) {
    throw new Error(`ruleFile: expected a rule file's text (groups: …), got ${text.slice(0, 80)}`);
  }
  return text;
}

async function api<T>(base: string, route: string, schema: z.ZodType<T>): Promise<T> {
  const res = await fetch(`${base}${route}`, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { status?: string; error?: string; data?: unknown };
  if (body.status !== 'success') {
    throw new Error(`prometheus ${route}: ${res.status} ${body.error ?? JSON.stringify(body)}`);
  }
  const parsed = schema.safeParse(body.data);
  if (!parsed.success) {
    throw new Error(`prometheus ${route}: unexpected answer: ${parsed.error.issues[0]?.message}`);
  }
  return parsed.data;
}

export async function startPrometheus(opts: PrometheusOptions): Promise<Prometheus> {
  const binary = findBinary(['prometheus'], "Debian's prometheus");
  mkdirSync(opts.dir, { recursive: true });
  const rules = path.join(opts.dir, 'rules.yml');
  writeFileSync(rules, checkedRuleFile(opts.ruleFile));
  const config = path.join(opts.dir, 'prometheus.yml');
  writeFileSync(config, dump(prometheusConfig(opts, rules)));
  const evaluation = `${opts.evaluationIntervalSeconds}s`;
  const daemon = await startDaemon({
    name: 'prometheus',
    binary,
    args: (listen) => [
      `--config.file=${config}`,
      `--storage.tsdb.path=${path.join(opts.dir, 'data')}`,
      `--web.listen-address=${listen}`,
      // A firing alert is sent again each evaluation rather than each minute: one lost to an
      // Alertmanager that was still starting is not a minute late.
      `--rules.alert.resend-delay=${evaluation}`,
    ],
    log: opts.log ?? path.join(opts.dir, 'prometheus.log'),
  });
  const url = daemon.url;

  const alerts = async (): Promise<Alert[]> =>
    (await api(url, '/api/v1/alerts', z.object({ alerts: z.array(alertSchema) }))).alerts;

  const query = async (expr: string): Promise<Sample[]> => {
    const data = await api(url, `/api/v1/query?query=${encodeURIComponent(expr)}`, queryData);
    if (data.resultType === 'scalar') return [{ metric: {}, value: Number(data.result[1]) }];
    return data.result.map((s) => ({ metric: s.metric, value: Number(s.value[1]) }));
  };

  /** What Prometheus knows that explains an alert that does not come. */
  const diagnosis = async (): Promise<string> => {
    const lines: string[] = [];
    try {
      const r = await api(url, '/api/v1/rules', rulesData);
      const names = r.groups.flatMap((g) => g.rules.map((x) => x.name));
      lines.push(`rules loaded: ${names.join(', ') || 'none'}`);
      for (const g of r.groups)
        for (const x of g.rules)
          if (x.health !== 'ok' && x.health !== 'unknown')
            lines.push(`rule ${x.name}: ${x.health} ${x.lastError ?? ''}`);
      const t = await api(url, '/api/v1/targets', targetsData);
      for (const x of t.activeTargets)
        lines.push(`target ${x.scrapeUrl}: ${x.health} ${x.lastError}`.trimEnd());
    } catch (e) {
      lines.push(`(its API: ${e instanceof Error ? e.message : String(e)})`);
    }
    return `${lines.join('\n')}\nits log (${daemon.log}) says:\n${daemon.tail()}`;
  };

  const waitForAlert = async (
    name: string,
    state: 'pending' | 'firing',
    timeoutMs: number,
    labels: Record<string, string> = {},
  ): Promise<Alert> => {
    const deadline = Date.now() + timeoutMs;
    let seen: Alert[] = [];
    for (;;) {
      seen = await alerts();
      const found = seen.find(
        (a) =>
          a.labels.alertname === name &&
          (a.state === state || (state === 'pending' && a.state === 'firing')) &&
          Object.entries(labels).every(([k, v]) => a.labels[k] === v),
      );
      if (found !== undefined) return found;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const now = seen.map((a) => `${a.labels.alertname} ${JSON.stringify(a.labels)} ${a.state}`);
    throw new Error(
      `alert ${name} ${JSON.stringify(labels)} not ${state} after ${timeoutMs} ms; ` +
        `alerts now: ${now.join('; ') || 'none'}\n${await diagnosis()}`,
    );
  };

  return { url, log: daemon.log, alerts, query, waitForAlert, stop: daemon.stop };
}
