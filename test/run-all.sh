#!/bin/bash
# `npm test`: builds everything and runs every suite in three lanes, two at a time side by side,
# then ends with one line "N passed, N failed" derived from their JSON results (test/summary.js).
#   vm      — the build, then the jest suites that boot qemu (the lists: test/lanes.js), one at a
#             time. It is the long lane, so it starts as soon as the build is done.
#   host    — the C++ core tests (GoogleTest) at once, as they need no build; then, once the
#             build is done, every other jest suite (TypeScript, control plane, chart).
#   vm-late — once the host lane is done, the rest of the suites that boot qemu, one at a time,
#             on the core the host lane leaves free.
# One at a time in series, these took over an hour; CI gives up at 90. A TCG guest is about one
# busy host thread, so two lanes at a time share CI's two cores without thrashing.
# Every line is printed prefixed with its lane ([vm], [host], [vm-late], [build]) and kept whole
# in test-output/npm-test-<lane>.log. Extra arguments go to jest in every lane (`npm test --
# test/vm`); a lane in which they select no suite passes with no tests.
set -uo pipefail
cd "$(dirname "$0")/.."
out=$PWD/test-output
mkdir -p "$out"
rm -f "$out"/*.json "$out"/npm-test-*.log
started=$(date +%s)
jest_args=("$@")
if (($#)); then jest_args+=(--passWithNoTests); fi

elapsed() { echo $(($(date +%s) - started)); }
step() { printf '\n== %s (%ss)\n' "$1" "$(elapsed)"; }

# Runs a command with its output prefixed by a lane's name and appended to that lane's log.
labelled() {
	local lane=$1 prefix
	prefix=$(printf '%-10s' "[$1]")
	shift
	"$@" </dev/null 2>&1 | tee -a "$out/npm-test-$lane.log" | sed -u "s/^/$prefix/"
}

# Background work runs as a process group of its own (job control on while it starts), so that
# Ctrl-C or a TERM to `npm test` stops everything a lane started — jest, its children, qemu —
# rather than leaving VMs running on a shared machine.
groups=()
start() {
	set -m
	"$@" &
	job=$!
	set +m
	groups+=("$job")
}
stop_lanes() {
	trap - INT TERM
	for g in "${groups[@]}"; do kill -TERM -- "-$g" 2>/dev/null; done
	wait
}
trap 'echo "npm test: interrupted, stopping every lane"; stop_lanes; exit 130' INT
trap 'stop_lanes; exit 143' TERM

jest_lane() {
	labelled "$1" env REWIND_TEST_LANE="$1" \
		npx jest --ci --json --outputFile="$out/jest-$1.json" "${jest_args[@]}"
}

cpp_tests() {
	labelled host make -s -C native/cctest run RESULTS="$out/gtest-core.json"
	local status=$?
	step "host lane: C++ core tests done, exit $status"
	return "$status"
}

# A lane's jest run, with its own duration and exit status printed when it ends.
lane() {
	local from
	from=$(elapsed)
	jest_lane "$1"
	local status=$?
	step "$1 lane: jest suites done in $(($(elapsed) - from))s, exit $status"
	return "$status"
}

step "host lane: C++ core tests (GoogleTest), beside the build"
start cpp_tests
cpp=$job

step "build: TypeScript, native addon, kernel module"
# A failed build counts as one failed test in the summary: tests passing on stale artifacts must
# not hide it.
if labelled build npm run -s build; then
	echo '{"tests": 0, "failures": 0}' >"$out/build.json"
else
	echo '{"tests": 1, "failures": 1}' >"$out/build.json"
	echo "the build failed: see above; the tests below run on what was built, and it counts as a failure"
fi

step "vm lane: the jest suites that boot qemu"
start lane vm
vm=$job

wait "$cpp"
cpp_status=$?
step "host lane: the other jest suites"
start lane host
host=$job

# Waits for a lane and returns its status. A lane whose jest wrote its results a minute ago but
# has not ended is held up by something a test left open (a server, a child process still
# writing to the lane's output): it would hang CI until its 90-minute limit, so it is stopped and
# counts as failed. Whatever a lane left running after it ended is stopped as well.
finish() {
	local lane=$1 group=$2 json=$out/jest-$1.json status stopped=''
	while kill -0 "$group" 2>/dev/null; do
		if [[ -s $json ]] && (($(date +%s) - $(stat -c %Y "$json") > 60)); then
			step "$lane lane: jest wrote its results a minute ago but the lane has not ended (a test left a server or a process running: --detectOpenHandles finds it); stopping it"
			kill -TERM -- "-$group" 2>/dev/null
			stopped=1
			break
		fi
		sleep 5
	done
	wait "$group"
	status=$?
	if [[ -z $stopped ]] && kill -0 -- "-$group" 2>/dev/null; then
		step "$lane lane: stopping the processes it left running"
		kill -TERM -- "-$group" 2>/dev/null
	fi
	return "$status"
}

finish host "$host"
host_status=$?
step "vm-late lane: the other jest suites that boot qemu, on the core the host lane left"
start lane vm-late
late=$job
finish vm-late "$late"
late_status=$?
finish vm "$vm"
vm_status=$?

step "summary"
exec node test/summary.js "$out" build.json:gtest "gtest-core.json:gtest:$cpp_status" \
	"jest-vm.json:jest:$vm_status" "jest-host.json:jest:$host_status" \
	"jest-vm-late.json:jest:$late_status"
