'use strict';
// Merges GoogleTest JSON result files into one, the file `npm test` counts.
// Usage: node merge-results.js OUT.json FILE:PREFIX:STATUSFILE...
// A step whose results file is missing, or whose exit status is non-zero while its results show
// no failure (a sanitizer report at exit, a crash), adds one failed test naming the step, so a
// broken step can never pass silently.
const fs = require('node:fs');

const [out, ...specs] = process.argv.slice(2);
const merged = { tests: 0, failures: 0, disabled: 0, errors: 0, name: 'AllTests', testsuites: [] };
let allOk = true;
for (const spec of specs) {
  const [file, prefix, statusFile] = spec.split(':');
  let results;
  let status = 1;
  try {
    status = Number(fs.readFileSync(statusFile, 'utf8').trim());
  } catch {
    /* missing status: the step did not run */
  }
  try {
    results = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    results = undefined;
  }
  const failed = results ? results.failures + (results.errors || 0) : 0;
  if (results) {
    merged.tests += results.tests;
    merged.failures += results.failures;
    merged.errors += results.errors || 0;
    merged.disabled += results.disabled || 0;
    for (const suite of results.testsuites || []) {
      suite.name = (prefix === 'core' || prefix === 'fuzz' ? '' : prefix) + suite.name;
      merged.testsuites.push(suite);
    }
  }
  if (!results || (status !== 0 && failed === 0)) {
    const why = !results ? `no results (${file})` : `exit status ${status} after its tests passed`;
    merged.tests += 1;
    merged.failures += 1;
    merged.testsuites.push({
      name: `${prefix}step`,
      tests: 1,
      failures: 1,
      testsuite: [{ name: 'completes', failures: [{ failure: why }] }],
    });
  }
  if (status !== 0 || !results) allOk = false;
}
fs.writeFileSync(out, JSON.stringify(merged, null, 1));
const failed = merged.failures + merged.errors;
console.log(
  `native core tests: ${merged.tests - failed - merged.disabled} passing, ${failed} failing`,
);
process.exit(allOk && failed === 0 ? 0 : 1);
