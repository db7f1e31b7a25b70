import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import type { Bucket } from '../../lib/train/buckets.js';
import { createCompressor } from '../../lib/train/compression/index.js';
import { createModel } from '../../lib/train/models/index.js';
import { type StepInfo, type StrategyState, SyncSGD } from '../../lib/train/strategies/index.js';
import { Trainer, type TrainerOptions } from '../../lib/train/trainer.js';
import type { AllReduceOptions, CommunicatorLike, NumericArray } from '../../lib/types.js';
import { createFakeGroup, type FakeComm } from './_fake-comm.js';
import { syntheticDataset, testTf } from './_helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ringtree-trainer-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

async function makeTrainers(comms: CommunicatorLike[], extra: Partial<TrainerOptions> = {}) {
  const tf = await testTf();
  const train = syntheticDataset(192, 8, 4, 11, 'train');
  const testSet = syntheticDataset(64, 8, 4, 12, 'test');
  return comms.map((comm) => new Trainer({
    comm, tf, model: createModel(tf, { name: 'mlp', inputShape: [8, 8, 1], numClasses: 4, seed: 5 }),
    train, test: testSet, batchSize: 16, epochs: 3, lr: 0.4, momentum: 0.9, weightDecay: 1e-4, warmupEpochs: 1, seed: 9, ...extra,
  }));
}

test('bucket all-reduces are all issued before the first completes (overlap, not one at a time)', async (t) => {
  const events: string[] = [];
  const comms = createFakeGroup(2).map((c: FakeComm): CommunicatorLike => {
    if (c.rank !== 0) return c;
    const wrapped: CommunicatorLike = {
      rank: c.rank,
      size: c.size,
      allReduce<T extends NumericArray>(buf: T, o?: AllReduceOptions<T>): Promise<T> {
        const id = events.filter((e) => e.startsWith('issue')).length;
        events.push(`issue${id}:${buf.length}`);
        return c.allReduce(buf, o).then((r) => { events.push(`done${id}`); return r; });
      },
      broadcast: (buf, o) => c.broadcast(buf, o),
      allGather: (send, recv, o) => c.allGather(send, recv, o),
      reduceScatter: (send, recv, o) => c.reduceScatter(send, recv, o),
      barrier: (o) => c.barrier(o),
    };
    return wrapped;
  });
  const trainers = await makeTrainers(comms, { bucketCapBytes: 1024, maxSteps: 1 });
  t.true(trainers[0]!.layout.buckets.length >= 3);
  await Promise.all(trainers.map(async (tr) => { await tr.setup(); await tr.trainEpoch(0); }));
  const nb = trainers[0]!.layout.buckets.length;
  const firstDone = events.indexOf('done0');
  t.is(events.slice(0, nb).filter((e) => e.startsWith('issue')).length, nb, events.join(' '));
  t.true(firstDone >= nb);
  // Reverse layer order: the first bucket holds the output layer (bias 4, kernel 128x4).
  t.is(trainers[0]!.layout.buckets[0]!.slots[0]!.name, 'dense2/bias');
  for (const tr of trainers) tr.model.dispose();
});

test('buckets are handed over during backward: the output layer\'s bucket starts before the first layer\'s gradient exists', async (t) => {
  const [comm] = createFakeGroup(1);
  class Spy extends SyncSGD {
    readonly firstLayerEmpty: boolean[] = [];
    override onBucketReady(state: StrategyState, bucket: Bucket, info: StepInfo): void {
      if (info.step === 0) {
        const first = state.layout.byIndex[0]!; // dense1/kernel, the last gradient backward produces
        this.firstLayerEmpty.push(state.grad.subarray(first.offset, first.offset + first.size).every((v) => v === 0));
      }
      super.onBucketReady(state, bucket, info);
    }
  }
  const spy = new Spy(createCompressor({ kind: 'none' }, comm!, 0));
  const [tr] = await makeTrainers([comm!], { bucketCapBytes: 1024, maxSteps: 1, strategy: spy });
  await tr!.setup();
  await tr!.trainEpoch(0);
  t.is(spy.firstLayerEmpty.length, tr!.layout.buckets.length);
  t.true(spy.firstLayerEmpty[0], 'the output layer\'s bucket was started before backward reached the first layer');
  t.false(spy.firstLayerEmpty.at(-1), 'the last bucket holds the first layer\'s gradient');
  tr!.model.dispose();
});

