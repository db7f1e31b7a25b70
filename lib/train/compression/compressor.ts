// Gradient reduction with optional compression (ALGORITHMS.md section 11). A compressor averages one
// fusion bucket of gradients across all ranks. `start` must issue the bucket's first collective(s)
// synchronously (issue order is the cross-rank order); `finish` completes it. The trainer calls `start`
// for each bucket as soon as its gradients are in place and then calls `finish` for the buckets strictly
// in bucket order, one after the other, so any second-phase collective (PowerSGD's Q all-reduce) is also
// issued in the same order on every rank.

import type { CommunicatorLike } from '../../types.js';
import type { Bucket } from '../buckets.js';

export interface PendingReduction {
  /** Resolves when the bucket's gradient view holds the average over ranks. */
  finish(): Promise<void>;
}

/** Estimated bytes this rank sends, using the ring cost model of ALGORITHMS.md section 1.1/12. */
export class TrafficCounter {
  bytes = 0;
  collectives = 0;
  constructor(readonly worldSize: number) {}
  allReduce(byteLength: number): void {
    this.collectives++;
    this.bytes += this.worldSize > 1 ? (2 * (this.worldSize - 1) * byteLength) / this.worldSize : 0;
  }
  allGather(sendBytes: number): void {
    this.collectives++;
    this.bytes += (this.worldSize - 1) * sendBytes;
  }
  broadcast(byteLength: number): void {
    this.collectives++;
    this.bytes += this.worldSize > 1 ? byteLength : 0;
  }
}

export interface GradientCompressor {
  /** The --compression spelling, e.g. 'fp16', 'topk:0.01', 'powersgd:2'. */
  readonly spec: string;
  /**
   * Starts averaging `grad` (this rank's gradient of `bucket`, a view of the flat gradient). The view
   * must not be touched until `finish()` resolves; afterwards it holds the (decompressed) average.
   */
  start(bucket: Bucket, grad: Float32Array, step: number): PendingReduction;
  /** State identical on all ranks that a checkpoint must keep (e.g. PowerSGD's warm-start Q). */
  sharedState(): Record<string, Float32Array>;
  loadSharedState(state: Record<string, Float32Array>): void;
  /** Drops rank-local error-feedback memory (e.g. after resuming from a checkpoint). */
  resetLocalState(): void;
}

/**
 * Sum all-reduce that skips the collective on a single rank (INV-C6: it is the identity there), so a
 * one-process run pays no progress-thread round trip per bucket.
 */
export function allReduceSum<T extends Float32Array | Uint16Array>(comm: CommunicatorLike, buf: T, dtype?: 'float16' | 'bfloat16'): Promise<T> {
  if (comm.size === 1) return Promise.resolve(buf);
  return comm.allReduce(buf, dtype ? { op: 'sum', dtype } : { op: 'sum' });
}

/** All-gather that is a local copy on a single rank. */
export function allGatherLocal<T extends Float32Array | Int32Array>(comm: CommunicatorLike, send: T, recv: T): Promise<T> {
  if (comm.size === 1) {
    recv.set(send);
    return Promise.resolve(recv);
  }
  return comm.allGather(send, recv);
}

export interface CompressorContext {
  comm: CommunicatorLike;
  traffic: TrafficCounter;
  seed: number;
}
