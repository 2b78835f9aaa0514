/**
 * Jest glue for VM tests. useVm() boots one VM for a describe block, checks its kernel log after
 * every test (a bug, warning, oops or lockup fails that test), and stops it afterwards. The VMs in
 * use are registered on the global object so that jest-environment.js can keep their kernel logs
 * with the output of a test that fails.
 */
import { Vm, type VmOptions } from './vm';

export interface VmRegistry {
  vms: Set<Vm>;
}

export function vmRegistry(): VmRegistry {
  const g = globalThis as { __rewindVmRegistry?: VmRegistry };
  g.__rewindVmRegistry ??= { vms: new Set() };
  return g.__rewindVmRegistry;
}

/** Starts a VM and registers it for log keeping; stop it with stopVm(). */
export async function startVm(opts: VmOptions = {}): Promise<Vm> {
  const vm = await Vm.start(opts);
  vmRegistry().vms.add(vm);
  return vm;
}

export async function stopVm(vm: Vm): Promise<void> {
  vmRegistry().vms.delete(vm);
  await vm.stop();
}

export function useVm(opts: VmOptions = {}): () => Vm {
  let vm: Vm | undefined;
  beforeAll(async () => {
    vm = await startVm(opts);
  });
  afterEach(async () => {
    await vm?.checkKernelLog();
  });
  afterAll(async () => {
    if (vm) await stopVm(vm);
  });
  return () => {
    if (!vm) throw new Error('the VM did not start (see beforeAll)');
    return vm;
  };
}
