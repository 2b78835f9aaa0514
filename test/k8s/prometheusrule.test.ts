/**
 * The chart's PrometheusRule against what the processes really export. The rules are rendered
 * from the chart, checked by `promtool check rules`, then run by `promtool test rules` on input
 * series whose metric names and label sets are taken from live /metrics:
 * - the agent's: the real `rewind-agent serve` (startServe: its servers, registry and
 *   collectors) over a STAND-IN device (test/agent/standin-device.ts; this host cannot load the
 *   kernel module), scraped on its health port;
 * - the loader's: its real registry code (agent/module/metrics.ts) after a real failure outcome;
 * - the controller's: its real registry code (controller/metrics.ts) after a failed snapshot.
 * Prometheus's own labels are added as a ServiceMonitor scrape adds them (job = the Service,
 * node from the relabeling, instance, pod, ...). Each alert is asserted to fire on its condition,
 * on the node that has it, with its labels and summary, and to stay silent otherwise (other nodes,
 * before its `for`, a blip, a value at the threshold). Annotations other than the summary are
 * dropped from the tested copy (promtool compares annotations whole); `promtool check rules`
 * checks all of them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { dump, load } from 'js-yaml';
import { Registry } from 'prom-client';
import { moduleMetrics } from '../../agent/module/metrics';
import { failed } from '../../agent/module/policy';
import { controllerMetrics } from '../../controller/metrics';
import { startStandInAgent, type StandInAgent } from '../agent/standin-device';
import { find, render } from './chart';

type Labels = Record<string, string>;
interface Rule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Labels;
  annotations?: Labels;
}

/** Series of a Prometheus text exposition: metric name → the label sets it was exported with. */
function parseExposition(text: string): Map<string, Labels[]> {
  const out = new Map<string, Labels[]>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+\S+$/.exec(line);
    if (m === null) continue;
    const labels: Labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.set(m[1], [...(out.get(m[1]) ?? []), labels]);
  }
  return out;
}

