/**
 * Runs inside a VM (node -r ./test/ts-register.js): drives /dev/rewind through the addon's
 * RewindDevice — ABI check, configure, start, a small workload, statistics, a read of the rings'
 * mapping, test timers, an async snapshot — and prints one JSON object (bigints as strings).
 * Usage: snapshot.ts DIR HOSTNAME
 */
import { execSync } from 'node:child_process';

import { RewindDevice } from '../../../native/index';

async function main(): Promise<void> {
  const [dir, hostname] = process.argv.slice(2) as [string, string];
  const dev = RewindDevice.open();
  dev.configure({ hostname, subbufSize: 65536, numSubbufs: 8 });
  dev.start();
  for (let i = 0; i < 5; i++) execSync('echo rewind | cat | wc -c > /dev/null');
  const emitted = dev.testEmit(300);
  // Keep every CPU recording for a while (hardirq timers), so that two VMs started together have
  // overlapping windows even though their clocks started from a 1-second RTC.
  dev.testTimerStart(20_000_000, 1);
  await new Promise((r) => setTimeout(r, Number(process.env.RECORD_MS ?? 5000)));
  const timerEvents = dev.testTimerStop();
  const ring = dev.readRing(0);
  // The event loop keeps running while the worker thread copies the snapshot.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  const snapshot = await dev.snapshot(dir);
  clearInterval(timer);
  // One serial owner: while a snapshot runs in its worker, a call on this thread is refused at
  // once (EBUSY), never interleaved with the snapshot's steps nor waiting for them.
  const second = dev.snapshot(`${dir}-busy`);
  let busy: { code?: string; syscall?: string; message?: string } | undefined;
  for (let i = 0; i < 50_000_000 && !busy; i++) {
    try {
      dev.stats(0);
    } catch (e) {
      busy = e as typeof busy;
    }
  }
  await second;
  const info = dev.info();
  const stats = dev.allStats();
  dev.stop();
  dev.close();
  let closedError = '';
  let closedCode = '';
  try {
    dev.info();
  } catch (e) {
    closedError = (e as Error).message;
    closedCode = (e as { code?: string }).code ?? '';
  }
  const out = {
    abiVersion: dev.abiVersion,
    formatVersion: dev.formatVersion,
    emitted,
    timerEvents,
    ringBytes: ring.length,
    ringMagic: ring.readUInt32LE(0),
    info,
    stats,
    snapshot,
    ticks,
    busy: busy && { code: busy.code, syscall: busy.syscall, message: busy.message },
    closedError,
    closedCode,
  };
  process.stdout.write(
    JSON.stringify(out, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)),
  );
}

main().catch((e: Error) => {
  process.stderr.write(`${e.stack ?? e.message}\n`);
  process.exit(1);
});
