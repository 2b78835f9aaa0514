// The tree's own rules, checked like any other test: strict types, typescript-eslint, prettier.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const root = join(__dirname, '..');

function run(cmd: string, args: string[]): { status: number | null; output: string } {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 170_000 });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('the TypeScript tree', () => {
  it('type-checks in strict mode', () => {
    const r = run('npx', ['tsc', '-p', 'tsconfig.json', '--noEmit']);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('passes typescript-eslint', () => {
    const r = run('npx', ['eslint', '.']);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });

  it('is formatted by prettier', () => {
    const r = run('npx', ['prettier', '--check', '--log-level', 'warn', '.']);
    expect(r.output).toBe('');
    expect(r.status).toBe(0);
  });
});
