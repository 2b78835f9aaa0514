/**
 * Clock alignment of one node (pure), Cristian's method sharpened by intersection: each exchange
 * is a GET /v1/clock the controller timed with its own realtime (`sentNs` before sending,
 * `receivedNs` after the answer); the agent read its clocks somewhere in between. So each
 * exchange bounds the quantity the merge needs — the controller's realtime minus the node's
 * monotonic clock — to an interval as wide as its round trip, and the true value lies in every
 * one of them: their intersection is the answer, its midpoint the estimate and its half-width
 * the uncertainty. On a loaded host one exchange is slow going out and another slow coming back;
 * together they bound the offset far tighter than the best of them alone (NTP's clock filter
 * keeps the lowest-delay sample only; here the samples are seconds apart at most, so the two
 * clocks' rates cannot part them measurably).
 *
 * When the intervals do not all overlap, the clocks did move against each other between the
 * exchanges (a stepped controller clock, a guest clock that lagged), and the intersection would
 * be a lie: the exchange with the lowest round trip alone decides, as Cristian's method does.
 *
 * The correction is computed on the agent's monotonic clock, the trace's clock: the node's
 * realtime may have been stepped since its trace metadata recorded `offset` (realtime minus
 * monotonic), and what the merge needs is where a trace clock value lands on the controller's
 * timeline. The merge (native/src/core/merge.cc) ADDS `correctionNs` to the node's metadata
 * offset: Unix time of an event = timestamp + offset + correction. With C the controller's
 * realtime minus the node's monotonic clock,
 *
 *     correction = C − metadataOffset,
 *
 * and the node's realtime offset (what status shows) is its own realtime minus monotonic, read
 * back to back in the lowest round trip's answer, minus C.
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
  let low: bigint | undefined;
  let high: bigint | undefined;
  for (const x of exchanges) {
    if (x.receivedNs < x.sentNs)
      throw new Error(
        "a clock exchange ended before it began: the controller's clock stepped back during it",
      );
    if (!best || x.receivedNs - x.sentNs < best.receivedNs - best.sentNs) best = x;
    // C (controller realtime − node monotonic) at the sample: between these two.
    const from = x.sentNs - x.monotonicNs;
    const to = x.receivedNs - x.monotonicNs;
    if (low === undefined || from > low) low = from;
    if (high === undefined || to < high) high = to;
  }
  if (!best || low === undefined || high === undefined)
    throw new Error('no clock exchange to align with');
  if (low > high) {
    // Disjoint: the clocks moved against each other between exchanges; the best one alone.
    low = best.sentNs - best.monotonicNs;
    high = best.receivedNs - best.monotonicNs;
  }
  const width = high - low;
  // Floor division keeps C an integer; rounding the half-width up keeps the truth inside it.
  const controllerMinusMonotonic = low + width / 2n;
  return {
    offsetNs: best.realtimeNs - best.monotonicNs - controllerMinusMonotonic,
    uncertaintyNs: (width + 1n) / 2n,
    correctionNs: controllerMinusMonotonic - metadataOffsetNs,
    exchanges: exchanges.length,
  };
}
