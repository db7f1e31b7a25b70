import type { Bucket } from '../buckets.js';
import { allGatherLocal, type CompressorContext, type GradientCompressor, type PendingReduction } from './compressor.js';

/**
 * Index of the k-th largest |a[i]| threshold: returns the value t such that exactly the k largest
 * magnitudes are >= t once ties at t are counted in index order (see selectTopK).
 */
function kthLargestMagnitude(values: Float32Array, k: number): number {
  const a = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) a[i] = Math.abs(values[i]!);
  // Quickselect for position (n - k) of the ascending order.
  const target = a.length - k;
  let lo = 0, hi = a.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    // median of three as pivot
    const x = a[lo]!, y = a[mid]!, z = a[hi]!;
    const pivot = x < y ? (y < z ? y : x < z ? z : x) : x < z ? x : y < z ? z : y;
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) { const t = a[i]!; a[i] = a[j]!; a[j] = t; i++; j--; }
    }
    if (target <= j) hi = j;
    else if (target >= i) lo = i;
    else break;
  }
  return a[target]!;
}

/**
 * The k entries of largest magnitude (ties broken by lower index), indices ascending.
 * NaN entries are never selected ahead of finite ones.
 */
export function selectTopK(values: Float32Array, k: number): Int32Array {
  const n = values.length;
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const out = new Int32Array(k);
  if (k <= 0) return out;
  const threshold = kthLargestMagnitude(values, k);
  let count = 0;
  for (let i = 0; i < n; i++) if (Math.abs(values[i]!) > threshold) count++;
  let ties = k - count;
  let w = 0;
  for (let i = 0; i < n && w < k; i++) {
    const m = Math.abs(values[i]!);
    if (m > threshold) out[w++] = i;
    else if (m === threshold && ties > 0) { out[w++] = i; ties--; }
  }
  return out;
}

/**
 * Top-k sparsification with error feedback (Stich et al. 2018; ALGORITHMS.md section 11):
 *   p = g + e;  send the k largest |p| as (values, int32 indices) with two all-gathers;  e = p - sent;
 *   average = (1/P) * sum over ranks (in rank order) of the scattered values.
 * The ratio is per bucket: k = max(1, round(ratio * bucket length)).
 */
export class TopKCompression implements GradientCompressor {
  readonly spec: string;
  readonly #residuals = new Map<number, Float32Array>();

  constructor(private readonly ctx: CompressorContext, readonly ratio: number) {
    if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`top-k ratio must be in (0, 1], got ${ratio}`);
    this.spec = `topk:${ratio}`;
  }

  /** The error-feedback residual of a bucket (created as zeros). */
  residual(bucket: Bucket): Float32Array {
    let e = this.#residuals.get(bucket.index);
    if (!e || e.length !== bucket.length) {
      e = new Float32Array(bucket.length);
      this.#residuals.set(bucket.index, e);
    }
    return e;
  }

  kFor(length: number): number {
    return Math.min(length, Math.max(1, Math.round(this.ratio * length)));
  }

  start(bucket: Bucket, grad: Float32Array, _step = 0): PendingReduction {
    const { comm, traffic } = this.ctx;
    const P = comm.size;
    const n = grad.length;
    const e = this.residual(bucket);
    for (let i = 0; i < n; i++) e[i] = grad[i]! + e[i]!; // e now holds p = g + e_old
    const k = this.kFor(n);
    const idx = selectTopK(e, k);
    const vals = new Float32Array(k);
    for (let j = 0; j < k; j++) {
      const i = idx[j]!;
      vals[j] = e[i]!;
      e[i] = 0; // residual = p - transmitted
    }
    const allVals = new Float32Array(k * P);
    const allIdx = new Int32Array(k * P);
    traffic.allGather(vals.byteLength);
    traffic.allGather(idx.byteLength);
    const done = Promise.all([allGatherLocal(comm, vals, allVals), allGatherLocal(comm, idx, allIdx)]);
    return {
      async finish() {
        await done;
        grad.fill(0);
        for (let j = 0; j < allIdx.length; j++) {
          const i = allIdx[j]!;
          if (i < 0 || i >= n) throw new RangeError(`top-k: received index ${i} outside bucket of ${n} elements`);
          grad[i] = grad[i]! + allVals[j]!;
        }
        if (P > 1) {
          const inv = 1 / P;
          for (let i = 0; i < n; i++) grad[i] = grad[i]! * inv;
        }
      },
    };
  }

  sharedState(): Record<string, Float32Array> { return {}; }
  loadSharedState(): void {}
  resetLocalState(): void { this.#residuals.clear(); }
}
