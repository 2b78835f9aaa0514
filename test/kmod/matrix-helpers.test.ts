// Pure parts of the kernel matrix' helpers: no kernel is fetched and no VM is booted here.
import { resolveKernel } from '../vm/kernel';
import { makeVars, silentProbes } from './matrix-helpers';

describe('silentProbes', () => {
  const probes = ['sched_wakeup', 'sched_wakeup_new', 'sys_exit', 'net_dev_queue'];

  it('counts a probe present by its own events or their variants', () => {
    const names = new Map([
      ['sched_wakeup', 3],
      ['sched_wakeup_new', 1],
      ['sys_exit_wide', 2],
      ['net_dev_queue_tcp6', 1],
    ]);
    expect(silentProbes(probes, names)).toEqual([]);
  });

  it("names a probe with no events, even when another probe's name starts with it", () => {
    // sched_wakeup_new's events are not sched_wakeup's; a zero count is no event.
    const names = new Map([
      ['sched_wakeup_new', 1],
      ['sys_exit', 0],
      ['net_dev_queue_udp', 4],
    ]);
    expect(silentProbes(probes, names)).toEqual(['sched_wakeup', 'sys_exit', 'net_dev_queue']);
  });
});

describe('makeVars', () => {
  it("adds nothing for the host's own kernel", () => {
    expect(makeVars(resolveKernel())).toEqual([]);
  });

  it('names gcc for a fetched tree', () => {
    const fetched = { release: 'r', image: '/c/v', modulesRoot: '/c/root', kdir: '/c/k' };
    expect(makeVars(fetched)).toContain('CC=gcc');
  });
});
