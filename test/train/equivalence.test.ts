// INV-S1 / INV-S2 (ALGORITHMS.md section 2): P ranks x B/P samples == 1 rank x B samples after N steps
// (same data order, no BatchNorm), and replicas stay bitwise identical.
import test from 'ava';
import { createModel, type ModelName } from '../../lib/train/models/index.js';
import { Trainer, type TrainerOptions } from '../../lib/train/trainer.js';
import type { CommunicatorLike } from '../../lib/types.js';
import { createFakeGroup } from './_fake-comm.js';
import { syntheticDataset, testTf } from './_helpers.js';

const SIDE = 8;

async function runGroup(P: number, globalBatch: number, steps: number, model: ModelName, extra: Partial<TrainerOptions> = {}) {
  const tf = await testTf();
  const data = syntheticDataset(256, SIDE, 4, 1);
  const comms: CommunicatorLike[] = createFakeGroup(P);
  const trainers = comms.map((comm) => new Trainer({
    comm, tf,
    // Different seeds per rank: rank 0's weights must win through the initial broadcast.
    model: createModel(tf, { name: model, inputShape: [SIDE, SIDE, 1], numClasses: 4, seed: 7 + comm.rank, fastConvGrad: true }),
    train: data, batchSize: globalBatch / P, epochs: 2, maxSteps: steps,
    lr: 0.5, momentum: 0.9, weightDecay: 1e-4, warmupSteps: 3, seed: 3, ...extra,
  }));
  await Promise.all(trainers.map(async (t) => {
    await t.setup();
    for (let e = 0; t.globalStep < steps; e++) await t.trainEpoch(e);
  }));
  const out = trainers.map((t) => ({ params: t.params.slice(), checksum: t.paramChecksum() }));
  for (const t of trainers) t.model.dispose();
  return out;
}

function maxRelDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, scale = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); scale = Math.max(scale, Math.abs(b[i]!)); }
  return d / scale;
}

for (const [model, steps] of [['mlp', 12], ['cnn', 6]] as const) {
  test(`${model}: 2 ranks x half batch == 1 rank x full batch after ${steps} steps (rel. tol 1e-5)`, async (t) => {
    t.timeout(150_000);
    const one = await runGroup(1, 32, steps, model);
    const two = await runGroup(2, 32, steps, model);
    t.is(two[0]!.checksum, two[1]!.checksum, 'replicas are bitwise identical');
    const d = maxRelDiff(two[0]!.params, one[0]!.params);
    t.log(`max |x_P2 - x_P1| / max |x| = ${d.toExponential(2)}`);
    t.true(d < 1e-5, `relative difference ${d}`);
    // The runs really trained: parameters moved away from the initialization.
    const init = await runGroup(1, 32, 0, model);
    t.true(maxRelDiff(one[0]!.params, init[0]!.params) > 1e-3);
  });
}

test('4 ranks x 8 == 1 rank x 32 (mlp, 8 steps, several buckets)', async (t) => {
  t.timeout(150_000);
  const one = await runGroup(1, 32, 8, 'mlp', { bucketCapBytes: 4096 });
  const four = await runGroup(4, 32, 8, 'mlp', { bucketCapBytes: 4096 });
  for (const r of four) t.is(r.checksum, four[0]!.checksum);
  t.true(maxRelDiff(four[0]!.params, one[0]!.params) < 1e-5);
});
