/**
 * `kubectl rewind list`: TraceSnapshots as `kubectl get` shows objects (newest last), in the
 * namespace or all of them (`-A`), or as JSON / YAML / names.
 */
import { dump } from 'js-yaml';
import type { TraceSnapshot } from '../../controller/model';
import { type Context } from '../context';
import { listSnapshots } from '../snapshots';
import { UsageError } from '../errors';
import { snapshotTable } from '../format';

export const LIST_FORMATS = ['wide', 'json', 'yaml', 'name'] as const;

export async function listCommand(
  ctx: Context,
  o: { allNamespaces?: boolean; output?: string },
): Promise<void> {
  if (o.output !== undefined && !(LIST_FORMATS as readonly string[]).includes(o.output))
    throw new UsageError(
      `-o: ${JSON.stringify(o.output)} is not one of ${LIST_FORMATS.join(', ')}`,
    );
  const kube = ctx.kube();
  const all = o.allNamespaces === true;
  // As kubectl sorts: by namespace, then name.
  const key = (s: TraceSnapshot) => `${s.metadata.namespace}/${s.metadata.name}`;
  const items = (await listSnapshots(kube, all ? undefined : kube.namespace)).sort((a, b) =>
    key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0,
  );
  const list = { apiVersion: 'v1', kind: 'List', items };
  if (o.output === 'json') ctx.out.write(`${JSON.stringify(list, null, 2)}\n`);
  else if (o.output === 'yaml') ctx.out.write(dump(list, { noRefs: true, lineWidth: -1 }));
  else if (o.output === 'name')
    ctx.out.write(items.map((s) => `tracesnapshot.rewind.dev/${s.metadata.name}\n`).join(''));
  else if (items.length === 0)
    ctx.err.write(`No TraceSnapshots found${all ? '' : ` in ${kube.namespace} namespace`}.\n`);
  else
    ctx.out.write(
      snapshotTable(items, { wide: o.output === 'wide', allNamespaces: all, now: ctx.now() }),
    );
}
