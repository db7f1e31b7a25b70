// Native overrides of the cpu kernels. Each returns null for what it does not handle (other dtypes,
// NCHW, unsupported attributes or broadcasts) and the caller then runs the pure-JS cpu kernel.
import type * as TfCore from '@tensorflow/tfjs-core';
import { RingtreeCpuBackend, tfc } from './backend.js';
import type { NativeKernels } from './native.js';

type TI = TfCore.TensorInfo;
type Attrs = Record<string, unknown>;
type Inputs = Record<string, TI | undefined>;
export type NativeImpl = (inputs: Inputs, backend: RingtreeCpuBackend, attrs: Attrs) => TI | null;

const bu = tfc.backend_util;
const util = tfc.util;

/** Counts per kernel of native runs and fallbacks (tests check fallback paths are taken). */
export const kernelStats: Record<string, { native: number; fallback: number }> = {};
export function countRun(name: string, native: boolean): void {
  const s = (kernelStats[name] ??= { native: 0, fallback: 0 });
  if (native) s.native++;
  else s.fallback++;
}

function geom(info: TfCore.backend_util.Conv2DInfo): Int32Array {
  return Int32Array.from([
    info.batchSize, info.inHeight, info.inWidth, info.inChannels,
    info.outHeight, info.outWidth, info.outChannels,
    info.filterHeight, info.filterWidth,
    info.strideHeight, info.strideWidth, info.dilationHeight, info.dilationWidth,
    info.padInfo.top, info.padInfo.left,
  ]);
}

const nhwc = (attrs: Attrs): boolean => attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC' || attrs.dataFormat === 'channelsLast';
const size = (shape: number[]): number => util.sizeFromShape(shape);
type Pad = 'same' | 'valid' | number | TfCore.backend_util.ExplicitPadding;
type Round = 'floor' | 'round' | 'ceil' | undefined;
type Pair = number | [number, number];

function convValid(info: TfCore.backend_util.Conv2DInfo): boolean {
  return info.outHeight > 0 && info.outWidth > 0 && info.batchSize > 0 && info.inChannels > 0 && info.outChannels > 0;
}

// Argmax positions of max pools run under a gradient tape, keyed by the output's values array.
type PoolRecord = { pos: Int32Array; x: Float32Array; key: string; xGen: number; yGen: number };
const poolPositions = new WeakMap<Float32Array, PoolRecord>();
const freeInt32 = new Map<number, Int32Array[]>();
function takeInt32(n: number): Int32Array {
  return freeInt32.get(n)?.pop() ?? new Int32Array(n);
}
function giveInt32(a: Int32Array): void {
  let l = freeInt32.get(a.length);
  if (!l) freeInt32.set(a.length, (l = []));
  if (l.length < 8) l.push(a);
}
/** True while tfjs records a gradient tape (the forward of tf.grads / minimize). */
function tape(): boolean {
  const e = tfc.engine() as unknown as { state?: { gradientDepth?: number } };
  return (e.state?.gradientDepth ?? 0) > 0;
}

/** The fused ReLU-gradient kernel (dy * step(x), one pass) that ringtree-cpu's ReLU gradient runs. */
export const RELU_GRAD = 'RingtreeReluGrad';

/** RingtreeReluGrad for ringtree-cpu: native for float32, else the same arithmetic in JS. */
export function reluGradKernel(k: NativeKernels): TfCore.KernelFunc {
  return ({ inputs, backend }) => {
    const b = backend as RingtreeCpuBackend;
    const dy = inputs.dy as TI, x = inputs.x as TI;
    const n = size(dy.shape);
    const dyv = b.f32(dy), xv = b.f32(x);
    if (dyv && xv && n > 0 && util.arraysEqual(dy.shape, x.shape)) {
      countRun(RELU_GRAD, true);
      return b.output(dy.shape, (out) => k.binary(5, dyv, true, true, xv, true, true, 1, n, out));
    }
    countRun(RELU_GRAD, false);
    const d = b.readSync(dy.dataId) as ArrayLike<number>, xs = b.readSync(x.dataId) as ArrayLike<number>;
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const v = xs[i];
      out[i] = d[i] * (v > 0 ? 1 : Number.isNaN(v) ? NaN : 0);
    }
    return b.makeTensorInfo(dy.shape, 'float32', out);
  };
}

