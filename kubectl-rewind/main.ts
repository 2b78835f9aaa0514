/**
 * The `kubectl-rewind` process: the command line run with the process's streams, Ctrl-C turned
 * into an abort of whatever the command follows (the snapshot itself keeps running), and the
 * exit status set. kubectl finds the binary on PATH and runs it as `kubectl rewind`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from './cli';

function version(): string {
  for (const up of ['..', '../..']) {
    try {
      return (
        JSON.parse(readFileSync(join(__dirname, up, 'package.json'), 'utf8')) as { version: string }
      ).version;
    } catch {
      // the next candidate: dist/kubectl-rewind → ../.. ; kubectl-rewind → ..
    }
  }
  return 'unknown';
}

export async function main(argv: string[]): Promise<number> {
  const interrupt = new AbortController();
  let interrupts = 0;
  const onSigint = () => {
    // The first Ctrl-C stops the following politely; a second one leaves at once.
    if (++interrupts > 1) process.exit(130);
    interrupt.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSigint);
  // A reader that went away (`kubectl rewind list | head -1`) ends the command quietly, as it
  // ends kubectl, instead of an unhandled EPIPE with a stack.
  for (const stream of [process.stdout, process.stderr])
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  try {
    return await runCli(argv, {
      out: process.stdout,
      err: process.stderr,
      now: () => Date.now(),
      signal: interrupt.signal,
      version: version(),
    });
  } finally {
    process.off('SIGINT', onSigint);
  }
}