test('checkpoint on rank 0 + resume reproduces the uninterrupted run bitwise', async (t) => {
  t.timeout(120_000);
  const path = join(tmp, 'ckpt.bin');
  const straight = await makeTrainers(createFakeGroup(2));
  const full = await Promise.all(straight.map((tr) => tr.fit()));
  // Interrupted: 1 epoch with checkpointing, then new processes (trainers) resume for the rest.
  const first = await makeTrainers(createFakeGroup(2), { epochs: 3, maxSteps: 12, checkpointPath: path });
  t.is(first[0]!.stepsPerEpoch, 6);
  await Promise.all(first.map((tr) => tr.fit()));
  t.true(existsSync(path));
  const resumed = await makeTrainers(createFakeGroup(2), { checkpointPath: path, resume: true });
  const res = await Promise.all(resumed.map((tr) => tr.fit()));
  t.is(res[0]!.resumedFromEpoch, 2);
  t.is(res[0]!.steps, 18);
  t.is(res[0]!.epochs.length, 3, 'metrics history carried over');
  t.is(res[0]!.ranks[0]!.param_checksum, full[0]!.ranks[0]!.param_checksum);
  t.is(res[0]!.ranks[1]!.param_checksum, full[0]!.ranks[0]!.param_checksum);
  t.deepEqual(res[0]!.test, full[0]!.test);
  for (const tr of [...straight, ...first, ...resumed]) tr.model.dispose();
});

test('fit: learns the synthetic task, sharded evaluation counts every test sample once, checksums gathered', async (t) => {
  t.timeout(120_000);
  const trainers = await makeTrainers(createFakeGroup(3), { compression: { kind: 'topk', ratio: 0.25 } });
  const res = await Promise.all(trainers.map((tr) => tr.fit()));
  t.is(res[0]!.test!.count, 64);
  t.true(res[0]!.test!.accuracy > 0.9, `accuracy ${res[0]!.test!.accuracy}`);
  t.is(res[0]!.ranks.length, 3);
  t.is(new Set(res[0]!.ranks.map((r) => r.param_checksum)).size, 1);
  const e = res[0]!.epochs[0]!;
  t.is(e.steps, 4);
  t.is(e.bytes_source, 'communicator');
  t.true(e.bytes > 0 && e.images_per_sec > 0 && e.comm_ms >= 0);
  t.deepEqual(res[1]!.epochs.map((m) => m.loss), res[0]!.epochs.map((m) => m.loss), 'every rank gets the same metrics');
  for (const tr of trainers) tr.model.dispose();
});

test('maxSteps stops early but still evaluates', async (t) => {
  const trainers = await makeTrainers(createFakeGroup(1), { maxSteps: 3 });
  const [res] = await Promise.all(trainers.map((tr) => tr.fit()));
  t.is(res!.steps, 3);
  t.is(res!.epochs.length, 1);
  t.is(res!.epochs[0]!.steps, 3);
  t.is(res!.test!.count, 64);
  t.is(typeof res!.epochs[0]!.test_accuracy, 'number');
  trainers[0]!.model.dispose();
});

test('models build deterministically from the seed; vgg and resnet forward shapes', async (t) => {
  const tf = await testTf();
  const a = createModel(tf, { name: 'resnet', inputShape: [16, 16, 3], numClasses: 2, seed: 1 });
  const b = createModel(tf, { name: 'resnet', inputShape: [16, 16, 3], numClasses: 2, seed: 1 });
  t.true(a.buffers.length > 0);
  a.params.forEach((p, i) => t.deepEqual(Array.from(p.variable.dataSync()), Array.from(b.params[i]!.variable.dataSync())));
  const logits = a.forward(tf.zeros([2, 16, 16, 3]), false);
  t.deepEqual(logits.shape, [2, 2]);
  logits.dispose();
  const v = createModel(tf, { name: 'vgg', inputShape: [32, 32, 3], numClasses: 2, seed: 1 });
  const lv = v.forward(tf.ones([1, 32, 32, 3]), true, []);
  t.deepEqual(lv.shape, [1, 2]);
  lv.dispose();
  for (const m of [a, b, v]) m.dispose();
});
