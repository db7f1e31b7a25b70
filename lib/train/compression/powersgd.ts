import type { Bucket, TensorSlot } from '../buckets.js';
import { Rng } from '../rng.js';
import { allReduceSum, type CompressorContext, type GradientCompressor, type PendingReduction } from './compressor.js';

export interface PowerSgdOptions {
  rank: number;
  /** Compress a matrix only if n*m >= minCompressionRate * r*(n+m) (torch default 2). */
  minCompressionRate?: number;
  /** Error feedback (default on). */
  errorFeedback?: boolean;
  /** Reuse last step's Q (default on). */
  warmStart?: boolean;
  /** Plain (uncompressed) all-reduce for global steps < startStep (torch's start_powerSGD_iter; default 0). */
  startStep?: number;
}

interface MatrixPlan {
  slot: TensorSlot;
  /** Offset of the tensor inside the bucket. */
  local: number;
  n: number;
  m: number;
  r: number;
}

/**
 * Gram-Schmidt on the r columns of the row-major n x r matrix `p` (in place, float64 accumulation).
 * A column whose remainder after projection is below `relTol` of its original norm (numerically
 * dependent on the previous ones) is set to zero instead of being blown up to a noise direction.
 */
export function orthogonalizeColumns(p: Float32Array, n: number, r: number, relTol = 1e-4, eps = 1e-12): void {
  for (let c = 0; c < r; c++) {
    let orig = 0;
    for (let i = 0; i < n; i++) orig += p[i * r + c]! * p[i * r + c]!;
    orig = Math.sqrt(orig);
    for (let prev = 0; prev < c; prev++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += p[i * r + c]! * p[i * r + prev]!;
      for (let i = 0; i < n; i++) p[i * r + c] = p[i * r + c]! - dot * p[i * r + prev]!;
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += p[i * r + c]! * p[i * r + c]!;
    norm = Math.sqrt(norm);
    if (norm > eps && norm > relTol * orig) {
      for (let i = 0; i < n; i++) p[i * r + c] = p[i * r + c]! / norm;
    } else {
      for (let i = 0; i < n; i++) p[i * r + c] = 0;
    }
  }
}

/**
 * PowerSGD (Vogels et al. 2019; ALGORITHMS.md section 11), one power iteration per step with warm start
 * and error feedback. Each weight tensor with >= 2 dims is viewed as an n x m matrix (m = last dim, the
 * row-major layout of TF.js kernels); M = g + e;  P = M Q;  AR(P);  orthogonalize P;  Q = M^T P;  AR(Q)/W;
 * M^ = P Q^T;  e = M - M^. Vectors and matrices that would not shrink are all-reduced uncompressed in the
 * first all-reduce. Q starts from a seeded N(0, 1) draw identical on every rank.
 */
export class PowerSgdCompression implements GradientCompressor {
  readonly spec: string;
  readonly rank: number;
  readonly #minRate: number;
  readonly #errorFeedback: boolean;
  readonly #warmStart: boolean;
  readonly #startStep: number;
  readonly #q = new Map<number, Float32Array>(); // by tensor (forward) index
  readonly #residuals = new Map<number, Float32Array>();
  readonly #plans = new Map<number, { matrices: MatrixPlan[]; plain: TensorSlot[]; bucketLength: number }>();

  constructor(private readonly ctx: CompressorContext, options: PowerSgdOptions) {
    if (!Number.isInteger(options.rank) || options.rank < 1) throw new RangeError(`PowerSGD rank must be an integer >= 1, got ${options.rank}`);
    this.rank = options.rank;
    this.#minRate = options.minCompressionRate ?? 2;
    this.#errorFeedback = options.errorFeedback ?? true;
    this.#warmStart = options.warmStart ?? true;
    this.#startStep = options.startStep ?? 0;
    if (!(Number.isInteger(this.#startStep) && this.#startStep >= 0)) throw new RangeError(`PowerSGD start step must be an integer >= 0, got ${this.#startStep}`);
    this.spec = `powersgd:${options.rank}:${this.#startStep}`;
  }

  #plan(bucket: Bucket) {
    const cached = this.#plans.get(bucket.index);
    if (cached && cached.bucketLength === bucket.length) return cached;
    const matrices: MatrixPlan[] = [];
    const plain: TensorSlot[] = [];
    for (const slot of bucket.slots) {
      const local = slot.offset - bucket.offset;
      if (slot.shape.length >= 2) {
        const m = slot.shape[slot.shape.length - 1]!;
        const n = slot.size / m;
        const r = Math.min(this.rank, n, m);
        if (n * m >= this.#minRate * r * (n + m) && r > 0) {
          matrices.push({ slot, local, n, m, r });
          continue;
        }
      }
      plain.push(slot);
    }
    const plan = { matrices, plain, bucketLength: bucket.length };
    this.#plans.set(bucket.index, plan);
    return plan;
  }

  /** Error-feedback memory of tensor `index` (zeros at first). */
  residual(index: number, size: number): Float32Array {
    let e = this.#residuals.get(index);
    if (!e || e.length !== size) { e = new Float32Array(size); this.#residuals.set(index, e); }
    return e;
  }

  #initialQ(plan: MatrixPlan, step: number): Float32Array {
    const existing = this.#q.get(plan.slot.index);
    if (this.#warmStart && existing && existing.length === plan.m * plan.r) return existing;
    // Same seed on every rank; without warm start a fresh draw per step.
    const rng = new Rng(this.ctx.seed, 'powersgd-q', plan.slot.index, this.#warmStart ? 0 : step);
    const q = new Float32Array(plan.m * plan.r);
    for (let i = 0; i < q.length; i++) q[i] = rng.normal();
    this.#q.set(plan.slot.index, q);
    return q;
  }

  start(bucket: Bucket, grad: Float32Array, step: number): PendingReduction {
    const { comm, traffic } = this.ctx;
    const P = comm.size;
    if (step < this.#startStep) {
      // Uncompressed phase: a plain float32 average (error-feedback memory untouched).
      traffic.allReduce(grad.byteLength);
      const done = allReduceSum(comm, grad);
      return {
        async finish() {
          await done;
          if (P > 1) for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! / P;
        },
      };
    }
    const { matrices, plain } = this.#plan(bucket);
    let pLen = 0;
    for (const mp of matrices) pLen += mp.n * mp.r;
    let plainLen = 0;
    for (const s of plain) plainLen += s.size;
    const first = new Float32Array(pLen + plainLen);
    const mats: Float32Array[] = [];
    let off = 0;
    for (const mp of matrices) {
      const { n, m, r } = mp;
      const g = grad.subarray(mp.local, mp.local + n * m);
      const M = new Float32Array(n * m);
      if (this.#errorFeedback) {
        const e = this.residual(mp.slot.index, n * m);
        for (let i = 0; i < M.length; i++) M[i] = g[i]! + e[i]!;
      } else {
        M.set(g);
      }
      mats.push(M);
      const Q = this.#initialQ(mp, step);
      // P = M Q  (n x r)
      for (let i = 0; i < n; i++) {
        const row = i * m;
        for (let c = 0; c < r; c++) {
          let acc = 0;
          for (let j = 0; j < m; j++) acc += M[row + j]! * Q[j * r + c]!;
          first[off + i * r + c] = acc;
        }
      }
      off += n * r;
    }
    for (const s of plain) {
      const local = s.offset - bucket.offset;
      first.set(grad.subarray(local, local + s.size), off);
      off += s.size;
    }
    traffic.allReduce(first.byteLength);
    const firstDone = allReduceSum(comm, first);
    const self = this;
    return {
      async finish() {
        await firstDone;
        const inv = 1 / P;
        // Uncompressed tensors: plain average.
        let o = pLen;
        for (const s of plain) {
          const local = s.offset - bucket.offset;
          const dst = grad.subarray(local, local + s.size);
          for (let i = 0; i < s.size; i++) dst[i] = first[o + i]! * inv;
          o += s.size;
        }
        if (matrices.length === 0) return;
        let qLen = 0;
        for (const mp of matrices) qLen += mp.m * mp.r;
        const second = new Float32Array(qLen);
        o = 0;
        let qo = 0;
        matrices.forEach((mp, k) => {
          const { n, m, r } = mp;
          const Pm = first.subarray(o, o + n * r);
          orthogonalizeColumns(Pm, n, r);
          const M = mats[k]!;
          // Q = M^T P  (m x r), accumulated row by row of M (sequential memory access) in float64
          const acc = new Float64Array(m * r);
          for (let i = 0; i < n; i++) {
            const row = i * m;
            for (let c = 0; c < r; c++) {
              const pic = Pm[i * r + c]!;
              if (pic === 0) continue;
              for (let j = 0; j < m; j++) acc[j * r + c] = acc[j * r + c]! + M[row + j]! * pic;
            }
          }
          for (let k = 0; k < m * r; k++) second[qo + k] = acc[k]!;
          o += n * r;
          qo += m * r;
        });
        traffic.allReduce(second.byteLength);
        await allReduceSum(comm, second);
        o = 0;
        qo = 0;
        matrices.forEach((mp, k) => {
          const { n, m, r } = mp;
          const Pm = first.subarray(o, o + n * r);
          const Q = new Float32Array(m * r);
          for (let i = 0; i < Q.length; i++) Q[i] = second[qo + i]! * inv;
          self.#q.set(mp.slot.index, Q);
          const M = mats[k]!;
          const dst = grad.subarray(mp.local, mp.local + n * m);
          const e = self.#errorFeedback ? self.residual(mp.slot.index, n * m) : undefined;
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < m; j++) {
              let acc = 0;
              for (let c = 0; c < r; c++) acc += Pm[i * r + c]! * Q[j * r + c]!;
              const v = Math.fround(acc);
              dst[i * m + j] = v;
              if (e) e[i * m + j] = M[i * m + j]! - v;
            }
          }
          o += n * r;
          qo += m * r;
        });
      },
    };
  }

  sharedState(): Record<string, Float32Array> {
    const out: Record<string, Float32Array> = {};
    for (const [index, q] of this.#q) out[`q.${index}`] = q.slice();
    return out;
  }

  loadSharedState(state: Record<string, Float32Array>): void {
    this.#q.clear();
    for (const [key, q] of Object.entries(state)) {
      const m = /^q\.(\d+)$/.exec(key);
      if (m) this.#q.set(Number(m[1]), q.slice());
    }
  }

  resetLocalState(): void { this.#residuals.clear(); }
}
