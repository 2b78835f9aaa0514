/**
 * Every program the chart's containers run exists in the image. The image cannot be built here
 * (no Docker engine), so its layout is read off the Dockerfile's last stage: WORKDIR, the COPY
 * lines (the build stage's /src is this repository; its dist/ is tsc's output of the .ts files
 * beside it) and CMD. A container's program is its command's executable, or for `node` the
 * script it runs; base-image programs are listed.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { protoCandidates } from '../../agent/device-plugin/proto';
import { COMMANDS } from '../../agent/settings';
import { ciScenarios, containers, type ContainerView, render } from './chart';

const ROOT = path.resolve(__dirname, '../..');
/** Programs of the base image (node:*-bookworm-slim) the chart may run by name. */
const BASE_IMAGE_PROGRAMS = ['node'];

interface Layout {
  workdir: string;
  cmd: string[];
  /** [path in the image, what it is in this repository (undefined: not from the repository)] */
  copies: [string, ((rest: string) => string) | undefined][];
}

function imageLayout(dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')): Layout {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n');
  const lastFrom = lines.map((l) => /^FROM\s/i.test(l)).lastIndexOf(true);
  const layout: Layout = { workdir: '/', cmd: [], copies: [] };
  for (const line of lines.slice(lastFrom + 1)) {
    const [instruction, ...args] = line.trim().split(/\s+/);
    if (instruction === 'WORKDIR') layout.workdir = path.posix.resolve(layout.workdir, args[0]);
    if (instruction === 'CMD') layout.cmd = JSON.parse(args.join(' ')) as string[];
    if (instruction !== 'COPY') continue;
    const from = args.find((a) => a.startsWith('--from='))?.slice('--from='.length);
    const [src, dest] = args.filter((a) => !a.startsWith('--'));
    // A file copied into a directory lands under its own name.
    const intoDirectory = !src.endsWith('/') && (dest.endsWith('/') || dest === '.');
    const target = path.posix.resolve(
      layout.workdir,
      intoDirectory ? path.posix.join(dest, path.posix.basename(src)) : dest,
    );
    let source: ((rest: string) => string) | undefined;
    if (from === undefined) source = (rest) => path.join(src, rest);
    else if (from === 'build' && src.startsWith('/src/')) {
      // The build stage copies this repository to /src and compiles it to /src/dist.
      const inRepo = path.posix.relative('/src', src);
      source = (rest) => {
        const p = path.posix.join(inRepo, rest);
        return p.startsWith('dist/') ? p.slice('dist/'.length).replace(/\.js$/, '.ts') : p;
      };
    }
    layout.copies.push([target, source]);
  }
  return layout;
}

/** Where an image path comes from in this repository, or why it does not exist. */
function inImage(layout: Layout, file: string): string | undefined {
  const absolute = path.posix.resolve(layout.workdir, file);
  const under = (target: string): boolean =>
    absolute === target || absolute.startsWith(`${target.replace(/\/$/, '')}/`);
  // The most specific COPY wins (a directory copied over /app does not hide /app/dist).
  const match = layout.copies
    .filter(([target]) => under(target))
    .sort(([a], [b]) => b.length - a.length)[0];
  if (match === undefined || match[1] === undefined) return undefined;
  const repoPath = match[1](path.posix.relative(match[0], absolute));
  return existsSync(path.join(ROOT, repoPath)) ? repoPath : undefined;
}

/** The problem with a container's program, or undefined when it exists. */
function missingProgram(
  layout: Layout,
  c: ContainerView & { args?: string[] },
): string | undefined {
  const argv = [...(c.command ?? layout.cmd), ...(c.args ?? [])];
  const [program, ...rest] = argv;
  if (program === 'node') {
    if (rest.some((a) => a === '-e' || a === '--eval')) return undefined; // inline script
    const script = rest.find((a) => !a.startsWith('-'));
    if (script === undefined) return `${c.name}: node without a script`;
    return inImage(layout, script) ? undefined : `${c.name}: ${script} is not in the image`;
  }
  if (!program.includes('/')) {
    return BASE_IMAGE_PROGRAMS.includes(program)
      ? undefined
      : `${c.name}: unknown program ${program}`;
  }
  return inImage(layout, program) ? undefined : `${c.name}: ${program} is not in the image`;
}

describe('the image holds what the chart runs', () => {
  const layout = imageLayout();

  test('the layout read off the Dockerfile', () => {
    expect(layout.workdir).toBe('/app');
    expect(layout.cmd).toEqual(['node', 'dist/controller/main.js']);
    expect(inImage(layout, 'dist/agent/main.js')).toBe('agent/main.ts');
    expect(inImage(layout, '/app/scripts/setup.sh')).toBe('scripts/setup.sh');
    // What the loader builds and loads: the prebuilt modules' folder comes from the modules
    // stage (not this repository), the source is kmod/.
    expect(inImage(layout, '/app/kmod/Makefile')).toBe('kmod/Makefile');
    // What the chart's init container once ran, and never existed:
    expect(inImage(layout, '/app/scripts/load-module.sh')).toBeUndefined();
    expect(
      missingProgram(layout, {
        name: 'x',
        workload: 'DaemonSet',
        init: true,
        command: ['/app/scripts/load-module.sh'],
      }),
    ).toBe('x: /app/scripts/load-module.sh is not in the image');
  });

  test('the device plugin finds its API where the compiled plugin looks first', () => {
    // tsc does not copy .proto files: the Dockerfile copies it beside dist/agent/device-plugin/.
    const [first] = protoCandidates('/app/dist/agent/device-plugin');
    expect(inImage(layout, first)).toBe('agent/device-plugin/api.proto');
    expect(inImage(layout, '/app/dist/agent/device-plugin/other.proto')).toBeUndefined();
  });

  test.each([
    ['defaults', []] as [string, string[]],
    ...ciScenarios().map((f): [string, string[]] => [path.basename(f), [f]]),
  ])('%s: every container runs a program that exists', async (_name, valuesFiles) => {
    const objects = await render({ valuesFiles });
    const all = containers(objects);
    expect(all.length).toBeGreaterThan(0);
    expect(all.map((c) => missingProgram(layout, c)).filter(Boolean)).toEqual([]);
    // The agent's script runs one of its commands, spelled as its command line knows them.
    for (const c of all.filter((x) => x.command?.[1] === 'dist/agent/main.js'))
      expect(Object.keys(COMMANDS)).toContain(c.command?.[2]);
  });
});
