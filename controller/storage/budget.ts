/**
 * The byte budget of one snapshot (pure): when the nodes' data over the requested window is more
 * than the budget, the window's start moves later so that what is left fits, estimated linearly
 * (bytes spread evenly over the window). The pipeline merges with the full window first and, when
 * that output is over the budget, merges once more from the start this gives.
 */

export interface BudgetInput {
  /** Bytes of each node's data over [fromNs, toNs] (e.g. the first merge's per-node output). */
  nodeBytes: readonly number[];
  fromNs: bigint;
  toNs: bigint;
  budgetBytes: number;
  /** Fraction of the budget aimed at, for the estimate's error (default 0.9). */
  headroom?: number;
}

export interface BudgetWindow {
  fromNs: bigint;
  /** True when the start moved. */
  trimmed: boolean;
}

/** The window start that fits the budget: `toNs − (toNs − fromNs) × budget × headroom / total`. */
export function windowForBudget(input: BudgetInput): BudgetWindow {
  const { fromNs, toNs, budgetBytes } = input;
  if (toNs < fromNs) throw new Error('the window ends before it starts');
  if (!(budgetBytes > 0)) throw new Error(`the byte budget must be positive, not ${budgetBytes}`);
  const total = input.nodeBytes.reduce((a, b) => a + b, 0);
  if (total <= budgetBytes) return { fromNs, trimmed: false };
  const headroom = input.headroom ?? 0.9;
  // In parts per billion so the arithmetic stays in bigint (windows of ns do not fit doubles).
  const ppb = BigInt(Math.floor(((budgetBytes * headroom) / total) * 1e9));
  const keep = ((toNs - fromNs) * ppb) / 1_000_000_000n;
  return { fromNs: toNs - keep, trimmed: true };
}
