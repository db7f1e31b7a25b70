// Every native kernel of `ringtree-cpu` against the pure-JS `cpu` kernel, forward and through tf.grads,
// on a table of cases. Tolerance: max|diff| / max|ref| <= 1e-5 per output; the worst value per kernel
// is logged at the end.
import test from 'ava';
import { kernelStats } from '../../lib/tfjs/index.js';
import { compare, getTf, Worst, type Spec, type Tensor, type TF } from './_compare.js';

const TOL = 1e-5;
const worst = new Worst();

type Case = { name: string; specs: Spec[]; fn: (tf: TF) => (...xs: Tensor[]) => Tensor; grad?: boolean; expectNative?: string[]; expectFallback?: string[] };

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
const conv = (x: number[], f: number[], s: number | [number, number], pad: Pad, grad = true, dil: number | [number, number] = 1): Case => ({
  name: `conv2d x${JSON.stringify(x)} f${JSON.stringify(f)} s${JSON.stringify(s)} ${JSON.stringify(pad)} d${JSON.stringify(dil)}`,
  specs: [{ shape: x }, { shape: f }],
  fn: (tf) => (a, w) => tf.conv2d(a as Tf4, w as Tf4, s, pad, 'NHWC', dil),
  grad,
  expectNative: grad ? ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'] : ['Conv2D'],
});
type Tf4 = import('@tensorflow/tfjs').Tensor4D;
type Tf2 = import('@tensorflow/tfjs').Tensor2D;

const dw = (x: number[], f: number[], s: number | [number, number], pad: 'same' | 'valid', grad = true, dil: number | [number, number] = 1): Case => ({
  name: `depthwise x${JSON.stringify(x)} f${JSON.stringify(f)} s${JSON.stringify(s)} ${pad} d${JSON.stringify(dil)}`,
  specs: [{ shape: x }, { shape: f }],
  fn: (tf) => (a, w) => tf.depthwiseConv2d(a as Tf4, w as Tf4, s, pad, 'NHWC', dil),
  grad,
  expectNative: grad ? ['DepthwiseConv2dNative', 'DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'] : ['DepthwiseConv2dNative'],
});

const pool = (kind: 'max' | 'avg', x: number[], f: number | [number, number], s: number | [number, number], pad: 'same' | 'valid', relu = false,
  ties = false): Case => ({
  name: `${kind}Pool x${JSON.stringify(x)} f${JSON.stringify(f)} s${JSON.stringify(s)} ${pad}${relu ? ' (relu ties)' : ''}${ties ? ' (integer ties)' : ''}`,
  specs: [{ shape: x, ...(ties ? { lo: -2, hi: 2, round: true } : {}) }],
  fn: (tf) => (a) => {
    const i = relu ? tf.relu(a) : a;
    return kind === 'max' ? tf.maxPool(i as Tf4, f, s, pad) : tf.avgPool(i as Tf4, f, s, pad);
  },
  grad: true,
  expectNative: kind === 'max' ? ['MaxPool', 'MaxPoolGrad'] : ['AvgPool', 'AvgPoolGrad'],
});

const mm = (a: number[], b: number[], ta: boolean, tb: boolean, grad = true): Case => ({
  name: `matMul a${JSON.stringify(a)} b${JSON.stringify(b)} tA=${ta} tB=${tb}`,
  specs: [{ shape: a }, { shape: b }],
  fn: (tf) => (x, y) => tf.matMul(x, y, ta, tb),
  grad,  // tfjs has no gradient for batch-broadcast matMul
  expectNative: ['BatchMatMul'],
});

const bin = (op: 'add' | 'sub' | 'mul' | 'div' | 'maximum', a: number[], b: number[], native = true): Case => ({
  name: `${op} ${JSON.stringify(a)} ${JSON.stringify(b)}`,
  specs: [{ shape: a }, op === 'div' ? { shape: b, lo: 0.5, hi: 2 } : { shape: b }],
  fn: (tf) => (x, y) => tf[op](x, y),
  grad: !(op === 'maximum' && JSON.stringify(a) !== JSON.stringify(b)),  // tfjs has no broadcast maximum gradient
  expectNative: native ? [{ add: 'Add', sub: 'Sub', mul: 'Multiply', div: 'RealDiv', maximum: 'Maximum' }[op]] : [],
  expectFallback: native ? [] : [{ add: 'Add', sub: 'Sub', mul: 'Multiply', div: 'RealDiv', maximum: 'Maximum' }[op]],
});

