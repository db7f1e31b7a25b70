// `ringtree train`: yargs command module (registered by lib/cli/ringtree.ts). Run it under ringrun:
//   ringrun -np 2 ringtree train --dataset fashion-mnist --model cnn --epochs 2 --batch-size 256 --warmup-epochs 1 --report out.json

import type { Argv, CommandModule } from 'yargs';
import { parseCompression } from './compression/index.js';
import { DatasetNotFoundError } from './data/index.js';
import { ENGINE_NAMES, type EngineName } from './engine.js';
import { MODEL_NAMES, type ModelName } from './models/index.js';
import { DATASETS, type DatasetName, runTraining } from './run.js';
import type { DecayKind } from './schedule.js';

export interface TrainArgs {
  dataset: DatasetName;
  'data-dir'?: string | undefined;
  model: ModelName;
  epochs: number;
  'batch-size': number;
  lr: number;
  momentum: number;
  'weight-decay': number;
  'warmup-epochs': number;
  'warmup-steps'?: number | undefined;
  'lr-schedule': DecayKind;
  compression: string;
  engine: EngineName;
  seed: number;
  'max-steps'?: number | undefined;
  report?: string | undefined;
  plot?: string[] | undefined;
  checkpoint?: string | undefined;
  resume: boolean;
  'image-size': number;
  'eval-batch-size'?: number | undefined;
}

const positiveInt = (name: string) => (v: unknown) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer, got '${String(v)}'`);
  return n;
};
const nonNegative = (name: string) => (v: unknown) => {
  const n = Number(v);
  if (!(n >= 0) || !Number.isFinite(n)) throw new Error(`--${name} must be a number >= 0, got '${String(v)}'`);
  return n;
};

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: 'train',
  describe: 'data-parallel synchronous SGD on TensorFlow.js (run it under ringrun)',
  builder: (y: Argv<object>) =>
    y
      .usage('Usage: ringrun -np N ringtree train [options]')
      .option('dataset', { choices: DATASETS, default: 'fashion-mnist' as DatasetName, describe: 'training data' })
      .option('data-dir', { type: 'string', describe: 'dataset directory (default: /usr/share/datasets/fashion-mnist; dogs-vs-cats: required)' })
      .option('model', { choices: MODEL_NAMES, default: 'cnn' as ModelName, describe: 'cnn: small CNN for 28x28; vgg / resnet: for 64x64 RGB; mlp: tiny' })
      .option('epochs', { type: 'number', default: 2, coerce: positiveInt('epochs') })
      .option('batch-size', { type: 'number', default: 64, coerce: positiveInt('batch-size'), describe: 'per rank; the global batch is world size x this' })
      .option('lr', { type: 'number', default: 0.1, coerce: nonNegative('lr'), describe: 'base LR for a global batch of 256; the peak LR is lr x global batch / 256' })
      .option('momentum', { type: 'number', default: 0.9, coerce: nonNegative('momentum') })
      .option('weight-decay', { type: 'number', default: 1e-4, coerce: nonNegative('weight-decay') })
      .option('warmup-epochs', { type: 'number', default: 1, coerce: nonNegative('warmup-epochs'), describe: 'gradual linear warmup from lr to the peak LR' })
      .option('warmup-steps', { type: 'number', coerce: nonNegative('warmup-steps'), describe: 'warmup length in steps (overrides --warmup-epochs)' })
      .option('lr-schedule', { choices: ['cosine', 'step', 'constant'] as const, default: 'cosine' as DecayKind, describe: 'decay after the warmup' })
      .option('compression', {
        type: 'string', default: 'none', describe: 'gradient compression: none | fp16 | bf16 | topk:RATIO | powersgd:RANK[:START] (START: uncompressed steps first)',
        coerce: (v: string) => { parseCompression(v); return v; },
      })
      .option('engine', { choices: ENGINE_NAMES, default: 'auto' as EngineName, describe: 'TF.js engine (the chosen one is printed)' })
      .option('seed', { type: 'number', default: 42, describe: 'model init, data order and compression seeds' })
      .option('max-steps', { type: 'number', coerce: nonNegative('max-steps'), describe: 'stop after N steps; still evaluates and writes the full report' })
      .option('report', { type: 'string', describe: 'write a JSON report (rank 0)' })
      .option('plot', { type: 'string', array: true, describe: 'write loss/accuracy curves as SVG: one file (both charts) or two (loss, accuracy)' })
      .option('checkpoint', { type: 'string', describe: 'rank 0 writes a checkpoint here after every epoch' })
      .option('resume', { type: 'boolean', default: false, describe: 'resume from --checkpoint if it exists' })
      .option('image-size', { type: 'number', default: 64, coerce: positiveInt('image-size'), describe: 'dogs-vs-cats: images are resized to SIZE x SIZE' })
      .option('eval-batch-size', { type: 'number', coerce: positiveInt('eval-batch-size') })
      .check((a) => {
        if (a.resume && !a.checkpoint) throw new Error('--resume needs --checkpoint FILE');
        if (a['max-steps'] !== undefined && !Number.isInteger(a['max-steps'])) throw new Error('--max-steps must be an integer');
        return true;
      }) as unknown as Argv<TrainArgs>,
  handler: async (a) => {
    try {
      await runTraining({
        dataset: a.dataset,
        dataDir: a['data-dir'],
        model: a.model,
        epochs: a.epochs,
        batchSize: a['batch-size'],
        lr: a.lr,
        momentum: a.momentum,
        weightDecay: a['weight-decay'],
        warmupEpochs: a['warmup-epochs'],
        warmupSteps: a['warmup-steps'],
        lrSchedule: a['lr-schedule'],
        compression: a.compression,
        engine: a.engine,
        seed: a.seed,
        maxSteps: a['max-steps'],
        report: a.report,
        plot: a.plot,
        checkpoint: a.checkpoint,
        resume: a.resume,
        imageSize: a['image-size'],
        evalBatchSize: a['eval-batch-size'],
      });
    } catch (error) {
      const known = error instanceof DatasetNotFoundError || (error instanceof Error && /^(--|cannot resume|unknown )/.test(error.message));
      process.stderr.write(`ringtree train: ${known ? (error as Error).message : ((error as Error)?.stack ?? String(error))}\n`);
      process.exitCode = 1;
    }
  },
};

export default trainCommand;
