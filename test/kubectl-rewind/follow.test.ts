/**
 * The line printed after Ctrl-C while following a snapshot (kubectl-rewind/commands/follow.ts
 * resumeHint, pure): a command that, pasted as it is, follows the same snapshot on the same
 * cluster — the kubeconfig and context as given, the Rewind namespace for a download, a folder
 * with blanks or quotes quoted for the shell (checked by bash itself); and how a failed
 * snapshot is reported (reportEnd).
 */
import { spawnSync } from 'node:child_process';
import { reportEnd, resumeHint } from '../../kubectl-rewind/commands/follow';
import type { Context } from '../../kubectl-rewind/context';
import type { TraceSnapshot } from '../../controller/model';
import { DEFAULT_REWIND_NAMESPACE } from '../../kubectl-rewind/connection-info';

const plain = { rewindNamespace: DEFAULT_REWIND_NAMESPACE };

it('get --wait without -o; download --wait -o DIR with it', () => {
  expect(resumeHint('team', 'manual-x7k2p', {}, plain)).toBe(
    'kubectl rewind get manual-x7k2p -n team --wait',
  );
  expect(resumeHint('team', 'manual-x7k2p', { output: './incident' }, plain)).toBe(
    'kubectl rewind download manual-x7k2p -n team --wait -o ./incident',
  );
});

it('keeps the cluster: --kubeconfig and --context as given; --rewind-namespace for a download', () => {
  const flags = { kubeconfig: '/k/prod', context: 'prod-admin', rewindNamespace: 'tools' };
  expect(resumeHint('team', 's', {}, flags)).toBe(
    'kubectl rewind get s -n team --wait --kubeconfig /k/prod --context prod-admin',
  );
  expect(resumeHint('team', 's', { output: 'out' }, flags)).toBe(
    'kubectl rewind download s -n team --wait -o out --kubeconfig /k/prod --context prod-admin --rewind-namespace tools',
  );
});

it('a folder with blanks and quotes reaches the command as one word', () => {
  const dir = "my traces/it's here";
  const hint = resumeHint('team', 's', { output: dir }, plain);
  // bash splits the hint into words; the -o word must be the folder as given.
  const words = spawnSync(
    'bash',
    ['-c', `printf '%s\\n' ${hint.replace(/^kubectl rewind /, '')}`],
    {
      encoding: 'utf8',
    },
  ).stdout.split('\n');
  expect(words[words.indexOf('-o') + 1]).toBe(dir);
});

// How a failed snapshot is reported: the Ready condition's message, then the failed nodes it
// does not already name (a failure of every node lists each in the message: said once).
describe('reportEnd of a Failed snapshot', () => {
  const ctx = {} as Context;
  const failedSnapshot = (message: string, nodes: { name: string; error: string }[]) =>
    ({
      metadata: { namespace: 'default', name: 'manual-1' },
      status: {
        phase: 'Failed',
        conditions: [{ type: 'Ready', status: 'False', reason: 'NoNodeCollected', message }],
        nodes: nodes.map((n) => ({ ...n, phase: 'Failed' })),
      },
    }) as unknown as TraceSnapshot;
  const thrown = (s: TraceSnapshot): string => {
    try {
      reportEnd(ctx, s);
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('reportEnd did not throw for a Failed snapshot');
  };

  it('names each failed node once', () => {
    const nodes = [{ name: 'vm', error: 'rewind agent pod rewind-system/a is not scheduled (x)' }];
    expect(thrown(failedSnapshot(`no node could be collected: vm: ${nodes[0].error}`, nodes))).toBe(
      'snapshot default/manual-1 failed: no node could be collected: vm: rewind agent pod ' +
        'rewind-system/a is not scheduled (x)',
    );
  });

  it('adds the failed nodes the message does not name', () => {
    const nodes = [
      { name: 'a', error: 'timed out' },
      { name: 'b', error: 'refused' },
    ];
    expect(thrown(failedSnapshot('the merge failed', nodes))).toBe(
      'snapshot default/manual-1 failed: the merge failed — a: timed out; b: refused',
    );
  });
});
