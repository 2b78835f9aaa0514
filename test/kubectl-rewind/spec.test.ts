/**
 * `kubectl rewind snapshot`'s flags as a TraceSnapshot (kubectl-rewind/spec.ts, pure): Go-style
 * durations and the window's bounds, the one target the flags choose, and the object to create.
 * Every rule the CRD would refuse is a usage error (exit 2) that names the flag.
 */
import { API_VERSION, KIND, LABEL_TRIGGER } from '../../controller/model';
import { EXIT_USAGE, UsageError } from '../../kubectl-rewind/errors';
import {
  parseDuration,
  parseWindow,
  REASON_MAX,
  snapshotObject,
  targetRequest,
  type SnapshotFlags,
} from '../../kubectl-rewind/spec';

/** The usage error `fn` throws (fails the test when it returns). */
function usage(fn: () => unknown): UsageError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    expect((e as UsageError).exitCode).toBe(EXIT_USAGE);
    expect((e as UsageError).message).not.toContain('\n');
    return e as UsageError;
  }
  throw new Error('no usage error');
}

describe('parseDuration', () => {
  it.each([
    ['30s', 30],
    ['2m', 120],
    ['1m30s', 90],
    ['1h', 3600],
    ['1h2m3s', 3723],
    ['45', 45],
    [' 10s ', 10],
    ['1.5m', 90],
    ['0.5h', 1800],
    // Exact, as Go's ParseDuration: 1.1 × 3600 is 3960.0000000000005 in floating point.
    ['1.1h', 3960],
    ['0.1m', 6],
    ['0', 0],
  ])('%s is %d seconds', (text, seconds) => {
    expect(parseDuration(text, '--ttl')).toBe(seconds);
  });

  it.each(['1.5s', '0.01m', '1m0.5s', '0.0000000001h'])(
    '%s is refused: not a whole number of seconds',
    (text) => {
      expect(usage(() => parseDuration(text, '--ttl')).message).toBe(
        `--ttl: ${text} is not a whole number of seconds`,
      );
    },
  );

  it.each(['', 'abc', '30S', '500ms', '-5s', '1h30', 's', '1.m', '.5m', '10 s', '1d', '3e2'])(
    '%j is not a duration',
    (text) => {
      expect(usage(() => parseDuration(text, '--window')).message).toBe(
        `--window: ${JSON.stringify(text)} is not a duration (e.g. 30s, 2m, 1m30s)`,
      );
    },
  );
});

describe('parseWindow: within the CRD bounds 1…3600', () => {
  it.each([
    ['1s', 1],
    ['1', 1],
    ['60m', 3600],
    ['1h', 3600],
    ['3600', 3600],
    ['59m60s', 3600],
  ])('%s is %d', (text, seconds) => {
    expect(parseWindow(text)).toBe(seconds);
  });

  it.each(['0', '0s', '3601', '1h1s', '2h', '99999999999999999999'])('%s is outside', (text) => {
    expect(usage(() => parseWindow(text)).message).toBe(
      `--window: ${text} is outside 1s…1h (what a node's rings can hold)`,
    );
  });

  it('garbage and fractions name --window', () => {
    expect(usage(() => parseWindow('soon')).message).toMatch(/^--window: "soon" is not a duration/);
    expect(usage(() => parseWindow('2.5s')).message).toBe(
      '--window: 2.5s is not a whole number of seconds',
    );
  });
});

