/**
 * `kubectl rewind snapshot`: checks the flags (usage errors before anything is asked of the
 * cluster), finds the node of `--pod`, creates the TraceSnapshot with the user's rights and
 * prints its name; `--wait` follows it, `-o DIR` (implies --wait) downloads its trace.
 */
import type { SnapshotTarget } from '../../controller/model';
import { type Context } from '../context';
import { createSnapshot } from '../snapshots';
import { CliError } from '../errors';
import { checkOutput } from '../download';
import { asUser } from '../kube';
import { snapshotObject, targetRequest, type SnapshotFlags } from '../spec';
import { finish } from './follow';

export interface SnapshotCommandFlags extends SnapshotFlags {
  wait?: boolean;
  output?: string;
  force?: boolean;
}

export async function snapshotCommand(ctx: Context, flags: SnapshotCommandFlags): Promise<void> {
  const request = targetRequest(flags);
  // The whole object (window, reason, name, ttl) is checked with a stand-in target before the
  // cluster is asked anything.
  snapshotObject(flags, 'default', { allNodes: true });
  if (flags.output !== undefined) await checkOutput(flags.output, flags.force ?? false);

  const kube = ctx.kube();
  const namespace = kube.namespace;
  let target: SnapshotTarget;
  if (request.kind === 'pod') {
    const pod = await asUser(
      kube,
      { verb: 'get', resource: 'pods', namespace, name: request.pod },
      () => kube.core.readNamespacedPod({ namespace, name: request.pod }),
    );
    const node = pod.spec?.nodeName;
    if (!node)
      throw new CliError(`pod ${namespace}/${request.pod} is not on a node yet (not scheduled)`);
    target = { nodeNames: [node] };
  } else if (request.kind === 'pods') {
    target = { pods: { namespace, labelSelector: request.labelSelector } };
  } else {
    target = request.target;
  }
  const since = ctx.now();
  const created = await createSnapshot(kube, namespace, snapshotObject(flags, namespace, target));
  ctx.out.write(`tracesnapshot.rewind.dev/${created.metadata.name} created\n`);
  const wait = flags.wait === true || flags.output !== undefined;
  if (!wait) return;
  await finish(ctx, created, since, {
    wait,
    ...(flags.output !== undefined ? { output: flags.output } : {}),
    force: flags.force ?? false,
  });
}
