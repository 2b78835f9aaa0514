/**
 * One pass down the ladder that gets rewind.ko in place (issue 9, item 2), each step logged as
 * one line with what it tried, the result and why:
 *   1. already loaded → check its ABI and format versions (sysfs), attach;
 *   2. the kill switch, the allow-list, a kernel that loads no module;
 *   3. the prebuilt `<prebuiltDir>/<release>/rewind.ko`, only if its vermagic names this release;
 *   4. the cached build for this release and source, else a build against the node's headers;
 *   5. insmod (no parameters: the agent configures and starts the rings itself).
 * A kernel that takes only signed modules (lockdown, sig_enforce) gets only a signed prebuilt
 * module: a build on the spot is never signed. Never throws: whatever goes wrong is an outcome.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import { buildIntoCache, cachedModulePath, headersProblem, MODULE_FILE } from './build';
import {
  fileVersionRefusal,
  insmodVerdict,
  refusal,
  signedOnly,
  versionVerdict,
  type KernelRestrictions,
} from './decisions';
import { readKernelRestrictions, readOptional, type ModuleIo } from './io';
import { isSigned, moduleVersions, vermagicRelease } from './modinfo';
import { failed, type LoadOutcome, type ModulePolicy } from './policy';
import { readSources, sourceHash } from './sources';

export const MODULE_NAME = 'rewind';

/**
 * The loaded module's state: undefined when rewind is not loaded, else loaded or abi-mismatch
 * (or load-failed while the kernel is still inserting or removing it). Cheap: a stat and three
 * small sysfs reads, so the loader can re-check it often.
 */
export async function checkLoaded(
  io: Pick<ModuleIo, 'paths' | 'expectedVersions'>,
  how = 'already loaded',
  path?: string,
): Promise<LoadOutcome | undefined> {
  const dir = join(io.paths.sysModule, MODULE_NAME);
  if (
    !(await stat(dir).then(
      () => true,
      () => false,
    ))
  ) {
    return undefined;
  }
  const initstate = (await readOptional(join(dir, 'initstate')))?.trim();
  if (initstate !== undefined && initstate !== 'live') {
    return failed('load-failed', `the kernel is still ${initstate} the rewind module`);
  }
  const [abiVersion, formatVersion] = await Promise.all([
    readOptional(join(dir, 'parameters', 'abi_version')),
    readOptional(join(dir, 'parameters', 'format_version')),
  ]);
  return versionVerdict({ abiVersion, formatVersion }, io.expectedVersions(), how, path);
}

interface Pass {
  policy: ModulePolicy;
  io: ModuleIo;
  log: Logger;
  release: string;
  kernel: KernelRestrictions;
  signedOnly: boolean;
}

/**
 * Tries one module file. Undefined: it was not tried or the kernel refused its format — go on to
 * the next source (`refused` carries why, for the last step's report).
 */
async function tryModule(
  pass: Pass,
  step: string,
  path: string,
): Promise<{ outcome?: LoadOutcome; refused?: string }> {
  const { io, log, release } = pass;
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    log.info({ step, path, result: 'absent' }, `${step}: no ${path} (${code ?? 'unreadable'})`);
    return {};
  }
  let builtFor: string;
  let declared: ReturnType<typeof moduleVersions>;
  try {
    builtFor = vermagicRelease(bytes);
    declared = moduleVersions(bytes);
  } catch (e) {
    const why = `${path} is not a readable module: ${(e as Error).message}`;
    log.warn({ step, path, result: 'skipped' }, `${step}: skipped: ${why}`);
    return { refused: why };
  }
  if (builtFor !== release) {
    const why = `${path} was built for ${builtFor}, not ${release} (vermagic): never tried`;
    log.warn({ step, path, result: 'skipped', builtFor, release }, `${step}: skipped: ${why}`);
    return { refused: why };
  }
  // Checked before insmod: a module of another ABI, once in, can only be reported, not undone.
  const versionRefusal = fileVersionRefusal(path, declared, io.expectedVersions());
  if (versionRefusal) {
    log.warn({ step, path, result: 'skipped' }, `${step}: skipped: ${versionRefusal}`);
    return { refused: versionRefusal };
  }
  if (pass.signedOnly && !isSigned(bytes)) {
    const why = `${path} is not signed and this kernel loads only signed modules`;
    log.warn({ step, path, result: 'skipped' }, `${step}: skipped: ${why}`);
    return { refused: why };
  }
  const insmod = await io.run('insmod', [path]);
  if (insmod.code === 0) {
    const outcome = (await checkLoaded(io, `inserted from ${path}`, path)) ?? {
      ...failed('load-failed', `insmod ${path} succeeded but /sys/module/${MODULE_NAME} is absent`),
    };
    log.info({ step, path, result: outcome.state }, `${step}: insmod ${path}: ${outcome.detail}`);
    return { outcome };
  }
  const verdict = insmodVerdict(insmod.output, path, pass.kernel);
  if (verdict.kind === 'exists') {
    const outcome = (await checkLoaded(io, 'loaded by someone else meanwhile')) ?? {
      ...failed(
        'load-failed',
        `insmod ${path}: the module exists, yet /sys/module/rewind does not`,
      ),
    };
    log.info({ step, path, result: outcome.state }, `${step}: insmod ${path}: ${outcome.detail}`);
    return { outcome };
  }
  if (verdict.kind === 'format') {
    log.warn({ step, path, result: 'refused' }, `${step}: ${verdict.detail}`);
    return { refused: verdict.detail };
  }
  log.warn({ step, path, result: verdict.reason }, `${step}: ${verdict.detail}`);
  return { outcome: failed(verdict.reason, verdict.detail) };
}

