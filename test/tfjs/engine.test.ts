// loadEngine, the backend beside `cpu`, the buffer pool, thread-count determinism and a whole-model
// gradient check of a training step.
import test from 'ava';
import { BufferPool, nativeKernels, setGemm, setNumThreads } from '../../lib/tfjs/index.js';
import { getTf, rand, type Tensor, type TF } from './_compare.js';

type Tf4 = import('@tensorflow/tfjs').Tensor4D;

test.serial('loadEngine: ringtree-cpu active, cpu untouched beside it', async (t) => {
  const tf = await getTf();
  t.true(tf.findBackend('cpu') !== null || tf.findBackendFactory('cpu') !== null);
  tf.setBackend('ringtree-cpu');
  t.is(tf.getBackend(), 'ringtree-cpu');
  const { loadEngine } = await import('../../lib/tfjs/index.js');
  const e = await loadEngine({ engine: 'cpu', quiet: true });
  t.is(e.name, 'cpu');
  t.is(e.tf.getBackend(), 'cpu');
  await t.throwsAsync(loadEngine({ engine: 'bogus' as 'cpu' }), { instanceOf: TypeError });
  const r = await loadEngine({ engine: 'ringtree-cpu', quiet: true });
  t.is(r.backend, 'ringtree-cpu');
  t.regex(r.details, /gemm .+, \d+ thread/);
  // auto: tfjs-node(-gpu) when installed and working, else ringtree-cpu; the chosen backend is active
  const a = await loadEngine({ engine: 'auto', quiet: true });
  t.true(['tfjs-node-gpu', 'tfjs-node', 'ringtree-cpu'].includes(a.name));
  t.is(a.tf.getBackend(), a.backend);
  let nodeInstalled = true;
  try { await import('@tensorflow/tfjs-node' as string); } catch { nodeInstalled = false; }
  if (!nodeInstalled) {
    t.is(a.name, 'ringtree-cpu');
    await t.throwsAsync(loadEngine({ engine: 'tfjs-node', quiet: true }), { message: /not available/ });
  }
  a.tf.setBackend('ringtree-cpu');
});

test.serial('buffer pool: outputs recycled on dispose, never while visible', async (t) => {
  const tf = await getTf();
  tf.setBackend('ringtree-cpu');
  const backend = tf.backend() as unknown as { pool: BufferPool };
  const x = tf.tensor(rand(64 * 1024, 3), [64, 1024]);
  const a = tf.relu(x);
  const bufA = (tf.backend() as unknown as { data: { get(id: object): { values: Float32Array } } }).data.get(a.dataId).values;
  a.dispose();
  const hits0 = backend.pool.stats.hits;
  const b = tf.relu(x);  // same size: must reuse a's buffer
  t.is(backend.pool.stats.hits, hits0 + 1);
  const seen = b.dataSync();  // escapes: must never be recycled
  const copy = seen.slice();
  b.dispose();
  const c = tf.neg(x);
  t.deepEqual(Array.from(seen.subarray(0, 16)), Array.from(copy.subarray(0, 16)), 'a read array was overwritten');
  // a slice view of a pooled output survives the disposal of its base
  const d = tf.exp(x);
  const s = tf.slice(d, [0, 0], [1, 1024]);
  const sv = s.dataSync().slice();
  d.dispose();
  const e = tf.square(x);
  t.deepEqual(Array.from(s.dataSync()), Array.from(sv));
  t.truthy(bufA);
  tf.dispose([x, c, s, e]);
});

function runSuite(tf: TF): Float32Array[] {
  tf.setBackend('ringtree-cpu');
  return tf.tidy(() => {
    const x = tf.tensor(rand(8 * 28 * 28 * 8, 11), [8, 28, 28, 8]) as Tf4;
    const w = tf.tensor(rand(3 * 3 * 8 * 16, 12), [3, 3, 8, 16]) as Tf4;
    const dwf = tf.tensor(rand(3 * 3 * 8 * 2, 13), [3, 3, 8, 2]) as Tf4;
    const a = tf.tensor(rand(200 * 300, 14), [200, 300]);
    const b = tf.tensor(rand(300 * 150, 15), [300, 150]);
    const f = (xx: Tensor, ww: Tensor, dd: Tensor): Tensor => {
      const y = tf.conv2d(xx as Tf4, ww as Tf4, 1, 'same');
      const z = tf.depthwiseConv2d(xx as Tf4, dd as Tf4, 2, 'same');
      return tf.add(tf.sum(tf.square(y)), tf.sum(tf.maxPool(z, 2, 2, 'valid')));
    };
    const gs = tf.grads(f)([x, w, dwf]);
    const mm = tf.matMul(a, b);
    const mmT = tf.matMul(a, b.transpose(), false, true);
    const big = tf.add(tf.exp(tf.tensor(rand(400000, 16), [400000])), 1);
    return [...gs, mm, mmT, big, tf.sum(big.reshape([400, 1000]), 0)].map((g) => g.dataSync().slice() as Float32Array);
  });
}

test.serial('1 thread and 2 threads give bitwise identical results (own GEMM, portable GEMM)', async (t) => {
  const tf = await getTf();
  const k = nativeKernels();
  const before = k.info().threads;
  try {
    for (const gemm of ['own', 'portable'] as const) {
      t.true(setGemm(gemm));
      setNumThreads(1);
      const one = runSuite(tf);
      setNumThreads(2);
      const two = runSuite(tf);
      setNumThreads(3);
      const three = runSuite(tf);
      for (let i = 0; i < one.length; i++) {
        t.true(Buffer.from(one[i].buffer).equals(Buffer.from(two[i].buffer)), `${gemm}: output ${i} differs 1 vs 2 threads`);
        t.true(Buffer.from(one[i].buffer).equals(Buffer.from(three[i].buffer)), `${gemm}: output ${i} differs 1 vs 3 threads`);
      }
    }
  } finally {
    setGemm('auto');
    setNumThreads(before);
  }
});

