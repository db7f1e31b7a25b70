import test from 'ava';
import { FlatLayout } from '../../lib/train/buckets.js';
import { MomentumSGD } from '../../lib/train/optimizer.js';

const tensors = [
  { name: 'conv1/kernel', shape: [3, 3, 1, 8] },
  { name: 'conv1/bias', shape: [8] },
  { name: 'dense/kernel', shape: [200, 10] },
  { name: 'dense/bias', shape: [10] },
  { name: 'out/kernel', shape: [10, 4] },
  { name: 'out/bias', shape: [4] },
];

test('flat layout is in reverse layer order and flatten/unflatten round-trips', (t) => {
  const layout = new FlatLayout(tensors, 1024);
  t.deepEqual(layout.slots.map((s) => s.name), tensors.map((x) => x.name).reverse());
  t.is(layout.totalSize, 72 + 8 + 2000 + 10 + 40 + 4);
  const arrays = tensors.map((x, i) => Float32Array.from({ length: x.shape.reduce((a, b) => a * b, 1) }, (_, k) => i * 10000 + k));
  const flat = layout.flatten(arrays);
  t.deepEqual(Array.from(flat.subarray(0, 4)), [50000, 50001, 50002, 50003], 'last tensor first');
  const views = layout.unflatten(flat);
  views.forEach((v, i) => t.deepEqual(Array.from(v), Array.from(arrays[i]!)));
  views[2]![5] = -1;
  t.is(flat[layout.byIndex[2]!.offset + 5], -1, 'unflatten returns views');
});

test('buckets respect the byte cap at tensor boundaries, cover the vector contiguously, in order', (t) => {
  const layout = new FlatLayout(tensors, 1024); // 256 floats per bucket
  let expected = 0;
  for (const [i, b] of layout.buckets.entries()) {
    t.is(b.index, i);
    t.is(b.offset, expected);
    t.is(b.length, b.slots.reduce((n, s) => n + s.size, 0));
    if (b.slots.length > 1) t.true(b.length * 4 <= 1024);
    expected += b.length;
  }
  t.is(expected, layout.totalSize);
  // out/bias + out/kernel + dense/bias fit together; dense/kernel (8000 B) is alone; conv layers together.
  t.deepEqual(layout.buckets.map((b) => b.slots.map((s) => s.name)), [['out/bias', 'out/kernel', 'dense/bias'], ['dense/kernel'], ['conv1/bias', 'conv1/kernel']]);
  t.is(new FlatLayout(tensors).buckets.length, 1, 'default 25 MiB cap: one bucket for a small model');
});

test('MomentumSGD follows the torch.optim.SGD convention (weight decay in the gradient, u0 = 0)', (t) => {
  const opt = new MomentumSGD(2, { momentum: 0.9, weightDecay: 0.1 });
  const x = new Float32Array([1, -2]);
  const g = new Float32Array([0.5, 0.25]);
  opt.step(x, g, 0.1);
  // d = g + 0.1 x = [0.6, 0.05]; u = d; x = x - 0.1 u
  t.true(Math.abs(x[0]! - 0.94) < 1e-6 && Math.abs(x[1]! + 2.005) < 1e-6);
  opt.step(x, g, 0.1);
  // d = [0.5 + 0.094, 0.25 - 0.2005] ; u = 0.9 u + d
  const d0 = 0.5 + 0.1 * 0.94, d1 = 0.25 - 0.1 * 2.005;
  const u0 = 0.9 * 0.6 + d0, u1 = 0.9 * 0.05 + d1;
  t.true(Math.abs(opt.buffer[0]! - u0) < 1e-6 && Math.abs(opt.buffer[1]! - u1) < 1e-6);
  t.true(Math.abs(x[0]! - (0.94 - 0.1 * u0)) < 1e-6 && Math.abs(x[1]! - (-2.005 - 0.1 * u1)) < 1e-6);
});