const un = (kernel: string, f: (tf: TF) => (x: Tensor) => Tensor, lo = -3, hi = 3, grad = true): Case => ({
  name: `${kernel} [3,7,11]`, specs: [{ shape: [3, 7, 11], lo, hi }], fn: f, grad, expectNative: [kernel],
});

const cases: Case[] = [
  // Conv2D and its backprops: valid/same/explicit pads, strides 1/2/[2,1], 1x1/3x3/5x5, odd sizes
  conv([2, 9, 9, 3], [3, 3, 3, 5], 1, 'same'),
  conv([2, 9, 9, 3], [3, 3, 3, 5], 2, 'valid'),
  conv([1, 10, 7, 4], [5, 5, 4, 3], [2, 1], 'same'),
  conv([2, 8, 8, 6], [1, 1, 6, 7], 1, 'valid'),
  conv([2, 8, 8, 6], [1, 1, 6, 7], 2, 'same'),
  conv([2, 7, 9, 3], [3, 3, 3, 4], 1, [[0, 0], [1, 2], [2, 1], [0, 0]]),
  conv([3, 13, 11, 5], [3, 3, 5, 17], 1, 'same'),
  conv([8, 28, 28, 8], [3, 3, 8, 16], 1, 'same'),  // many chunks: all 8 reduction lanes
  // im2col's fixed-size pixel copies (C = 1, 16, 32, 64) next to padding, with strides
  conv([3, 14, 13, 16], [3, 3, 16, 32], 1, 'same'),
  conv([2, 9, 10, 32], [3, 3, 32, 8], 2, 'same'),
  conv([1, 7, 7, 64], [3, 3, 64, 4], [2, 1], 'same'),
  conv([4, 15, 15, 1], [3, 3, 1, 16], 1, 'same'),
  // stride 1 with >= 8 input channels: dX as a forward conv with the flipped filter
  conv([2, 7, 9, 8], [3, 3, 8, 5], 1, [[0, 0], [1, 2], [2, 1], [0, 0]]),
  conv([1, 10, 9, 9], [5, 5, 9, 3], 1, 'valid'),
  conv([2, 6, 6, 8], [2, 2, 8, 4], 1, 'same'),
  conv([2, 11, 11, 3], [3, 3, 3, 4], 1, 'same', false, 2),  // dilations (tfjs has no dilated conv gradient)
  conv([2, 11, 11, 3], [3, 3, 3, 4], 1, 'valid', false, [2, 1]),
  // FusedConv2D: bias + relu (forward: fused), bias + linear with gradients (stays fused)
  {
    name: 'fused conv2d bias+relu (forward)', specs: [{ shape: [2, 9, 9, 3] }, { shape: [3, 3, 3, 5] }, { shape: [5] }],
    fn: (tf) => (x, w, b) => tf.fused.conv2d({ x: x as Tf4, filter: w as Tf4, strides: 1, pad: 'same', bias: b, activation: 'relu' }),
    expectNative: ['FusedConv2D'],
  },
  {
    name: 'fused conv2d bias+linear (with grads)', specs: [{ shape: [2, 9, 9, 3] }, { shape: [3, 3, 3, 5] }, { shape: [5] }],
    fn: (tf) => (x, w, b) => tf.fused.conv2d({ x: x as Tf4, filter: w as Tf4, strides: 2, pad: 'same', bias: b }),
    grad: true, expectNative: ['FusedConv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter', 'Sum'],
  },
  {
    name: 'fused conv2d elu (fallback)', specs: [{ shape: [2, 9, 9, 3] }, { shape: [3, 3, 3, 5] }, { shape: [5] }],
    fn: (tf) => (x, w, b) => tf.fused.conv2d({ x: x as Tf4, filter: w as Tf4, strides: 1, pad: 'same', bias: b, activation: 'elu' }),
    expectFallback: ['FusedConv2D'],
  },
  {
    name: 'conv2d NCHW (fallback)', specs: [{ shape: [2, 3, 8, 8] }, { shape: [3, 3, 3, 4] }],
    fn: (tf) => (x, w) => tf.conv2d(x as Tf4, w as Tf4, 1, 'same', 'NCHW'),
    expectFallback: ['Conv2D'],
  },
  // Depthwise
  dw([2, 9, 9, 4], [3, 3, 4, 1], 1, 'same'),
  dw([2, 9, 9, 4], [3, 3, 4, 2], 2, 'valid'),
  dw([1, 10, 7, 3], [5, 5, 3, 3], [2, 1], 'same'),
  dw([9, 6, 6, 5], [3, 3, 5, 1], 1, 'same'),  // more images than lanes
  dw([2, 11, 11, 4], [3, 3, 4, 2], 1, 'same', false, 2),
  // Pools
  pool('max', [2, 8, 8, 3], 2, 2, 'valid'),
  pool('max', [2, 9, 9, 3], 3, 2, 'same'),
  pool('max', [2, 7, 9, 5], 3, 1, 'same'),
  pool('max', [2, 8, 8, 3], [3, 2], [2, 1], 'valid', true),
  // windows that tile the input exactly take a one-pass path (C = 16 is two AVX2 vectors)
  pool('max', [3, 12, 10, 16], 2, 2, 'valid'),
  pool('max', [3, 12, 10, 16], 2, 2, 'valid', false, true),
  pool('max', [2, 6, 9, 4], 3, 3, 'valid', false, true),
  pool('max', [2, 8, 8, 3], 2, 2, 'same', false, true),
  pool('max', [2, 9, 8, 5], 2, 2, 'valid', false, true),  // odd height: not an exact tiling
  pool('max', [2, 9, 9, 3], 3, 2, 'same', false, true),
  pool('avg', [2, 8, 8, 3], 2, 2, 'valid'),
  pool('avg', [2, 9, 9, 3], 3, 2, 'same'),
  pool('avg', [2, 7, 9, 5], 3, 1, 'same'),
  // MatMul: all transposes, batch, batch broadcast, odd sizes, bigger (threaded)
  mm([7, 13], [13, 19], false, false),
  mm([13, 7], [13, 19], true, false),
  mm([7, 13], [19, 13], false, true),
  mm([13, 7], [19, 13], true, true),
  mm([3, 7, 13], [3, 13, 19], false, false),
  mm([3, 7, 13], [13, 19], false, false, false),
  mm([1, 7, 13], [4, 19, 13], false, true, false),
  mm([2, 3, 6, 5], [2, 3, 6, 4], true, false),
  mm([130, 70], [70, 90], false, false),
  {
    name: 'fused matMul bias+relu (forward)', specs: [{ shape: [9, 13] }, { shape: [13, 21] }, { shape: [21] }],
    fn: (tf) => (a, b, c) => tf.fused.matMul({ a: a as Tf2, b: b as Tf2, bias: c, activation: 'relu' }),
    expectNative: ['_FusedMatMul'],
  },
  {
    name: 'fused matMul bias+linear transB (with grads)', specs: [{ shape: [9, 13] }, { shape: [21, 13] }, { shape: [21] }],
    fn: (tf) => (a, b, c) => tf.fused.matMul({ a: a as Tf2, b: b as Tf2, transposeB: true, bias: c }),
    grad: true, expectNative: ['_FusedMatMul', 'BatchMatMul'],
  },
  {
    name: 'fused matMul scalar bias', specs: [{ shape: [9, 13] }, { shape: [13, 21] }, { shape: [1] }],
    fn: (tf) => (a, b, c) => tf.fused.matMul({ a: a as Tf2, b: b as Tf2, bias: c }),
    expectNative: ['_FusedMatMul'],
  },
  {
    name: 'fused matMul elu (fallback)', specs: [{ shape: [9, 13] }, { shape: [13, 21] }, { shape: [21] }],
    fn: (tf) => (a, b, c) => tf.fused.matMul({ a: a as Tf2, b: b as Tf2, bias: c, activation: 'elu' }),
    expectFallback: ['_FusedMatMul'],
  },
  // Batch norm
  {
    name: 'batchNorm per-channel params', specs: [{ shape: [2, 5, 5, 3] }, { shape: [3] }, { shape: [3], lo: 0.5, hi: 2 }, { shape: [3] }, { shape: [3] }],
    fn: (tf) => (x, m, v, o, s) => tf.batchNorm(x, m, v, o, s, 1e-3), grad: true, expectNative: ['FusedBatchNorm'],
  },
  {
    name: 'batchNorm no offset/scale', specs: [{ shape: [4, 6] }, { shape: [6] }, { shape: [6], lo: 0.5, hi: 2 }],
    fn: (tf) => (x, m, v) => tf.batchNorm(x, m, v, undefined, undefined, 1e-3),  // (tfjs' gradient needs scale) expectNative: ['FusedBatchNorm'],
  },
  // Binary ops: same shape, scalar either side, trailing and leading broadcasts; general -> fallback
  ...(['add', 'sub', 'mul', 'div', 'maximum'] as const).flatMap((op) => [
    bin(op, [4, 5, 6], [4, 5, 6]),
    bin(op, [4, 5, 6], []),
    bin(op, [], [4, 5, 6]),
    bin(op, [4, 5, 6], [6]),
    bin(op, [5, 6], [4, 5, 6]),
    bin(op, [4, 5, 6], [4, 1, 1]),
    bin(op, [4, 1], [4, 7]),
  ]),
  bin('add', [4, 1, 6], [1, 5, 1], false),
  // long trailing broadcasts (a bias): the periodic operand on either side, periods that do not divide
  // the per-thread piece, and a period too long for the pattern path
  bin('add', [70001, 3], [3]),
  bin('sub', [5], [33001, 5]),
  bin('mul', [9000, 7, 16], [16]),
  bin('div', [700, 300], [300]),
  bin('maximum', [20000, 6], [6]),
  { name: 'add int32 (fallback)', specs: [{ shape: [3, 4], dtype: 'int32' }, { shape: [3, 4], dtype: 'int32' }], fn: (tf) => (a, b) => tf.add(a, b), expectFallback: ['Add'] },
  { name: 'big add (threaded)', specs: [{ shape: [300000] }, { shape: [300000] }], fn: (tf) => (a, b) => tf.add(a, b), expectNative: ['Add'] },
  // Unary ops
  { ...un('Relu', (tf) => (x) => tf.relu(x)), expectNative: ['Relu', 'RingtreeReluGrad'] },
  {
    name: 'relu second-order gradient (through the fused ReLU gradient)', specs: [{ shape: [5, 9], lo: -2, hi: 2 }],
    fn: (tf) => (x) => tf.grad((y: Tensor) => tf.sum(tf.mul(tf.relu(y), tf.mul(y, y))))(x), grad: true,
    expectNative: ['RingtreeReluGrad'],
  },
  un('Relu6', (tf) => (x) => tf.relu6(x), -8, 8),
  un('Step', (tf) => (x) => tf.step(x, 0.25)),
  un('Exp', (tf) => (x) => tf.exp(x)),
  un('Log', (tf) => (x) => tf.log(x), 0.1, 5),
  un('Neg', (tf) => (x) => tf.neg(x)),
  un('Square', (tf) => (x) => tf.square(x)),
  un('Sqrt', (tf) => (x) => tf.sqrt(x), 0.1, 5),
  // Reductions
  ...([
    ['sum', undefined, false], ['sum', 0, false], ['sum', [1, 2], false], ['sum', -1, true], ['sum', [0, 1, 2], false],
    ['mean', undefined, false], ['mean', [0, 1, 2], true], ['mean', -1, false],
    ['max', undefined, false], ['max', 1, false], ['max', [2, 3], true],
  ] as const).map(([op, axis, keep]): Case => ({
    name: `${op} [3,5,4,6] axis=${JSON.stringify(axis)} keepDims=${keep}`, specs: [{ shape: [3, 5, 4, 6] }],
    fn: (tf) => (x) => tf[op](x, axis as number | number[] | undefined, keep), grad: true,
    expectNative: [{ sum: 'Sum', mean: 'Mean', max: 'Max' }[op]],
  })),
  { name: 'sum of 200000 (long reduction)', specs: [{ shape: [4, 50000] }], fn: (tf) => (x) => tf.sum(x, 1), grad: true, expectNative: ['Sum'] },
  { name: 'sum axes [0,2] (fallback)', specs: [{ shape: [3, 5, 4] }], fn: (tf) => (x) => tf.sum(x, [0, 2]), expectFallback: ['Sum'] },
  { name: 'argMax axis -1', specs: [{ shape: [6, 9, 7] }], fn: (tf) => (x) => tf.argMax(x, -1), expectNative: ['ArgMax'] },
  { name: 'argMax axis 0', specs: [{ shape: [6, 9, 7] }], fn: (tf) => (x) => tf.argMax(x, 0), expectNative: ['ArgMax'] },
  { name: 'softmax [5,3,10]', specs: [{ shape: [5, 3, 10], lo: -5, hi: 5 }], fn: (tf) => (x) => tf.softmax(x), grad: true, expectNative: ['Softmax'] },
  {
    name: 'softmax cross-entropy', specs: [{ shape: [16, 10], lo: -4, hi: 4 }, { shape: [16, 10], lo: 0, hi: 1 }],
    fn: (tf) => (x, y) => tf.losses.softmaxCrossEntropy(y, x), grad: true, expectNative: ['Exp', 'Log', 'Max', 'Sum'],
  },
];

