import { summarizeLines } from './trace-summary';

const tcp = (
  t: string,
  host: string,
  ev: string,
  saddr: string,
  daddr: string,
  sport: number,
  dport: number,
  seq: number,
) =>
  `[${t}] (+0.000001000) ${host} ${ev}: { cpu_id = 0 }, { len = 66, ifindex = 2, saddr = ${saddr}, ` +
  `daddr = ${daddr}, sport = ${sport}, dport = ${dport}, seq = ${seq}, ack_seq = 1, flags = 24 }`;
const A = '0xA630002';
const B = '0xA630003';

const lines = [
  '[100.000000000] (+?.?????????) node-3 process_pod: { cpu_id = 0 }, { tid = 812, pid = 812, cgroup_id = 9, namespace = "shop", pod = "cpu-hog", container = "spin", pod_uid = "u" }',
  '[100.100000000] (+0.100000000) node-3 sched_switch: { cpu_id = 0 }, { prev_tid = 0, prev_prio = 120, prev_state = 0, next_tid = 812, next_prio = 120 }',
  tcp('100.200000000', 'node-1', 'net_dev_queue_tcp4', A, B, 40000, 7000, 10),
  tcp('100.200400000', 'node-2', 'netif_receive_skb_tcp4', A, B, 40000, 7000, 10),
  tcp('100.300000000', 'node-2', 'net_dev_queue_tcp4', B, A, 7000, 40000, 1),
  tcp('100.299000000', 'node-1', 'netif_receive_skb_tcp4', B, A, 7000, 40000, 1),
  '[100.400000000] (+0.100000000) node-3 sched_switch: { cpu_id = 0 }, { prev_tid = 812, prev_prio = 120, prev_state = 0, next_tid = 5, next_prio = 120 }',
  '[101.600000000] (+1.200000000) node-3 sched_switch: { cpu_id = 0 }, { prev_tid = 5, prev_prio = 120, prev_state = 0, next_tid = 812, next_prio = 120 }',
];
const manifest = [
  { node: 'node-1', clock: { offsetNs: '-858822260', uncertaintyNs: '12261727' } },
  { node: 'node-2', clock: { offsetNs: '0', uncertaintyNs: '1500000' } },
  { node: 'node-3', clock: { offsetNs: '5000000', uncertaintyNs: '2000000' } },
];
const questions = {
  client: 'node-1',
  server: 'node-2',
  port: 7000,
  hog: { node: 'node-3', pod: 'cpu-hog' },
};

describe('the demo summary of a unified trace', () => {
  const s = summarizeLines(lines, manifest, questions);

  test('events and each node’s span and clock', () => {
    expect(s.events).toBe(lines.length);
    const n3 = s.nodes.find((n) => n.node === 'node-3')!;
    expect(n3.events).toBe(4);
    expect(n3.windowSeconds).toBeCloseTo(1.6, 6);
    const n1 = s.nodes.find((n) => n.node === 'node-1')!;
    expect(n1.offsetMs).toBeCloseTo(-858.82226, 5);
    expect(n1.uncertaintyMs).toBeCloseTo(12.261727, 6);
  });

  test('the hog’s threads from its process_pod events, and how often they got a CPU', () => {
    expect(s.hog).toEqual({ node: 'node-3', pod: 'cpu-hog', tids: ['812'], switchedIn: 2 });
    expect(s.podsNamed).toBe(1);
  });

  test('TCP both ways, with a reversed pair counted', () => {
    expect(s.tcp.there).toBe(1);
    expect(s.tcp.back).toBe(1);
    expect(s.tcp.minGapMs).toBeCloseTo(-1, 6);
    expect(s.tcp.maxGapMs).toBeCloseTo(0.4, 6);
    expect(s.tcp.reversed).toBe(1);
    // Fastest there 0.4 ms, fastest back -1 ms: node-2 shown 0.7 ms ahead.
    expect(s.tcp.skewMs).toBeCloseTo(0.7, 6);
  });
});
