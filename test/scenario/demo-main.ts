/**
 * `npm run demo`: the end-to-end scenario for a person. Three VM nodes record their kernels; a
 * pod on node-1 talks TCP to a pod on node-2; a pod on node-3 starts spinning a CPU; Prometheus
 * (the chart's rule) fires, Alertmanager (the chart's receiver) tells Rewind's controller, which
 * collects every node, aligns their clocks and writes one trace, pods named. The demo says what it
 * is doing, ends with where the trace is, a summary and the commands to open it, and leaves
 * nothing running — also when interrupted (Ctrl-C: everything it started is stopped, exit 130).
 *
 * `--quick` leaves out Prometheus and Alertmanager: the snapshot is asked for with a
 * TraceSnapshot object (`kubectl apply -f`), as a person would.
 */
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { projectRoot } from '../vm/kernel';
import { NETWORK_DELAY_MS, NODES, NS, startScenarioCluster, type ScenarioCluster } from './cluster';
import {
  ALERT,
  CLIENT,
  HOG,
  SERVER,
  TCP_PORT,
  startConversation,
  startHog,
  startMonitoring,
  stopHog,
  waitAlertSnapshot,
  type Monitoring,
} from './incident';
import { summarizeTrace, type TraceSummary } from './trace-summary';

const OUT = join(projectRoot, 'test-output', 'demo');
const FINAL = ['Complete', 'PartiallyFailed', 'Failed'];

interface SnapshotStatus {
  phase?: string;
  nodesSucceeded?: number;
  nodes?: { name: string; phase: string; error?: string }[];
}

function usage(): string {
  return [
    'usage: npm run demo [-- --quick]',
    '',
    'Boots three VM nodes with rewind.ko and its agent, a real API server, the controller, and',
    '(without --quick) Prometheus and Alertmanager set up from the chart; provokes an alert on one',
    'node and writes the cluster trace it causes to test-output/demo/.',
    '  --quick   no Prometheus/Alertmanager: the snapshot is a TraceSnapshot applied with kubectl',
  ].join('\n');
}

export async function runDemo(argv: string[]): Promise<number> {
  const unknown = argv.filter((a) => a !== '--quick');
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(usage());
    return 0;
  }
  if (unknown.length > 0) {
    console.error(`demo: unknown argument ${unknown[0]} (npm run demo -- --help)`);
    return 2;
  }
  const quick = argv.includes('--quick');
  const t0 = Date.now();
  const say = (line: string) =>
    console.log(`[${String(Math.round((Date.now() - t0) / 1000)).padStart(4)}s] ${line}`);
  const heading = (line: string) => console.log(`\n${bold(`== ${line}`)}`);

  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });

  // Whatever has been started, stopped once: at the end, on an error, or on Ctrl-C. Starts in
  // flight are waited for first (the cluster's own start stops what it began when aborted).
  let cluster: ScenarioCluster | undefined;
  let monitoring: Monitoring | undefined;
  const starting: Promise<unknown>[] = [];
  const abort = new AbortController();
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      abort.abort();
      await Promise.allSettled(starting);
      await monitoring?.stop().catch(() => undefined);
      await cluster?.stop().catch(() => undefined);
    })());
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (interrupted) {
      console.error(`demo: ${signal} again: leaving now; some processes may be left`);
      process.exit(130);
    }
    interrupted = true;
    console.error(`\ndemo: ${signal}: stopping everything it started (a few seconds)…`);
    void stopAll().then(() => {
      console.error('demo: stopped; nothing is left running');
      process.exit(130);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    heading(
      quick
        ? 'Rewind: three nodes, one snapshot asked for with kubectl, one merged trace'
        : 'Rewind: three nodes, an alert, one merged trace of the whole cluster',
    );
    const clusterStart = startScenarioCluster({ out: OUT, say, signal: abort.signal }).then(
      (x) => (cluster = x),
    );
    starting.push(clusterStart);
    const c = await clusterStart;
    say('starting rewind-controller (the built one) against the API server');
    const ctrl = await c.startController('rewind-controller-demo');
    const { hogUid } = await startConversation(c);
    say(
      `pod ${CLIENT.name} on ${NODES[CLIENT.node]} sends an order every 0.2 s over TCP to pod ` +
        `${SERVER.name} on ${NODES[SERVER.node]} (port ${TCP_PORT}, the nodes' private network)`,
    );

    let name: string;
    let alertText = '';
    if (quick) {
      await startHog(c, hogUid);
      say(`pod ${HOG.name} on ${NODES[HOG.node]} starts spinning a CPU`);
      await new Promise((r) => setTimeout(r, 8000));
      // The recorders hold the past: the hog may stop before the snapshot is asked for.
      await stopHog(c);
      name = 'demo-incident';
      await c.cp.kubectlOk(['apply', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'rewind.dev/v1alpha1',
          kind: 'TraceSnapshot',
          metadata: { name, namespace: NS },
          spec: { target: { allNodes: true }, windowSeconds: 20, reason: 'demo: cpu-hog' },
        }),
      });
      say(`kubectl apply -f: TraceSnapshot ${NS}/${name} (all nodes, the last 20 s)`);
    } else {
      // The hog first, then Prometheus: incident.ts (startMonitoring) says why.
      await startHog(c, hogUid);
      say(`the incident: pod ${HOG.name} on ${NODES[HOG.node]} starts spinning a CPU`);
      const monitoringStart = startMonitoring(c, ctrl).then((m) => (monitoring = m));
      starting.push(monitoringStart);
      const mon = await monitoringStart;
      say(
        "Prometheus scrapes the agents and the controller with the chart's rules; Alertmanager " +
          'routes alerts labelled rewind_capture="true" to the controller\'s webhook',
      );
      await mon.waitScraping();
      say('every agent and the controller scraped');
      const alert = await mon.waitFiring();
      alertText = `${ALERT}{node="${alert.labels.node}"}: ${alert.annotations.summary ?? ''}`;
      say(`Prometheus: ${alertText.trim()}`);
      // The recorders hold the past: the hog may stop now.
      await stopHog(c);
      name = await waitAlertSnapshot(c);
      say(`Alertmanager → the controller's webhook → TraceSnapshot ${NS}/${name} (every node)`);
      await mon.stop();
      monitoring = undefined;
    }

    // Follow it as `kubectl rewind get --wait` would.
    let last = '';
    let status: SnapshotStatus = {};
    const deadline = Date.now() + 600_000;
    while (!FINAL.includes(status.phase ?? '')) {
      if (Date.now() > deadline) throw new Error(`${name} did not finish in 10 minutes`);
      const r = await c.cp.request(
        'GET',
        `/apis/rewind.dev/v1alpha1/namespaces/${NS}/tracesnapshots/${name}`,
      );
      status = ((r.body as { status?: SnapshotStatus }).status ?? {}) as SnapshotStatus;
      const done = (status.nodes ?? []).filter((n) => n.phase !== 'Pending').length;
      const line = `${status.phase ?? 'Pending'}: nodes ${done}/${NODES.length}`;
      if (line !== last) say(`${name}: ${line}`);
      last = line;
      await new Promise((r) => setTimeout(r, 500));
    }
    if (status.phase !== 'Complete') {
      for (const n of status.nodes ?? [])
        if (n.phase === 'Failed') console.error(`  ${n.name}: ${n.error ?? 'failed'}`);
      throw new Error(`the snapshot ended ${status.phase}`);
    }

    const trace = join(OUT, 'trace');
    cpSync(join(c.data, NS, name), trace, { recursive: true });
    say('stopping the nodes, the controller and the API server');
    await stopAll();

    const summary = summarizeTrace(join(trace, 'trace'), join(trace, 'manifest.json'), {
      client: NODES[CLIENT.node] as string,
      server: NODES[SERVER.node] as string,
      port: TCP_PORT,
      hog: { node: NODES[HOG.node] as string, pod: HOG.name },
    });
    writeFileSync(join(OUT, 'summary.json'), JSON.stringify(summary, null, 2));
    printSummary(trace, summary, alertText, name);
    return 0;
  } catch (err) {
    if (interrupted) return 130;
    console.error(`demo: ${(err as Error).message}`);
    console.error(
      `demo: logs are in ${relative(process.cwd(), OUT)}/ (VM kernel logs in test-output/vm/)`,
    );
    await stopAll();
    return 1;
  } finally {
    await stopAll();
  }
}

