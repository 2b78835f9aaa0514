// The lanes of `npm test` (test/lanes.js): a suite that boots qemu but is missing from the VM
// lists would run beside the VM lane and thrash two cores; a suite in neither lane would never
// run. Judged by jest's own file resolution (`jest --listTests`), not by re-reading the config.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { VM_SUITES, LATE_VM_SUITES } = require('./lanes.js') as {
  VM_SUITES: string[];
  LATE_VM_SUITES: string[];
};

const root = join(__dirname, '..');

/** What jest would run, as paths from the project root; `lane` undefined = no lane. */
function listTests(lane: string | undefined, ...args: string[]) {
  const env = { ...process.env };
  delete env.REWIND_TEST_LANE;
  if (lane !== undefined) env.REWIND_TEST_LANE = lane;
  const r = spawnSync('npx', ['jest', '--listTests', ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
  });
  const files = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('/'))
    .map((f) => relative(root, f))
    .sort();
  return { status: r.status, stderr: r.stderr, files };
}

// A suite boots qemu through the harness (test/vm/jest.ts, test/vm/vm.ts), the end-to-end
// scenario's cluster (test/scenario/cluster.ts), a cluster with a VM node
// (test/k8s/nodeCluster.ts), the demo's entry point or the harness's command line.
const BOOTS_QEMU =
  /\b(useVm|startVm|runVm|startScenarioCluster)\(|\bVm\.start\(|test\/vm\/cli\.js|scripts\/demo\.js|'run',\s*('-s',\s*)?'vm'|nodes: \[[^\]]*'vm'/;

describe('the lanes of npm test', () => {
  type Listing = ReturnType<typeof listTests>;
  let all: Listing, vm: Listing, host: Listing, late: Listing;
  beforeAll(() => {
    all = listTests(undefined);
    vm = listTests('vm');
    host = listTests('host');
    late = listTests('vm-late');
  });

  it('puts every suite in exactly one lane', () => {
    expect(all.status).toBe(0);
    expect(all.files.length).toBeGreaterThan(VM_SUITES.length);
    expect([...vm.files, ...host.files, ...late.files].sort()).toEqual(all.files);
    expect(vm.files.filter((f) => host.files.includes(f))).toEqual([]);
    expect(vm.files.filter((f) => late.files.includes(f))).toEqual([]);
    expect(late.files.filter((f) => host.files.includes(f))).toEqual([]);
  });

  it('runs exactly the listed suites, and every one of them boots qemu, in the two VM lanes', () => {
    expect(VM_SUITES.filter((f) => !existsSync(join(root, f)))).toEqual([]);
    expect(LATE_VM_SUITES.filter((f) => !VM_SUITES.includes(f))).toEqual([]);
    expect(late.files).toEqual([...LATE_VM_SUITES].sort());
    expect(late.files.length).toBeGreaterThan(0);
    expect(vm.files.length).toBeGreaterThan(0);
    expect([...vm.files, ...late.files].sort()).toEqual([...VM_SUITES].sort());
    const booting = all.files.filter((f) => BOOTS_QEMU.test(readFileSync(join(root, f), 'utf8')));
    expect(booting).toEqual([...VM_SUITES].sort());
  });

  it('selects within a lane by the paths a person passes', () => {
    const part = listTests(undefined, 'test/vm');
    const vmPart = listTests('vm', 'test/vm');
    const hostPart = listTests('host', 'test/vm');
    const latePart = listTests('vm-late', 'test/vm');
    expect(vmPart.files.length).toBeGreaterThan(0);
    expect(hostPart.files.length).toBeGreaterThan(0);
    expect(latePart.files.length).toBeGreaterThan(0);
    expect(vmPart.files.every((f) => f.startsWith('test/vm/') && VM_SUITES.includes(f))).toBe(true);
    expect([...vmPart.files, ...hostPart.files, ...latePart.files].sort()).toEqual(part.files);
  });

  it('refuses a lane that does not exist, naming it', () => {
    const r = listTests('vms');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/REWIND_TEST_LANE=vms: not a lane of npm test \(vm, host, vm-late\)/);
  });
});