export function makeImpls(k: NativeKernels): Record<string, NativeImpl> {
  const conv = (inputs: Inputs, b: RingtreeCpuBackend, attrs: Attrs, fused: boolean): TI | null => {
    const x = inputs.x!, filter = inputs.filter!;
    if (!nhwc(attrs) || x.shape.length !== 4) return null;
    let bias: Float32Array | null = null;
    let act = 0;
    if (fused) {
      const activation = (attrs.activation as string | undefined) ?? 'linear';
      if (activation === 'relu') act = 1;
      else if (activation !== 'linear') return null;
      if (inputs.preluActivationWeights) return null;
      if (inputs.bias) {
        const bt = inputs.bias;
        if (size(bt.shape) !== filter.shape[3] || bt.shape[bt.shape.length - 1] !== filter.shape[3] || bt.shape.length > 1) return null;
        bias = b.f32(bt);
        if (!bias) return null;
      }
    }
    const xv = b.f32(x), wv = b.f32(filter);
    if (!xv || !wv) return null;
    const info = bu.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
      attrs.strides as Pair, (attrs.dilations as Pair | undefined) ?? 1, attrs.pad as Pad, attrs.dimRoundingMode as Round, false, 'channelsLast');
    if (!convValid(info)) return null;
    const g = geom(info);
    return b.output(info.outShape, (out) => k.conv2d(xv, wv, bias, out, g, act));
  };

  const impls: Record<string, NativeImpl> = {
    Conv2D: (i, b, a) => conv(i, b, a, false),
    FusedConv2D: (i, b, a) => conv(i, b, a, true),

    Conv2DBackpropInput: (inputs, b, attrs) => {
      const dy = inputs.dy!, filter = inputs.filter!;
      if (!nhwc(attrs)) return null;
      const dyv = b.f32(dy), wv = b.f32(filter);
      if (!dyv || !wv) return null;
      const inShape = attrs.inputShape as [number, number, number, number];
      const info = bu.computeConv2DInfo(inShape, filter.shape as [number, number, number, number], attrs.strides as Pair, 1,
        attrs.pad as Pad, attrs.dimRoundingMode as Round, false, 'channelsLast');
      if (!convValid(info) || !util.arraysEqual(info.outShape, dy.shape)) return null;
      const g = geom(info);
      return b.output(inShape, (out) => k.conv2dBackpropInput(dyv, wv, out, g));
    },

    Conv2DBackpropFilter: (inputs, b, attrs) => {
      const x = inputs.x!, dy = inputs.dy!;
      if (!nhwc(attrs)) return null;
      const xv = b.f32(x), dyv = b.f32(dy);
      if (!xv || !dyv) return null;
      const fShape = attrs.filterShape as [number, number, number, number];
      const info = bu.computeConv2DInfo(x.shape as [number, number, number, number], fShape, attrs.strides as Pair, 1,
        attrs.pad as Pad, attrs.dimRoundingMode as Round, false, 'channelsLast');
      if (!convValid(info) || !util.arraysEqual(info.outShape, dy.shape)) return null;
      const g = geom(info);
      return b.output(fShape, (out) => k.conv2dBackpropFilter(xv, dyv, out, g));
    },

    DepthwiseConv2dNative: (inputs, b, attrs) => {
      const x = inputs.x!, filter = inputs.filter!;
      if (!nhwc(attrs) || x.shape.length !== 4) return null;
      const xv = b.f32(x), wv = b.f32(filter);
      if (!xv || !wv) return null;
      const info = bu.computeConv2DInfo(x.shape as [number, number, number, number], filter.shape as [number, number, number, number],
        attrs.strides as Pair, (attrs.dilations as Pair | undefined) ?? 1, attrs.pad as Pad, attrs.dimRoundingMode as Round, true);
      if (!convValid(info)) return null;
      const g = geom(info);
      return b.output(info.outShape, (out) => k.depthwiseConv2d(xv, wv, out, g));
    },

    DepthwiseConv2dNativeBackpropInput: (inputs, b, attrs) => {
      const dy = inputs.dy!, filter = inputs.filter!;
      const dyv = b.f32(dy), wv = b.f32(filter);
      if (!dyv || !wv) return null;
      const inShape = attrs.inputShape as [number, number, number, number];
      const info = bu.computeConv2DInfo(inShape, filter.shape as [number, number, number, number], attrs.strides as Pair,
        (attrs.dilations as Pair | undefined) ?? 1, attrs.pad as Pad, attrs.dimRoundingMode as Round, true);
      if (!convValid(info) || !util.arraysEqual(info.outShape, dy.shape)) return null;
      const g = geom(info);
      return b.output(inShape, (out) => k.depthwiseBackpropInput(dyv, wv, out, g));
    },

    DepthwiseConv2dNativeBackpropFilter: (inputs, b, attrs) => {
      const x = inputs.x!, dy = inputs.dy!;
      const xv = b.f32(x), dyv = b.f32(dy);
      if (!xv || !dyv) return null;
      const fShape = attrs.filterShape as [number, number, number, number];
      const info = bu.computeConv2DInfo(x.shape as [number, number, number, number], fShape, attrs.strides as Pair,
        (attrs.dilations as Pair | undefined) ?? 1, attrs.pad as Pad, attrs.dimRoundingMode as Round, true);
      if (!convValid(info) || !util.arraysEqual(info.outShape, dy.shape)) return null;
      const g = geom(info);
      return b.output(fShape, (out) => k.depthwiseBackpropFilter(xv, dyv, out, g));
    },

    MaxPool: (inputs, b, attrs) => pool(inputs.x!, b, attrs, 'max'),
    AvgPool: (inputs, b, attrs) => pool(inputs.x!, b, attrs, 'avg'),

    MaxPoolGrad: (inputs, b, attrs) => {
      const dy = inputs.dy!, x = inputs.input!;
      const dyv = b.f32(dy), xv = b.f32(x);
      if (!dyv || !xv || x.shape.length !== 4) return null;
      const info = bu.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize as Pair, attrs.strides as Pair, 1,
        attrs.pad as Pad, attrs.dimRoundingMode as Round);
      if (!convValid(info) || !util.arraysEqual(info.outShape, dy.shape)) return null;
      const g = geom(info);
      // Positions recorded by the forward pass that produced `output` from this very `input`, if valid.
      const yv = inputs.output ? b.f32(inputs.output) : null;
      const rec = yv ? poolPositions.get(yv) : undefined;
      if (rec && yv && rec.x === xv && rec.key === g.join(',') && rec.xGen === b.pool.generation(xv) && rec.yGen === b.pool.generation(yv)) {
        return b.output(x.shape, (out) => k.maxPoolGradFromPositions(dyv, rec.pos, out, g));
      }
      return b.output(x.shape, (out) => k.maxPoolGrad(dyv, xv, out, g));
    },

    AvgPoolGrad: (inputs, b, attrs) => {
      const dy = inputs.dy!, x = inputs.input!;
      const dyv = b.f32(dy);
      if (!dyv || x.dtype !== 'float32' || x.shape.length !== 4) return null;
      const info = bu.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize as Pair, attrs.strides as Pair, 1,
        attrs.pad as Pad);
      if (!convValid(info) || !util.arraysEqual(info.outShape, dy.shape)) return null;
      const g = geom(info);
      return b.output(x.shape, (out) => k.avgPoolGrad(dyv, out, g));
    },

    BatchMatMul: (inputs, b, attrs) => matmul(inputs.a!, inputs.b!, b, attrs, null, 0),

    _FusedMatMul: (inputs, b, attrs) => {
      const activation = (attrs.activation as string | undefined) ?? 'linear';
      let act = 0;
      if (activation === 'relu') act = 1;
      else if (activation !== 'linear') return null;
      if (inputs.preluActivationWeights) return null;
      let bias: Float32Array | null = null;
      if (inputs.bias) {
        const bt = inputs.bias;
        const n = attrs.transposeB ? inputs.b!.shape[inputs.b!.shape.length - 2] : inputs.b!.shape[inputs.b!.shape.length - 1];
        const bs = size(bt.shape);
        const trailingN = bs === n && bt.shape[bt.shape.length - 1] === n && bt.shape.length <= 2 && (bt.shape.length < 2 || bt.shape[0] === 1);
        if (!(bs === 1 && bt.shape.length <= 1) && !trailingN) return null;
        // a [1, n] bias would raise the output rank of a 1-D batch; only rank-2+ outputs come here
        bias = b.f32(bt);
        if (!bias) return null;
      }
      return matmul(inputs.a!, inputs.b!, b, attrs, bias, act);
    },

    FusedBatchNorm: (inputs, b, attrs) => {
      const x = inputs.x!;
      const xv = b.f32(x), mv = b.f32(inputs.mean!), vv = b.f32(inputs.variance!);
      if (!xv || !mv || !vv || mv.length === 0 || vv.length === 0) return null;
      let ov: Float32Array | null = null, sv: Float32Array | null = null;
      if (inputs.offset) { ov = b.f32(inputs.offset); if (!ov || ov.length === 0) return null; }
      if (inputs.scale) { sv = b.f32(inputs.scale); if (!sv || sv.length === 0) return null; }
      const eps = (attrs.varianceEpsilon as number | undefined) ?? 0.001;
      return b.output(x.shape, (out) => k.batchNorm(xv, mv, vv, ov, sv, eps, out));
    },

    Add: (i, b) => binary(0, i.a!, i.b!, b),
    Sub: (i, b) => binary(1, i.a!, i.b!, b),
    Multiply: (i, b) => binary(2, i.a!, i.b!, b),
    RealDiv: (i, b) => binary(3, i.a!, i.b!, b),
    Maximum: (i, b) => binary(4, i.a!, i.b!, b),

    Relu: (i, b) => unary(0, i.x!, b, 0),
    Relu6: (i, b) => unary(1, i.x!, b, 0),
    Step: (i, b, a) => unary(2, i.x!, b, (a.alpha as number | undefined) ?? 0),
    Exp: (i, b) => unary(3, i.x!, b, 0),
    Log: (i, b) => unary(4, i.x!, b, 0),
    Neg: (i, b) => unary(5, i.x!, b, 0),
    Square: (i, b) => unary(6, i.x!, b, 0),
    Sqrt: (i, b) => unary(7, i.x!, b, 0),

    Sum: (i, b, a) => reduce('sum', i.x!, b, a.axis as number | number[], a.keepDims as boolean),
    Mean: (i, b, a) => reduce('mean', i.x!, b, a.axis as number | number[], a.keepDims as boolean),
    Max: (i, b, a) => reduce('max', i.x!, b, a.reductionIndices as number | number[], a.keepDims as boolean),

    ArgMax: (inputs, b, attrs) => {
      const x = inputs.x!;
      const xv = b.f32(x);
      if (!xv || x.shape.length === 0 || size(x.shape) === 0) return null;
      const axes = util.parseAxisParam(attrs.axis as number | number[], x.shape);
      if (axes.length !== 1) return null;
      const ax = axes[0];
      const outer = size(x.shape.slice(0, ax)), red = x.shape[ax], inner = size(x.shape.slice(ax + 1));
      const outShape = x.shape.filter((_, d) => d !== ax);
      const out = new Int32Array(outer * inner);
      k.argMax(xv, outer, red, inner, out);
      return b.makeTensorInfo(outShape, 'int32', out);
    },

    Softmax: (inputs, b, attrs) => {
      const x = inputs.logits!;
      const xv = b.f32(x);
      if (!xv || x.shape.length === 0 || size(x.shape) === 0) return null;
      const r = x.shape.length;
      const dim = (attrs.dim as number | undefined) ?? -1;
      if (dim !== -1 && dim !== r - 1) return null;
      const cols = x.shape[r - 1];
      return b.output(x.shape, (out) => k.softmax(xv, size(x.shape) / cols, cols, 1, out));
    },
  };

  function pool(x: TI, b: RingtreeCpuBackend, attrs: Attrs, kind: 'max' | 'avg'): TI | null {
    const xv = b.f32(x);
    if (!xv || x.shape.length !== 4) return null;
    const info = bu.computePool2DInfo(x.shape as [number, number, number, number], attrs.filterSize as Pair, attrs.strides as Pair, 1,
      attrs.pad as Pad, attrs.dimRoundingMode as Round);
    if (!convValid(info)) return null;
    const g = geom(info);
    if (kind === 'avg') return b.output(info.outShape, (out) => k.avgPool(xv, out, g));
    if (!tape()) return b.output(info.outShape, (out) => k.maxPool(xv, out, g));
    // Under a gradient tape MaxPoolGrad will follow: record the argmax positions now (tfjs recomputes them).
    const pos = takeInt32(size(info.outShape));
    const res = b.output(info.outShape, (out) => k.maxPoolWithPositions(xv, out, pos, g));
    const yv = b.f32(res)!;
    poolPositions.set(yv, { pos, x: xv, key: g.join(','), xGen: b.pool.generation(xv), yGen: b.pool.generation(yv) });
    b.pool.attach(yv, () => { poolPositions.delete(yv); giveInt32(pos); });
    return res;
  }

  function matmul(a: TI, bt: TI, b: RingtreeCpuBackend, attrs: Attrs, bias: Float32Array | null, act: number): TI | null {
    const av = b.f32(a), bv = b.f32(bt);
    if (!av || !bv || a.shape.length < 2 || bt.shape.length < 2) return null;
    const ta = !!attrs.transposeA, tb = !!attrs.transposeB;
    const ra = a.shape.length, rb = bt.shape.length;
    const m = ta ? a.shape[ra - 1] : a.shape[ra - 2];
    const kA = ta ? a.shape[ra - 2] : a.shape[ra - 1];
    const kB = tb ? bt.shape[rb - 1] : bt.shape[rb - 2];
    const n = tb ? bt.shape[rb - 2] : bt.shape[rb - 1];
    if (kA !== kB) return null;
    const batchShapeA = a.shape.slice(0, -2), batchShapeB = bt.shape.slice(0, -2);
    const batchA = size(batchShapeA), batchB = size(batchShapeB);
    let outBatch: number[];
    try {
      outBatch = bu.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
    } catch {
      return null;
    }
    const batch = Math.max(batchA, batchB);
    if (size(outBatch) !== batch || (batchA !== batchB && Math.min(batchA, batchB) !== 1)) return null;
    if (m * n === 0 || batch === 0) return null;
    return b.output([...outBatch, m, n], (out) => k.batchMatMul(av, bv, out, batchA, batchB, m, n, kA, ta, tb, bias, act));
  }

  // Finds a split of the broadcast shape into [outer | inner] such that each operand is full, scalar,
  // outer-only or inner-only there: same shape, scalar, trailing and leading broadcasts.
  function binary(op: number, a: TI, bt: TI, b: RingtreeCpuBackend): TI | null {
    const av = b.f32(a), bv = b.f32(bt);
    if (!av || !bv) return null;
    let outShape: number[];
    try {
      outShape = bu.assertAndGetBroadcastShape(a.shape, bt.shape);
    } catch {
      return null;
    }
    const total = size(outShape);
    if (total === 0) return null;
    const r = outShape.length;
    const pad = (s: number[]): number[] => [...new Array(r - s.length).fill(1), ...s];
    const pa = pad(a.shape), pb = pad(bt.shape);
    const kind = (p: number[], lo: number, hi: number): 'full' | 'one' | null => {
      let full = true, one = true;
      for (let d = lo; d < hi; d++) {
        if (p[d] !== outShape[d]) full = false;
        if (p[d] !== 1) one = false;
      }
      return full ? 'full' : one ? 'one' : null;
    };
    for (let s = 0; s <= r; s++) {
      const ao = kind(pa, 0, s), ai = kind(pa, s, r), bo = kind(pb, 0, s), bi = kind(pb, s, r);
      if (!ao || !ai || !bo || !bi) continue;
      const outer = size(outShape.slice(0, s)), inner = size(outShape.slice(s));
      return b.output(outShape, (out) =>
        k.binary(op, av, ao === 'full', ai === 'full', bv, bo === 'full', bi === 'full', outer, inner, out));
    }
    return null;
  }

  function unary(op: number, x: TI, b: RingtreeCpuBackend, alpha: number): TI | null {
    const xv = b.f32(x);
    if (!xv || size(x.shape) === 0) return null;
    return b.output(x.shape, (out) => k.unary(op, xv, alpha, out));
  }

  function reduce(kind: 'sum' | 'mean' | 'max', x: TI, b: RingtreeCpuBackend, axis: number | number[], keepDims: boolean): TI | null {
    const xv = b.f32(x);
    if (!xv || size(x.shape) === 0 || x.shape.length === 0) return null;
    const axes = [...new Set(util.parseAxisParam(axis, x.shape))].sort((p, q) => p - q);
    if (axes.length === 0) return null;
    for (let i = 1; i < axes.length; i++) if (axes[i] !== axes[0] + i) return null;
    const s = axes[0], e = axes[axes.length - 1] + 1;
    const outer = size(x.shape.slice(0, s)), red = size(x.shape.slice(s, e)), inner = size(x.shape.slice(e));
    let outShape = x.shape.filter((_, d) => d < s || d >= e);
    if (keepDims) outShape = bu.expandShapeToKeepDim(outShape, axes);
    return b.output(outShape, (out) => {
      if (kind === 'max') k.reduceMax(xv, outer, red, inner, out);
      else k.reduceSum(xv, outer, red, inner, out, kind === 'mean');
    });
  }

  return impls;
}
