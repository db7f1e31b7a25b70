// Writing a training strategy: the hooks run around backward and the optimizer step, with access to the
// flat parameters, the gradient and the optimizer's momentum buffer. This one is synchronous SGD plus
// global gradient-norm clipping, applied after the all-reduce so every rank clips identically.
//
//   node dist/lib/cli/ringrun.js -np 2 node dist/examples/train-custom-strategy.js
import { init } from '../lib/index.js';
import { createCompressor } from '../lib/train/compression/index.js';
import { loadFashionMnist } from '../lib/train/data/index.js';
import { loadTrainEngine } from '../lib/train/engine.js';
import { createModel } from '../lib/train/models/index.js';
import { type StepInfo, type StrategyState, SyncSGD } from '../lib/train/strategies/index.js';
import { Trainer } from '../lib/train/trainer.js';

class ClippedSyncSGD extends SyncSGD {
  override readonly name: string = 'sync-sgd+clip';
  clipped = 0;

  constructor(compressor: ConstructorParameters<typeof SyncSGD>[0], readonly maxNorm: number) {
    super(compressor);
  }

  override async beforeOptimizerStep(state: StrategyState, _info: StepInfo): Promise<void> {
    let sq = 0;
    for (const g of state.grad) sq += g * g;
    const norm = Math.sqrt(sq);
    if (norm > this.maxNorm) {
      const s = this.maxNorm / norm;
      for (let i = 0; i < state.grad.length; i++) state.grad[i] = state.grad[i]! * s;
      this.clipped++;
    }
  }
}

const comm = await init();
try {
  const { tf } = await loadTrainEngine('auto', { quiet: comm.rank !== 0 });
  const { train, test } = await loadFashionMnist();
  const model = createModel(tf, { name: 'mlp', inputShape: train.inputShape, numClasses: train.numClasses, seed: 3 });
  const strategy = new ClippedSyncSGD(createCompressor({ kind: 'none' }, comm, 3), 1.0);
  const trainer = new Trainer({ comm, tf, model, train, test, batchSize: 64, epochs: 1, maxSteps: 300, lr: 0.4, momentum: 0.9, weightDecay: 1e-4, warmupEpochs: 0.1, seed: 3, strategy });
  const result = await trainer.fit();
  if (comm.rank === 0) console.log(`test accuracy ${(100 * result.test!.accuracy).toFixed(2)}% after ${result.steps} steps; clipped ${strategy.clipped} steps`);
  model.dispose();
} finally {
  await comm.destroy();
}
