/**
 * `kubectl rewind download NAME -o DIR`: the unified trace of a finished snapshot, through the
 * controller (which checks that the user may `get` it), unpacked whole into DIR; `--wait` first
 * follows a snapshot that is still running.
 */
import { type Context } from '../context';
import { readSnapshot } from '../snapshots';
import { checkOutput } from '../download';
import { finish } from './follow';

export async function downloadCommand(
  ctx: Context,
  name: string,
  o: { output: string; force?: boolean; wait?: boolean },
): Promise<void> {
  await checkOutput(o.output, o.force ?? false);
  const kube = ctx.kube();
  const since = ctx.now();
  const s = await readSnapshot(kube, kube.namespace, name);
  await finish(ctx, s, since, { wait: o.wait ?? false, output: o.output, force: o.force ?? false });
}
