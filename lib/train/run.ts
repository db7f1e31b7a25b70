// `ringtree train` without the CLI: builds the engine, data, model and trainer from plain options, runs
// the training and returns the report (rank 0 also writes the report, plots and checkpoints).

import { mkdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import type { CommunicatorLike } from '../types.js';
import { type CompressionSpec, parseCompression } from './compression/index.js';
import { type DatasetSplits, loadDogsVsCats, loadFashionMnist } from './data/index.js';
import { type EngineName, loadTrainEngine, type TrainEngine } from './engine.js';
import { createModel, type ModelName, parameterCount } from './models/index.js';
import { renderPlots } from './plot.js';
import { ProgressReporter } from './progress.js';
import type { DecayKind } from './schedule.js';
import { type EpochMetrics, Trainer, type TrainResult } from './trainer.js';

export const DATASETS = ['fashion-mnist', 'dogs-vs-cats'] as const;
export type DatasetName = (typeof DATASETS)[number];

export interface TrainRunOptions {
  dataset: DatasetName;
  dataDir?: string | undefined;
  model: ModelName;
  epochs: number;
  /** Per rank. */
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  warmupEpochs: number;
  warmupSteps?: number | undefined;
  lrSchedule: DecayKind;
  compression: string | CompressionSpec;
  engine: EngineName;
  seed: number;
  maxSteps?: number | undefined;
  report?: string | undefined;
  plot?: string[] | undefined;
  checkpoint?: string | undefined;
  resume?: boolean | undefined;
  imageSize?: number | undefined;
  evalBatchSize?: number | undefined;
  /** Progress output on rank 0 (default true). */
  progress?: boolean | undefined;
}

export interface TrainReport {
  config: Record<string, unknown>;
  engine: string;
  backend: string;
  world_size: number;
  epochs: EpochMetrics[];
  steps: number;
  test_accuracy: number;
  test_loss: number;
  images_per_sec: number;
  skipped_files: number;
  ranks: Array<{ rank: number; param_checksum: string }>;
  wall_time_s: number;
  host: string;
  finished_at: string;
}

export interface TrainRunContext {
  /** Communicator to use (default: `init()` from the environment, destroyed at the end). */
  comm?: CommunicatorLike;
  engine?: TrainEngine;
  /** Lines for the user (rank 0 only). Default: stderr. */
  log?: (line: string) => void;
}

async function openCommunicator(): Promise<{ comm: CommunicatorLike; close: () => Promise<void> }> {
  const mod = (await import('../index.js')) as { init: () => Promise<CommunicatorLike & { destroy(): Promise<void> }> };
  const comm = await mod.init();
  return { comm, close: () => comm.destroy() };
}

async function loadData(o: TrainRunOptions): Promise<DatasetSplits> {
  if (o.dataset === 'fashion-mnist') return loadFashionMnist(o.dataDir);
  if (!o.dataDir && !process.env['RINGTREE_DOGS_VS_CATS_DIR']) throw new Error('--dataset dogs-vs-cats needs --data-dir DIR (Kaggle train/ or PetImages/ layout)');
  return loadDogsVsCats({ dataDir: o.dataDir ?? process.env['RINGTREE_DOGS_VS_CATS_DIR']!, imageSize: o.imageSize ?? 64 });
}

async function writeOut(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

export async function runTraining(o: TrainRunOptions, ctx: TrainRunContext = {}): Promise<{ report: TrainReport; result: TrainResult }> {
  const t0 = performance.now();
  const compression = typeof o.compression === 'string' ? parseCompression(o.compression) : o.compression;
  const opened = ctx.comm ? undefined : await openCommunicator();
  const comm = ctx.comm ?? opened!.comm;
  try {
    const rank0 = comm.rank === 0;
    const log = (line: string) => { if (rank0) (ctx.log ?? ((l: string) => process.stderr.write(`${l}\n`)))(line); };
    const engine = ctx.engine ?? (await loadTrainEngine(o.engine, { quiet: !rank0 }));
    const { tf } = engine;
    const data = await loadData(o);
    const model = createModel(tf, {
      name: o.model,
      inputShape: data.train.inputShape,
      numClasses: data.train.numClasses,
      seed: o.seed,
      fastConvGrad: engine.backend === 'cpu',
    });
    const trainer = new Trainer({
      comm, tf, model, train: data.train, test: data.test,
      batchSize: o.batchSize, epochs: o.epochs, maxSteps: o.maxSteps,
      lr: o.lr, momentum: o.momentum, weightDecay: o.weightDecay,
      ...(o.warmupSteps !== undefined ? { warmupSteps: o.warmupSteps } : { warmupEpochs: o.warmupEpochs }),
      decay: o.lrSchedule, seed: o.seed, compression,
      ...(o.evalBatchSize !== undefined ? { evalBatchSize: o.evalBatchSize } : {}),
      ...(o.checkpoint !== undefined ? { checkpointPath: o.checkpoint, resume: o.resume ?? false } : {}),
    });
    const progress = rank0 && (o.progress ?? true) ? new ProgressReporter() : undefined;
    if (progress) {
      trainer.options.onStep = (p) => progress.step(p);
      trainer.options.onEpoch = (m) => progress.epoch(m, o.epochs);
    }
    log(
      `ringtree train: engine ${engine.name} (backend ${engine.backend}), world size ${comm.size}, ${o.dataset} ` +
        `(${data.train.size} train / ${data.test.size} test), model ${o.model} (${parameterCount(model)} parameters, ` +
        `${trainer.layout.buckets.length} bucket${trainer.layout.buckets.length === 1 ? '' : 's'}), batch ${o.batchSize} x ${comm.size} = ${o.batchSize * comm.size}, ` +
        `lr ${o.lr} -> ${trainer.schedule.peakLr.toPrecision(4)} (warmup ${trainer.schedule.warmupSteps} steps, ${o.lrSchedule}), compression ${trainer.compressionSpec}`,
    );
    const result = await trainer.fit();
    if (result.resumedFromStep > 0) log(`resumed from ${o.checkpoint} at step ${result.resumedFromStep} (${result.resumedFromEpoch} full epoch${result.resumedFromEpoch === 1 ? '' : 's'} done)`);
    const measured = result.epochs.filter((e) => e.steps > 0);
    const report: TrainReport = {
      config: {
        dataset: o.dataset,
        data_dir: o.dataDir ?? null,
        model: o.model,
        parameters: result.parameters,
        epochs: o.epochs,
        batch_size: o.batchSize,
        global_batch: o.batchSize * comm.size,
        steps_per_epoch: trainer.stepsPerEpoch,
        lr: o.lr,
        peak_lr: trainer.schedule.peakLr,
        momentum: o.momentum,
        weight_decay: o.weightDecay,
        warmup_epochs: o.warmupSteps !== undefined ? null : o.warmupEpochs,
        warmup_steps: trainer.schedule.warmupSteps,
        lr_schedule: o.lrSchedule,
        compression: trainer.compressionSpec,
        seed: o.seed,
        max_steps: o.maxSteps ?? null,
        image_size: o.dataset === 'dogs-vs-cats' ? (o.imageSize ?? 64) : 28,
        buckets: trainer.layout.buckets.length,
        strategy: trainer.strategy.name,
      },
      engine: engine.name,
      backend: engine.backend,
      world_size: comm.size,
      epochs: result.epochs,
      steps: result.steps,
      test_accuracy: result.test?.accuracy ?? NaN,
      test_loss: result.test?.loss ?? NaN,
      images_per_sec: measured.length > 0 ? measured.reduce((a, e) => a + e.images_per_sec * e.steps, 0) / measured.reduce((a, e) => a + e.steps, 0) : 0,
      skipped_files: result.skippedFiles,
      ranks: result.ranks,
      wall_time_s: (performance.now() - t0) / 1000,
      host: hostname(),
      finished_at: new Date().toISOString(),
    };
    const same = new Set(result.ranks.map((r) => r.param_checksum)).size === 1;
    log(`test accuracy ${(100 * report.test_accuracy).toFixed(2)}% (loss ${report.test_loss.toFixed(4)}), ${result.steps} steps, ${Math.round(report.images_per_sec)} img/s, parameters ${same ? 'identical on all ranks' : 'DIFFER between ranks'} (${result.ranks[0]!.param_checksum.slice(0, 16)}...)`);
    if (result.skippedFiles > 0) log(`skipped ${result.skippedFiles} unreadable image file(s)`);
    if (rank0) {
      if (o.report) {
        await writeOut(o.report, JSON.stringify(report, null, 2) + '\n');
        log(`report written to ${o.report}`);
      }
      const plots = (o.plot ?? []).flatMap((p) => p.split(',')).map((p) => p.trim()).filter(Boolean);
      if (plots.length > 0) {
        const svgs = renderPlots({ title: `${o.dataset} ${o.model}, P=${comm.size}, ${trainer.compressionSpec}`, stepsPerEpoch: trainer.stepsPerEpoch, stepLosses: result.stepLosses, epochs: result.epochs }, plots.length);
        for (let i = 0; i < plots.length; i++) await writeOut(plots[i]!, svgs[Math.min(i, svgs.length - 1)]!);
        log(`plot${plots.length > 1 ? 's' : ''} written to ${plots.join(', ')}`);
      }
    }
    model.dispose();
    return { report, result };
  } finally {
    if (opened) await opened.close();
  }
}
