/**
 * The agent's manifest.json as the controller reads it (agent/manifest.ts writes it): a zod
 * schema of the fields the controller uses (`AgentManifest` in model.ts), other fields kept as
 * they are. 64-bit values stay decimal strings. A manifest that names another node than the one
 * dialed is refused: the pod IP led somewhere else.
 */
import { z } from 'zod';
import type { AgentManifest } from '../model';
import { CollectError } from './errors';

const decimal = z.string().regex(/^-?\d{1,20}$/, 'must be a decimal integer string');

export const agentManifestSchema = z.looseObject({
  manifestVersion: z.number().int().min(1),
  node: z.string().min(1),
  kernelRelease: z.string(),
  bootId: z.string(),
  traceUuid: z.string().min(1),
  clock: z.looseObject({
    offsetNs: decimal,
    requestedAtMonotonicNs: decimal,
    requestedAtRealtimeNs: decimal,
  }),
  window: z.looseObject({
    seconds: z.number().positive().nullable(),
    fromMonotonicNs: decimal.optional(),
    toMonotonicNs: decimal.optional(),
  }),
  containers: z.looseObject({
    cgroups: z.array(
      z.looseObject({
        cgroupId: decimal,
        path: z.string(),
        kind: z.string().optional(),
        podUid: z.string().optional(),
        containerId: z.string().optional(),
        exited: z.boolean(),
      }),
    ),
  }),
});

/** Parses manifest.json's text for `node`; throws a 'bad-archive' CollectError naming the issue. */
export function parseAgentManifest(text: string, node: string, where: string): AgentManifest {
  const bad = (why: string) =>
    new CollectError(
      'bad-archive',
      `the manifest.json of ${where} is not usable (${why}): check that agent and controller versions match`,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw bad(`invalid JSON: ${(e as Error).message}`);
  }
  const r = agentManifestSchema.safeParse(json);
  if (!r.success)
    throw bad(
      r.error.issues.map((i) => `${i.path.join('.') || 'manifest'}: ${i.message}`).join('; '),
    );
  if (r.data.node !== node)
    throw new CollectError(
      'bad-archive',
      `agent ${where} sent the trace of node ${JSON.stringify(r.data.node)}, not ${JSON.stringify(node)}: check that the agent pod's IP belongs to that node`,
    );
  return r.data as AgentManifest;
}
