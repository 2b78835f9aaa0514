/**
 * `kubectl rewind delete NAME…`: deletes TraceSnapshots with the user's rights; the controller's
 * finalizer removes each one's stored trace first.
 */
import { type Context } from '../context';
import { deleteSnapshot } from '../snapshots';

export async function deleteCommand(ctx: Context, names: string[]): Promise<void> {
  const kube = ctx.kube();
  for (const name of names) {
    await deleteSnapshot(kube, kube.namespace, name);
    ctx.out.write(`tracesnapshot.rewind.dev "${name}" deleted\n`);
  }
}
