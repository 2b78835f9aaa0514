'use strict';
// `npm run bench`: decode and merge rates of the native engine side by side with babeltrace2 on
// the same files. Figures are printed, never asserted (ARCHITECTURE.md: speed lives here).
//
// Traces: BENCH_NODES nodes x BENCH_CPUS CPUs x BENCH_EVENTS events per CPU of a synthetic but
// plausible workload (native/src/core/synth.cc), in the real format.
// Measured, each on the same input:
//   rewind stats      decode + validate every packet and event in time order, count by type,
//                     and by name: system calls, interrupts, threads' CPU time (lenient)
//   rewind validate   decode + validate every packet and event, count by type (strict)
//   rewind merge CTF  merge into a unified trace directory: validated packets copied whole
//                     (the CTF output does not depend on the global order: babeltrace2 muxes)
//   rewind merge CTF, k-way  the same output through the time-ordered k-way heap, every event
//                     re-encoded (what a time window --from/--to takes)
//   rewind export     k-way merge into Chrome Trace Event JSON
//   babeltrace2 dummy  read and mux everything, discard it (-o dummy)
//   babeltrace2 CTF    read, mux, and convert to CTF (-o ctf -w DIR)
// babeltrace2 gets the unified directory (all nodes), exactly what `rewind merge` reads.
require('../test/ts-register.js');
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const native = require('../native/index.ts');

const NODES = Number(process.env.BENCH_NODES || 2);
const CPUS = Number(process.env.BENCH_CPUS || 2);
const EVENTS = Number(process.env.BENCH_EVENTS || 500000);
const REPEAT = Number(process.env.BENCH_REPEAT || 3);

function du(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? du(p) : fs.statSync(p).size;
  }
  return n;
}

async function best(fn) {
  let min = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    const t = process.hrtime.bigint();
    await fn(i);
    min = Math.min(min, Number(process.hrtime.bigint() - t) / 1e9);
  }
  return min;
}

function babeltrace(args) {
  const r = spawnSync('babeltrace2', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`babeltrace2 ${args.join(' ')}: ${r.stderr.slice(0, 2000)}`);
}

async function main() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'rwd-bench-'));
  try {
    const inputs = [];
    let events = 0;
    for (let n = 0; n < NODES; n++) {
      const dir = path.join(root, 'in', `node-${n}`);
      events += await native.writeSyntheticTrace(dir, {
        hostname: `node-${n}`,
        cpus: CPUS,
        eventsPerCpu: EVENTS,
        seed: n + 1,
        clockOffsetNs: 1_700_000_000_000_000_000n + BigInt(n * 1000),
      });
      inputs.push(dir);
    }
    const inputDir = path.join(root, 'in');
    const bytes = du(inputDir);
    console.log(
      `input: ${NODES} nodes x ${CPUS} CPUs, ${events} events, ${(bytes / 1048576).toFixed(1)} MiB ` +
        `(${(bytes / events).toFixed(1)} bytes/event); best of ${REPEAT} runs`,
    );
    console.log(
      `babeltrace2: ${spawnSync('babeltrace2', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]}`,
    );
    const rows = [];
    const row = (name, seconds) => {
      rows.push({ name, seconds });
      console.log(
        `${name.padEnd(30)} ${seconds.toFixed(3).padStart(8)} s ${(events / seconds / 1e6).toFixed(2).padStart(8)} M events/s ` +
          `${(bytes / seconds / 1048576).toFixed(1).padStart(8)} MiB/s`,
      );
      return seconds;
    };
    const stats = row('rewind stats (decode, names)', await best(() => native.traceStats(inputs)));
    row('rewind validate (strict)', await best(() => native.validateTrace(inputs)));
    const merge = row(
      'rewind merge -> CTF',
      await best((i) => native.mergeTraces(inputs, { out: path.join(root, `merged-${i}`) })),
    );
    row(
      'rewind merge -> CTF, k-way',
      await best((i) =>
        native.mergeTraces(inputs, { out: path.join(root, `kway-${i}`), fromNs: -(2n ** 62n) }),
      ),
    );
    row(
      'rewind export -> Chrome JSON',
      await best((i) => native.exportChrome(inputs, path.join(root, `chrome-${i}.json`))),
    );
    const dummy = row(
      'babeltrace2 -o dummy',
      await best(() => babeltrace([inputDir, '-o', 'dummy'])),
    );
    const conv = row(
      'babeltrace2 -o ctf',
      await best((i) => babeltrace([inputDir, '-o', 'ctf', '-w', path.join(root, `bt-ctf-${i}`)])),
    );
    console.log('');
    console.log(`decode: rewind ${(dummy / stats).toFixed(1)}x babeltrace2's read (dummy sink)`);
    console.log(
      `merge:  rewind ${(conv / merge).toFixed(1)}x babeltrace2's conversion to CTF (goal: >= 20x)`,
    );
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
