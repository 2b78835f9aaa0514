/**
 * The command line (kubectl-rewind/cli.ts runCli) with captured streams and a signal never
 * aborted: every command's --help (a usage line, examples that start with `kubectl rewind`),
 * --version, and bad flags or arguments — exit 2 with exactly one line on stderr naming the
 * command's --help, found before anything is asked of a cluster: KUBECONFIG names a file that
 * does not exist, so a command that did reach for the kubeconfig would fail with exit 1 instead
 * (the control case shows it). The bash completion script is checked by bash itself: `bash -n`,
 * then its function run with COMP_WORDS set as bash's programmable completion sets them.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, BIN } from '../../kubectl-rewind/cli';

let dir: string;
let missingKubeconfig: string;
const saved = { KUBECONFIG: process.env.KUBECONFIG };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubectl-rewind-cli-'));
  missingKubeconfig = join(dir, 'no-such-kubeconfig');
  // client-node's KubeConfig reads process.env.
  process.env.KUBECONFIG = missingKubeconfig;
});
afterAll(() => {
  if (saved.KUBECONFIG === undefined) delete process.env.KUBECONFIG;
  else process.env.KUBECONFIG = saved.KUBECONFIG;
  rmSync(dir, { recursive: true, force: true });
});

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: { write: (s: string | Uint8Array) => ((out += String(s)), true) },
    err: { write: (s: string | Uint8Array) => ((err += String(s)), true) },
    now: () => Date.parse('2025-03-01T12:00:00Z'),
    signal: new AbortController().signal,

    version: '1.2.3-test',
  });
  return { code, out, err };
}

const COMMANDS = ['snapshot', 'list', 'get', 'download', 'delete', 'agents', 'completion'];

describe('--help', () => {
  it.each([[''], ...COMMANDS.map((c) => [`${c} `])])('kubectl rewind %s--help', async (label) => {
    const command = label.trim();
    const r = await run(...(command ? [command] : []), '--help');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(
      // `list|ls`: commander shows an alias beside the name.
      new RegExp(
        `^Usage: kubectl rewind${command ? ` ${command}(\\|\\w+)?` : ''} \\[options\\]`,
        'm',
      ),
    );
    const examples = r.out.slice(r.out.indexOf('\nExamples:\n') + 1);
    expect(r.out).toContain('\nExamples:\n');
    const lines = examples.split('\n').slice(1).filter(Boolean);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^ {2}(kubectl rewind |source <\(kubectl-rewind )/);
    if (command !== 'completion') expect(lines[0]).toMatch(/^ {2}kubectl rewind /);
  });

  it('the root help lists every command, and so does a bare `kubectl rewind`', async () => {
    const help = await run('--help');
    for (const c of COMMANDS) expect(help.out).toMatch(new RegExp(`^ {2}${c}\\b`, 'm'));
    const bare = await run();
    expect(bare.code).toBe(0);
    expect(bare.out).toMatch(/^Usage: kubectl rewind \[options\] \[command\]/);
    for (const c of COMMANDS) expect(bare.out).toMatch(new RegExp(`^ {2}${c}\\b`, 'm'));
    expect(bare).toEqual({ code: 0, out: help.out, err: '' });
  });

  it("each command's help lists the global flags a kubectl user reaches for", async () => {
    for (const c of COMMANDS.filter((x) => x !== 'completion')) {
      const r = await run(c, '--help');
      expect(r.out).toMatch(/^Global Options:$/m);
      for (const flag of ['-n, --namespace <ns>', '--context <name>', '--kubeconfig <file>'])
        expect(r.out).toContain(flag);
    }
  });

  it('`help snapshot` is the snapshot help', async () => {
    const r = await run('help', 'snapshot');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^Usage: kubectl rewind snapshot \[options\]/);
  });
});

it('--version prints the version', async () => {
  expect(await run('--version')).toEqual({ code: 0, out: '1.2.3-test\n', err: '' });
});

describe('usage errors: exit 2, one line naming the --help, no kubeconfig read', () => {
  it.each([
    [['--bogus'], /^error: unknown option '--bogus' \(see kubectl rewind --help\)$/],
    [
      ['snapshots'],
      /^error: unknown command 'snapshots' \(Did you mean snapshot\?\) \(see kubectl rewind --help\)$/,
    ],
    [
      ['snapshot', '--nod', 'a'],
      /^error: unknown option '--nod' \(Did you mean .*--node\b.*\?\) \(see kubectl rewind snapshot --help\)$/,
    ],
    [['get'], /^error: missing required argument 'name' \(see kubectl rewind get --help\)$/],
    [['delete'], /^error: missing required argument 'name' \(see kubectl rewind delete --help\)$/],
    [
      ['completion'],
      /^error: missing required argument 'shell' \(see kubectl rewind completion --help\)$/,
    ],
    [
      ['snapshot'],
      /^error: say which nodes: --node NAME .* \(see kubectl rewind snapshot --help\)$/,
    ],
    [
      ['snapshot', '--node', 'a', '--all-nodes'],
      /^error: --node and --all-nodes cannot be combined: choose one target \(see kubectl rewind snapshot --help\)$/,
    ],
    [
      ['snapshot', '-n', 'shop', '-l', 'app=web', '--all-nodes'],
      /^error: -l and --all-nodes cannot be combined/,
    ],
    [
      ['snapshot', '--node', 'a', '--window', '2h'],
      /^error: --window: 2h is outside 1s…1h .* \(see kubectl rewind snapshot --help\)$/,
    ],
    [
      ['snapshot', '--node', 'a', '--window', 'soon'],
      /^error: --window: "soon" is not a duration .* \(see kubectl rewind snapshot --help\)$/,
    ],
    [
      ['snapshot', '--node', 'a', '--window'],
      /^error: option '--window <duration>' argument missing \(see kubectl rewind snapshot --help\)$/,
    ],
    [['snapshot', '--node', 'Bad_Node'], /^error: --node: "Bad_Node" is not a node name/],
    [['snapshot', '--selector', 'a b'], /^error: --selector: cannot read "a b"/],
    [['snapshot', '--all-nodes', '--name', 'X'], /^error: --name: "X" is not a valid name/],
    [
      ['list', '-o', 'xml'],
      /^error: -o: "xml" is not one of wide, json, yaml, name \(see kubectl rewind list --help\)$/,
    ],
    [['ls', '-o', 'xml'], /^error: -o: "xml" is not one of .* \(see kubectl rewind list --help\)$/],
    [
      ['list', 'extra'],
      /^error: too many arguments for 'list'\. .* \(see kubectl rewind list --help\)$/,
    ],
    [
      ['agents', '-o', 'xml'],
      /^error: -o: "xml" is not wide or json \(see kubectl rewind agents --help\)$/,
    ],
    [
      ['download', 'manual-x7k2p'],
      /^error: required option '-o, --output <dir>' not specified \(see kubectl rewind download --help\)$/,
    ],
    [
      ['completion', 'fish'],
      /^error: completion: "fish" is not bash or zsh \(see kubectl rewind completion --help\)$/,
    ],
    [['--kubeconfig', '/nonexistent', 'list', '-o', 'xml'], /^error: -o: "xml" is not one of/],
    [
      ['--controller-address', 'controller.example', 'agents'],
      /^error: --controller-address: "controller.example" is not HOST:PORT \(see kubectl rewind agents --help\)$/,
    ],
  ])('%j', async (argv, message) => {
    const r = await run(...argv);
    expect(r).toMatchObject({ code: 2, out: '' });
    expect(r.err.endsWith('\n')).toBe(true);
    expect(r.err.split('\n')).toHaveLength(2);
    expect(r.err.trimEnd()).toMatch(message);
    expect(r.err).not.toMatch(/kubeconfig/i);
  });

  it('control: a valid command does reach for the kubeconfig (exit 1, not 2)', async () => {
    const r = await run('list');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^error: cannot read the kubeconfig: .*no-such-kubeconfig/);
    expect(r.err.split('\n')).toHaveLength(2);
  });
});

describe('completion', () => {
  let script: string;
  beforeAll(async () => {
    const r = await run('completion', 'bash');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    script = join(dir, 'completion.bash');
    writeFileSync(script, r.out);
  });

  it('bash -n accepts the script', () => {
    const r = spawnSync('bash', ['-n', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  /** COMPREPLY after completing the last of `words` (bash's programmable completion's inputs). */
  function complete(...words: string[]): string[] {
    const fn = `_${BIN.replace(/[^A-Za-z0-9]/g, '_')}`;
    const r = spawnSync(
      'bash',
      [
        '-c',
        `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); ${fn}; printf '%s\\n' "\${COMPREPLY[@]}"; complete -p ${BIN}`,
        'bash',
        script,
        ...words,
      ],
      { encoding: 'utf8' },
    );
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n').filter(Boolean);
    // The script registered itself for the binary.
    expect(lines.pop()).toBe(`complete -F ${fn} ${BIN}`);
    return lines;
  }

  it('completes commands', () => {
    expect(complete(BIN, 'sn')).toEqual(['snapshot']);
    expect(complete(BIN, 'd').sort()).toEqual(['delete', 'download']);
    expect(complete(BIN, '')).toEqual(expect.arrayContaining(COMMANDS));
  });

  it('completes the flags of the command being typed, and the global ones', () => {
    expect(complete(BIN, 'snapshot', '--no')).toEqual(['--node']);
    expect(complete(BIN, '--context', 'x', 'snapshot', '--node', 'a', '--win')).toEqual([
      '--window',
    ]);
    expect(complete(BIN, 'download', 'x', '--fo')).toEqual(['--force']);
    expect(complete(BIN, 'list', '--all')).toEqual(['--all-namespaces']);
    expect(complete(BIN, 'list', '--kube')).toEqual(['--kubeconfig']);
    // A flag of another command is not offered.
    expect(complete(BIN, 'list', '--no')).toEqual([]);
  });

  it('zsh: the same through bashcompinit', async () => {
    const r = await run('completion', 'zsh');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^# kubectl-rewind completion for zsh/);
    expect(r.out).toContain('autoload -U +X bashcompinit && bashcompinit\n');
    expect(r.out).toContain(`complete -F _kubectl_rewind ${BIN}\n`);
    const zsh = spawnSync('zsh', ['-n'], { input: r.out, encoding: 'utf8' });
    // zsh is not installed everywhere; where it is, it must accept the script.
    if (zsh.error === undefined) expect(zsh.status).toBe(0);
  });
});
