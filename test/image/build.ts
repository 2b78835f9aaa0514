/**
 * `npm run image` (scripts/build-image.sh) from the suites: the build in a process of its own,
 * the archive's path from its last line of stdout, and the name the archive carries — the chart's
 * default image reference `rewind:<appVersion>` as containerd normalizes it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { load } from 'js-yaml';
import { projectRoot } from '../vm/kernel';
import { requireTool } from './tools';

export const BUILD_SCRIPT = join(projectRoot, 'scripts', 'build-image.sh');

/** The chart's appVersion, the image's tag. */
export function appVersion(): string {
  const chart = load(readFileSync(join(projectRoot, 'charts/rewind/Chart.yaml'), 'utf8')) as {
    appVersion?: unknown;
  };
  if (typeof chart.appVersion !== 'string') throw new Error('Chart.yaml has no appVersion');
  return chart.appVersion;
}

/** The name the archive gives the image (what the kubelet asks containerd for). */
export const IMAGE_NAME = `docker.io/library/rewind:${appVersion()}`;

export interface ImageBuild {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The last line of stdout: the archive's path. */
  archive: string;
  seconds: number;
}

/** Fails with one line when a program the build needs is missing. */
export function requireBuildTools(): void {
  requireTool('buildah', 'buildah');
  requireTool('mmdebstrap', 'mmdebstrap');
  requireTool('flock', 'util-linux');
  requireTool('git', 'git');
  if (process.getuid?.() !== 0) {
    throw new Error("the image is built with buildah's root storage: run the image suites as root");
  }
}

/** Runs the build to its end (`env` added to this process's environment). */
export function buildImage(env: NodeJS.ProcessEnv = {}): Promise<ImageBuild> {
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn('bash', [BUILD_SCRIPT], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) =>
      resolve({
        code,
        stdout,
        stderr,
        archive: stdout.trimEnd().split('\n').at(-1) ?? '',
        seconds: (Date.now() - started) / 1000,
      }),
    );
  });
}

/** A failed build as one message: its exit and the end of what it said. */
export function buildFailure(b: ImageBuild): string {
  return `npm run image exited ${b.code}:\n${b.stderr.split('\n').slice(-40).join('\n')}`;
}
