/**
 * The progress of a snapshot being followed (kubectl-rewind/progress.ts, pure): what its status
 * says (phase, nodes done of total, bytes), the one line printed for it, and when a plain line is
 * worth printing again.
 */
import {
  isFinal,
  progressChanged,
  progressLine,
  progressOf,
  type Progress,
} from '../../kubectl-rewind/progress';
import { snapshot } from './snapshot-fixtures';

describe('progressOf', () => {
  it('a new snapshot without status: Pending, nothing done, total unknown', () => {
    expect(progressOf(snapshot({ name: 's' }))).toEqual({
      phase: 'Pending',
      nodesDone: 0,
      nodesTotal: undefined,
      bytes: 0,
    });
  });

  it('while collecting: the progress the controller writes', () => {
    expect(
      progressOf(
        snapshot({
          name: 's',
          status: {
            phase: 'Collecting',
            nodeCount: 4,
            progress: { nodesDone: 1, nodesTotal: 3, bytes: 4096 },
          },
        }),
      ),
    ).toEqual({ phase: 'Collecting', nodesDone: 1, nodesTotal: 3, bytes: 4096 });
  });

  it('the node count stands in for a total before the first progress', () => {
    expect(
      progressOf(snapshot({ name: 's', status: { phase: 'Collecting', nodeCount: 5 } })),
    ).toEqual({ phase: 'Collecting', nodesDone: 0, nodesTotal: 5, bytes: 0 });
  });

  it('final: nodes that ended (collected or failed) and the trace size', () => {
    expect(
      progressOf(
        snapshot({
          name: 's',
          status: {
            phase: 'PartiallyFailed',
            nodeCount: 3,
            progress: { nodesDone: 2, nodesTotal: 3, bytes: 10 },
            nodes: [
              { name: 'a', phase: 'Collected' },
              { name: 'b', phase: 'Failed', error: 'x' },
              { name: 'c', phase: 'Collected' },
            ],
            trace: { sizeBytes: 777 },
          },
        }),
      ),
    ).toEqual({ phase: 'PartiallyFailed', nodesDone: 3, nodesTotal: 3, bytes: 777 });
  });

  it('a Failed snapshot without a trace keeps the bytes it had collected', () => {
    expect(
      progressOf(
        snapshot({
          name: 's',
          status: {
            phase: 'Failed',
            nodeCount: 1,
            progress: { nodesDone: 1, nodesTotal: 1, bytes: 99 },
            nodes: [{ name: 'a', phase: 'Failed', error: 'x' }],
          },
        }),
      ),
    ).toEqual({ phase: 'Failed', nodesDone: 1, nodesTotal: 1, bytes: 99 });
  });
});

describe('progressLine', () => {
  it('phase, nodes done of total, bytes and elapsed time in fixed columns', () => {
    const line = progressLine(
      { phase: 'Collecting', nodesDone: 1, nodesTotal: 3, bytes: 12 * 1024 * 1024 },
      5_000,
    );
    expect(line).toBe('Collecting      nodes 1/3    12 MiB     5s');
    const later = progressLine(
      { phase: 'PartiallyFailed', nodesDone: 12, nodesTotal: 100, bytes: 1536 },
      190_000,
    );
    // The columns stay where they were while the values grow.
    expect(later).toBe('PartiallyFailed nodes 12/100 1.5 KiB    3m10s');
    expect(later.indexOf('nodes')).toBe(line.indexOf('nodes'));
  });

  it('an unknown total is "?"', () => {
    expect(
      progressLine({ phase: 'Pending', nodesDone: 0, nodesTotal: undefined, bytes: 0 }, 0),
    ).toBe('Pending         nodes 0/?    0 B        0s');
  });
});

describe('progressChanged', () => {
  const p: Progress = { phase: 'Collecting', nodesDone: 1, nodesTotal: 3, bytes: 100 };

  it('the first line is always worth printing', () => {
    expect(progressChanged(undefined, p)).toBe(true);
  });

  it('a new phase, node done or total is a change; more bytes alone are not', () => {
    expect(progressChanged(p, { ...p })).toBe(false);
    expect(progressChanged(p, { ...p, bytes: 200 })).toBe(false);
    expect(progressChanged(p, { ...p, phase: 'Merging' })).toBe(true);
    expect(progressChanged(p, { ...p, nodesDone: 2 })).toBe(true);
    expect(progressChanged(p, { ...p, nodesTotal: 4 })).toBe(true);
    expect(progressChanged({ ...p, nodesTotal: undefined }, p)).toBe(true);
  });
});

describe('isFinal', () => {
  it.each([
    ['Complete', true],
    ['PartiallyFailed', true],
    ['Failed', true],
    ['Pending', false],
    ['Collecting', false],
    ['Merging', false],
  ] as const)('%s: %p', (phase, final) => {
    expect(isFinal(snapshot({ name: 's', status: { phase } }))).toBe(final);
  });

  it('no status is not final', () => {
    expect(isFinal(snapshot({ name: 's' }))).toBe(false);
  });
});
