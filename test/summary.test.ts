// The closing line CI reads is derived, not printed by hand: check the derivation.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { summarize } = require('./summary.js') as {
  summarize(
    dir: string,
    expected: string[][],
  ): { passed: number; failed: number; missing: string[] };
};

describe('summarize', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rewind-summary-'));
  writeFileSync(
    join(dir, 'jest.json'),
    JSON.stringify({ numPassedTests: 40, numFailedTests: 2, numRuntimeErrorTestSuites: 1 }),
  );
  writeFileSync(join(dir, 'gtest.json'), JSON.stringify({ tests: 12, failures: 1, disabled: 1 }));

  it('adds jest and GoogleTest results, counting broken suites as failures', () => {
    expect(
      summarize(dir, [
        ['jest.json', 'jest'],
        ['gtest.json', 'gtest'],
      ]),
    ).toEqual({
      passed: 50,
      failed: 4,
      missing: [],
    });
  });

  it('counts a missing result file as a failure', () => {
    expect(
      summarize(dir, [
        ['jest.json', 'jest'],
        ['absent.json', 'gtest'],
      ]),
    ).toEqual({
      passed: 40,
      failed: 4,
      missing: ['absent.json'],
    });
  });
});
