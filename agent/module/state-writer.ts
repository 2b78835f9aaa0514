/**
 * The loader's side of the state file (state-file.ts): on every change of its outcome the loader
 * publishes a record, written whole under a temporary name in the same folder and renamed over
 * the file, so the agent never reads half a file. Writing is best effort: the loader's job is the
 * module, and /healthz still says everything; a failure is logged once per state and retried at
 * the next publish, never thrown.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { oneLine } from '../../common/errors';
import type { LoadOutcome } from './policy';
import { sameRecord, serializeRecord, stateRecord, type ModuleStateRecord } from './state-file';

/** Writes `text` to `path` atomically: a sibling of our own, then a rename over it. */
export async function writeAtomically(path: string, text: string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temporary = join(
    dir,
    `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`,
  );
  try {
    await writeFile(temporary, text, { mode: 0o644 });
    await rename(temporary, path);
  } catch (e) {
    await rm(temporary, { force: true }).catch(() => undefined);
    throw e;
  }
}

export interface StateWriterOptions {
  path: string;
  log: Logger;
  kernelRelease: string;
  /** Milliseconds since the epoch. */
  now: () => number;
  pid?: number;
  /** The write itself; writeAtomically unless a test stands in. */
  write?: (path: string, text: string) => Promise<void>;
}

export class ModuleStateWriter {
  /** The record the file holds (the last write that succeeded). */
  private written: ModuleStateRecord | undefined;
  /** The last record asked for, written or not: `since` carries on from it. */
  private wanted: ModuleStateRecord | undefined;
  /** The state (`state/reason`) whose write failure was logged, so it is logged once. */
  private failureLogged: string | undefined;
  private readonly write: (path: string, text: string) => Promise<void>;
  private readonly pid: number;

  constructor(private readonly opts: StateWriterOptions) {
    this.write = opts.write ?? writeAtomically;
    this.pid = opts.pid ?? process.pid;
  }

  /** What the file holds, as far as this writer knows. */
  get current(): ModuleStateRecord | undefined {
    return this.written;
  }

  /** Writes the record for `outcome` unless the file already says it. Never throws. */
  async publish(outcome: LoadOutcome): Promise<void> {
    const record = stateRecord(outcome, this.wanted, {
      now: new Date(this.opts.now()),
      kernelRelease: this.opts.kernelRelease,
      pid: this.pid,
    });
    this.wanted = record;
    if (sameRecord(this.written, record)) return;
    const key = `${record.state}/${record.reason ?? ''}`;
    try {
      await this.write(this.opts.path, serializeRecord(record));
      this.written = record;
      this.failureLogged = undefined;
    } catch (e) {
      if (this.failureLogged === key) return;
      this.failureLogged = key;
      this.opts.log.warn(
        { path: this.opts.path, state: record.state, reason: record.reason },
        `cannot write the loader state to ${this.opts.path} (${oneLine(e)}): the agent's ` +
          '/v1/status will not show it; /healthz does',
      );
    }
  }

  /** Removes the file (the loader unloaded the module on its way out). Never throws. */
  async remove(): Promise<void> {
    try {
      await rm(this.opts.path, { force: true });
      this.written = undefined;
    } catch (e) {
      this.opts.log.warn(
        { path: this.opts.path },
        `cannot remove ${this.opts.path}: ${oneLine(e)}`,
      );
    }
  }
}
