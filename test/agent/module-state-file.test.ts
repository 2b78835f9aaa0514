// The loader's state file, pure parts (agent/module/state-file.ts): the record the loader writes
// for each outcome, the file read back, and what /v1/status makes of what the agent read.
import {
  loaderStatus,
  parseStateFile,
  sameRecord,
  serializeRecord,
  stateRecord,
  type ModuleStateRecord,
} from '../../agent/module/state-file';
import { failed, loaded, type LoadOutcome } from '../../agent/module/policy';

const at = (iso: string, over: Partial<{ kernelRelease: string; pid: number }> = {}) => ({
  now: new Date(iso),
  kernelRelease: '6.1.0-27-amd64',
  pid: 42,
  ...over,
});
const PENDING: LoadOutcome = { state: 'pending', reason: undefined, detail: 'the first attempt' };
const refused = failed(
  'release-not-allowed',
  'kernel 6.1.0-27-amd64 is not in the allowed releases',
);

describe('the record the loader writes', () => {
  it("maps the loader's outcomes onto loaded, pending and degraded with the reason", () => {
    expect(stateRecord(PENDING, undefined, at('2025-01-01T00:00:00Z'))).toEqual({
      state: 'pending',
      reason: null,
      detail: 'the first attempt',
      kernelRelease: '6.1.0-27-amd64',
      since: '2025-01-01T00:00:00.000Z',
      pid: 42,
    });
    expect(stateRecord(refused, undefined, at('2025-01-01T00:00:00Z'))).toMatchObject({
      state: 'degraded',
      reason: 'release-not-allowed',
      detail: refused.detail,
    });
    expect(
      stateRecord(
        loaded('rewind already loaded, ABI 1, format 1'),
        undefined,
        at('2025-01-01T00:00:00Z'),
      ),
    ).toMatchObject({ state: 'loaded', reason: null });
  });

  it('keeps `since` while the state and reason stay, and starts it again when they change', () => {
    const first = stateRecord(refused, undefined, at('2025-01-01T00:00:00Z'));
    const again = stateRecord(
      failed('release-not-allowed', 'other words'),
      first,
      at('2025-01-01T00:05:00Z'),
    );
    expect(again.since).toBe(first.since);
    expect(again.detail).toBe('other words');
    expect(sameRecord(first, again)).toBe(false);
    expect(sameRecord(first, stateRecord(refused, first, at('2025-01-01T00:09:00Z')))).toBe(true);

    const other = stateRecord(failed('lockdown', 'locked'), again, at('2025-01-01T00:06:00Z'));
    expect(other.since).toBe('2025-01-01T00:06:00.000Z');
    const restarted = stateRecord(refused, first, at('2025-01-01T00:07:00Z', { pid: 43 }));
    expect(restarted.since).toBe('2025-01-01T00:07:00.000Z');
  });

  it('reads back what it writes', () => {
    const r = stateRecord(refused, undefined, at('2025-01-01T00:00:00Z'));
    const text = serializeRecord(r);
    expect(text.endsWith('}\n')).toBe(true);
    expect(parseStateFile(text)).toEqual({ ok: true, record: r });
  });
});

describe('the file read back', () => {
  const good: ModuleStateRecord = {
    state: 'degraded',
    reason: 'modules-disabled',
    detail: 'the kernel loads no modules',
    kernelRelease: '6.1.0-27-amd64',
    since: '2025-01-01T00:00:00.000Z',
    pid: 7,
  };

  it("takes a newer loader's extra fields and reason words", () => {
    const newer = { ...good, reason: 'some-future-reason', attempts: 3 };
    const r = parseStateFile(JSON.stringify(newer));
    expect(r.ok).toBe(true);
  });

  it('says in one line why a file is not a state file', () => {
    expect(parseStateFile('{"state": "lo')).toEqual({
      ok: false,
      why: expect.stringMatching(/^not JSON: /),
    });
    const bad = parseStateFile(JSON.stringify({ ...good, state: 'happy', pid: -1 }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.why).toMatch(/^state: .*; pid: /);
      expect(bad.why).not.toContain('\n');
    }
    expect(parseStateFile('[]')).toMatchObject({
      ok: false,
      why: expect.stringMatching(/^the file: /),
    });
    expect(parseStateFile(JSON.stringify({ ...good, since: 'yesterday' }))).toMatchObject({
      ok: false,
      why: expect.stringMatching(/^since: /),
    });
  });

  describe('as /v1/status shows it', () => {
    const path = '/var/run/rewind/module/state.json';
    const release = '6.1.0-27-amd64';

    it('a good file: its state, reason, detail and since', () => {
      expect(loaderStatus(path, { kind: 'text', text: JSON.stringify(good) }, release)).toEqual({
        state: 'degraded',
        reason: 'modules-disabled',
        detail: 'the kernel loads no modules',
        since: '2025-01-01T00:00:00.000Z',
      });
    });

    it('no file: unknown, naming the path and what to check', () => {
      expect(loaderStatus(path, { kind: 'absent' }, release)).toEqual({
        state: 'unknown',
        reason: null,
        detail: `no loader state at ${path} (is the node DaemonSet's loader running, and its state folder mounted here?)`,
        since: null,
      });
    });

    it('a corrupt or unreadable file: unknown with the one-line reason', () => {
      const corrupt = loaderStatus(path, { kind: 'text', text: '{' }, release);
      expect(corrupt.state).toBe('unknown');
      expect(corrupt.detail).toMatch(
        new RegExp(`^the loader state at ${path} is corrupt: not JSON: `),
      );
      expect(
        loaderStatus(path, { kind: 'error', why: 'EACCES: permission denied' }, release),
      ).toMatchObject({
        state: 'unknown',
        detail: `cannot read the loader state at ${path}: EACCES: permission denied`,
      });
    });

    it('a file about another kernel (the node rebooted into a new one): stale, unknown', () => {
      const s = loaderStatus(path, { kind: 'text', text: JSON.stringify(good) }, '6.12.0-1-amd64');
      expect(s.state).toBe('unknown');
      expect(s.detail).toContain('is for kernel 6.1.0-27-amd64, not this node');
    });
  });
});