const selector = (name: string, labels: Labels): string =>
  `${name}{${Object.entries(labels)
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

const AGENT_JOB = 'rewind-agent';
const NODE_JOB = 'rewind-node';

/** The labels a ServiceMonitor scrape adds to a target's series (relabeled `node` included). */
function target(job: string, node: string, port: number): Labels {
  const ip = `10.0.${node.charCodeAt(node.length - 1) - 96}.7`;
  return {
    job,
    node,
    instance: `${ip}:${port}`,
    namespace: 'rewind-system',
    pod: `${job}-${node}`,
    service: job,
    endpoint: job === AGENT_JOB ? 'health' : 'loader-health',
  };
}

describe('the PrometheusRule on live series', () => {
  let dir: string;
  let rules: Rule[];
  let rulesFile: string;
  let agent: StandInAgent;
  let agentSeries: Map<string, Labels[]>;
  let loaderSeries: Map<string, Labels[]>;
  let controllerSeries: Map<string, Labels[]>;

  beforeAll(async () => {
    if (spawnSync('promtool', ['--version']).error !== undefined)
      throw new Error("promtool not found: install Debian's prometheus package (scripts/setup.sh)");
    dir = mkdtempSync(path.join(tmpdir(), 'rewind-rules-'));
    const objects = await render({
      set: ['monitoring.prometheusRule.enabled=true', 'monitoring.serviceMonitor.enabled=true'],
    });
    const spec = find(objects, 'PrometheusRule')[0].spec as {
      groups: { name: string; rules: Rule[] }[];
    };
    rules = spec.groups.flatMap((g) => g.rules);
    rulesFile = path.join(dir, 'rules.yaml');
    writeFileSync(rulesFile, dump({ groups: spec.groups }));

    agent = await startStandInAgent('node-a');
    const res = await fetch(`http://127.0.0.1:${agent.healthPort}/metrics`);
    expect(res.status).toBe(200);
    agentSeries = parseExposition(await res.text());

    const registry = new Registry();
    moduleMetrics(registry).record(failed('no-headers', 'no headers for this kernel'), true);
    loaderSeries = parseExposition(await registry.metrics());

    const controller = controllerMetrics('0.0.0-test');
    controller.snapshotFinished('alert', 'Failed');
    controller.snapshotFinished('manual', 'Complete');
    controllerSeries = parseExposition(await controller.registry.metrics());
  });

  afterAll(async () => {
    await agent?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** The live label sets of a metric; fails when the process does not export it. */
  const live = (from: () => Map<string, Labels[]>, name: string): Labels[] => {
    const sets = from().get(name);
    if (sets === undefined)
      throw new Error(`${name} is not exported: the rules use a metric nothing exports`);
    return sets;
  };
  const agentLive = (name: string) => live(() => agentSeries, name);
  const loaderLive = (name: string) => live(() => loaderSeries, name);
  const controllerLive = (name: string) => live(() => controllerSeries, name);

  /** `promtool test rules` of one test case against a rules file; its exit code and output. */
  function promtoolTest(testCase: unknown, file = rulesFile): { code: number; output: string } {
    // The tested copy keeps every expression, `for` and label; annotations but the summary go.
    const tested = path.join(dir, `tested-${path.basename(file)}`);
    const groups = (
      load(readFileSync(file, 'utf8')) as {
        groups: { name: string; rules: Rule[] }[];
      }
    ).groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({ ...r, annotations: { summary: r.annotations?.summary ?? '' } })),
    }));
    writeFileSync(tested, dump({ groups }));
    const testFile = path.join(dir, `test-${Math.random().toString(36).slice(2)}.yaml`);
    writeFileSync(
      testFile,
      dump(
        { rule_files: [tested], evaluation_interval: '1m', tests: [testCase] },
        { lineWidth: -1 },
      ),
    );
    const r = spawnSync('promtool', ['test', 'rules', testFile], { encoding: 'utf8' });
    return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
  }

  const expectPasses = (testCase: unknown): void => {
    const r = promtoolTest(testCase);
    if (r.code !== 0) throw new Error(`promtool test rules failed:\n${r.output}`);
  };

  /** Silent at `quiet`; at `fires`, exactly one alert: these labels (and its severity), this summary. */
  const silentThenOne = (
    alert: string,
    quiet: string,
    fires: string,
    labels: Record<string, string | undefined>,
    summary: string,
  ) => [
    { eval_time: quiet, alertname: alert, exp_alerts: [] },
    {
      eval_time: fires,
      alertname: alert,
      exp_alerts: [
        { exp_labels: { ...labels, severity: severity(alert) }, exp_annotations: { summary } },
      ],
    },
  ];

  const severity = (alert: string): string => {
    const rule = rules.find((r) => r.alert === alert);
    if (rule?.labels?.severity === undefined) throw new Error(`no rule ${alert} with a severity`);
    return rule.labels.severity;
  };

  test('promtool check rules accepts every rule, annotations included', () => {
    const r = spawnSync('promtool', ['check', 'rules', rulesFile], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toContain(`SUCCESS: ${rules.length} rules found`);
    expect(r.status).toBe(0);
    expect(rules.map((r) => r.alert)).toEqual([
      'RewindAgentDown',
      'RewindRecorderNotRecording',
      'RewindEventsRefused',
      'RewindRecorderWindowShort',
      'RewindSnapshotsFailing',
      'RewindSnapshotRequestsRejected',
      'RewindNodePodDown',
      'RewindModuleNotLoaded',
      'RewindControllerDown',
      'RewindTraceSnapshotsFailed',
      'RewindControllerNoLeader',
      'RewindNodeCPUSaturated',
    ]);
  });

  test('every rewind_ metric a rule names is one a live process exports', () => {
    const used = new Set(rules.flatMap((r) => r.expr.match(/rewind_[a-z_]+/g) ?? []));
    const exported = new Set([
      ...agentSeries.keys(),
      ...loaderSeries.keys(),
      ...controllerSeries.keys(),
    ]);
    expect([...used].filter((m) => !exported.has(m))).toEqual([]);
    expect(used.size).toBeGreaterThanOrEqual(6);
  });

  test('RewindRecorderNotRecording: a node out of `recording` for 10 minutes, with its state', () => {
    const states = agentLive('rewind_agent_recorder_state');
    expect(states.map((l) => l.state)).toEqual(expect.arrayContaining(['recording', 'no-device']));
    const node = (name: string, current: (state: string) => string) =>
      states.map((l) => ({
        series: selector('rewind_agent_recorder_state', { ...l, ...target(AGENT_JOB, name, 9402) }),
        values: current(l.state),
      }));
    const alert = 'RewindRecorderNotRecording';
    expectPasses({
      interval: '1m',
      input_series: [
        ...node('node-a', (s) => (s === 'no-device' ? '1x30' : '0x30')),
        ...node('node-b', (s) => (s === 'recording' ? '1x30' : '0x30')),
        // Five minutes of no-device, then recording: shorter than `for`, never fires.
        ...node('node-c', (s) =>
          s === 'no-device' ? '1x4 0x25' : s === 'recording' ? '0x4 1x25' : '0x30',
        ),
      ],
      alert_rule_test: silentThenOne(
        alert,
        '5m',
        '15m',
        { ...states.find((l) => l.state === 'no-device'), ...target(AGENT_JOB, 'node-a', 9402) },
        'Rewind records nothing on node-a (no-device).',
      ),
    });
  });

  test('RewindEventsRefused: refusals growing on a node, by reason; a constant count is silent', () => {
    const sets = agentLive('rewind_agent_events_refused_total');
    expect(new Set(sets.map((l) => l.cpu)).size).toBeGreaterThan(1);
    const growing = sets.find((l) => l.cpu === '0' && l.reason === 'full');
    expect(growing).toBeDefined();
    const alert = 'RewindEventsRefused';
    expectPasses({
      interval: '1m',
      input_series: ['node-a', 'node-b'].flatMap((name) =>
        sets.map((l) => ({
          series: selector('rewind_agent_events_refused_total', {
            ...l,
            ...target(AGENT_JOB, name, 9402),
          }),
          values: name === 'node-a' && l === growing ? '3+10x30' : '3x30',
        })),
      ),
      alert_rule_test: silentThenOne(
        alert,
        '5m',
        '20m',
        { job: AGENT_JOB, node: 'node-a', reason: 'full' },
        "Rewind's module refuses events on node-a (full).",
      ),
    });
  });

  test('RewindRecorderWindowShort: one CPU below minWindowSeconds for 15 minutes; at the threshold is silent', () => {
    const sets = agentLive('rewind_agent_recorder_window_seconds');
    expect(sets.map((l) => l.cpu).sort()).toEqual(['0', '1']);
    const minimum = Number(
      /< (\d+)/.exec(rules.find((r) => r.alert === 'RewindRecorderWindowShort')!.expr)?.[1],
    );
    expect(minimum).toBe(10); // monitoring.prometheusRule.minWindowSeconds
    const alert = 'RewindRecorderWindowShort';
    const node = (name: string, cpu0: number) =>
      sets.map((l) => ({
        series: selector('rewind_agent_recorder_window_seconds', {
          ...l,
          ...target(AGENT_JOB, name, 9402),
        }),
        values: `${l.cpu === '0' ? cpu0 : 600}x40`,
      }));
    expectPasses({
      interval: '1m',
      input_series: [
        ...node('node-a', minimum - 5),
        ...node('node-b', 600),
        ...node('node-c', minimum),
      ],
      alert_rule_test: [
        { eval_time: '10m', alertname: alert, exp_alerts: [] },
        {
          eval_time: '20m',
          alertname: alert,
          exp_alerts: [
            {
              exp_labels: { job: AGENT_JOB, node: 'node-a', severity: severity(alert) },
              exp_annotations: { summary: 'Rewind on node-a holds only 5s of history.' },
            },
          ],
        },
      ],
    });
  });

  test('RewindSnapshotsFailing: a failed snapshot within the hour; successful ones are silent', () => {
    const sets = agentLive('rewind_agent_snapshots_total');
    expect(sets.map((l) => l.result)).toEqual(expect.arrayContaining(['ok', 'failed']));
    const alert = 'RewindSnapshotsFailing';
    expectPasses({
      interval: '1m',
      input_series: ['node-a', 'node-b'].flatMap((name) =>
        sets.map((l) => ({
          series: selector('rewind_agent_snapshots_total', {
            ...l,
            ...target(AGENT_JOB, name, 9402),
          }),
          values:
            name === 'node-a' && l.result === 'failed'
              ? '0x9 1x30'
              : name === 'node-b' && l.result === 'ok'
                ? '0+1x40'
                : '0x40',
        })),
      ),
      alert_rule_test: silentThenOne(
        alert,
        '5m',
        '15m',
        { ...sets.find((l) => l.result === 'failed'), ...target(AGENT_JOB, 'node-a', 9402) },
        'Snapshots of node-a failed in the last hour.',
      ),
    });
  });

  test('RewindSnapshotRequestsRejected: a foreign certificate; a busy refusal is silent', () => {
    const sets = agentLive('rewind_agent_requests_refused_total');
    expect(sets.map((l) => l.reason)).toEqual(
      expect.arrayContaining(['unauthenticated', 'forbidden', 'busy']),
    );
    const alert = 'RewindSnapshotRequestsRejected';
    expectPasses({
      interval: '1m',
      input_series: ['node-a', 'node-b'].flatMap((name) =>
        sets.map((l) => ({
          series: selector('rewind_agent_requests_refused_total', {
            ...l,
            ...target(AGENT_JOB, name, 9402),
          }),
          values:
            name === 'node-a' && l.reason === 'forbidden'
              ? '0x4 1x20'
              : name === 'node-b' && l.reason === 'busy'
                ? '0+1x24'
                : '0x24',
        })),
      ),
      alert_rule_test: [
        { eval_time: '3m', alertname: alert, exp_alerts: [] },
        {
          eval_time: '8m',
          alertname: alert,
          exp_alerts: [
            {
              exp_labels: {
                job: AGENT_JOB,
                node: 'node-a',
                reason: 'forbidden',
                severity: severity(alert),
              },
              exp_annotations: {
                summary:
                  'Something other than the controller asks node-a for snapshots (forbidden).',
              },
            },
          ],
        },
      ],
    });
  });

  describe('RewindNodeCPUSaturated', () => {
    const alert = 'RewindNodeCPUSaturated';
    const rule = (): Rule => {
      const r = rules.find((x) => x.alert === alert);
      if (r === undefined) throw new Error(`no rule ${alert}`);
      return r;
    };
    /**
     * One node's rewind_agent_node_cpu_seconds_total, for every mode the live agent exports:
     * `perMinute` says how many seconds a mode grows by each minute (the node's CPUs × 60 in
     * all), as phases of `minutes` each; a mode not named stays still.
     */
    const cpuNode = (
      name: string,
      phases: { minutes: number; perMinute: Record<string, number> }[],
    ) => {
      const sets = agentLive('rewind_agent_node_cpu_seconds_total');
      return sets.map((l) => {
        const mode = l.mode as string;
        let seconds = 1000;
        const values = [seconds];
        for (const p of phases)
          for (let i = 0; i < p.minutes; i++) values.push((seconds += p.perMinute[mode] ?? 0));
        return {
          series: selector('rewind_agent_node_cpu_seconds_total', {
            ...l,
            ...target(AGENT_JOB, name, 9402),
          }),
          values: values.join(' '),
        };
      });
    };
    const twoCpus = (busy: number, idle: number, iowait = 0) => ({
      user: busy,
      idle,
      iowait,
    });
    const labelsOf = (node: string) => ({
      job: AGENT_JOB,
      node,
      rewind_capture: 'true',
      rewind_scope: 'node',
    });

    test('the live agent exports every mode, and the rule reads the agent job', () => {
      const modes = agentLive('rewind_agent_node_cpu_seconds_total').map((l) => l.mode);
      expect(modes.sort()).toEqual(
        ['idle', 'iowait', 'irq', 'nice', 'softirq', 'steal', 'system', 'user'].sort(),
      );
      expect(rule().expr).toContain(`job="${AGENT_JOB}"`);
      expect(rule().for).toBe('5m');
      expect(rule().labels).toEqual({
        severity: 'warning',
        rewind_capture: 'true',
        rewind_scope: 'node',
      });
    });

    test('fires on a hog, whatever the number of CPUs; idle, iowait and below the threshold are silent', () => {
      expectPasses({
        interval: '1m',
        input_series: [
          // Two CPUs, 95% busy (of 120 s a minute, 114 running).
          ...cpuNode('node-a', [{ minutes: 30, perMinute: twoCpus(114, 6) }]),
          // Sixteen CPUs, 95% busy: a share of the node's time, not seconds of one CPU.
          ...cpuNode('node-f', [{ minutes: 30, perMinute: { user: 600, system: 312, idle: 48 } }]),
          // Idle: 10% busy.
          ...cpuNode('node-b', [{ minutes: 30, perMinute: twoCpus(12, 108) }]),
          // Below the threshold: 85% busy.
          ...cpuNode('node-c', [{ minutes: 30, perMinute: twoCpus(102, 18) }]),
          // Waiting for a disk is not busy: 5% running, 90% iowait.
          ...cpuNode('node-g', [{ minutes: 30, perMinute: twoCpus(6, 6, 108) }]),
        ],
        alert_rule_test: [
          // Pending from the first rate (1m), not yet 5m.
          { eval_time: '4m', alertname: alert, exp_alerts: [] },
          {
            eval_time: '15m',
            alertname: alert,
            exp_alerts: ['node-a', 'node-f'].map((node) => ({
              exp_labels: { ...labelsOf(node), severity: severity(alert) },
              exp_annotations: { summary: `The CPUs of ${node} are 95% busy.` },
            })),
          },
        ],
      });
    });

    test('respects `for`: a hog shorter than 5 minutes is silent, a longer one fires', () => {
      expectPasses({
        interval: '1m',
        input_series: [
          // Busy for four minutes, then idle: never five minutes above the threshold.
          ...cpuNode('node-d', [
            { minutes: 4, perMinute: twoCpus(114, 6) },
            { minutes: 26, perMinute: twoCpus(12, 108) },
          ]),
          // Idle for ten minutes, then busy from there on.
          ...cpuNode('node-a', [
            { minutes: 10, perMinute: twoCpus(12, 108) },
            { minutes: 20, perMinute: twoCpus(114, 6) },
          ]),
        ],
        alert_rule_test: [
          { eval_time: '3m', alertname: alert, exp_alerts: [] },
          { eval_time: '8m', alertname: alert, exp_alerts: [] },
          // node-a busy since 10m: its rate passes the threshold at 11m or 12m, +5m.
          { eval_time: '15m', alertname: alert, exp_alerts: [] },
          {
            eval_time: '20m',
            alertname: alert,
            exp_alerts: [
              {
                exp_labels: { ...labelsOf('node-a'), severity: severity(alert) },
                exp_annotations: { summary: 'The CPUs of node-a are 95% busy.' },
              },
            ],
          },
        ],
      });
    });

    test('the check can fail: the same series under a threshold of 0.96 fire nothing', () => {
      const strict = path.join(dir, 'strict-rules.yaml');
      writeFileSync(
        strict,
        dump({
          groups: [
            {
              name: 'rewind-capture',
              rules: [{ ...rule(), expr: rule().expr.replace(/> [0-9.]+$/, '> 0.96') }],
            },
          ],
        }),
      );
      const r = promtoolTest(
        {
          interval: '1m',
          input_series: cpuNode('node-a', [{ minutes: 30, perMinute: twoCpus(114, 6) }]),
          alert_rule_test: [
            {
              eval_time: '15m',
              alertname: alert,
              exp_alerts: [
                {
                  exp_labels: { ...labelsOf('node-a'), severity: severity(alert) },
                  exp_annotations: { summary: 'The CPUs of node-a are 95% busy.' },
                },
              ],
            },
          ],
        },
        strict,
      );
      expect(r.code).not.toBe(0);
      expect(r.output).toContain(alert);
    });
  });

  test('RewindModuleNotLoaded: a degraded loader, with its reason; loaded and the kill switch are silent', () => {
    const sets = loaderLive('rewind_agent_module_state');
    const states = sets.map((l) => l.state);
    expect(states).toEqual(expect.arrayContaining(['loaded', 'disabled', 'no-headers', 'pending']));
    // The live registry is in the state the failure put it in.
    expect(loaderLive('rewind_agent_module_load_failures_total')).toEqual([
      { reason: 'no-headers' },
    ]);
    const alert = 'RewindModuleNotLoaded';
    const node = (name: string, current: string) =>
      sets.map((l) => ({
        series: selector('rewind_agent_module_state', { ...l, ...target(NODE_JOB, name, 9403) }),
        values: l.state === current ? '1x30' : '0x30',
      }));
    expectPasses({
      interval: '1m',
      input_series: [
        ...node('node-a', 'no-headers'),
        ...node('node-b', 'loaded'),
        ...node('node-c', 'disabled'),
      ],
      alert_rule_test: [
        { eval_time: '5m', alertname: alert, exp_alerts: [] },
        {
          eval_time: '15m',
          alertname: alert,
          exp_alerts: [
            {
              exp_labels: {
                state: 'no-headers',
                ...target(NODE_JOB, 'node-a', 9403),
                severity: severity(alert),
              },
              exp_annotations: {
                summary: "Rewind's kernel module is not loaded on node-a (no-headers).",
              },
            },
          ],
        },
      ],
    });
  });

  test('RewindAgentDown, RewindNodePodDown, RewindControllerDown: targets down, up ones silent', () => {
    const up = (job: string, name: string, port: number, values: string) => ({
      series: selector('up', target(job, name, port)),
      values,
    });
    expectPasses({
      interval: '1m',
      input_series: [
        up(AGENT_JOB, 'node-a', 9402, '0x20'),
        up(AGENT_JOB, 'node-b', 9402, '1x20'),
        up(NODE_JOB, 'node-a', 9403, '1x20'),
        up(NODE_JOB, 'node-b', 9403, '0x20'),
        {
          series: selector('up', { job: 'rewind-controller', instance: '10.0.9.9:9412' }),
          values: '0x20',
        },
      ],
      alert_rule_test: [
        { eval_time: '3m', alertname: 'RewindAgentDown', exp_alerts: [] },
        {
          eval_time: '15m',
          alertname: 'RewindAgentDown',
          exp_alerts: [
            {
              exp_labels: {
                ...target(AGENT_JOB, 'node-a', 9402),
                severity: severity('RewindAgentDown'),
              },
              exp_annotations: { summary: 'The Rewind agent on node-a is not scraped.' },
            },
          ],
        },
        {
          eval_time: '15m',
          alertname: 'RewindNodePodDown',
          exp_alerts: [
            {
              exp_labels: {
                ...target(NODE_JOB, 'node-b', 9403),
                severity: severity('RewindNodePodDown'),
              },
              exp_annotations: {
                summary: "Rewind's module loader or device plugin on node-b is not scraped.",
              },
            },
          ],
        },
        { eval_time: '5m', alertname: 'RewindControllerDown', exp_alerts: [] },
        {
          eval_time: '15m',
          alertname: 'RewindControllerDown',
          exp_alerts: [
            {
              exp_labels: { severity: severity('RewindControllerDown') },
              exp_annotations: { summary: 'The Rewind controller is down or not scraped.' },
            },
          ],
        },
      ],
    });
  });

  /** The labels a ServiceMonitor scrape adds to a controller replica's series (no `node`). */
  const controllerTarget = (replica: string): Labels => ({
    job: 'rewind-controller',
    instance: `10.0.9.${replica === 'a' ? 9 : 10}:9412`,
    namespace: 'rewind-system',
    pod: `rewind-controller-${replica}`,
    service: 'rewind-controller',
    endpoint: 'health',
  });

  test('RewindTraceSnapshotsFailed: a failed snapshot within the hour, by trigger; completed ones are silent', () => {
    const sets = controllerLive('rewind_controller_snapshots_total');
    // The live labels: the result is the phase, as the TraceSnapshot's status spells it.
    expect(sets).toEqual(
      expect.arrayContaining([
        { trigger: 'alert', result: 'Failed' },
        { trigger: 'manual', result: 'Complete' },
      ]),
    );
    const series = (l: Labels, values: string) => ({
      series: selector('rewind_controller_snapshots_total', { ...l, ...controllerTarget('a') }),
      values,
    });
    expectPasses({
      interval: '1m',
      input_series: [
        series(
          sets.find((l) => l.result === 'Failed')!,
          '0x10 1x60',
        ),
        series(
          sets.find((l) => l.result === 'Complete')!,
          '0+1x70',
        ),
      ],
      alert_rule_test: silentThenOne(
        'RewindTraceSnapshotsFailed',
        '5m',
        '20m',
        { job: 'rewind-controller', trigger: 'alert' },
        'TraceSnapshots (alert) failed in the last hour.',
      ),
    });
  });

  test('RewindControllerNoLeader: replicas up but none leads for 10 minutes; a shorter gap is silent', () => {
    const [leader] = controllerLive('rewind_controller_leader');
    const replica = (name: string, values: string) => ({
      series: selector('rewind_controller_leader', { ...leader, ...controllerTarget(name) }),
      values,
    });
    expectPasses({
      interval: '1m',
      input_series: [replica('a', '1x5 0x30'), replica('b', '0x5 0x3 1x3 0x30')],
      alert_rule_test: silentThenOne(
        'RewindControllerNoLeader',
        '15m',
        '25m',
        { job: 'rewind-controller' },
        'No Rewind controller replica holds the leader Lease.',
      ),
    });
  });

  test('the check can fail: the old rule on a metric nothing exports never fires', () => {
    // Today's rule before this chart: rewind_agent_recorder_available, which no process exports.
    const old = path.join(dir, 'old-rules.yaml');
    writeFileSync(
      old,
      dump({
        groups: [
          {
            name: 'rewind',
            rules: rules.map((r) =>
              r.alert === 'RewindRecorderNotRecording'
                ? { ...r, expr: 'rewind_agent_recorder_available{job="rewind-agent"} == 0' }
                : r,
            ),
          },
        ],
      }),
    );
    const states = agentLive('rewind_agent_recorder_state');
    const r = promtoolTest(
      {
        interval: '1m',
        input_series: states.map((l) => ({
          series: selector('rewind_agent_recorder_state', {
            ...l,
            ...target(AGENT_JOB, 'node-a', 9402),
          }),
          values: l.state === 'no-device' ? '1x30' : '0x30',
        })),
        alert_rule_test: [
          {
            eval_time: '15m',
            alertname: 'RewindRecorderNotRecording',
            exp_alerts: [
              {
                exp_labels: {
                  ...states.find((l) => l.state === 'no-device'),
                  ...target(AGENT_JOB, 'node-a', 9402),
                  severity: 'warning',
                },
                exp_annotations: { summary: 'Rewind records nothing on node-a (no-device).' },
              },
            ],
          },
        ],
      },
      old,
    );
    expect(r.code).not.toBe(0);
    expect(r.output).toContain('RewindRecorderNotRecording');
  });
});
