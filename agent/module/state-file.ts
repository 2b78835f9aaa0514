/**
 * The loader's state file, defined once: what `rewind-agent load-module` writes on every change
 * of its state and `rewind-agent serve` reads into /v1/status (`moduleLoader`), so that
 * `kubectl rewind agents` can say why a node does not record. The two run in different pods of
 * different DaemonSets, rolled out independently: the reader ignores fields it does not know
 * and takes any reason word, so a newer loader does not read as a corrupt file. Pure: the I/O is
 * state-writer.ts (the loader) and ../module-state.ts (the agent).
 */
import { z } from 'zod';
import { oneLine } from '../../common/errors';
import type { LoadOutcome } from './policy';

/** The loader's states as `/healthz` starts its line with them (decisions.ts healthDetail). */
export const LOADER_STATES = ['loaded', 'pending', 'degraded'] as const;

export const moduleStateFileSchema = z.looseObject({
  state: z.enum(LOADER_STATES),
  /** The machine reason of a degraded state (policy.ts FailureReason), null otherwise. */
  reason: z
    .string()
    .regex(/^[a-z][a-z0-9-]*$/, 'must be a reason word')
    .nullable(),
  /** What was found and what to do: the sentence in /healthz's parentheses. */
  detail: z.string(),
  /** The kernel the loader ran on (uname -r). */
  kernelRelease: z.string().min(1),
  /** When this state (state and reason) began, ISO 8601. */
  since: z.iso.datetime({ offset: true }),
  /** The loader's process id (in its own pid namespace). */
  pid: z.number().int().positive(),
});

export type ModuleStateRecord = z.infer<typeof moduleStateFileSchema>;

/**
 * The record for the loader's current outcome. `since` is kept from the previous record while
 * the state and reason stay the same (a retry that fails the same way, a detail that changed
 * wording), so it says how long the node has been in this state.
 */
export function stateRecord(
  outcome: LoadOutcome,
  previous: ModuleStateRecord | undefined,
  at: { now: Date; kernelRelease: string; pid: number },
): ModuleStateRecord {
  const state =
    outcome.state === 'loaded' ? 'loaded' : outcome.state === 'pending' ? 'pending' : 'degraded';
  const reason = state === 'degraded' ? (outcome.reason ?? outcome.state) : null;
  const same =
    previous !== undefined &&
    previous.state === state &&
    previous.reason === reason &&
    previous.kernelRelease === at.kernelRelease &&
    previous.pid === at.pid;
  return {
    state,
    reason,
    detail: outcome.detail,
    kernelRelease: at.kernelRelease,
    since: same ? previous.since : at.now.toISOString(),
    pid: at.pid,
  };
}

/** Whether two records say the same thing (nothing to write). */
export function sameRecord(a: ModuleStateRecord | undefined, b: ModuleStateRecord): boolean {
  return (
    a !== undefined &&
    a.state === b.state &&
    a.reason === b.reason &&
    a.detail === b.detail &&
    a.kernelRelease === b.kernelRelease &&
    a.since === b.since &&
    a.pid === b.pid
  );
}

/** The file's text: one JSON object and a newline. */
export function serializeRecord(record: ModuleStateRecord): string {
  return `${JSON.stringify(record)}\n`;
}

/** The file's text read back, or why it is not a state file (one line). */
export function parseStateFile(
  text: string,
): { ok: true; record: ModuleStateRecord } | { ok: false; why: string } {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    return { ok: false, why: `not JSON: ${oneLine(e)}` };
  }
  const parsed = moduleStateFileSchema.safeParse(json);
  if (!parsed.success) {
    const why = parsed.error.issues
      .map((i) => `${i.path.join('.') || 'the file'}: ${i.message}`)
      .join('; ');
    return { ok: false, why };
  }
  return { ok: true, record: parsed.data };
}

/**
 * The loader's state as /v1/status shows it (`moduleLoader`): the file's, or `unknown` with why
 * the agent cannot tell. `kubectl rewind agents` renders it as `<state>[: <reason>] (<detail>)`.
 */
export interface ModuleLoaderStatus {
  state: (typeof LOADER_STATES)[number] | 'unknown';
  reason: string | null;
  detail: string;
  since: string | null;
}

/** What reading the file gave: its text, absent, or another error (one line). */
export type StateFileRead =
  { kind: 'text'; text: string } | { kind: 'absent' } | { kind: 'error'; why: string };

/** The status for what the agent read at `path`, on a node that runs `kernelRelease`. */
export function loaderStatus(
  path: string,
  read: StateFileRead,
  kernelRelease: string,
): ModuleLoaderStatus {
  const unknown = (detail: string): ModuleLoaderStatus => ({
    state: 'unknown',
    reason: null,
    detail,
    since: null,
  });
  if (read.kind === 'absent') {
    return unknown(
      `no loader state at ${path} (is the node DaemonSet's loader running, and its state folder mounted here?)`,
    );
  }
  if (read.kind === 'error') return unknown(`cannot read the loader state at ${path}: ${read.why}`);
  const parsed = parseStateFile(read.text);
  if (!parsed.ok) return unknown(`the loader state at ${path} is corrupt: ${parsed.why}`);
  const r = parsed.record;
  // The folder outlived a reboot into another kernel: what it says is about a kernel gone.
  if (r.kernelRelease !== kernelRelease) {
    return unknown(
      `the loader state at ${path} is for kernel ${r.kernelRelease}, not this node's ` +
        `${kernelRelease} (stale: is the node DaemonSet's loader running?)`,
    );
  }
  return { state: r.state, reason: r.reason, detail: r.detail, since: r.since };
}
