/**
 * Clock alignment of one node (pure), Cristian's method: each exchange is a GET /v1/clock the
 * controller timed with its own realtime (`sentNs` before sending, `receivedNs` after the
 * answer); the agent read its clocks somewhere in between, so the node's sample corresponds to
 * the controller's midpoint of that exchange within half its round trip. The exchange with the
 * lowest round trip gives the tightest bound, so it alone decides.
 *
 * The correction is computed on the agent's monotonic clock, the trace's clock: the node's
 * realtime may have been stepped since its trace metadata recorded `offset` (realtime minus
 * monotonic), and what the merge needs is where a trace clock value lands on the controller's
 * timeline. The merge (native/src/core/merge.cc) ADDS `correctionNs` to the node's metadata
 * offset: Unix time of an event = timestamp + offset + correction. For the sample's instant that
 * must equal the controller's midpoint, hence
 *
 *     correction = (midpoint − sampleMonotonic) − metadataOffset.
 */
import type { ClockAlignment } from '../model';

export interface TimedExchange {
  /** The controller's realtime just before sending, ns. */
  sentNs: bigint;
  /** The controller's realtime once the answer was read, ns. */
  receivedNs: bigint;
  /** The agent's best sample in that answer: its two clocks read back to back, ns. */
  monotonicNs: bigint;
  realtimeNs: bigint;
}

/**
 * The alignment from `exchanges` (at least one) and the trace's metadata clock offset (the
 * manifest's `clock.offsetNs`). Ties of round trip go to the earliest exchange. Throws on no
 * exchange or one whose answer came before it was sent (a controller clock that stepped back).
 */
export function alignClock(exchanges: TimedExchange[], metadataOffsetNs: bigint): ClockAlignment {
  let best: TimedExchange | undefined;
  for (const x of exchanges) {
    if (x.receivedNs < x.sentNs)
      throw new Error(
        "a clock exchange ended before it began: the controller's clock stepped back during it",
      );
    if (!best || x.receivedNs - x.sentNs < best.receivedNs - best.sentNs) best = x;
  }
  if (!best) throw new Error('no clock exchange to align with');
  const roundTrip = best.receivedNs - best.sentNs;
  // Floor division keeps the midpoint an integer; the half nanosecond is inside the uncertainty.
  const midpoint = best.sentNs + roundTrip / 2n;
  return {
    offsetNs: best.realtimeNs - midpoint,
    // Rounded up: the true offset is always within ±uncertainty of the reported one.
    uncertaintyNs: (roundTrip + 1n) / 2n,
    correctionNs: midpoint - best.monotonicNs - metadataOffsetNs,
    exchanges: exchanges.length,
  };
}
