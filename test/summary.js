'use strict';
// The closing line of `npm test`: "N passed, N failed", counted over every suite that ran —
// jest's TypeScript and VM suites, and GoogleTest's C++ core tests — from their JSON results.
// A result file that is missing (its step did not run) counts as one failure, so a broken build
// can never end in "0 failed".
const fs = require('node:fs');
const path = require('node:path');

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

/** Counts from jest's --json results: suites that failed to run count as failed tests. */
function jestCounts(results) {
  return {
    passed: results.numPassedTests,
    failed: results.numFailedTests + results.numRuntimeErrorTestSuites,
  };
}

/** Counts from GoogleTest's --gtest_output=json results. */
function gtestCounts(results) {
  const failed = results.failures + (results.errors || 0);
  return { passed: results.tests - failed - (results.disabled || 0), failed };
}

function summarize(dir, expected) {
  let passed = 0;
  let failed = 0;
  const missing = [];
  for (const [file, kind] of expected) {
    const results = readJson(path.join(dir, file));
    if (!results) {
      missing.push(file);
      failed += 1;
      continue;
    }
    const c = kind === 'jest' ? jestCounts(results) : gtestCounts(results);
    passed += c.passed;
    failed += c.failed;
  }
  return { passed, failed, missing };
}

module.exports = { summarize, jestCounts, gtestCounts };

if (require.main === module) {
  const dir = process.argv[2] || 'test-output';
  const expected = process.argv.slice(3).map((spec) => spec.split(':'));
  const { passed, failed, missing } = summarize(dir, expected);
  for (const file of missing)
    console.log(`missing results: ${path.join(dir, file)} (that step failed)`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
