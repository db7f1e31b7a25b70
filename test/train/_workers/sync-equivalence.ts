// Rank program for the multi-process equivalence test: trains the MLP on the synthetic set for STEPS
// steps with a per-rank batch of GLOBAL_BATCH / P through the real communicator, then writes rank 0's
// parameters (raw float32) to OUT and prints this rank's checksum as JSON.
import { writeFileSync } from 'node:fs';
import { init } from '../../../lib/index.js';
import { createCompressor, parseCompression } from '../../../lib/train/compression/index.js';
import { loadTrainEngine } from '../../../lib/train/engine.js';
import { createModel } from '../../../lib/train/models/index.js';
import { SyncSGD } from '../../../lib/train/strategies/index.js';
import { Trainer } from '../../../lib/train/trainer.js';
import { syntheticDataset } from '../_helpers.js';

const steps = Number(process.env['STEPS'] ?? 10);
const globalBatch = Number(process.env['GLOBAL_BATCH'] ?? 32);
const out = process.env['OUT'];
const comm = await init();
try {
  const { tf } = await loadTrainEngine('cpu', { quiet: true, warn: () => {} });
  const train = syntheticDataset(256, 8, 4, 1);
  const model = createModel(tf, { name: 'mlp', inputShape: [8, 8, 1], numClasses: 4, seed: 100 + comm.rank });
  const spec = parseCompression(process.env['COMPRESSION'] ?? 'none');
  const trainer = new Trainer({
    comm, tf, model, train, batchSize: globalBatch / comm.size, epochs: 4, maxSteps: steps,
    lr: 0.5, momentum: 0.9, weightDecay: 1e-4, warmupSteps: 3, seed: 3, bucketCapBytes: 8192,
    strategy: new SyncSGD(createCompressor(spec, comm, 3)),
  });
  await trainer.setup();
  for (let e = 0; trainer.globalStep < steps; e++) await trainer.trainEpoch(e);
  const ranks = await trainer.gatherChecksums();
  if (comm.rank === 0 && out) writeFileSync(out, new Uint8Array(trainer.params.buffer, trainer.params.byteOffset, trainer.params.byteLength));
  process.stdout.write(`${JSON.stringify({ rank: comm.rank, size: comm.size, checksum: trainer.paramChecksum(), ranks })}\n`);
} finally {
  await comm.destroy();
}
