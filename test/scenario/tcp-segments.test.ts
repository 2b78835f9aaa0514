import { ipv4, pairSegments, parseSegments, skewEstimateNs } from './tcp-segments';

const line = (
  t: string,
  host: string,
  event: 'net_dev_queue_tcp4' | 'netif_receive_skb_tcp4',
  f: {
    saddr: string;
    daddr: string;
    sport: number;
    dport: number;
    seq: number;
    ack?: number;
    flags?: number;
  },
) =>
  `[${t}] (+0.000001000) ${host} ${event}: { cpu_id = 0 }, { len = 66, ifindex = 2, ` +
  `saddr = ${f.saddr}, daddr = ${f.daddr}, sport = ${f.sport}, dport = ${f.dport}, ` +
  `seq = ${f.seq}, ack_seq = ${f.ack ?? 0}, flags = ${f.flags ?? 24} }`;

const A = '0xA630002'; // 10.99.0.2
const B = '0xA630003'; // 10.99.0.3
const data = { saddr: A, daddr: B, sport: 40000, dport: 7000, seq: 100, ack: 5 };
const ackBack = { saddr: B, daddr: A, sport: 7000, dport: 40000, seq: 5, ack: 106, flags: 16 };

describe('TCP segments across nodes', () => {
  test('ipv4 reads the module field as babeltrace2 prints it', () => {
    expect(ipv4('0xA630002')).toBe('10.99.0.2');
    expect(ipv4('2130706433')).toBe('127.0.0.1');
    expect(() => ipv4('0x1FFFFFFFF')).toThrow(/not an IPv4 field/);
    expect(() => ipv4('ten')).toThrow(/not an IPv4 field/);
  });

  test('a send and its receive pair by identity, with the gap on the merged clock', () => {
    const segs = parseSegments([
      line('100.000000100', 'node-a', 'net_dev_queue_tcp4', data),
      'some other line',
      line('100.000000900', 'node-b', 'netif_receive_skb_tcp4', data),
      line('100.000001500', 'node-b', 'net_dev_queue_tcp4', ackBack),
      line('100.000002000', 'node-a', 'netif_receive_skb_tcp4', ackBack),
    ]);
    expect(segs).toHaveLength(4);
    const ab = pairSegments(segs, 'node-a', 'node-b', 7000);
    expect(ab).toHaveLength(1);
    expect(ab[0]!.key).toBe('10.99.0.2 10.99.0.3 40000 7000 100 5 24');
    expect(ab[0]!.gapNs).toBe(800n);
    const ba = pairSegments(segs, 'node-b', 'node-a', 7000);
    expect(ba.map((p) => p.gapNs)).toEqual([500n]);
  });

  test('a receive shown before its send has a negative gap (a misaligned clock)', () => {
    const segs = parseSegments([
      line('99.999999000', 'node-b', 'netif_receive_skb_tcp4', data),
      line('100.000000000', 'node-a', 'net_dev_queue_tcp4', data),
    ]);
    expect(pairSegments(segs, 'node-a', 'node-b', 7000)[0]!.gapNs).toBe(-1000n);
  });

  test('retransmissions pair in order; other ports, hosts and unmatched sends are left out', () => {
    const segs = parseSegments([
      line('1.000000000', 'node-a', 'net_dev_queue_tcp4', data),
      line('1.200000000', 'node-a', 'net_dev_queue_tcp4', data),
      line('1.200000500', 'node-b', 'netif_receive_skb_tcp4', data),
      line('1.300000000', 'node-a', 'net_dev_queue_tcp4', { ...data, seq: 200 }),
      line('1.400000000', 'node-a', 'net_dev_queue_tcp4', { ...data, dport: 8000 }),
      line('1.400000100', 'node-b', 'netif_receive_skb_tcp4', { ...data, dport: 8000 }),
      line('1.500000000', 'node-c', 'netif_receive_skb_tcp4', data),
    ]);
    const pairs = pairSegments(segs, 'node-a', 'node-b', 7000);
    expect(pairs.map((p) => p.gapNs)).toEqual([200_000_500n]);
  });

  test('the skew estimate: half the difference of the fastest crossings each way', () => {
    // True crossing 1000 ns each way; node-b's clock shown 300 ns ahead.
    const segs = parseSegments([
      line('5.000000000', 'node-a', 'net_dev_queue_tcp4', data),
      line('5.000001300', 'node-b', 'netif_receive_skb_tcp4', data),
      line('5.000010000', 'node-b', 'net_dev_queue_tcp4', ackBack),
      line('5.000010700', 'node-a', 'netif_receive_skb_tcp4', ackBack),
    ]);
    const there = pairSegments(segs, 'node-a', 'node-b', 7000);
    const back = pairSegments(segs, 'node-b', 'node-a', 7000);
    expect(skewEstimateNs(there, back)).toBe(300n);
    expect(skewEstimateNs(there, [])).toBeUndefined();
  });
});
