/**
 * POST /v1/snapshots, the I/O: one snapshot at a time, written by the native snapshot into a
 * scratch folder (one copy from ring to file), then streamed out as a tar — `manifest.json` and
 * `trace/` (metadata, stream_<cpu>) — file by file, never held whole in memory, and removed.
 * A client that goes away aborts the stream and the scratch folder is removed; the rings keep
 * recording throughout (a snapshot never stops them).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { pack } from 'tar-stream';
import type { ClockSample } from '../native';
import { buildManifest, metadataFacts, type ContainerFacts, type ManifestInput } from './manifest';
import type { Recorder } from './recorder';

export type SnapshotOutcome = 'ok' | 'aborted' | 'failed';

export interface SnapshotDeps {
  recorder: Recorder;
  scratchDir: string;
  node: string;
  kernelRelease: string;
  agentVersion: string;
  ring: ManifestInput['ring'];
  clock: () => ClockSample;
  /** Refreshes and returns the node's container facts (right before the snapshot). */
  containers: () => Promise<ContainerFacts>;
  log: Logger;
  /** Called once per snapshot with its outcome, seconds and bytes sent. */
  observe: (outcome: SnapshotOutcome, seconds: number, bytes: number) => void;
}

/** The archive's layout. */
export const ARCHIVE = { manifest: 'manifest.json', traceDir: 'trace' } as const;

export class SnapshotService {
  private inFlight: Promise<void> | undefined;

  constructor(private readonly deps: SnapshotDeps) {}

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  /** Resolves when the snapshot in flight (if any) has finished or been cut off. */
  async settled(): Promise<void> {
    await this.inFlight;
  }

  /** Takes a snapshot and streams it into res; the caller has checked `busy`. */
  serve(res: ServerResponse, windowSeconds: number | undefined): Promise<void> {
    const run = this.run(res, windowSeconds).finally(() => {
      this.inFlight = undefined;
    });
    this.inFlight = run;
    return run;
  }

  private async run(res: ServerResponse, windowSeconds: number | undefined): Promise<void> {
    const { deps } = this;
    const started = performance.now();
    let sent = 0;
    let gone = false;
    res.once('close', () => {
      if (!res.writableFinished) gone = true;
    });
    deps.log.debug({ windowSeconds }, 'snapshot requested');
    let scratch: string | undefined;
    let outcome: SnapshotOutcome = 'failed';
    try {
      scratch = await mkdtemp(join(deps.scratchDir, 'snapshot-'));
      const requestedAt = deps.clock();
      const containers = await deps.containers();
      const traceDir = join(scratch, ARCHIVE.traceDir);
      const result = await deps.recorder.snapshot(traceDir);
      if (gone) {
        outcome = 'aborted';
        deps.log.info('snapshot abandoned: the client went away while it was taken');
        return;
      }
      const metadata = await readFile(join(traceDir, 'metadata'), 'utf8');
      const files = (await readdir(traceDir)).sort();
      const versions = deps.recorder.versions ?? { abi: 0, format: 0 };
      const manifest = buildManifest({
        node: deps.node,
        kernelRelease: deps.kernelRelease,
        agentVersion: deps.agentVersion,
        abiVersion: versions.abi,
        formatVersion: versions.format,
        metadata: metadataFacts(metadata),
        requestedAt: { monotonicNs: requestedAt.monotonicNs, realtimeNs: requestedAt.realtimeNs },
        windowSeconds,
        result,
        stats: deps.recorder.stats(),
        ring: deps.ring,
        containers,
        files,
      });
      const archive = pack();
      res.writeHead(200, {
        'content-type': 'application/x-tar',
        'x-rewind-node': encodeURIComponent(deps.node),
        'x-rewind-trace-uuid': manifest.traceUuid,
      });
      const streaming = pipeline(archive, res);
      // Awaited below; a handler now so a client leaving between two awaits is no unhandled
      // rejection (which would end the process).
      streaming.catch(() => undefined);
      const manifestBytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`);
      archive.entry({ name: ARCHIVE.manifest, size: manifestBytes.length }, manifestBytes);
      sent += manifestBytes.length;
      for (const file of files) {
        const path = join(traceDir, file);
        const { size } = await stat(path);
        const entry = archive.entry({ name: `${ARCHIVE.traceDir}/${file}`, size });
        await Promise.race([pipeline(createReadStream(path), entry), streaming]);
        sent += size;
      }
      archive.finalize();
      await streaming;
      outcome = 'ok';
      deps.log.info(
        { bytes: sent, cpus: result.cpus.length, seconds: (performance.now() - started) / 1000 },
        'snapshot served',
      );
    } catch (e) {
      if (gone) {
        outcome = 'aborted';
        deps.log.info('snapshot cut off: the client went away');
      } else {
        deps.log.error({ err: (e as Error).message }, 'snapshot failed');
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: `snapshot failed: ${(e as Error).message}` }));
        } else {
          res.destroy(e as Error);
        }
      }
    } finally {
      // Counted as soon as the stream has ended, before the scratch folder goes (slow on a busy
      // node): a client that has its snapshot finds it in the metrics.
      deps.observe(outcome, (performance.now() - started) / 1000, sent);
      if (scratch) await rm(scratch, { recursive: true, force: true });
    }
  }
}
