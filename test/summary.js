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

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** The first `lines` lines of a failure message: trimmed, without colours, blanks or stack. */
function firstLines(message, lines = 5) {
  return String(message || '')
    .replace(ANSI, '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('at '))
    .slice(0, lines);
}

/**
 * What failed, as CI's record keeps it: the end of the output only. Each failed jest test
 * (suite path relative to the repository, full name, the first lines of its message), each suite
 * that could not run, each failed GoogleTest case.
 */
function failures(results, kind, root = process.cwd()) {
  const found = [];
  if (kind === 'jest') {
    for (const suite of results.testResults || []) {
      const file = path.relative(root, suite.name || '');
      const failedTests = (suite.assertionResults || []).filter((t) => t.status === 'failed');
      for (const t of failedTests)
        found.push({ where: `${file} › ${t.fullName}`, why: firstLines(t.failureMessages?.[0]) });
      if (failedTests.length === 0 && suite.status === 'failed')
        found.push({ where: file, why: firstLines(suite.failureMessage || suite.message) });
    }
  } else {
    for (const group of results.testsuites || []) {
      for (const t of group.testsuite || []) {
        if ((t.failures || []).length > 0)
          found.push({
            where: `${group.name}.${t.name}`,
            why: firstLines(t.failures[0].failure),
          });
      }
    }
  }
  return found;
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
  const failedTests = [];
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
    failedTests.push(...failures(results, kind));
    if (status !== undefined && status !== '0' && c.failed === 0) {
      unexplained.push({ file, status });
      failed += 1;
    }
  }
  return { passed, failed, missing, unexplained, failedTests };
}

module.exports = { summarize, jestCounts, gtestCounts, failures };

if (require.main === module) {
  const dir = process.argv[2] || 'test-output';
  const expected = process.argv.slice(3).map((spec) => spec.split(':'));
  const { passed, failed, missing, unexplained, failedTests } = summarize(dir, expected);
  for (const { where, why } of failedTests) {
    console.log(`failed: ${where}`);
    for (const line of why) console.log(`    ${line.slice(0, 300)}`);
  }
  for (const file of missing)
    console.log(`missing results: ${path.join(dir, file)} (that step failed)`);
  for (const { file, status } of unexplained)
    console.log(`${path.join(dir, file)}: its step exited ${status} with no failure recorded`);
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}
