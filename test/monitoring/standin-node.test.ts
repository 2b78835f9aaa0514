/**
 * The stand-in node's CPU model (pure, clock injected) and the /proc/stat line it writes, read
 * back by the agent's own parser.
 */
import { parseProcStatCpu } from '../../agent/node-cpu';
import { BUSY, CpuModel, IDLE, procStatText } from './standin-node';

describe("the stand-in node's CPUs", () => {
  test('seconds by mode grow at the profile times the CPUs; /proc/stat as the agent parses it', () => {
    const clock = { now: 0 };
    const model = new CpuModel(2, IDLE, () => clock.now, 100);
    clock.now = 10_000;
    const idle = { ...model.read() };
    expect(idle.idle).toBeCloseTo(200 + 10 * 2 * 0.93);
    expect(idle.user).toBeCloseTo(10 * 2 * 0.04);
    model.setProfile(BUSY);
    clock.now = 20_000;
    const busy = { ...model.read() };
    expect(busy.user - idle.user).toBeCloseTo(10 * 2 * 0.95);
    expect(busy.idle - idle.idle).toBeCloseTo(10 * 2 * 0.01);
    const parsed = parseProcStatCpu(procStatText(busy));
    expect(parsed?.user).toBe(Math.floor(busy.user * 100) / 100);
    expect(Object.keys(parsed ?? {})).toHaveLength(8);
  });
});
