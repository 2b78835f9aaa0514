/**
 * The contract between reconciliation (this folder) and the collection/merge pipeline the lead
 * implements (collect/, storage/): types only, so either side can be tested with a double of the
 * other.
 */
import type { NodeCollection, NodePlan, TraceSnapshot } from '../model';

export interface SnapshotProgress {
  nodesDone: number;
  nodesTotal: number;
  bytes: number;
}

export interface MergeResult {
  location: string;
  sizeBytes: number;
  startTime?: string;
  endTime?: string;
  trimmedToBudget: boolean;
  nodes: { node: string; events: number; lostEvents: number }[];
}

export interface SnapshotPipeline {
  /** Collects every planned node (parallel, progress reported); never throws for one node's failure. */
  collect(
    s: TraceSnapshot,
    plans: NodePlan[],
    onProgress: (p: SnapshotProgress) => void,
    signal: AbortSignal,
  ): Promise<NodeCollection[]>;
  /** Merges what was collected; throws with one line if the merge failed. */
  merge(s: TraceSnapshot, collected: NodeCollection[], signal: AbortSignal): Promise<MergeResult>;
  /** Collected node data kept on disk for a resumed merge, or undefined. */
  collectedOnDisk(s: TraceSnapshot): Promise<NodeCollection[] | undefined>;
  deleteData(s: TraceSnapshot): Promise<void>;
}
