/**
 * `kubectl rewind agents`: every node's agent as the controller last saw it (`GET /v1/agents`,
 * which needs `list tracesnapshots`), joined with the cluster's nodes when the user may list them
 * (a node with no agent is shown as such; without that right only the agents are shown, and a
 * note says so).
 */
import { type Context } from '../context';
import { agentRows, agentsAnswerShape, agentTable } from '../agents';
import { controllerFailure, readJson } from '../connection';
import { CliError, UsageError } from '../errors';
import { asUser } from '../kube';

export async function agentsCommand(ctx: Context, o: { output?: string }): Promise<void> {
  if (o.output !== undefined && o.output !== 'wide' && o.output !== 'json')
    throw new UsageError(`-o: ${JSON.stringify(o.output)} is not wide or json`);
  const kube = ctx.kube();
  const controller = await ctx.controller();
  let answer;
  try {
    const res = await controller.get('/v1/agents', ctx.signal);
    if (res.statusCode !== 200) throw await controllerFailure(res, 'show the agents');
    const parsed = agentsAnswerShape.safeParse(await readJson(res));
    if (!parsed.success)
      throw new CliError(`${controller.describe} answered /v1/agents with something else`);
    answer = parsed.data;
  } finally {
    await controller.close();
  }
  let nodes: string[] | undefined;
  try {
    const list = await asUser(kube, { verb: 'list', resource: 'nodes' }, () =>
      kube.core.listNode(),
    );
    nodes = list.items.map((n) => n.metadata?.name ?? '').filter(Boolean);
  } catch (e) {
    ctx.err.write(`note: only nodes with an agent are listed (${(e as Error).message})\n`);
  }
  const rows = agentRows(answer, nodes, ctx.now());
  if (o.output === 'json')
    ctx.out.write(`${JSON.stringify({ agents: answer.agents, rows }, null, 2)}\n`);
  else ctx.out.write(agentTable(rows, o.output === 'wide'));
}
