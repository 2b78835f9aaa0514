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
    failedTests: { where: string; why: string[] }[];
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
    ).toEqual({ passed: 350, failed: 4, missing: [], unexplained: [], failedTests: [] });
  });

  it('counts a lane that wrote no results (it crashed, or never ran) as a failure', () => {
    expect(
      summarize(dir, [
        ['jest-vm.json', 'jest'],
        ['absent.json', 'jest', '1'],
      ]),
    ).toEqual({
      passed: 40,
      failed: 4,
      missing: ['absent.json'],
      unexplained: [],
      failedTests: [],
    });
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
      failedTests: [],
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

describe('the summary of what failed', () => {
  // CI keeps only the end of the output: the failed tests are named there, with the first lines
  // of their messages, whichever lane's scrolling output held them.
  const summary = join(__dirname, 'summary.js');
  const dir = mkdtempSync(join(tmpdir(), 'rewind-summary-failed-'));
  const root = join(__dirname, '..');
  writeFileSync(
    join(dir, 'jest-vm.json'),
    JSON.stringify({
      numPassedTests: 5,
      numFailedTests: 1,
      numRuntimeErrorTestSuites: 1,
      testResults: [
        {
          name: join(root, 'test/kmod/fuzz-abi.test.ts'),
          status: 'failed',
          assertionResults: [
            { status: 'passed', fullName: 'rewind.ko boots' },
            {
              status: 'failed',
              fullName: 'rewind.ko under the structured fuzz reaches every handler',
              failureMessages: [
                '\u001b[31mError: VM vm1: `fuzz-abi stopped` exited 139\u001b[39m\n\nstdout:\n  \nstderr:\nSegmentation fault\n    at Vm.run (test/vm/vm.ts:327:13)',
              ],
            },
          ],
        },
        {
          name: join(root, 'test/controller/e2e-vm.test.ts'),
          status: 'failed',
          message: 'Test suite failed to run\n\n  Cannot find module ./cluster',
          assertionResults: [],
        },
        { name: join(root, 'test/vm/vm.test.ts'), status: 'passed', assertionResults: [] },
      ],
    }),
  );
  writeFileSync(
    join(dir, 'gtest.json'),
    JSON.stringify({
      tests: 2,
      failures: 1,
      testsuites: [
        {
          name: 'Merge',
          testsuite: [
            { name: 'Orders', failures: [] },
            {
              name: 'Overlaps',
              failures: [{ failure: 'merge_test.cc:40\nExpected: 1\n  Which is: 2' }],
            },
          ],
        },
      ],
    }),
  );

  it('lists each failed test and suite, with its first lines, before the closing line', () => {
    const r = spawnSync('node', [summary, dir, 'jest-vm.json:jest:1', 'gtest.json:gtest:1'], {
      encoding: 'utf8',
      cwd: root,
    });
    expect(r.stdout).toBe(
      [
        'failed: test/kmod/fuzz-abi.test.ts › rewind.ko under the structured fuzz reaches every handler',
        '    Error: VM vm1: `fuzz-abi stopped` exited 139',
        '    stdout:',
        '    stderr:',
        '    Segmentation fault',
        'failed: test/controller/e2e-vm.test.ts',
        '    Test suite failed to run',
        '    Cannot find module ./cluster',
        'failed: Merge.Overlaps',
        '    merge_test.cc:40',
        '    Expected: 1',
        '    Which is: 2',
        '6 passed, 3 failed',
        '',
      ].join('\n'),
    );
    expect(r.status).toBe(1);
  });
});
