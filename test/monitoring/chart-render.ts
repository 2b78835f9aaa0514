/**
 * The chart rendered as a test's monitoring needs it, synchronously (helm as a process, the
 * pinned one: test/k8s/binaries.ts), as release `rewind` in `rewind-system` like test/k8s/chart.ts
 * renders it: its objects, and its NOTES.
 *
 * NOTES without a cluster: `helm template` leaves NOTES.txt out, and helm 3's
 * `helm install --dry-run=client` still asks a cluster for its version first ("Kubernetes cluster
 * unreachable"). So the NOTES are rendered by `helm template` from a copy of the chart in which
 * NOTES.txt, unchanged, is the body of a named template, included into one extra ConfigMap: the
 * same engine, values and release, the same text (chart-notes.test.ts compares it with what
 * `helm install` prints against a real API server).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { binaryPath } from '../k8s/binaries';
import { CHART_DIR, find, type K8sObject, parseManifests, templateArgs } from '../k8s/chart';

/**
 * Chart values by full path. A string goes through `--set` (helm types `true` and whole numbers
 * itself); a number or boolean through `--set-json`, since `--set` leaves `0.9` a string,
 * which the chart's schema refuses where it wants a number.
 */
export type ChartValues = Record<string, string | number | boolean>;

/** helm's arguments for values; commas escaped in `--set` (helm splits one on them). */
export function valueArgs(values: ChartValues): string[] {
  return Object.entries(values).flatMap(([k, v]) =>
    typeof v === 'string'
      ? ['--set', `${k}=${v.replace(/\\/g, '\\\\').replace(/,/g, '\\,')}`]
      : ['--set-json', `${k}=${JSON.stringify(v)}`],
  );
}

function helmTemplate(values: ChartValues, chartDir: string): string {
  const args = [
    ...templateArgs({}).map((a) => (a === CHART_DIR ? chartDir : a)),
    ...valueArgs(values),
  ];
  try {
    return execFileSync(binaryPath('helm'), args, {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`helm template ${valueArgs(values).join(' ')}: ${stderr.trim() || error}`);
  }
}

/** The chart's objects (`helm template`), or helm's error. */
export function renderChartSync(values: ChartValues): K8sObject[] {
  return parseManifests(helmTemplate(values, CHART_DIR));
}

const NOTES_TEMPLATE = 'rewind-test.notes';
const NOTES_CONFIGMAP = 'rewind-test-notes';

/** NOTES.txt as `helm install` prints it for these values (trimmed, as helm prints it). */
export function renderChartNotes(values: ChartValues = {}): string {
  const copy = mkdtempSync(path.join(tmpdir(), 'rewind-notes-'));
  try {
    const chart = path.join(copy, path.basename(CHART_DIR));
    cpSync(CHART_DIR, chart, { recursive: true });
    const notes = readFileSync(path.join(chart, 'templates', 'NOTES.txt'), 'utf8');
    writeFileSync(
      path.join(chart, 'templates', '_zz-notes.tpl'),
      `{{ define "${NOTES_TEMPLATE}" }}${notes}{{ end }}`,
    );
    writeFileSync(
      path.join(chart, 'templates', 'zz-notes.yaml'),
      [
        'apiVersion: v1',
        'kind: ConfigMap',
        'metadata:',
        `  name: ${NOTES_CONFIGMAP}`,
        'data:',
        `  notes: {{ include "${NOTES_TEMPLATE}" . | toJson }}`,
        '',
      ].join('\n'),
    );
    const [cm] = find(parseManifests(helmTemplate(values, chart)), 'ConfigMap', NOTES_CONFIGMAP);
    const text = (cm?.data as { notes?: unknown } | undefined)?.notes;
    if (typeof text !== 'string') throw new Error('NOTES.txt did not render');
    return text.trim();
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
}
