/**
 * The plugin's failures, each one line a person can act on, with kubectl's exit statuses: 1 for
 * a failure, 2 for a usage error (a bad flag or argument, found before anything is asked of the
 * cluster).
 */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
/** Interrupted (Ctrl-C) while following a snapshot: it keeps running in the cluster. */
export const EXIT_INTERRUPTED = 130;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT_USAGE);
    this.name = 'UsageError';
  }
}