test.serial('portable GEMM fallback matches the cpu backend', async (t) => {
  const tf = await getTf();
  t.true(setGemm('portable'));
  try {
    t.is(nativeKernels().info().gemm, 'portable-4x8');
    const run = (backend: string): Float32Array => {
      tf.setBackend(backend);
      return tf.tidy(() => {
        const x = tf.tensor(rand(2 * 9 * 9 * 3, 21), [2, 9, 9, 3]) as Tf4;
        const w = tf.tensor(rand(3 * 3 * 3 * 17, 22), [3, 3, 3, 17]) as Tf4;
        const [gx, gw] = tf.grads((a: Tensor, b: Tensor) => tf.sum(tf.square(tf.conv2d(a as Tf4, b as Tf4, 2, 'same'))))([x, w]);
        const m = tf.matMul(tf.tensor(rand(37 * 29, 23), [37, 29]), tf.tensor(rand(29 * 41, 24), [29, 41]));
        return Float32Array.from([...gx.dataSync(), ...gw.dataSync(), ...m.dataSync()]);
      });
    };
    const ref = run('cpu'), got = run('ringtree-cpu');
    let md = 0, mr = 0;
    for (let i = 0; i < ref.length; i++) { md = Math.max(md, Math.abs(ref[i] - got[i])); mr = Math.max(mr, Math.abs(ref[i])); }
    t.true(md / mr <= 1e-5, `rel ${md / mr}`);
  } finally {
    setGemm('auto');
  }
});

test.serial('whole model: loss, gradients and one SGD step of a small CNN match the cpu backend', async (t) => {
  const tf = await getTf();
  tf.setBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [16, 16, 1], filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', depthwiseInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.conv2d({ filters: 16, kernelSize: 3, strides: 2, padding: 'valid', activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) }),
    ],
  });
  const initial = model.getWeights().map((w) => w.dataSync().slice());
  const xs = rand(8 * 16 * 16, 31, 0, 1), labels = Array.from({ length: 8 }, (_, i) => (i * 7) % 10);
  const step = (backend: string): { loss: number; grads: Float32Array[]; after: Float32Array[] } => {
    tf.setBackend(backend);
    model.setWeights(initial.map((v, i) => tf.tensor(v.slice(), model.getWeights()[i].shape)));
    const x = tf.tensor(xs.slice(), [8, 16, 16, 1]);
    const y = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    const { value, grads } = tf.variableGrads(() => {
      const p = model.apply(x, { training: true }) as Tensor;
      return tf.losses.softmaxCrossEntropy(y, p) as import('@tensorflow/tfjs').Scalar;
    });
    const names = Object.keys(grads).sort();
    const out = names.map((n) => grads[n].dataSync().slice() as Float32Array);
    tf.train.sgd(0.1).applyGradients(grads);
    const after = model.getWeights().map((w) => w.dataSync().slice() as Float32Array);
    const loss = value.dataSync()[0];
    tf.dispose([x, y, value, ...Object.values(grads)]);
    return { loss, grads: out, after };
  };
  const ref = step('cpu'), got = step('ringtree-cpu');
  t.true(Math.abs(ref.loss - got.loss) <= 1e-5 * Math.abs(ref.loss), `loss ${ref.loss} vs ${got.loss}`);
  let worst = 0;
  for (let i = 0; i < ref.grads.length; i++) {
    let md = 0, mr = 0;
    for (let j = 0; j < ref.grads[i].length; j++) { md = Math.max(md, Math.abs(ref.grads[i][j] - got.grads[i][j])); mr = Math.max(mr, Math.abs(ref.grads[i][j])); }
    worst = Math.max(worst, mr ? md / mr : md);
  }
  let worstW = 0;
  for (let i = 0; i < ref.after.length; i++)
    for (let j = 0; j < ref.after[i].length; j++) worstW = Math.max(worstW, Math.abs(ref.after[i][j] - got.after[i][j]));
  t.log(`loss ${ref.loss}, worst gradient rel error ${worst.toExponential(2)}, worst weight diff after SGD ${worstW.toExponential(2)}`);
  t.true(worst <= 1e-5, `gradient rel error ${worst}`);
  t.true(worstW <= 1e-6);
});

test.serial('MaxPoolGrad without recorded positions (forward outside a tape) recomputes them', async (t) => {
  const tf = await getTf();
  const run = (backend: string): Float32Array => {
    tf.setBackend(backend);
    return tf.tidy(() => {
      const x = tf.relu(tf.tensor(rand(2 * 9 * 9 * 5, 41), [2, 9, 9, 5])) as Tf4;  // relu: ties at 0
      const y = tf.maxPool(x, 3, 2, 'same');
      const dy = tf.tensor(rand(y.size, 42), y.shape);
      const dx = tf.engine().runKernel('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: 3, strides: 2, pad: 'same' }) as Tensor;
      return dx.dataSync().slice() as Float32Array;
    });
  };
  const ref = run('cpu'), got = run('ringtree-cpu');
  t.deepEqual(Array.from(got), Array.from(ref));
});