describe('targetRequest: exactly one target', () => {
  const base: SnapshotFlags = { window: '10s' };

  it('--node, repeated and deduplicated in order', () => {
    expect(targetRequest({ ...base, node: ['b', 'a', 'b', 'worker-1.example.com'] })).toEqual({
      kind: 'target',
      target: { nodeNames: ['b', 'a', 'worker-1.example.com'] },
    });
  });

  it('--selector: nodes by labels', () => {
    expect(targetRequest({ ...base, selector: 'role=db,!spot' })).toEqual({
      kind: 'target',
      target: {
        nodeSelector: {
          matchLabels: { role: 'db' },
          matchExpressions: [{ key: 'spot', operator: 'DoesNotExist' }],
        },
      },
    });
  });

  it('--pod: a node still to look up', () => {
    expect(targetRequest({ ...base, pod: 'web-7d9f' })).toEqual({ kind: 'pod', pod: 'web-7d9f' });
  });

  it('-l: pods by labels', () => {
    expect(targetRequest({ ...base, podSelector: 'app in (web,api)' })).toEqual({
      kind: 'pods',
      labelSelector: {
        matchExpressions: [{ key: 'app', operator: 'In', values: ['web', 'api'] }],
      },
    });
  });

  it('--all-nodes', () => {
    expect(targetRequest({ ...base, allNodes: true })).toEqual({
      kind: 'target',
      target: { allNodes: true },
    });
  });

  it('none: the error names every choice', () => {
    const m = usage(() => targetRequest(base)).message;
    for (const flag of ['--node', '--selector', '--pod', '-l', '--all-nodes'])
      expect(m).toContain(flag);
    // An empty --node list and --all-nodes=false choose nothing either.
    expect(usage(() => targetRequest({ ...base, node: [], allNodes: false })).message).toBe(m);
  });

  it('two: the error names both', () => {
    expect(usage(() => targetRequest({ ...base, node: ['a'], allNodes: true })).message).toBe(
      '--node and --all-nodes cannot be combined: choose one target',
    );
    expect(usage(() => targetRequest({ ...base, pod: 'p', podSelector: 'a=b' })).message).toBe(
      '--pod and -l cannot be combined: choose one target',
    );
    expect(
      usage(() => targetRequest({ ...base, selector: 'a', podSelector: 'b', allNodes: true }))
        .message,
    ).toBe('--selector and -l and --all-nodes cannot be combined: choose one target');
  });

  it.each([['Worker-1'], ['node_1'], [''], ['-a'], ['a..b'], ['x'.repeat(254)]])(
    'a bad node name %j',
    (name) => {
      expect(usage(() => targetRequest({ ...base, node: ['good', name] })).message).toBe(
        `--node: ${JSON.stringify(name)} is not a node name`,
      );
    },
  );

  it('a 253-character node name is a name', () => {
    const name = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    expect(name).toHaveLength(253);
    expect(targetRequest({ ...base, node: [name] })).toEqual({
      kind: 'target',
      target: { nodeNames: [name] },
    });
  });

  it('a bad pod name, a bad selector', () => {
    expect(usage(() => targetRequest({ ...base, pod: 'Web' })).message).toBe(
      '--pod: "Web" is not a pod name',
    );
    expect(usage(() => targetRequest({ ...base, selector: '' })).message).toBe(
      '--selector: an empty selector',
    );
    expect(usage(() => targetRequest({ ...base, podSelector: 'a b' })).message).toMatch(/^-l: /);
  });
});

describe('snapshotObject', () => {
  const target = { nodeNames: ['a'] };

  it('a generated name, the manual trigger label, the window', () => {
    expect(snapshotObject({ window: '30s' }, 'shop', target)).toEqual({
      apiVersion: API_VERSION,
      kind: KIND,
      metadata: {
        namespace: 'shop',
        generateName: 'manual-',
        labels: { [LABEL_TRIGGER]: 'manual' },
      },
      spec: { target, windowSeconds: 30 },
    });
    expect(LABEL_TRIGGER).toBe('rewind.dev/trigger');
  });

  it('--name instead of generateName; --reason; --ttl in seconds (0 keeps it forever)', () => {
    const o = snapshotObject(
      { window: '1m', name: 'incident-42', reason: 'p99 spike', ttl: '1h' },
      'default',
      target,
    );
    expect(o.metadata).toEqual({
      namespace: 'default',
      name: 'incident-42',
      labels: { [LABEL_TRIGGER]: 'manual' },
    });
    expect(o.metadata).not.toHaveProperty('generateName');
    expect(o.spec).toEqual({
      target,
      windowSeconds: 60,
      reason: 'p99 spike',
      ttlSecondsAfterFinished: 3600,
    });
    expect(
      snapshotObject({ window: '1s', ttl: '0' }, 'd', target).spec.ttlSecondsAfterFinished,
    ).toBe(0);
  });

  it('a reason of exactly the CRD maximum is kept; one more character is refused', () => {
    expect(REASON_MAX).toBe(1024);
    const reason = 'r'.repeat(REASON_MAX);
    expect(snapshotObject({ window: '1s', reason }, 'd', target).spec.reason).toBe(reason);
    expect(
      usage(() => snapshotObject({ window: '1s', reason: `${reason}r` }, 'd', target)).message,
    ).toBe('--reason: longer than 1024 characters');
  });

  it('refuses a bad window, name or ttl', () => {
    expect(usage(() => snapshotObject({ window: '0s' }, 'd', target)).message).toMatch(
      /^--window: /,
    );
    expect(
      usage(() => snapshotObject({ window: '1s', name: 'Bad_Name' }, 'd', target)).message,
    ).toBe(`--name: "Bad_Name" is not a valid name (lower case, digits, '-', '.')`);
    expect(
      usage(() => snapshotObject({ window: '1s', ttl: 'later' }, 'd', target)).message,
    ).toMatch(/^--ttl: "later" is not a duration/);
    expect(usage(() => snapshotObject({ window: '1s', ttl: '8761h' }, 'd', target)).message).toBe(
      '--ttl: 8761h is longer than a year',
    );
    expect(
      snapshotObject({ window: '1s', ttl: '8760h' }, 'd', target).spec.ttlSecondsAfterFinished,
    ).toBe(31_536_000);
  });
});
