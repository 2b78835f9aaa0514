'use strict';
// The lanes of `npm test` (test/run-all.sh), and the one list that splits the jest suites between
// them. "vm": the suites that boot qemu, one at a time, from the start — a TCG guest is a busy
// host thread, and two guests beside the host lane would thrash CI's two cores. "host": every
// other suite, beside it. "vm-late": suites that boot qemu too, run once the host lane is done,
// on the core it leaves free (alone, the VM lane took 46 of a 51-minute CI run while the host
// lane ended after 25). jest.config.js narrows itself to a lane named by REWIND_TEST_LANE (an
// environment variable rather than a second config file, so `npx jest` alone still runs all);
// test/lanes.test.ts fails when a suite that boots a VM is missing from the list.

/** Every suite that boots qemu: through useVm/startVm/runVm, or the `npm run vm` command line. */
const VM_SUITES = [
  'test/agent/agent-vm.test.ts',
  'test/agent/cgroups-vm.test.ts',
  'test/agent/module-vm.test.ts',
  'test/controller/e2e-vm.test.ts',
  'test/k8s/node-install-vm.test.ts',
  'test/kmod/cgroup.test.ts',
  'test/kmod/fuzz-abi.test.ts',
  'test/kmod/hotplug.test.ts',
  'test/kmod/kmod.test.ts',
  'test/kmod/matrix.test.ts',
  'test/kmod/session.test.ts',
  'test/kmod/stress.test.ts',
  'test/native/vm-snapshot.test.ts',
  'test/scenario/demo.test.ts',
  'test/vm/cache.test.ts',
  'test/vm/cli.test.ts',
  'test/vm/vm.test.ts',
];

/**
 * The VM suites of the vm-late lane, run once the host lane is done: the cluster with a node
 * inside a VM (node-install-vm, about 9 minutes in CI; it needs the host node lock, which the
 * host lane's node suites take before) and two short ones. In a CI rehearsal with the C++
 * objects in ccache, the host lane ended after 16 minutes and the vm lane after 24; with
 * agent-vm (2 minutes) here too, vm-late ended after 27. So agent-vm stays in the vm lane: both
 * lanes should end near the 26th minute.
 */
const LATE_VM_SUITES = [
  'test/k8s/node-install-vm.test.ts',
  'test/vm/cache.test.ts',
  'test/vm/cli.test.ts',
];

const LANES = ['vm', 'host', 'vm-late'];

const asTestMatch = (suites) => suites.map((f) => `<rootDir>/${f}`);

function escapeRegExp(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `config` narrowed to one lane's suites, or whole when no lane is named. A lane narrows with
 * testMatch / testPathIgnorePatterns rather than path arguments, so that the paths a person
 * passes (`npm test -- test/vm`) still select within each lane instead of adding to it.
 */
function laneConfig(config, lane) {
  if (lane === undefined || lane === '') return config;
  if (lane === 'vm')
    return {
      ...config,
      testMatch: asTestMatch(VM_SUITES.filter((f) => !LATE_VM_SUITES.includes(f))),
    };
  if (lane === 'vm-late') return { ...config, testMatch: asTestMatch(LATE_VM_SUITES) };
  if (lane === 'host') {
    const vm = VM_SUITES.map((f) => `^<rootDir>/${escapeRegExp(f)}$`);
    return { ...config, testPathIgnorePatterns: [...config.testPathIgnorePatterns, ...vm] };
  }
  throw new Error(`REWIND_TEST_LANE=${lane}: not a lane of npm test (${LANES.join(', ')})`);
}

module.exports = { VM_SUITES, LATE_VM_SUITES, LANES, laneConfig };
