/**
 * `kubectl rewind get NAME`: one snapshot — phase, target, per-node results with clock offsets
 * and uncertainties, conditions — or its object as JSON / YAML; `--wait` follows it to its end.
 */
import { dump } from 'js-yaml';
import { type Context } from '../context';
import { readSnapshot } from '../snapshots';
import { UsageError } from '../errors';
import { describeSnapshot } from '../format';
import { follow } from './follow';
import { isFinal } from '../progress';

export async function getCommand(
  ctx: Context,
  name: string,
  o: { output?: string; wait?: boolean },
): Promise<void> {
  if (o.output !== undefined && o.output !== 'json' && o.output !== 'yaml')
    throw new UsageError(`-o: ${JSON.stringify(o.output)} is not json or yaml`);
  const kube = ctx.kube();
  const since = ctx.now();
  let s = await readSnapshot(kube, kube.namespace, name);
  if (o.wait && !isFinal(s)) s = await follow(ctx, kube.namespace, name, since, {});
  if (o.output === 'json') ctx.out.write(`${JSON.stringify(s, null, 2)}\n`);
  else if (o.output === 'yaml') ctx.out.write(dump(s, { noRefs: true, lineWidth: -1 }));
  else ctx.out.write(describeSnapshot(s, ctx.now()));
}
