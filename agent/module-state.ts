/**
 * The agent's side of the loader's state file (module/state-file.ts): read when /v1/status is
 * built, at most once per `maxAgeMs` (the controller polls every few seconds; a burst of requests
 * reads once), so `kubectl rewind agents` can say why a node's module is not loaded. The agent
 * has no Kubernetes API access: the loader, in the node DaemonSet's pod, leaves its state in a
 * host folder both pods mount. Never throws: what cannot be read is `unknown` with why.
 */
import { open } from 'node:fs/promises';
import { oneLine } from '../common/errors';
import { loaderStatus, type ModuleLoaderStatus, type StateFileRead } from './module/state-file';

/** A state file is a few hundred bytes; more than this is not one. */
export const STATE_FILE_LIMIT = 64 * 1024;

/** The file's text, absent, or why it cannot be read; never more than `limit` bytes read. */
export async function readStateFile(
  path: string,
  limit = STATE_FILE_LIMIT,
): Promise<StateFileRead> {
  let file;
  try {
    file = await open(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { kind: 'absent' } : { kind: 'error', why: oneLine(e) };
  }
  try {
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const { bytesRead } = await file.read(buffer, length, buffer.length - length, null);
      if (bytesRead === 0) break;
      length += bytesRead;
      if (length > limit) return { kind: 'error', why: `larger than ${limit} bytes` };
    }
    return { kind: 'text', text: buffer.subarray(0, length).toString('utf8') };
  } catch (e) {
    return { kind: 'error', why: oneLine(e) };
  } finally {
    await file.close().catch(() => undefined);
  }
}

export interface ModuleStateReaderOptions {
  path: string;
  /** This node's kernel (uname -r): a file about another kernel is stale. */
  kernelRelease: string;
  /** Milliseconds, any origin (monotonic is best). */
  now: () => number;
  /** How long a reading is reused. */
  maxAgeMs?: number;
  read?: (path: string) => Promise<StateFileRead>;
}

export class ModuleStateReader {
  private last: { at: number; status: ModuleLoaderStatus } | undefined;
  private reading: Promise<ModuleLoaderStatus> | undefined;
  private readonly maxAgeMs: number;
  private readonly read: (path: string) => Promise<StateFileRead>;

  constructor(private readonly opts: ModuleStateReaderOptions) {
    this.maxAgeMs = opts.maxAgeMs ?? 1000;
    this.read = opts.read ?? ((p) => readStateFile(p));
  }

  /** The loader's state, read again when the last reading is older than `maxAgeMs`. */
  current(): Promise<ModuleLoaderStatus> {
    const now = this.opts.now();
    if (this.last && now - this.last.at < this.maxAgeMs) return Promise.resolve(this.last.status);
    // Requests that arrive while a read is under way share it.
    this.reading ??= this.read(this.opts.path)
      .catch((e: unknown): StateFileRead => ({ kind: 'error', why: oneLine(e) }))
      .then((read) => {
        const status = loaderStatus(this.opts.path, read, this.opts.kernelRelease);
        this.last = { at: now, status };
        this.reading = undefined;
        return status;
      });
    return this.reading;
  }
}
