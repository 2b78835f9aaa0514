'use strict';
// The jest environment of every suite: node's, plus one duty for VM tests. When a test fails
// while VMs are running, their kernel logs are saved under test-output/vm/ and the tail of each
// is printed with the failure, so a failing test always comes with the kernel's side of the story.
const { TestEnvironment } = require('jest-environment-node');

class RewindEnvironment extends TestEnvironment {
  async handleTestEvent(event) {
    if (event.name !== 'test_done' || event.test.errors.length === 0) return;
    const registry = this.global.__rewindVmRegistry;
    if (!registry) return;
    for (const vm of registry.vms) {
      try {
        const log = await vm.kernelLog();
        const path = await vm.saveKernelLog(log);
        const tail = log.split('\n').slice(-40).join('\n');
        process.stderr.write(
          `\n--- kernel log of VM ${vm.name} (test "${event.test.name}" failed), kept in ${path}; tail:\n${tail}\n`,
        );
      } catch (e) {
        process.stderr.write(`\n--- could not read the kernel log of VM ${vm.name}: ${e}\n`);
      }
    }
  }
}

module.exports = RewindEnvironment;
