// INV-CP1..CP8 (ALGORITHMS.md section 11) on the in-process fake communicator.
import test from 'ava';
import { FlatLayout, type Bucket } from '../../lib/train/buckets.js';
import { createCompressor, type CompressionSpec, orthogonalizeColumns, parseCompression, PowerSgdCompression, selectTopK, TopKCompression, TrafficCounter } from '../../lib/train/compression/index.js';
import { Rng } from '../../lib/train/rng.js';
import { createFakeGroup } from './_fake-comm.js';

const layout = new FlatLayout([
  { name: 'w1', shape: [12, 9] },
  { name: 'b1', shape: [9] },
  { name: 'w2', shape: [3, 3, 2, 6] },
  { name: 'b2', shape: [6] },
]);
const bucket: Bucket = layout.buckets[0]!;

function randomGrad(seed: number, n = layout.totalSize): Float32Array {
  const rng = new Rng(seed, 'grad');
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** Runs one reduction on every rank; returns each rank's result. */
async function reduceAll(P: number, make: (comm: ReturnType<typeof createFakeGroup>[number]) => { c: { start: (b: Bucket, g: Float32Array, s: number) => { finish(): Promise<void> } } }, grads: Float32Array[], step = 0) {
  const comms = createFakeGroup(P);
  const cs = comms.map((comm) => make(comm).c);
  return Promise.all(cs.map(async (c, r) => {
    const g = grads[r]!.slice();
    await c.start(bucket, g, step).finish();
    return g;
  }));
}

function mean(grads: Float32Array[]): Float32Array {
  const out = new Float32Array(grads[0]!.length);
  for (const g of grads) for (let i = 0; i < g.length; i++) out[i] = out[i]! + g[i]!;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / grads.length;
  return out;
}

const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('parseCompression accepts the documented spellings and rejects bad ones', (t) => {
  t.deepEqual(parseCompression('none'), { kind: 'none' });
  t.deepEqual(parseCompression('fp16'), { kind: 'fp16' });
  t.deepEqual(parseCompression('bf16'), { kind: 'bf16' });
  t.deepEqual(parseCompression('topk:0.01'), { kind: 'topk', ratio: 0.01 });
  t.deepEqual(parseCompression('powersgd:2'), { kind: 'powersgd', rank: 2 });
  t.deepEqual(parseCompression('powersgd:4:100'), { kind: 'powersgd', rank: 4, startStep: 100 });
  const [comm] = createFakeGroup(1);
  t.is(createCompressor(parseCompression('powersgd:2'), comm!, 0, undefined, { totalSteps: 234 }).spec, 'powersgd:2:23', 'default start: 10% of the run');
  t.is(createCompressor(parseCompression('powersgd:2:0'), comm!, 0, undefined, { totalSteps: 234 }).spec, 'powersgd:2:0');
  t.is(createCompressor(parseCompression('powersgd:2'), comm!, 0).spec, 'powersgd:2:0');
  for (const bad of ['topk:0', 'topk:2', 'topk:0.1:3', 'powersgd:0', 'powersgd:1.5', 'powersgd:2:-1', 'zip']) t.throws(() => parseCompression(bad));
});

test('P = 1: none, top-k with ratio 1 and full-rank PowerSGD are the identity; fp16 exact on half-representable data (INV-C6, CP5)', async (t) => {
  const g = randomGrad(1);
  const cases: Array<[string, CompressionSpec]> = [['none', { kind: 'none' }], ['topk:1', { kind: 'topk', ratio: 1 }]];
  for (const [name, spec] of cases) {
    const [out] = await reduceAll(1, (comm) => ({ c: createCompressor(spec, comm, 0) }), [g]);
    t.deepEqual(Array.from(out!), Array.from(g), name);
  }
  const [ps] = await reduceAll(1, (comm) => ({ c: new PowerSgdCompression({ comm, traffic: new TrafficCounter(1), seed: 0 }, { rank: 12, minCompressionRate: 0 }) }), [g]);
  t.true(maxAbsDiff(ps!, g) < 1e-4, `full-rank PowerSGD error ${maxAbsDiff(ps!, g)}`);
  const h = Float32Array.from(g, (v) => Math.round(v * 64) / 64); // exactly representable in fp16 and bf16? fp16 yes
  const [f16] = await reduceAll(1, (comm) => ({ c: createCompressor({ kind: 'fp16' }, comm, 0) }), [h]);
  t.deepEqual(Array.from(f16!), Array.from(h));
});

test('fp16 / bf16 transport: pre-divided by P, close to the fp32 average, identical on all ranks, no overflow near 65504 (INV-CP3, CP6)', async (t) => {
  const P = 4;
  const grads = [0, 1, 2, 3].map((r) => randomGrad(10 + r));
  const exact = mean(grads);
  for (const [kind, tol] of [['fp16', 2e-3], ['bf16', 1.6e-2]] as const) {
    const outs = await reduceAll(P, (comm) => ({ c: createCompressor({ kind }, comm, 0) }), grads);
    for (const o of outs) t.deepEqual(Array.from(o), Array.from(outs[0]!));
    let worst = 0;
    for (let i = 0; i < exact.length; i++) worst = Math.max(worst, Math.abs(outs[0]![i]! - exact[i]!) / Math.max(1, Math.abs(exact[i]!)));
    t.true(worst < tol, `${kind}: relative error ${worst}`);
  }
  const big = [0, 1, 2, 3].map(() => new Float32Array(layout.totalSize).fill(60000));
  const outs = await reduceAll(P, (comm) => ({ c: createCompressor({ kind: 'fp16' }, comm, 0) }), big);
  t.true(outs[0]!.every((v) => Math.abs(v - 60000) <= 32), 'sum of 4 x 60000 would overflow fp16; the pre-divided sum does not');
});

test('top-k selection: k largest magnitudes, ties by index, indices ascending', (t) => {
  const v = new Float32Array([0.1, -5, 3, 3, -3, 0, 7, -0.2]);
  t.deepEqual(Array.from(selectTopK(v, 3)), [1, 2, 6]);
  t.deepEqual(Array.from(selectTopK(v, 4)), [1, 2, 3, 6]);
  t.deepEqual(Array.from(selectTopK(v, 5)), [1, 2, 3, 4, 6]);
  t.deepEqual(Array.from(selectTopK(v, 20)), [0, 1, 2, 3, 4, 5, 6, 7]);
  const rng = new Rng(3);
  const big = Float32Array.from({ length: 5000 }, () => rng.normal());
  const idx = selectTopK(big, 50);
  const sorted = Array.from(big, Math.abs).sort((a, b) => b - a);
  const threshold = sorted[49]!;
  t.is(idx.length, 50);
  for (const i of idx) t.true(Math.abs(big[i]!) >= threshold);
});

test('top-k error feedback conserves p = g + e elementwise, exactly (INV-CP1), and aggregates identically on all ranks (INV-CP3)', async (t) => {
  const P = 3;
  const comms = createFakeGroup(P);
  const cs = comms.map((comm) => new TopKCompression({ comm, traffic: new TrafficCounter(P), seed: 0 }, 0.1));
  const k = cs[0]!.kFor(bucket.length);
  for (let step = 0; step < 4; step++) {
    const grads = [0, 1, 2].map((r) => randomGrad(100 * step + r));
    const before = cs.map((c) => c.residual(bucket).slice());
    // p_i = g_i + e_i,old, in float32 as the compressor computes it
    const p = grads.map((g, r) => Float32Array.from(g, (v, i) => v + before[r]![i]!));
    const outs = await Promise.all(cs.map(async (c, r) => {
      const g = grads[r]!.slice();
      await c.start(bucket, g, step).finish();
      return g;
    }));
    for (const o of outs) t.deepEqual(Array.from(o), Array.from(outs[0]!));
    // Reconstruct what each rank transmitted: p minus the new residual; it must be exactly p on k entries, 0 elsewhere.
    const sent = cs.map((c, r) => Float32Array.from(p[r]!, (v, i) => v - c.residual(bucket)[i]!));
    for (let r = 0; r < P; r++) {
      let nonzero = 0;
      for (let i = 0; i < bucket.length; i++) {
        const e = cs[r]!.residual(bucket)[i]!;
        t.true(e === 0 || e === p[r]![i]!, 'each element is either sent (e = 0) or kept (e = p)');
        if (e === 0 && p[r]![i] !== 0) nonzero++;
        t.is(sent[r]![i]! + e, p[r]![i]!);
      }
      t.is(nonzero, k);
    }
    // Aggregate = average of the transmitted sparse vectors.
    const expect = mean(sent);
    t.true(maxAbsDiff(outs[0]!, expect) < 1e-6);
  }
});

test('PowerSGD: error feedback conserves the sum over ranks (INV-CP2), identical aggregates, warm start keeps Q', async (t) => {
  const P = 2;
  const comms = createFakeGroup(P);
  const cs = comms.map((comm) => new PowerSgdCompression({ comm, traffic: new TrafficCounter(P), seed: 5 }, { rank: 2, minCompressionRate: 0 }));
  const matrices = bucket.slots.filter((s) => s.shape.length >= 2);
  for (let step = 0; step < 3; step++) {
    const grads = [0, 1].map((r) => randomGrad(1000 + 10 * step + r));
    const eOld = cs.map((c) => matrices.map((s) => c.residual(s.index, s.size).slice()));
    const outs = await Promise.all(cs.map(async (c, r) => {
      const g = grads[r]!.slice();
      await c.start(bucket, g, step).finish();
      return g;
    }));
    t.deepEqual(Array.from(outs[0]!), Array.from(outs[1]!));
    for (const [mi, s] of matrices.entries()) {
      const local = s.offset - bucket.offset;
      for (let i = 0; i < s.size; i++) {
        const lhs = cs.reduce((acc, c) => acc + c.residual(s.index, s.size)[i]!, 0);
        const rhs = grads.reduce((acc, g, r) => acc + g[local + i]! + eOld[r]![mi]![i]!, 0) - P * outs[0]![local + i]!;
        t.true(Math.abs(lhs - rhs) < 1e-4, `sum e_new = sum(g + e_old) - P M^ at ${s.name}[${i}]: ${lhs} vs ${rhs}`);
      }
    }
    // Vectors are averaged exactly (uncompressed path).
    const exact = mean(grads);
    for (const s of bucket.slots.filter((x) => x.shape.length === 1)) {
      const local = s.offset - bucket.offset;
      for (let i = 0; i < s.size; i++) t.true(Math.abs(outs[0]![local + i]! - exact[local + i]!) < 1e-6);
    }
  }
  const q = cs.map((c) => c.sharedState());
  t.deepEqual(Object.keys(q[0]!).sort(), matrices.map((s) => `q.${s.index}`).sort());
  for (const key of Object.keys(q[0]!)) t.deepEqual(Array.from(q[0]![key]!), Array.from(q[1]![key]!));
});

test('PowerSGD with rank >= min(n, m) reproduces the exact average (INV-CP5); small matrices skip compression by default', async (t) => {
  const P = 3;
  const grads = [0, 1, 2].map((r) => randomGrad(77 + r));
  const exact = mean(grads);
  const outs = await reduceAll(P, (comm) => ({ c: new PowerSgdCompression({ comm, traffic: new TrafficCounter(P), seed: 1 }, { rank: 12, minCompressionRate: 0 }) }), grads);
  t.true(maxAbsDiff(outs[0]!, exact) < 1e-4, `error ${maxAbsDiff(outs[0]!, exact)}`);
  // Default min compression rate 2 with rank 8: 12x9 (108 < 2*8*21) and 18x6 are sent uncompressed => exact.
  const plain = await reduceAll(P, (comm) => ({ c: new PowerSgdCompression({ comm, traffic: new TrafficCounter(P), seed: 1 }, { rank: 8 }) }), grads);
  t.true(maxAbsDiff(plain[0]!, exact) < 1e-6);
});

test('PowerSGD before its start step is a plain average and leaves the error feedback untouched', async (t) => {
  const P = 2;
  const grads = [randomGrad(5), randomGrad(6)];
  const comms = createFakeGroup(P);
  const cs = comms.map((comm) => new PowerSgdCompression({ comm, traffic: new TrafficCounter(P), seed: 1 }, { rank: 1, minCompressionRate: 0, startStep: 3 }));
  const run = (step: number) => Promise.all(cs.map(async (c, r) => { const g = grads[r]!.slice(); await c.start(bucket, g, step).finish(); return g; }));
  const early = await run(2);
  t.true(maxAbsDiff(early[0]!, mean(grads)) < 1e-6);
  t.deepEqual(cs[0]!.sharedState(), {}, 'no Q drawn yet');
  const late = await run(3);
  t.true(maxAbsDiff(late[0]!, mean(grads)) > 1e-3, 'rank-1 compression from the start step on');
});

test('Gram-Schmidt gives orthonormal columns and zeroes dependent ones', (t) => {
  const rng = new Rng(9);
  const n = 20, r = 3;
  const p = Float32Array.from({ length: n * r }, () => rng.normal());
  for (let i = 0; i < n; i++) p[i * r + 2] = 2 * p[i * r + 0]! - p[i * r + 1]!; // dependent third column
  orthogonalizeColumns(p, n, r);
  const dot = (a: number, b: number) => { let s = 0; for (let i = 0; i < n; i++) s += p[i * r + a]! * p[i * r + b]!; return s; };
  t.true(Math.abs(dot(0, 0) - 1) < 1e-5 && Math.abs(dot(1, 1) - 1) < 1e-5 && Math.abs(dot(0, 1)) < 1e-5);
  t.true(Math.abs(dot(2, 2)) < 1e-5);
});

test('identity compressor through error feedback: top-k ratio 1 leaves the residual at 0 (INV-CP8)', async (t) => {
  const P = 2;
  const comms = createFakeGroup(P);
  const cs = comms.map((comm) => new TopKCompression({ comm, traffic: new TrafficCounter(P), seed: 0 }, 1));
  const grads = [randomGrad(1), randomGrad(2)];
  const outs = await Promise.all(cs.map(async (c, r) => { const g = grads[r]!.slice(); await c.start(bucket, g, 0).finish(); return g; }));
  t.true(maxAbsDiff(outs[0]!, mean(grads)) < 1e-6);
  for (const c of cs) t.true(c.residual(bucket).every((v) => v === 0));
});

test('traffic estimate follows the ring model: none 2(P-1)/P n b, fp16 half of it, top-k (P-1) k 8', async (t) => {
  const P = 4;
  const n = layout.totalSize;
  const comms = createFakeGroup(P);
  const counters = comms.map(() => new TrafficCounter(P));
  for (const [spec, expected] of [[{ kind: 'none' }, (2 * 3 * n * 4) / 4], [{ kind: 'fp16' }, (2 * 3 * n * 2) / 4], [{ kind: 'topk', ratio: 0.1 }, 3 * Math.round(0.1 * n) * 8]] as const) {
    const cs = comms.map((comm, r) => createCompressor(spec as CompressionSpec, comm, 0, counters[r]));
    for (const c of counters) c.bytes = 0;
    await Promise.all(cs.map((c) => c.start(bucket, randomGrad(3), 0).finish()));
    t.is(counters[0]!.bytes, expected, JSON.stringify(spec));
  }
});
