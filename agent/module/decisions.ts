/**
 * The loader's decisions as functions of what it found: may it load at all, what an insmod
 * failure means, whether the loaded module is the one the agent speaks to, how long to wait
 * before the next try. No I/O: ladder.ts reads the kernel and the files and asks these.
 */
import { backoffDelay } from '../../common/backoff';
import { failed, loaded, type FailureReason, type LoadOutcome, type ModulePolicy } from './policy';

/** What the kernel lets anyone load, read before trying (kernel-state.ts reads it). */
export interface KernelRestrictions {
  /** /proc/sys/kernel/modules_disabled is 1: no module loads until reboot. */
  modulesDisabled: boolean;
  /** The active lockdown mode (`integrity`, `confidentiality`), or undefined when none. */
  lockdown: string | undefined;
  /** /sys/module/module/parameters/sig_enforce is Y: only validly signed modules load. */
  sigEnforce: boolean;
}

/** The mode in brackets of /sys/kernel/security/lockdown (`none [integrity] confidentiality`). */
export function parseLockdown(text: string | undefined): string | undefined {
  const mode = /\[(\w+)\]/.exec(text ?? '')?.[1];
  return mode === undefined || mode === 'none' ? undefined : mode;
}

/** A sysfs/procfs flag: `1` or `Y` is set. */
export function parseFlag(text: string | undefined): boolean {
  const v = (text ?? '').trim();
  return v === '1' || v === 'Y' || v === 'y';
}

