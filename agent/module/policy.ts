/**
 * What `rewind-agent load-module` may do to get rewind.ko in place, and the states it reports.
 * The lead's config.ts maps the configuration onto ModulePolicy; the states are the label values
 * of `rewind_agent_module_state` and the words `/healthz` starts its reason with.
 */

export interface ModulePolicy {
  /**
   * `never` is the kill switch: the loader never inserts a module. A module that is already
   * loaded (by a person, or an earlier loader) is still reported as `loaded`: the switch governs
   * what this process does, and the agent may use a module that is there.
   */
  load: 'auto' | 'never';
  /**
   * Kernel releases (`uname -r`) the loader may insert the module into; empty allows every
   * release. An entry may use `*` for any run of characters (`6.1.0-*-amd64`).
   */
  allowedReleases: readonly string[];
  /** Prebuilt modules, one per release: `<prebuiltDir>/<release>/rewind.ko`. */
  prebuiltDir: string;
  /** The module's source (like kmod/): what a build on the spot compiles. */
  sourceDir: string;
  /** Built modules: `<buildCacheDir>/<release>/<source-hash>/rewind.ko` (a host path). */
  buildCacheDir: string;
  /** Where the kernels' build trees are: `<headersRoot>/<release>/build` (`/lib/modules`). */
  headersRoot: string;
  /** The cap of the retry backoff, in seconds. */
  retryMaxSeconds: number;
  /** `rmmod rewind` on shutdown (refused by the kernel while the agent holds the device). */
  unloadOnExit: boolean;
}

/** Every state the loader reports; the failure reasons are all of them but loaded and pending. */
export const MODULE_STATES = [
  'loaded',
  'disabled',
  'release-not-allowed',
  'modules-disabled',
  'lockdown',
  'signature-required',
  'no-headers',
  'build-failed',
  'load-failed',
  'abi-mismatch',
  'pending',
] as const;

export type ModuleState = (typeof MODULE_STATES)[number];

/** Why the module is not in place: a state other than loaded (and pending, before the first try). */
export type FailureReason = Exclude<ModuleState, 'loaded' | 'pending'>;

/** The result of one pass down the ladder. */
export interface LoadOutcome {
  state: ModuleState;
  /** The state again for a failure (the metric's `reason` label); undefined when loaded. */
  reason: FailureReason | undefined;
  /** One sentence a person can act on: what was found, and what to do next. */
  detail: string;
  /** The module file that was inserted, when this pass inserted one. */
  path?: string;
}

export function loaded(detail: string, path?: string): LoadOutcome {
  return path === undefined
    ? { state: 'loaded', reason: undefined, detail }
    : { state: 'loaded', reason: undefined, detail, path };
}

export function failed(reason: FailureReason, detail: string): LoadOutcome {
  return { state: reason, reason, detail };
}
