/** What in a kernel log means a test must fail. */

const PROBLEMS: readonly RegExp[] = [
  /\bBUG:/,
  /\bWARNING:/,
  /\bOops\b/,
  /general protection/,
  /soft lockup/,
  /hung_task|blocked for more than \d+ seconds/,
  /Kernel panic/,
  /UBSAN:|KASAN:|kmemleak:/,
];

/** The lines of `log` that show a kernel bug, a warning, an oops or a lockup. */
export function kernelProblems(log: string): string[] {
  return log.split('\n').filter((line) => PROBLEMS.some((p) => p.test(line)));
}

export class KernelLogError extends Error {
  constructor(
    readonly vmName: string,
    readonly problems: string[],
    readonly logPath: string,
  ) {
    super(
      `kernel log of VM ${vmName} shows ${problems.length} problem line(s):\n` +
        problems.slice(0, 20).join('\n') +
        `\n(full log: ${logPath})`,
    );
    this.name = 'KernelLogError';
  }
}
