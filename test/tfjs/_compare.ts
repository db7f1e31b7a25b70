// Shared helpers of the tfjs kernel tests: run the same computation on the pure-JS `cpu` backend and
// on `ringtree-cpu`, and measure max|diff| / max|ref| per output.
import type * as Tf from '@tensorflow/tfjs';
import { kernelStats, loadEngine } from '../../lib/tfjs/index.js';

export type TF = typeof Tf;
export type Tensor = Tf.Tensor;

let tfp: Promise<TF> | undefined;
export function getTf(): Promise<TF> {
  tfp ??= loadEngine({ engine: 'ringtree-cpu', quiet: true }).then((e) => e.tf);
  return tfp;
}

/** Deterministic pseudo-random floats in [lo, hi). */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    out[i] = lo + ((s >>> 8) / 16777216) * (hi - lo);
  }
  return out;
}

export interface Spec {
  shape: number[];
  lo?: number;
  hi?: number;
  dtype?: 'float32' | 'int32';
  /** Round the values to integers (still float32): ties for max pools. */
  round?: boolean;
}

export interface CaseResult {
  rel: number;
  /** kernels that ran natively during the ringtree run */
  nativeKernels: string[];
  /** kernels that fell back to JS during the ringtree run */
  fallbackKernels: string[];
}

function snapshot(): Record<string, { native: number; fallback: number }> {
  return JSON.parse(JSON.stringify(kernelStats)) as Record<string, { native: number; fallback: number }>;
}

function relErr(ref: ArrayLike<number>, got: ArrayLike<number>): number {
  if (ref.length !== got.length) return Infinity;
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < ref.length; i++) {
    const r = ref[i], g = got[i];
    if (Number.isNaN(r) !== Number.isNaN(g)) return Infinity;
    if (Number.isNaN(r)) continue;
    if (!Number.isFinite(r) || !Number.isFinite(g)) { if (r !== g) return Infinity; continue; }
    maxRef = Math.max(maxRef, Math.abs(r));
    maxDiff = Math.max(maxDiff, Math.abs(r - g));
  }
  return maxRef === 0 ? maxDiff : maxDiff / maxRef;
}

/** Runs fn (forward) and, when grad, tf.grads of it with a random dy, on both backends. */
export async function compare(
  tf: TF,
  specs: Spec[],
  fn: (...xs: Tensor[]) => Tensor,
  opts: { grad?: boolean; seed?: number } = {},
): Promise<CaseResult> {
  const seed = opts.seed ?? 1;
  const data = specs.map((s, i) =>
    s.dtype === 'int32'
      ? Int32Array.from(rand(size(s.shape), seed + i, -10, 10), (v) => Math.round(v))
      : s.round
        ? rand(size(s.shape), seed + i, s.lo ?? -1, s.hi ?? 1).map(Math.round)
        : rand(size(s.shape), seed + i, s.lo ?? -1, s.hi ?? 1));
  const run = (backend: string): Float32Array[] | Int32Array[] => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const xs = specs.map((s, i) => tf.tensor(data[i].slice(), s.shape, s.dtype ?? 'float32'));
      const y = fn(...xs);
      const outs: Tensor[] = [y];
      if (opts.grad) {
        const dy = tf.tensor(rand(size(y.shape), seed + 99), y.shape);
        const gs = tf.grads((...a: Tensor[]) => fn(...a))(xs, dy);
        outs.push(...gs);
      }
      return outs.map((t) => t.dataSync().slice()) as Float32Array[];
    });
  };
  const ref = run('cpu');
  const before = snapshot();
  const got = run('ringtree-cpu');
  const after = snapshot();
  const nativeKernels: string[] = [], fallbackKernels: string[] = [];
  for (const [k, v] of Object.entries(after)) {
    if (v.native > (before[k]?.native ?? 0)) nativeKernels.push(k);
    if (v.fallback > (before[k]?.fallback ?? 0)) fallbackKernels.push(k);
  }
  let rel = 0;
  for (let i = 0; i < ref.length; i++) rel = Math.max(rel, relErr(ref[i], got[i]));
  return { rel, nativeKernels, fallbackKernels };
}

export function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Worst relative error per kernel, over the cases in which that kernel ran natively. */
export class Worst {
  readonly byKernel = new Map<string, number>();
  add(r: CaseResult): void {
    for (const k of r.nativeKernels) this.byKernel.set(k, Math.max(this.byKernel.get(k) ?? 0, r.rel));
  }
  table(): string {
    return [...this.byKernel.entries()].sort().map(([k, v]) => `${k.padEnd(38)} ${v.toExponential(2)}`).join('\n');
  }
}
