/**
 * The line printed after Ctrl-C while following a snapshot (kubectl-rewind/commands/follow.ts
 * resumeHint, pure): a command that, pasted as it is, follows the same snapshot on the same
 * cluster — the kubeconfig and context as given, the Rewind namespace for a download, a folder
 * with blanks or quotes quoted for the shell (checked by bash itself).
 */
import { spawnSync } from 'node:child_process';
import { resumeHint } from '../../kubectl-rewind/commands/follow';
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
