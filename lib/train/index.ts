// The training layer's API (DESIGN.md section 7): `ringtree train` is command.ts on top of run.ts;
// scripts can use the pieces directly (see examples/train-*.ts).
export { DEFAULT_BUCKET_CAP_BYTES, FlatLayout, type Bucket, type TensorInfo, type TensorSlot } from './buckets.js';
export { decodeCheckpoint, encodeCheckpoint, loadCheckpointCollective, writeCheckpoint, type Checkpoint, type CheckpointHeader } from './checkpoint.js';
export * from './compression/index.js';
export * from './data/index.js';
export { ENGINE_NAMES, loadTrainEngine, type EngineName, type TF, type TrainEngine } from './engine.js';
export { bfloat16BitsToFloat32, decodeHalf, encodeHalf, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits, type HalfType } from './half.js';
export { createModel, MODEL_NAMES, parameterCount, type Model, type ModelName, type ModelOptions, type ParamTap } from './models/index.js';
export { MomentumSGD, type MomentumSgdOptions } from './optimizer.js';
export { renderPlots } from './plot.js';
export { ProgressReporter } from './progress.js';
export { deriveSeed, epochPermutation, Rng } from './rng.js';
export { DATASETS, runTraining, type DatasetName, type TrainReport, type TrainRunOptions } from './run.js';
export { LrSchedule, type DecayKind, type LrScheduleOptions } from './schedule.js';
export * from './strategies/index.js';
export { Trainer, type EpochMetrics, type EvalResult, type StepProgress, type TrainerOptions, type TrainResult } from './trainer.js';
export { trainCommand } from './command.js';
