/**
 * What the chart gives a cluster's monitoring, as files a real Prometheus and Alertmanager load
 * (the e2e scenario, the demo, test/monitoring/monitoring.test.ts): the PrometheusRule's rules as
 * a Prometheus rule file, and the Alertmanager receiver and route the NOTES print, made local.
 * Each is checked by the packages' own tool (promtool, amtool) before it is returned, so a
 * chart that renders something Prometheus or Alertmanager would refuse fails here, with the
 * tool's complaint.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { dump } from 'js-yaml';
import {
  alertmanagerConfigFromNotes,
  TEST_TIMING,
  type RouteTiming,
  type WebhookConnection,
} from './alertmanager-config';
import { renderChartNotes, renderChartSync, type ChartValues } from './chart-render';
import { findBinary } from './daemon';

/** Run a checking tool on the text written to a temporary file; throws with its output. */
function checked(text: string, file: string, tool: string, args: string[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'rewind-check-'));
  try {
    const at = path.join(dir, file);
    writeFileSync(at, text);
    const r = spawnSync(tool, [...args, at], { encoding: 'utf8' });
    if (r.error !== undefined) throw new Error(`${tool}: ${r.error.message}`);
    if (r.status !== 0) {
      throw new Error(`${tool} ${args.join(' ')} refuses it:\n${`${r.stdout}${r.stderr}`.trim()}`);
    }
    return text;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The chart's PrometheusRule (`monitoring.prometheusRule.enabled=true` plus `values`, full
 * paths: `{ 'monitoring.prometheusRule.cpuSaturated.window': '10s', '….busyRatio': 0.9 }`) as a
 * rule file's text: its `spec`, every group. `promtool check rules` accepts it.
 */
export function chartRuleFile(values: ChartValues = {}): string {
  const objects = renderChartSync({ 'monitoring.prometheusRule.enabled': 'true', ...values });
  const rule = objects.find((o) => o.kind === 'PrometheusRule');
  if (rule === undefined) throw new Error('the chart renders no PrometheusRule');
  const { groups } = rule.spec as { groups?: unknown };
  if (!Array.isArray(groups)) throw new Error('the PrometheusRule has no spec.groups');
  findBinary(['promtool'], "Debian's prometheus");
  return checked(dump({ groups }), 'rules.yml', 'promtool', ['check', 'rules']);
}

export interface ChartAlertmanagerOptions extends WebhookConnection {
  /** Chart values (full paths) the NOTES are rendered with. */
  values?: ChartValues;
  /** The root route's timers; default 1s / 1s / 1h. */
  timing?: RouteTiming;
}

/**
 * An Alertmanager configuration's text: the receiver(s) and Rewind's route exactly as the
 * chart's NOTES print them (NOTES without either are an error), the URL and Secret paths the
 * test's, under a root route to a null receiver. `amtool check-config` accepts it.
 */
export function chartAlertmanagerConfig(opts: ChartAlertmanagerOptions): string {
  const config = alertmanagerConfigFromNotes(
    renderChartNotes(opts.values),
    opts,
    opts.timing ?? TEST_TIMING,
  );
  const text = "# Rewind's receiver and route: from the chart's NOTES.\n" + dump(config);
  findBinary(['amtool'], "Debian's prometheus-alertmanager");
  return checked(text, 'alertmanager.yml', 'amtool', ['check-config']);
}
