import pino from 'pino';
import {
  nativeConstants,
  RewindError,
  type CpuStats,
  type DeviceConfig,
  type DeviceInfo,
} from '../native';
import { planRecorder, probeMask, ringDifferences, windowSeconds } from './recorder-plan';
import { Recorder, stateOfError, type RecorderDevice } from './recorder';

const ALL = nativeConstants().probesAll;
const wanted = {
  subbufBytes: 65536,
  subbufs: 16,
  mode: 'overwrite' as const,
  probes: 'all' as const,
};

function info(over: Partial<DeviceInfo> = {}): DeviceInfo {
  return {
    abiVersion: 1,
    state: 2,
    nrCpuIds: 2,
    subbufSize: 65536,
    numSubbufs: 16,
    mode: 0,
    probeMask: ALL,
    probeActive: ALL,
    mmapStride: 0n,
    metadataLen: 0n,
    testHooks: false,
    ...over,
  };
}

function rewindError(code: string, message = code): RewindError {
  const e = new RewindError(message);
  Object.defineProperty(e, 'code', { value: code });
  return e;
}

describe('what the agent does with the recorder it finds', () => {
  it('configures and starts empty rings, attaches to running ones, starts stopped ones', () => {
    expect(planRecorder(info({ state: 0 }), wanted, ALL, false)).toEqual({
      action: 'configure-and-start',
    });
    expect(planRecorder(info(), wanted, ALL, false)).toEqual({ action: 'attach' });
    expect(planRecorder(info({ state: 1 }), wanted, ALL, false)).toEqual({ action: 'start' });
  });

  it('keeps running rings that differ (their history) unless told to reconfigure', () => {
    const other = info({ numSubbufs: 8, mode: 1 });
    expect(planRecorder(other, wanted, ALL, false)).toEqual({
      action: 'keep',
      tracing: true,
      differences: ['sub-buffers 8 (wanted 16)', 'mode discard (wanted overwrite)'],
    });
    expect(planRecorder(other, wanted, ALL, true)).toMatchObject({ action: 'reconfigure' });
  });

  it('compares probe sets by mask and names them', () => {
    const two = probeMask(['sched_switch', 'sys_enter'], ALL);
    expect(two).toBe((1n << 0n) | (1n << 13n));
    expect(ringDifferences(info({ probeMask: two }), wanted, ALL)).toEqual([
      'probes sched_switch,sys_enter (wanted all)',
    ]);
  });

  it('measures a window from the oldest event to now, 0 when empty', () => {
    expect(windowSeconds(0n, 10_000_000_000n)).toBe(0);
    expect(windowSeconds(4_000_000_000n, 10_000_000_000n)).toBe(6);
    expect(windowSeconds(11_000_000_000n, 10_000_000_000n)).toBe(0);
  });

  it('turns device failures into states a person can act on', () => {
    expect(stateOfError(rewindError('ENOENT'), '/dev/rewind')).toMatchObject({
      state: 'no-device',
      detail: expect.stringMatching(/module is not loaded/),
    });
    expect(stateOfError(rewindError('EPERM'), '/dev/rewind').state).toBe('no-access');
    expect(
      stateOfError(rewindError('ERR_REWIND_ABI', 'module ABI 2, this agent speaks 1'), '/d'),
    ).toMatchObject({ state: 'abi-mismatch', detail: 'module ABI 2, this agent speaks 1' });
    expect(stateOfError(new Error('boom'), '/d')).toMatchObject({
      state: 'device-error',
      detail: 'boom',
    });
  });
});

/** A device stand-in with call records; timers run by hand. */
function harness(initial: DeviceInfo | Error) {
  const calls: string[] = [];
  let current: DeviceInfo | Error = initial;
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  const device: RecorderDevice = {
    abiVersion: 1,
    formatVersion: 1,
    info: () => {
      if (current instanceof Error) throw current;
      return current;
    },
    allStats: () => [] as CpuStats[],
    configure: (c: DeviceConfig) => {
      calls.push(`configure ${c.subbufSize}x${c.numSubbufs} ${c.hostname}`);
      if (!(current instanceof Error)) current = { ...current, state: 1 };
    },
    start: () => {
      calls.push('start');
      if (!(current instanceof Error)) current = { ...current, state: 2 };
    },
    stop: () => {
      calls.push('stop');
      if (!(current instanceof Error)) current = { ...current, state: 1 };
    },
    snapshot: async () => {
      throw new Error('not here');
    },
    close: () => calls.push('close'),
  };
  let openFails: Error | undefined = initial instanceof Error ? initial : undefined;
  const recorder = new Recorder(
    { devicePath: '/dev/rewind', ring: wanted, hostname: 'node-a', reconfigure: false },
    pino({ level: 'silent' }),
    {
      open: () => {
        if (openFails) throw openFails;
        return device;
      },
      setTimeout: (fn, ms) => {
        const t = { fn, ms, cancelled: false };
        timers.push(t);
        return { cancel: () => (t.cancelled = true) };
      },
    },
  );
  const fire = () => {
    const t = timers.filter((x) => !x.cancelled).pop();
    if (!t) throw new Error('no timer');
    t.cancelled = true;
    t.fn();
    return t.ms;
  };
  return {
    recorder,
    calls,
    fire,
    pending: () => timers.filter((x) => !x.cancelled).map((x) => x.ms),
    set: (v: DeviceInfo | Error) => (current = v),
    openWorks: (v: DeviceInfo) => {
      openFails = undefined;
      current = v;
    },
  };
}

describe('the recorder shell', () => {
  it('waits for the module with capped backoff, never throwing, then records', () => {
    const h = harness(rewindError('ENOENT'));
    h.recorder.start();
    expect(h.recorder.state.state).toBe('no-device');
    const delays = [h.pending()[0]];
    for (let i = 0; i < 7; i++) delays.push(h.fire() && h.pending()[0]);
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
    h.openWorks(info({ state: 0 }));
    h.fire();
    expect(h.recorder.state.state).toBe('recording');
    expect(h.calls).toEqual(['configure 65536x16 node-a', 'start']);
  });

  it('attaches to a running recorder without touching it, and starts it again if someone stops it', () => {
    const h = harness(info());
    h.recorder.start();
    expect(h.recorder.recording).toBe(true);
    expect(h.calls).toEqual([]);
    h.set(info({ state: 1 }));
    h.fire();
    expect(h.calls).toEqual(['start']);
    expect(h.recorder.recording).toBe(true);
  });

  it('reports differences it keeps, and on stop closes the device leaving the rings recording', () => {
    const h = harness(info({ numSubbufs: 4 }));
    h.recorder.start();
    expect(h.recorder.state).toMatchObject({
      state: 'recording',
      differences: ['sub-buffers 4 (wanted 16)'],
    });
    h.recorder.stop();
    expect(h.calls).toEqual(['close']);
    expect(h.pending()).toEqual([]);
  });
});
