// The native kernel entry points exported by the addon (native/binding/kernels_binding.cc).
import { loadAddon } from '../native/binding.js';

export interface NativeKernels {
  info(): { gemm: string; threads: number; openblas: boolean };
  setNumThreads(n: number): number;
  /** 0 auto (RINGTREE_BLAS), 1 own GEMM, 2 OpenBLAS, 3 portable micro-kernel; false if unavailable. */
  setGemm(impl: number): boolean;
  conv2d(x: Float32Array, w: Float32Array, bias: Float32Array | null, y: Float32Array, geom: Int32Array, act: number): void;
  conv2dBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, geom: Int32Array): void;
  conv2dBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geom: Int32Array): void;
  depthwiseConv2d(x: Float32Array, w: Float32Array, y: Float32Array, geom: Int32Array): void;
  depthwiseBackpropInput(dy: Float32Array, w: Float32Array, dx: Float32Array, geom: Int32Array): void;
  depthwiseBackpropFilter(x: Float32Array, dy: Float32Array, dw: Float32Array, geom: Int32Array): void;
  maxPool(x: Float32Array, y: Float32Array, geom: Int32Array): void;
  maxPoolWithPositions(x: Float32Array, y: Float32Array, pos: Int32Array, geom: Int32Array): void;
  maxPoolGradFromPositions(dy: Float32Array, pos: Int32Array, dx: Float32Array, geom: Int32Array): void;
  avgPool(x: Float32Array, y: Float32Array, geom: Int32Array): void;
  maxPoolGrad(dy: Float32Array, x: Float32Array, dx: Float32Array, geom: Int32Array): void;
  avgPoolGrad(dy: Float32Array, dx: Float32Array, geom: Int32Array): void;
  batchMatMul(a: Float32Array, b: Float32Array, out: Float32Array, batchA: number, batchB: number, m: number, n: number,
    k: number, transA: boolean, transB: boolean, bias: Float32Array | null, act: number): void;
  batchNorm(x: Float32Array, mean: Float32Array, variance: Float32Array, offset: Float32Array | null,
    scale: Float32Array | null, eps: number, y: Float32Array): void;
  binary(op: number, a: Float32Array, aOuter: boolean, aInner: boolean, b: Float32Array, bOuter: boolean, bInner: boolean,
    outer: number, inner: number, out: Float32Array): void;
  unary(op: number, x: Float32Array, alpha: number, out: Float32Array): void;
  reduceSum(x: Float32Array, outer: number, reduce: number, inner: number, out: Float32Array, mean: boolean): void;
  reduceMax(x: Float32Array, outer: number, reduce: number, inner: number, out: Float32Array): void;
  argMax(x: Float32Array, outer: number, reduce: number, inner: number, out: Int32Array): void;
  softmax(x: Float32Array, rows: number, cols: number, one: number, out: Float32Array): void;
  /** Seconds per call of C = A*B, wall and process CPU (impl as setGemm); -1 if that impl is not available. */
  sgemmBench(m: number, n: number, k: number, iters: number, impl: number): { wall: number; cpu: number } | -1;
}

let cached: NativeKernels | undefined;

/** The addon's kernels object; throws (with the loader's hints) when the addon cannot be loaded. */
export function nativeKernels(): NativeKernels {
  if (cached) return cached;
  const addon = loadAddon<{ kernels?: NativeKernels }>();
  if (!addon.kernels || typeof addon.kernels.conv2d !== 'function') {
    throw new Error('the ringtree addon has no native tfjs kernels (rebuild it: npm run build)');
  }
  cached = addon.kernels;
  return cached;
}
