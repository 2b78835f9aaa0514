/**
 * The native engine against babeltrace2: traces written by the userspace writer read with no
 * error and identical values; merged nodes read as one time-ordered stream with each event's node
 * named; the Chrome JSON parses and nests; corrupt input gives an error naming file and offset.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';

import {
  decodeTrace,
  exportChrome,
  mergeTraces,
  RewindDevice,
  RewindError,
  traceStats,
  validateTrace,
  writeTrace,
  type WriteEvent,
} from '../../native/index';
import { asBt, babeltrace, canonical, enumLabels, normalize } from './babeltrace';
import { everyEvent, removeTempDirs, schedStory, tempDir } from './fixtures';

afterAll(removeTempDirs);

const EPOCH = 1_760_000_000_000_000_000n; // clock origin of the test nodes (Unix ns)

function expected(events: WriteEvent[], host: string) {
  return events.map((e) => ({
    time: BigInt(e.timestamp),
    host,
    name: e.name as string,
    cpu: e.cpu,
    fields: Object.fromEntries(
      Object.entries(e.fields ?? {}).map(([k, v]) => [k, normalize(v as never)]),
    ),
  }));
}

describe('the userspace writer, judged by babeltrace2', () => {
  const dir = join(tempDir('writer'), 'trace');
  const events = everyEvent(6, 3);

  beforeAll(async () => {
    await writeTrace(
      dir,
      { hostname: 'writer-node', clockOffsetNs: EPOCH, packetSize: 512 },
      events,
    );
  });

  it('refuses field values that do not fit their type instead of wrapping them', async () => {
    const bad = (irq: number | bigint): Promise<void> =>
      writeTrace(join(tempDir('writer-bad'), 'trace'), { hostname: 'n' }, [
        { cpu: 0, name: 'irq_handler_entry', timestamp: 1n, fields: { irq } },
      ]);
    await expect(bad(-1)).rejects.toThrow(/irq.*non-negative integer/);
    await expect(bad(1.5)).rejects.toThrow(/irq.*non-negative integer/);
    await expect(bad(-1n)).rejects.toThrow(/irq/);
  });

  it('writes a trace babeltrace2 reads with no error and the same values', () => {
    const bt = babeltrace(dir);
    expect(bt.stderr).toBe('');
    expect(bt.code).toBe(0);
    expect(bt.events).toHaveLength(events.length);
    expect(canonical(bt.events)).toEqual(canonical(expected(events, 'writer-node')));
  });

  it('names system calls in the CTF itself: babeltrace2 prints sys_enter ids with their names', async () => {
    // The kernel's numbering (asm/unistd_64.h); one past the table, and the -1 the module writes
    // for a number beyond int16, have none.
    const ids = [0, 110, 257, 449, 1000, -1];
    const named = join(tempDir('syscall-enum'), 'trace');
    await writeTrace(
      named,
      { hostname: 'n' },
      ids.map((id, k) => ({ cpu: 0, name: 'sys_enter', timestamp: BigInt(k + 1), fields: { id } })),
    );
    const out = spawnSync('babeltrace2', [named], { encoding: 'utf8' });
    expect(out.stderr).toBe('');
    expect(
      out.stdout
        .trim()
        .split('\n')
        .map((l) => enumLabels(l).id),
    ).toEqual([
      ['read', 0n],
      ['getppid', 110n],
      ['openat', 257n],
      ['futex_waitv', 449n],
      [undefined, 1000n],
      [undefined, -1n],
    ]);
  });

  it('decodes to exactly what babeltrace2 prints, in its order', async () => {
    const { events: decoded, summary } = await decodeTrace(dir, { strict: true });
    expect(canonical(asBt(decoded))).toEqual(canonical(babeltrace(dir).events));
    expect(summary.nodes[0]?.streams.map((s) => s.cpu)).toEqual([0, 1, 2]);
    expect(summary.nodes[0]?.streams.every((s) => s.packets > 1)).toBe(true);
    // Unix-epoch time = clock value + the metadata's offset.
    expect(decoded[0]?.timeNs).toBe((decoded[0]?.timestamp as bigint) + EPOCH);
  });

  it('puts the wall-clock time babeltrace2 prints on the Unix epoch', async () => {
    const { events: decoded } = await decodeTrace(dir);
    const bt = babeltrace(dir, 'seconds');
    expect(bt.events.map((e) => e.time).sort()).toEqual(decoded.map((e) => e.timeNs).sort());
  });
});

describe('the merge of two nodes', () => {
  const root = tempDir('merge');
  const a = join(root, 'node-a');
  const b = join(root, 'node-b');
  const out = join(root, 'unified');
  // Node b's clock origin is 1 ms later than a's; its measured error is -250 ns.
  const B_OFFSET = EPOCH + 1_000_000n;
  const CORRECTION = -250n;

  beforeAll(async () => {
    await writeTrace(a, { hostname: 'node-a', clockOffsetNs: EPOCH }, [
      ...schedStory(0, 2_000_000n, 100),
      ...schedStory(1, 2_000_300n, 101),
    ]);
    await writeTrace(b, { hostname: 'node-b', clockOffsetNs: B_OFFSET }, [
      ...schedStory(0, 1_000_150n, 200),
      ...schedStory(1, 1_000_450n, 201),
    ]);
  });

  it('gives a unified trace babeltrace2 reads as one time-ordered stream, node by node named', async () => {
    const s = await mergeTraces([a, { dir: b, correctionNs: CORRECTION }], { out });
    expect(s.nodes.map((n) => n.name)).toEqual(['node-a', 'node-b']);
    const bt = babeltrace(out, 'seconds');
    expect(bt.stderr).toBe('');
    expect(bt.code).toBe(0);
    expect(bt.events).toHaveLength(s.events);
    for (let i = 1; i < bt.events.length; i++) {
      expect(
        (bt.events[i] as { time: bigint }).time >= (bt.events[i - 1] as { time: bigint }).time,
      ).toBe(true);
    }
    const hosts = bt.events.map((e) => e.host);
    expect(new Set(hosts)).toEqual(new Set(['node-a', 'node-b']));
    const switches = hosts.filter((h, i) => i > 0 && h !== hosts[i - 1]).length;
    expect(switches).toBeGreaterThan(10); // interleaved, not one node after the other
    // Every event at its node's corrected time.
    const decoded = await decodeTrace([a, { dir: b, correctionNs: CORRECTION }]);
    expect(canonical(bt.events)).toEqual(canonical(asBt(decoded.events, 'seconds')));
    const first = decoded.events.find((e) => e.node === 'node-b') as {
      timestamp: bigint;
      timeNs: bigint;
    };
    expect(first.timeNs).toBe(first.timestamp + B_OFFSET + CORRECTION);
  });

  it('exports Chrome Trace Event JSON that parses and nests its slices', async () => {
    const file = join(root, 'trace.json');
    await exportChrome([a, { dir: b, correctionNs: CORRECTION }], file);
    const json = JSON.parse(readFileSync(file, 'utf8')) as {
      traceEvents: {
        ph: string;
        name: string;
        pid: number;
        tid: number;
        ts: number;
        dur?: number;
        args: Record<string, unknown>;
      }[];
    };
    const ev = json.traceEvents;
    const processes = ev
      .filter((e) => e.ph === 'M' && e.name === 'process_name')
      .map((e) => e.args.name);
    expect(processes).toEqual(['node node-a', 'node node-b']);
    const tracks = ev.filter((e) => e.ph === 'M' && e.name === 'thread_name');
    expect(tracks).toHaveLength(4);
    const slices = ev.filter((e) => e.ph === 'X');
    // Per node and CPU: 2 task slices, 3 syscalls (one reopened after the switch), 1 irq, 1 softirq.
    expect(slices).toHaveLength(4 * 7);
    expect(slices.filter((e) => e.name === 'worker-0 100')).toHaveLength(2);
    expect(slices.filter((e) => e.name === 'softirq NET_RX')).toHaveLength(4);
    // System calls by name (x86-64's 0 is read), also the one reopened after the switch.
    expect(slices.filter((e) => e.name === 'read (cont.)')).toHaveLength(4);
    expect(slices.filter((e) => e.name.startsWith('syscall '))).toEqual([]);
    // Nesting: on one track, any two slices are disjoint or one contains the other.
    const eps = 1e-6;
    for (const track of new Set(slices.map((e) => `${e.pid}/${e.tid}`))) {
      const mine = slices.filter((e) => `${e.pid}/${e.tid}` === track);
      for (const x of mine)
        for (const y of mine) {
          const [x0, x1, y0, y1] = [x.ts, x.ts + (x.dur ?? 0), y.ts, y.ts + (y.dur ?? 0)];
          const disjoint = x1 <= y0 + eps || y1 <= x0 + eps;
          const nested = (x0 >= y0 - eps && x1 <= y1 + eps) || (y0 >= x0 - eps && y1 <= x1 + eps);
          expect(disjoint || nested).toBe(true);
        }
    }
    // The irq sits inside the syscall, which sits inside the task's slice.
    const irq = slices.find((e) => e.name === 'irq 11' && e.pid === 1 && e.tid === 0);
    const sys = slices.find((e) => e.name === 'read' && e.pid === 1 && e.tid === 0);
    expect(irq && sys && irq.ts > sys.ts && irq.ts + (irq.dur ?? 0) < sys.ts + (sys.dur ?? 0)).toBe(
      true,
    );
    expect(ev.filter((e) => e.ph === 'i' && e.name === 'sched_wakeup')).toHaveLength(4);
  });

  it('gives the Chrome JSON Unix-epoch times, or times from the first event when asked', async () => {
    // Read as text: a double (JSON.parse, Perfetto) holds a Unix-epoch microsecond to 0.25 us.
    const times = (file: string) => {
      const text = readFileSync(file, 'utf8');
      const ts = [...text.matchAll(/"ts":(\d+)\.(\d{3})/g)].map(
        (m) => BigInt(m[1] as string) * 1000n + BigInt(m[2] as string),
      );
      return { ts, other: (JSON.parse(text) as { otherData: Record<string, string> }).otherData };
    };
    const { events } = await decodeTrace([a, { dir: b, correctionNs: CORRECTION }]);
    const firstNs = events.reduce((m, e) => (e.timeNs < m ? e.timeNs : m), events[0]!.timeNs);
    const all = new Set(events.map((e) => e.timeNs));
    const bOnly = new Set(events.filter((e) => e.node === 'node-b').map((e) => e.timeNs));

    const both = join(root, 'epoch.json');
    await exportChrome([a, { dir: b, correctionNs: CORRECTION }], both);
    const abs = times(both);
    expect(abs.other).toEqual({ rewind_time: 'unix_epoch' });
    // Every slice and instant starts at an event's Unix-epoch time.
    expect(abs.ts.length).toBeGreaterThan(0);
    expect(abs.ts.filter((t) => !all.has(t))).toEqual([]);
    // Two exports line up: node-b alone has node-b's times, as the export of both has them.
    const alone = join(root, 'epoch-b.json');
    await exportChrome([{ dir: b, correctionNs: CORRECTION }], alone);
    const b1 = times(alone).ts;
    expect(b1.length).toBeGreaterThan(0);
    expect(b1.filter((t) => !bOnly.has(t) || !abs.ts.includes(t))).toEqual([]);

    const relative = join(root, 'relative.json');
    await exportChrome([a, { dir: b, correctionNs: CORRECTION }], relative, {
      chromeRelativeTime: true,
    });
    const rel = times(relative);
    expect(rel.other).toEqual({
      rewind_time: 'since_first_event',
      rewind_first_event_unix_ns: String(firstNs),
    });
    expect(rel.ts.map((t) => t + firstNs)).toEqual(abs.ts);
  });

  it('summarizes events by node and type, windows per CPU and losses', async () => {
    const s = await traceStats([a, b]);
    expect(s.nodes[1]?.eventsByType.sched_switch).toBe(8);
    expect(s.nodes[1]?.streams[1]?.windowStartNs).toBe(B_OFFSET + 1_000_450n);
    expect(s.nodes[1]?.streams[1]?.windowEndNs).toBe(B_OFFSET + 1_000_450n + 8000n);
    expect(s.nodes[0]?.lostEvents).toBe(0);
    expect(s.damage).toEqual([]);
  });
});

describe('damaged input', () => {
  it('is an error naming the file and byte offset, or a skipped and counted packet', async () => {
    const dir = join(tempDir('damage'), 't');
    await writeTrace(dir, { hostname: 'd', packetSize: 256 }, everyEvent(2, 1));
    const file = join(dir, 'stream_0');
    const bytes = readFileSync(file);
    const second = bytes.readUInt32LE(44) / 8; // packet_size of the first packet
    bytes.writeUInt32LE(0x12345678, second); // the second packet's magic
    writeFileSync(file, bytes);
    const error = await validateTrace(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RewindError);
    expect(error).toMatchObject({
      message: `${file}: at byte ${second}: bad packet magic 0x12345678 (expected 0xc1fc1fc1)`,
      code: 'ERR_REWIND_DAMAGED',
      path: file,
      offset: second,
    });
    const s = await traceStats(dir);
    expect(s.nodes[0]?.damagedPackets).toBe(1);
    expect(s.damage[0]).toEqual({
      file,
      offset: second,
      reason: expect.stringContaining('bad packet magic'),
    });
  });
});

describe('argument validation', () => {
  it('names the function, the option and what was expected', async () => {
    await expect(decodeTrace([], {})).rejects.toThrow(/^decodeTrace: inputs: /);
    await expect(decodeTrace('/x', { limit: 0 })).rejects.toThrow('decodeTrace: options.limit: ');
    await expect(decodeTrace('/x', { bogus: 1 } as never)).rejects.toThrow(
      /decodeTrace: options: .*bogus/,
    );
    await expect(writeTrace('/tmp/x', { hostname: 'h', packetSize: 3 }, [])).rejects.toThrow(
      'writeTrace: options.packetSize: ',
    );
    await expect(
      writeTrace('/tmp/x', { hostname: 'h' }, [{ cpu: 0, timestamp: 1 }]),
    ).rejects.toThrow('writeTrace: events.0: needs a name or an id');
    await expect(validateTrace('/nonexistent/trace')).rejects.toThrow(
      'cannot read traces in /nonexistent/trace: No such file or directory',
    );
  });
});

describe('the device front, without the module', () => {
  const openError = (path: string): unknown => {
    try {
      RewindDevice.open(path);
    } catch (e) {
      return e;
    }
    throw new Error(`${path} opened`);
  };

  it('names the path and the cause when the device is not Rewind', () => {
    const notRewind = openError('/dev/null');
    expect(notRewind).toBeInstanceOf(RewindError);
    expect(notRewind).toMatchObject({
      message: '/dev/null: REWIND_IOC_ABI_VERSION: Inappropriate ioctl for device',
      code: 'ENOTTY',
      errno: constants.errno.ENOTTY,
      syscall: 'REWIND_IOC_ABI_VERSION',
      path: '/dev/null',
    });
    expect(() => RewindDevice.open('')).toThrow(
      'RewindDevice.open: path: must be a non-empty string',
    );
  });

  it('gives a missing device as RewindError ENOENT with the call and the path', () => {
    const missing = openError('/nonexistent/rewind');
    expect(missing).toBeInstanceOf(RewindError);
    expect(missing).toBeInstanceOf(Error);
    expect(missing).toMatchObject({
      name: 'RewindError',
      message: 'cannot open /nonexistent/rewind: No such file or directory',
      code: 'ENOENT',
      errno: constants.errno.ENOENT,
      syscall: 'open',
      path: '/nonexistent/rewind',
    });
  });
});

describe('the rewind-trace command', () => {
  const cli = join(__dirname, '..', '..', 'native', 'bin', 'rewind-trace.js');
  const run = (...args: string[]) =>
    spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8' });

  it('names system calls, interrupts and threads in stats, by text and JSON', async () => {
    const root = tempDir('cli-names');
    const a = join(root, 'a');
    const story = schedStory(0, 5_000n, 7);
    await writeTrace(a, { hostname: 'cli-n', clockOffsetNs: EPOCH }, [
      {
        cpu: 0,
        name: 'statedump_irq',
        timestamp: 1_000n,
        fields: { irq: 11, name: 'virtio0-requests' },
      },
      ...story,
      { cpu: 0, name: 'sys_enter', timestamp: 20_000n, fields: { id: 1023 } },
    ]);
    const json = run('stats', '--json', a);
    expect(json.stderr).toBe('');
    const names = JSON.parse(json.stdout).nodes[0].names;
    // x86-64's 0 and 1; 1023 has no name (yet).
    expect(names.syscalls).toEqual([
      { id: 0, name: 'read', count: 1 },
      { id: 1, name: 'write', count: 1 },
      { id: 1023, name: null, count: 1 },
    ]);
    expect(names.irqs).toEqual([{ irq: 11, name: 'virtio0-requests', count: 1 }]);
    // worker-0 (tid 7) ran from 1000 to 5000 and from 6000 to 8000 after the story's start.
    expect(names.threads).toEqual([
      { tid: 7, comm: 'worker-0', pod: '', switchesIn: 2, cpuNs: 6000 },
    ]);
    const text = run('stats', a);
    expect(text.stderr).toBe('');
    expect(text.stdout).toContain(
      [
        '  system calls entered:',
        '           1  read',
        '           1  write',
        '           1  syscall 1023',
        '  interrupts handled:',
        '           1  irq 11 virtio0-requests',
        '  threads by CPU time:',
        '     0.000 s       2 runs  worker-0 7',
      ].join('\n'),
    );
  });

  it('runs stats, validate, merge and export', async () => {
    const root = tempDir('cli');
    const a = join(root, 'a');
    await writeTrace(a, { hostname: 'cli-a', clockOffsetNs: EPOCH }, schedStory(0, 5_000n, 7));
    const stats = run('stats', '--json', a);
    expect(stats.stderr).toBe('');
    expect(JSON.parse(stats.stdout).nodes[0].eventsByType.sched_switch).toBe(4);
    expect(run('validate', a).stdout).toBe('valid: 14 events in 1 packets, 1 node(s)\n');
    const merged = run(
      'merge',
      join(root, 'out'),
      a,
      '--correction',
      `${a}=-5`,
      '--node',
      `${a}=n-1`,
    );
    expect(merged.status).toBe(0);
    const bt = babeltrace(join(root, 'out'));
    expect(bt.events).toHaveLength(14);
    expect(new Set(bt.events.map((e) => e.host))).toEqual(new Set(['n-1']));
    const exported = run('export', '--format', 'chrome', join(root, 'c.json'), a);
    expect(exported.stdout).toContain('exported 14 events of 1 node(s)');
    expect(
      JSON.parse(readFileSync(join(root, 'c.json'), 'utf8')).traceEvents.length,
    ).toBeGreaterThan(5);
    expect(JSON.parse(readFileSync(join(root, 'c.json'), 'utf8')).otherData.rewind_time).toBe(
      'unix_epoch',
    );
    for (const args of [
      ['export', '--format', 'chrome', '--relative-time', join(root, 'r.json'), a],
      ['merge', '--chrome', join(root, 'r2.json'), '--relative-time', join(root, 'out2'), a],
    ]) {
      expect(run(...args).status).toBe(0);
      const json = JSON.parse(
        readFileSync(
          args.find((x) => x.endsWith('.json'))!,
          'utf8',
        ),
      );
      expect(json.otherData.rewind_time).toBe('since_first_event');
    }
    const bad = run('validate', join(root, 'missing'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toContain(`cannot read traces in ${join(root, 'missing')}: No such file`);
  });
});