for (const c of cases) {
  test.serial(c.name, async (t) => {
    const tf = await getTf();
    const r = await compare(tf, c.specs, c.fn(tf), { grad: c.grad });
    worst.add(r);
    t.true(r.rel <= TOL, `relative error ${r.rel} > ${TOL}`);
    for (const k of c.expectNative ?? []) t.true(r.nativeKernels.includes(k), `${k} did not run natively (native: ${r.nativeKernels}; fallback: ${r.fallbackKernels})`);
    for (const k of c.expectFallback ?? []) {
      t.true(r.fallbackKernels.includes(k), `${k} did not fall back`);
      t.false(r.nativeKernels.includes(k), `${k} ran natively`);
    }
    t.log(`rel ${r.rel.toExponential(2)} native [${r.nativeKernels.join(' ')}]${r.fallbackKernels.length ? ` fallback [${r.fallbackKernels.join(' ')}]` : ''}`);
  });
}

test.serial('fused ReLU gradient: bitwise the same as tfjs on special values; other backends keep the original', async (t) => {
  const tf = await getTf();
  const xs = [NaN, 0, -0, 1, -1, Infinity, -Infinity, 1e-45, -1e-45, 3.5, -2.25, 0.5];
  const dys = [2, Infinity, -Infinity, NaN, -3, 0, -0, 7, Infinity, -0, NaN, 1e-30];
  const run = (backend: string): Float32Array => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.tensor1d(xs), dy = tf.tensor1d(dys);
      return tf.grad((v: Tensor) => tf.relu(v))(x, dy).dataSync() as Float32Array;
    });
  };
  const before = kernelStats.RingtreeReluGrad?.native ?? 0;
  const ref = run('cpu');
  t.is(kernelStats.RingtreeReluGrad?.native ?? 0, before, 'the cpu backend ran the fused kernel');
  const got = run('ringtree-cpu');
  t.true((kernelStats.RingtreeReluGrad?.native ?? 0) > before, 'ringtree-cpu did not run the fused kernel');
  for (let i = 0; i < xs.length; i++) t.true(Object.is(got[i], ref[i]), `x=${xs[i]} dy=${dys[i]}: ${got[i]} vs tfjs ${ref[i]}`);
});

test.serial('worst relative error per native kernel (all cases)', (t) => {
  t.true(worst.byKernel.size >= 30, `only ${worst.byKernel.size} kernels covered`);
  for (const [k, v] of worst.byKernel) t.true(v <= TOL, `${k}: ${v}`);
  t.log('\n' + worst.table());
});
