// Data-parallel training of the small CNN on Fashion-MNIST with the trainer API (what `ringtree train`
// does, in a script you can change). Run it under the launcher:
//
//   npx tsc -p tsconfig.json
//   node dist/lib/cli/ringrun.js -np 2 node dist/examples/train-fashion-mnist.js
//
// Needs Debian's dataset-fashion-mnist package (or RINGTREE_FASHION_MNIST_DIR pointing at the IDX files).
import { init } from '../lib/index.js';
import { loadFashionMnist } from '../lib/train/data/index.js';
import { loadTrainEngine } from '../lib/train/engine.js';
import { createModel } from '../lib/train/models/index.js';
import { Trainer } from '../lib/train/trainer.js';

const comm = await init();
try {
  const { tf, name } = await loadTrainEngine('auto', { quiet: comm.rank !== 0 });
  const { train, test } = await loadFashionMnist();
  const model = createModel(tf, { name: 'cnn', inputShape: train.inputShape, numClasses: train.numClasses, seed: 1 });
  const trainer = new Trainer({
    comm, tf, model, train, test,
    batchSize: 128,                 // per rank; the global batch is comm.size x 128
    epochs: 1,
    lr: 0.1,                        // for a global batch of 256; scaled linearly with the global batch
    momentum: 0.9,
    weightDecay: 1e-4,
    warmupEpochs: 0.5,              // gradual warmup over the first half epoch
    seed: 1,
    compression: { kind: 'fp16' },  // or { kind: 'none' }, { kind: 'topk', ratio: 0.01 }, { kind: 'powersgd', rank: 2 }
    onEpoch: (m) => {
      if (comm.rank === 0) console.log(`epoch ${m.epoch}: loss ${m.loss.toFixed(4)}, test accuracy ${(100 * (m.test_accuracy ?? NaN)).toFixed(2)}%, ${Math.round(m.images_per_sec)} img/s`);
    },
  });
  const result = await trainer.fit();
  if (comm.rank === 0) {
    console.log(`engine ${name}, ${comm.size} rank(s): test accuracy ${(100 * result.test!.accuracy).toFixed(2)}%`);
    console.log('parameter checksums:', result.ranks.map((r) => `${r.rank}:${r.param_checksum.slice(0, 12)}`).join(' '));
  }
  model.dispose();
} finally {
  await comm.destroy();
}