async function buildStep(pass: Pass): Promise<LoadOutcome> {
  const { policy, io, log, release } = pass;
  const sources = await readSources(policy.sourceDir).catch((e: Error) => {
    log.warn({ step: 'build' }, `build: cannot read ${policy.sourceDir}: ${e.message}`);
    return [];
  });
  if (sources.length === 0) {
    const detail =
      `no prebuilt module for ${release} in ${policy.prebuiltDir} and no module source in ` +
      `${policy.sourceDir} to build one: ship a prebuilt ${join(release, MODULE_FILE)} or the source`;
    log.warn({ step: 'build', result: 'build-failed' }, `build: ${detail}`);
    return failed('build-failed', detail);
  }
  const hash = sourceHash(sources);
  const target = cachedModulePath(policy.buildCacheDir, release, hash);
  const cached = await tryModule(pass, 'cached build', target);
  if (cached.outcome) return cached.outcome;
  if (cached.refused) {
    return failed('load-failed', `${cached.refused}; remove ${join(target, '..')} to rebuild`);
  }

  const headers = await headersProblem(policy.headersRoot, release);
  if (headers !== undefined) {
    log.warn({ step: 'build', result: 'no-headers' }, `build: ${headers}`);
    return failed('no-headers', headers);
  }
  const kdir = join(policy.headersRoot, release, 'build');
  log.info(
    { step: 'build', kdir, source: policy.sourceDir, hash, target },
    `build: building rewind.ko for ${release} from ${policy.sourceDir} (source ${hash})`,
  );
  const built = await buildIntoCache({ sources, kdir, target, io });
  if (built.log !== '') log.debug({ step: 'build', output: built.log }, 'build: make output');
  if (!built.ok) {
    log.warn({ step: 'build', result: 'build-failed' }, `build: failed: ${built.detail}`);
    return failed('build-failed', `building against ${kdir}: ${built.detail}`);
  }
  log.info(
    { step: 'build', path: built.path, result: 'built', published: built.won },
    `build: ${built.path} ${built.won ? 'built' : 'built by another loader first; using it'}`,
  );
  const loaded = await tryModule(pass, 'built module', built.path);
  return (
    loaded.outcome ??
    failed('load-failed', loaded.refused ?? `the module built at ${built.path} vanished`)
  );
}

const silent = pino({ level: 'silent' });

/** One pass down the ladder; the outcome says what state the module is in and why. */
export async function loadModuleOnce(
  policy: ModulePolicy,
  io: ModuleIo,
  log: Logger = silent,
): Promise<LoadOutcome> {
  try {
    const release = io.release();
    const present = await checkLoaded(io);
    if (present) {
      log.info({ step: 'loaded', result: present.state }, `already loaded: ${present.detail}`);
      return present;
    }
    const kernel = await readKernelRestrictions(io.paths);
    const refused = refusal(policy, release, kernel);
    if (refused) {
      log.warn({ step: 'policy', result: refused.state }, `not loading: ${refused.detail}`);
      return refused;
    }
    const signed = signedOnly(kernel);
    const pass: Pass = { policy, io, log, release, kernel, signedOnly: signed !== undefined };

    const prebuiltPath = join(policy.prebuiltDir, release, MODULE_FILE);
    const prebuilt = await tryModule(pass, 'prebuilt', prebuiltPath);
    if (prebuilt.outcome) return prebuilt.outcome;
    if (signed) {
      const detail =
        `${signed.why}; no usable signed module at ${prebuiltPath}` +
        `${prebuilt.refused ? ` (${prebuilt.refused})` : ''}: ship one signed with a key the node trusts`;
      log.warn({ step: 'build', result: signed.reason }, `build skipped: ${detail}`);
      return failed(signed.reason, detail);
    }
    return await buildStep(pass);
  } catch (e) {
    // Nothing above should throw; if it does, the loader stays up and says so.
    const detail = `the loader failed unexpectedly: ${e instanceof Error ? e.message : String(e)}`;
    log.error({ err: e }, detail);
    return failed('load-failed', detail);
  }
}
