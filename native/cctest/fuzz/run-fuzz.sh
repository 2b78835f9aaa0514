#!/bin/sh
# Runs the decoder fuzz target for a bounded time from a fresh seed corpus and writes its outcome
# as a GoogleTest-format JSON file (one test). Usage: run-fuzz.sh FUZZER BUILD_DIR SECONDS OUT.json
# Exit status: the fuzzer's (non-zero on a crash, a sanitizer report, a leak or a timeout).
set -u
fuzzer=$1 build=$2 seconds=$3 out=$4
work=$build/fuzz-work
rm -rf "$work" && mkdir -p "$work/corpus"
"$build/make_seeds" "$work/seed-trace" "$work/seed-corpus" || exit 1
# -timeout: one input taking over 10 s counts as a hang; -rss_limit_mb: memory must stay bounded.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	-artifact_prefix="$work/" "$work/corpus" "$work/seed-corpus" >"$work/log" 2>&1
status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n1)
cov=$(grep -o 'cov: [0-9]*' "$work/log" | tail -n1 | cut -d' ' -f2)
echo "fuzz: ${execs:-0} executions in ${seconds} s, coverage ${cov:-?} edges, exit status $status"
if [ "$status" -ne 0 ]; then
	tail -n 40 "$work/log"
	failure=$(grep -m1 -E 'ERROR|SUMMARY|deadly|timeout' "$work/log" | tr '"\\' "''" | tr -d '\r')
	failures="[{\"failure\":\"${failure:-fuzzer exit status $status} (log: $work/log)\",\"type\":\"\"}]"
	nfail=1
else
	failures="[]"
	nfail=0
fi
cat >"$out" <<JSON
{"tests":1,"failures":$nfail,"disabled":0,"errors":0,"name":"AllTests","testsuites":[
 {"name":"Fuzz","tests":1,"failures":$nfail,"disabled":0,"errors":0,"testsuite":[
  {"name":"DecoderMetadataChrome_${seconds}s","status":"RUN","result":"COMPLETED",
   "classname":"Fuzz","time":"${seconds}s","executions":${execs:-0},"coverage":"${cov:-}",
   "failures":$failures}]}]}
JSON
exit $status
