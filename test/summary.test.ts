// The closing line CI reads is derived, not printed by hand: check the derivation, over the two
// jest lanes and the C++ tests as test/run-all.sh hands them over.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { summarize } = require('./summary.js') as {
  summarize(
    dir: string,
    expected: string[][],
  ): {
    passed: number;
    failed: number;
    missing: string[];
    unexplained: { file: string; status: string }[];
  };
};

describe('summarize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rewind-summary-'));
  const jest = (passed: number, failed: number, broken: number) =>
    JSON.stringify({
      numPassedTests: passed,
      numFailedTests: failed,
      numRuntimeErrorTestSuites: broken,
    });
  writeFileSync(join(dir, 'jest-vm.json'), jest(40, 2, 1));
  writeFileSync(join(dir, 'jest-host.json'), jest(300, 0, 0));
  writeFileSync(join(dir, 'jest-empty.json'), jest(0, 0, 0));
  writeFileSync(join(dir, 'gtest.json'), JSON.stringify({ tests: 12, failures: 1, disabled: 1 }));
  writeFileSync(join(dir, 'build.json'), JSON.stringify({ tests: 0, failures: 0 }));

  it('adds both jest lanes and GoogleTest, counting broken suites as failures', () => {
    expect(
      summarize(dir, [
        ['build.json', 'gtest', '0'],
        ['gtest.json', 'gtest', '1'],
        ['jest-vm.json', 'jest', '1'],
        ['jest-host.json', 'jest', '0'],
      ]),
    ).toEqual({ passed: 350, failed: 4, missing: [], unexplained: [] });
  });

  it('counts a lane that wrote no results (it crashed, or never ran) as a failure', () => {
    expect(
      summarize(dir, [
        ['jest-vm.json', 'jest'],
        ['absent.json', 'jest', '1'],
      ]),
    ).toEqual({ passed: 40, failed: 4, missing: ['absent.json'], unexplained: [] });
  });

  it('counts a step that failed with clean results (jest found no tests) as one failure', () => {
    expect(
      summarize(dir, [
        ['jest-host.json', 'jest', '1'],
        ['jest-empty.json', 'jest', '0'],
      ]),
    ).toEqual({
      passed: 300,
      failed: 1,
      missing: [],
      unexplained: [{ file: 'jest-host.json', status: '1' }],
    });
  });
});

describe('the summary command', () => {
  const summary = join(__dirname, 'summary.js');
  const dir = mkdtempSync(join(tmpdir(), 'rewind-summary-cli-'));
  writeFileSync(
    join(dir, 'jest-host.json'),
    JSON.stringify({ numPassedTests: 7, numFailedTests: 0, numRuntimeErrorTestSuites: 0 }),
  );
  writeFileSync(join(dir, 'gtest.json'), JSON.stringify({ tests: 3, failures: 0 }));
  const run = (...specs: string[]) =>
    spawnSync('node', [summary, dir, ...specs], { encoding: 'utf8' });

  it('ends in "N passed, 0 failed" and exits 0 when every step passed', () => {
    const r = run('gtest.json:gtest:0', 'jest-host.json:jest:0');
    expect(r.stdout).toBe('10 passed, 0 failed\n');
    expect(r.status).toBe(0);
  });

  it('names a lane without results and one that failed silently, and exits 1', () => {
    const r = run('gtest.json:gtest:0', 'jest-host.json:jest:1', 'jest-vm.json:jest:0');
    expect(r.stdout).toBe(
      `missing results: ${join(dir, 'jest-vm.json')} (that step failed)\n` +
        `${join(dir, 'jest-host.json')}: its step exited 1 with no failure recorded\n` +
        '10 passed, 2 failed\n',
    );
    expect(r.status).toBe(1);
  });
});