/** `*` matches any run of characters; everything else is literal. */
function globMatch(pattern: string, s: string): boolean {
  const re = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${re.join('.*')}$`).test(s);
}

export function releaseAllowed(release: string, allowed: readonly string[]): boolean {
  return allowed.length === 0 || allowed.some((p) => globMatch(p, release));
}

/**
 * What stops the loader before it looks for a module: the kill switch, the allow-list, a kernel
 * that loads no module. Undefined: go on.
 */
export function refusal(
  policy: Pick<ModulePolicy, 'load' | 'allowedReleases'>,
  release: string,
  kernel: KernelRestrictions,
): LoadOutcome | undefined {
  if (policy.load === 'never') {
    return failed('disabled', 'module loading is switched off (load: never); set it to auto');
  }
  if (!releaseAllowed(release, policy.allowedReleases)) {
    return failed(
      'release-not-allowed',
      `kernel ${release} is not in the allowed releases (${policy.allowedReleases.join(', ')}); ` +
        'add it to load the module on this node',
    );
  }
  if (kernel.modulesDisabled) {
    return failed(
      'modules-disabled',
      'the kernel loads no modules (/proc/sys/kernel/modules_disabled is 1) until the node reboots',
    );
  }
  return undefined;
}

/**
 * Whether only signed modules can load, and the reason to report when none is at hand. A module
 * built on the spot is never signed (no node has the signing key), so under these the build is
 * skipped.
 */
export function signedOnly(
  kernel: KernelRestrictions,
): { reason: FailureReason; why: string } | undefined {
  if (kernel.lockdown !== undefined) {
    return {
      reason: 'lockdown',
      why: `the kernel is locked down (${kernel.lockdown}; Secure Boot?) and loads only modules signed with a key it trusts`,
    };
  }
  if (kernel.sigEnforce) {
    return {
      reason: 'signature-required',
      why: 'the kernel enforces module signatures (module.sig_enforce) and loads only modules signed with a key it trusts',
    };
  }
  return undefined;
}

/** What an insmod failure means: a reason to report, or a case the ladder handles itself. */
export type InsmodVerdict =
  | { kind: 'failed'; reason: FailureReason; detail: string }
  /** EEXIST: someone loaded rewind meanwhile; check it as an already-loaded module. */
  | { kind: 'exists' }
  /** ENOEXEC: the kernel refused the file's format (symbol versions, vermagic): try the next. */
  | { kind: 'format'; detail: string };

/** The kernel's complaint in insmod's output: kmod's `...: <strerror>`, busybox's likewise. */
function lastClause(output: string): string {
  const line =
    output
      .trim()
      .split('\n')
      .filter((l) => l.trim() !== '')
      .at(-1) ?? '';
  return line.slice(line.lastIndexOf(': ') + 2).trim() || line.trim();
}

/**
 * Maps insmod's output to a verdict. insmod reports the errno of finit_module as its message:
 * EPERM (modules disabled, or lockdown refusing an unsigned module), EKEYREJECTED (a signature
 * missing or not trusted under sig_enforce), ENOEXEC (format), EEXIST.
 */
export function insmodVerdict(
  output: string,
  path: string,
  kernel: KernelRestrictions,
): InsmodVerdict {
  const said = lastClause(output) || 'no output';
  if (/File exists/i.test(output)) return { kind: 'exists' };
  if (/Invalid module format|Exec format error/i.test(output)) {
    return {
      kind: 'format',
      detail: `the kernel refused ${path}: ${said} (built for another build of this release; the kernel log says which symbol)`,
    };
  }
  if (/Key was rejected|Required key not available|Key has been revoked/i.test(output)) {
    return {
      kind: 'failed',
      reason: 'signature-required',
      detail: `the kernel refused ${path}: ${said}: it loads only modules signed with a key it trusts`,
    };
  }
  if (/Operation not permitted/i.test(output)) {
    if (kernel.modulesDisabled) {
      return {
        kind: 'failed',
        reason: 'modules-disabled',
        detail: `the kernel refused ${path}: ${said} (/proc/sys/kernel/modules_disabled is 1)`,
      };
    }
    if (kernel.lockdown !== undefined) {
      return {
        kind: 'failed',
        reason: 'lockdown',
        detail: `the kernel refused ${path}: ${said} (lockdown ${kernel.lockdown}: a signed module is needed)`,
      };
    }
    return {
      kind: 'failed',
      reason: 'load-failed',
      detail: `the kernel refused ${path}: ${said} (the loader needs CAP_SYS_MODULE; a security module may forbid loading)`,
    };
  }
  return { kind: 'failed', reason: 'load-failed', detail: `insmod ${path} failed: ${said}` };
}

export interface Versions {
  abiVersion: number;
  formatVersion: number;
}

/**
 * The loaded module against the versions this agent speaks. The module shows them as read-only
 * parameters; one without them predates them and so cannot be trusted to match.
 */
export function versionVerdict(
  found: { abiVersion: string | undefined; formatVersion: string | undefined },
  expected: Versions,
  how: string,
  path?: string,
): LoadOutcome {
  const abi = found.abiVersion?.trim() || 'unknown';
  const format = found.formatVersion?.trim() || 'unknown';
  if (abi === String(expected.abiVersion) && format === String(expected.formatVersion)) {
    return loaded(`rewind ${how}, ABI ${abi}, format ${format}`, path);
  }
  return failed(
    'abi-mismatch',
    `the loaded rewind module has ABI ${abi} and format ${format}; this agent needs ABI ` +
      `${expected.abiVersion} and format ${expected.formatVersion}: unload it (rmmod rewind) ` +
      'once nothing uses it, or run the agent that matches it',
  );
}

/**
 * Why a module file must not be inserted: it declares other versions than this agent speaks, or
 * none (built before modules declared them). undefined: it may be tried.
 */
export function fileVersionRefusal(
  path: string,
  declared: { abi: number; format: number } | undefined,
  expected: Versions,
): string | undefined {
  if (!declared)
    return `${path} declares no ABI version (rewind_abi in .modinfo): older than this agent, never tried`;
  if (declared.abi === expected.abiVersion && declared.format === expected.formatVersion)
    return undefined;
  return (
    `${path} has ABI ${declared.abi} and format ${declared.format}; this agent needs ABI ` +
    `${expected.abiVersion} and format ${expected.formatVersion}: never tried`
  );
}

/** The first retry after a failure waits this long; each further one twice as long, up to the cap. */
export const RETRY_BASE_MS = 5_000;

/** The wait before the next attempt after `failures` failed ones in a row (1 = the first). */
export function retryDelayMs(failures: number, retryMaxSeconds: number): number {
  return backoffDelay(failures - 1, {
    initialMs: RETRY_BASE_MS,
    maxMs: Math.max(0, retryMaxSeconds) * 1000,
  });
}

/** The one line `/healthz` answers with. */
export function healthDetail(outcome: LoadOutcome): string {
  if (outcome.state === 'loaded') return `loaded: ${outcome.detail}`;
  if (outcome.state === 'pending') return `pending: ${outcome.detail}`;
  return `degraded: ${outcome.state} (${outcome.detail})`;
}
