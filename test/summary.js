'use strict';
// The closing line of `npm test`: "N passed, N failed", counted over every suite that ran — both
// jest lanes (VM suites, host suites) and GoogleTest's C++ core tests — from their JSON results.
// A result file that is missing (its step did not run, or crashed before writing it) counts as
// one failure, so a broken build or a lane that died can never end in "0 failed". So does a step
// that exited non-zero while its results show no failure: jest writes a clean file and exits 1
// when it finds no tests, and that must not read as success either.
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

/**
 * Adds up `expected`: [file, kind ('jest' | 'gtest'), exit status of the step that wrote it
 * (optional)]. Returns the counts, the files that were missing, and the files whose step failed
 * without a failure in them (each counted as one failure).
 */
function summarize(dir, expected) {
  let passed = 0;
  let failed = 0;
  const missing = [];
  const unexplained = [];
  for (const [file, kind, status] of expected) {
    const results = readJson(path.join(dir, file));
    if (!results) {
      missing.push(file);
      failed += 1;
      continue;
    }
    const c = kind === 'jest' ? jestCounts(results) : gtestCounts(results);
    passed += c.passed;
    failed += c.failed;
    if (status !== undefined && status !== '0' && c.failed === 0) {
      unexplained.push({ file, status });
      failed += 1;
    }
  }
  return { passed, failed, missing, unexplained };
}

module.exports = { summarize, jestCounts, gtestCounts };

if (require.main === module) {
  const dir = process.argv[2] || 'test-output';
  const expected = process.argv.slice(3).map((spec) => spec.split(':'));
  const { passed, failed, missing, unexplained } = summarize(dir, expected);
  for (const file of missing)
    console.log(`missing results: ${path.join(dir, file)} (that step failed)`);
  for (const { file, status } of unexplained)
    console.log(`${path.join(dir, file)}: its step exited ${status} with no failure recorded`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
