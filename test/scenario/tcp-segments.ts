/**
 * The clock alignment's proof in a merged trace (pure): TCP segments sent by one node
 * (`net_dev_queue_tcp4`, as the segment leaves for the device) matched with the same segments
 * received by another (`netif_receive_skb_tcp4`), by addresses, ports, sequence and
 * acknowledgement numbers and flags. On the merged timeline every send must come before its
 * receive: a node's clock misaligned by more than the network's one-way latency reverses one
 * direction of a conversation (data one way, acknowledgements the other), so both directions are
 * matched.
 *
 * Input is babeltrace2's text with `--clock-seconds --fields=trace:hostname`:
 *   [1796110273.210598215] (+0.000006395) node-a net_dev_queue_tcp4: { cpu_id = 1 }, { len = 74,
 *   ifindex = 2, saddr = 0xA630002, daddr = 0xA630003, sport = 50260, dport = 7000, seq = …,
 *   ack_seq = …, flags = 24 }
 */

export interface Segment {
  host: string;
  /** Nanoseconds since the epoch, from the merged trace's clock. */
  timeNs: bigint;
  direction: 'send' | 'receive';
  /** The segment's identity: saddr daddr sport dport seq ack_seq flags. */
  key: string;
  sport: number;
  dport: number;
}

const LINE =
  /^\[(?<sec>\d+)\.(?<nsec>\d{9})\] \(\S+\) (?<host>\S+) (?<event>net_dev_queue_tcp4|netif_receive_skb_tcp4): .*?\{ len = \d+, ifindex = \d+, saddr = (?<saddr>\S+), daddr = (?<daddr>\S+), sport = (?<sport>\d+), dport = (?<dport>\d+), seq = (?<seq>\d+), ack_seq = (?<ack>\d+), flags = (?<flags>\d+) \}/;

/** IPv4 address as babeltrace2 prints the module's IP4 field (hex or decimal) → dotted quad. */
export function ipv4(field: string): string {
  const n = Number(field);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new Error(`not an IPv4 field: ${field}`);
  return [24, 16, 8, 0].map((s) => (n >>> s) & 0xff).join('.');
}

/** The TCP/IPv4 segments of a trace's text lines; other lines are skipped. */
export function parseSegments(lines: Iterable<string>): Segment[] {
  const out: Segment[] = [];
  for (const line of lines) {
    const m = LINE.exec(line);
    if (!m) continue;
    const { sec, nsec, host, event, saddr, daddr, sport, dport, seq, ack, flags } =
      m.groups as Record<string, string>;
    out.push({
      host,
      timeNs: BigInt(sec) * 1_000_000_000n + BigInt(nsec),
      direction: event === 'net_dev_queue_tcp4' ? 'send' : 'receive',
      key: [ipv4(saddr), ipv4(daddr), sport, dport, seq, ack, flags].join(' '),
      sport: Number(sport),
      dport: Number(dport),
    });
  }
  return out;
}

export interface SegmentPair {
  key: string;
  send: Segment;
  receive: Segment;
  /** Receive time minus send time on the merged timeline; negative = received before sent. */
  gapNs: bigint;
}

/**
 * Segments sent by `from` and received by `to`, paired in order (the n-th send of a key with the
 * n-th receive of it: a retransmission has the same key). `port` keeps one conversation: segments
 * whose source or destination port it is.
 */
export function pairSegments(
  segments: readonly Segment[],
  from: string,
  to: string,
  port: number,
): SegmentPair[] {
  const ofPort = (s: Segment) => s.sport === port || s.dport === port;
  const received = new Map<string, Segment[]>();
  for (const s of segments)
    if (s.host === to && s.direction === 'receive' && ofPort(s)) {
      const list = received.get(s.key) ?? [];
      list.push(s);
      received.set(s.key, list);
    }
  const pairs: SegmentPair[] = [];
  for (const send of segments) {
    if (send.host !== from || send.direction !== 'send' || !ofPort(send)) continue;
    const receive = received.get(send.key)?.shift();
    if (receive) pairs.push({ key: send.key, send, receive, gapNs: receive.timeNs - send.timeNs });
  }
  return pairs;
}

/**
 * How far `to`'s clock sits ahead of `from`'s on the merged timeline, from the fastest segment
 * each way: a segment's gap is its true crossing time plus that error one way, minus it the
 * other, so (fastest there − fastest back) / 2 is the error if the fastest crossing takes as long
 * in both directions. Undefined without segments both ways.
 */
export function skewEstimateNs(
  there: readonly SegmentPair[],
  back: readonly SegmentPair[],
): bigint | undefined {
  if (there.length === 0 || back.length === 0) return undefined;
  const fastest = (pairs: readonly SegmentPair[]) =>
    pairs.reduce((m, p) => (p.gapNs < m ? p.gapNs : m), pairs[0]!.gapNs);
  return (fastest(there) - fastest(back)) / 2n;
}