/** Bold on a terminal; plain text in a file or a pipe. */
function bold(text: string): string {
  return process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text;
}

function printSummary(trace: string, s: TraceSummary, alertText: string, name: string): void {
  const rel = relative(process.cwd(), trace);
  console.log(`\n${bold(`== The trace: ${rel}/`)}`);
  console.log(
    `  TraceSnapshot ${NS}/${name}${alertText ? `, made by the alert ${alertText}` : ''}`,
  );
  console.log(
    `  ${s.events.toLocaleString('en-US')} events from ${s.nodes.length} nodes, read by ` +
      `babeltrace2 as one time-ordered stream (no warning)`,
  );
  for (const n of s.nodes)
    console.log(
      `  ${n.node}: ${n.events.toLocaleString('en-US').padStart(9)} events over ${n.windowSeconds.toFixed(1)} s; ` +
        `clock offset ${n.offsetMs.toFixed(1)} ms ± ${n.uncertaintyMs.toFixed(1)} ms`,
    );
  const order =
    s.tcp.reversed === 0
      ? 'each received after it was sent on the merged timeline'
      : `${s.tcp.reversed} received BEFORE it was sent on the merged timeline`;
  console.log(
    `  TCP ${s.tcp.client} → ${s.tcp.server}: ${s.tcp.there} segments, ${s.tcp.back} back; ${order} ` +
      `(gap ${s.tcp.minGapMs.toFixed(1)}…${s.tcp.maxGapMs.toFixed(1)} ms; the network delays each ` +
      `by ${NETWORK_DELAY_MS} ms)`,
  );
  if (s.tcp.skewMs !== undefined)
    console.log(
      `  ${s.tcp.server}'s clock against ${s.tcp.client}'s, from the fastest segment each way: ` +
        `${s.tcp.skewMs >= 0 ? '+' : ''}${s.tcp.skewMs.toFixed(2)} ms`,
    );
  console.log(
    `  pod ${s.hog.pod} on ${s.hog.node}: threads ${s.hog.tids.join(', ') || '(none seen)'}, ` +
      `switched in ${s.hog.switchedIn} times; ${s.podsNamed} pod(s) named in the trace`,
  );
  console.log('\n  Open it:');
  console.log(`    babeltrace2 ${rel}/trace | less`);
  console.log(`    Perfetto: https://ui.perfetto.dev → Open trace file → ${rel}/trace.json`);
  console.log(`    Trace Compass: File → Open Trace → ${rel}/trace/`);
  console.log(`    npx rewind-trace stats ${rel}/trace`);
}

export function main(): void {
  void runDemo(process.argv.slice(2)).then((code) => process.exit(code));
}
