#!/bin/bash
# `npm test`: builds everything, runs the C++ core tests and every jest suite (TypeScript, VM,
# control plane), and ends with one line "N passed, N failed" derived from their JSON results.
# Extra arguments go to jest (e.g. `npm test -- test/vm`).
set -uo pipefail
cd "$(dirname "$0")/.."
out=$PWD/test-output
mkdir -p "$out"
rm -f "$out"/*.json
started=$(date +%s)

step() { printf '\n== %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step "build: TypeScript, native addon, kernel module"
# A failed build counts as one failed test in the summary: tests passing on stale artifacts must
# not hide it.
if npm run -s build; then
	echo '{"tests": 0, "failures": 0}' >"$out/build.json"
else
	echo '{"tests": 1, "failures": 1}' >"$out/build.json"
	echo "the build failed: see above; the tests below run on what was built, and it counts as a failure"
fi

step "C++ core tests (GoogleTest)"
make -s -C native/cctest run RESULTS="$out/gtest-core.json"

step "jest suites"
npx jest --ci --json --outputFile="$out/jest.json" "$@"

step "summary"
exec node test/summary.js "$out" build.json:gtest jest.json:jest gtest-core.json:gtest
