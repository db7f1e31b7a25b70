// The data-parallel trainer (ALGORITHMS.md sections 2 and 3, DESIGN.md section 7).
//
// Per step, on every rank:
//   1. load this rank's B samples: global batch t of the epoch's shared permutation, rank r takes
//      positions [t*P*B + r*B, t*P*B + (r+1)*B) (the next batches are prefetched);
//   2. forward + backward with TF.js (loss = mean over the local batch);
//   3. copy the gradients into the flat layout in reverse layer order; each fusion bucket is handed to the
//      strategy the moment it is complete (synchronous SGD starts its all-reduce right there);
//   4. strategy hooks, our MomentumSGD step with LR = schedule(global step), parameters written back.
// Rank 0's initial weights are broadcast first. Evaluation is sharded and all-reduced.

import { createHash } from 'node:crypto';
import type * as tfc from '@tensorflow/tfjs-core';
import type { CommStats, CommunicatorLike } from '../types.js';
import { DEFAULT_BUCKET_CAP_BYTES, FlatLayout } from './buckets.js';
import { type CheckpointHeader, loadCheckpointCollective, writeCheckpoint } from './checkpoint.js';
import { type CompressionSpec, createCompressor, formatCompression, TrafficCounter } from './compression/index.js';
import { type Batch, type Dataset, Prefetcher, shardRange } from './data/index.js';
import type { TF } from './engine.js';
import { applyBnUpdates, type BnUpdate, type Model, type ParamTap } from './models/index.js';
import { MomentumSGD } from './optimizer.js';
import { epochPermutation } from './rng.js';
import { type DecayKind, LrSchedule } from './schedule.js';
import { type StepInfo, type StrategyState, SyncSGD, type TrainingStrategy } from './strategies/index.js';

export interface TrainerOptions {
  comm: CommunicatorLike;
  tf: TF;
  model: Model;
  train: Dataset;
  test?: Dataset;
  /** Per-rank batch size (global batch = P x batchSize). */
  batchSize: number;
  epochs: number;
  /** Stop after this many global steps (still evaluates). */
  maxSteps?: number;
  /** Base LR for a global batch of 256 (linear scaling rule). */
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov?: boolean;
  warmupEpochs?: number;
  warmupSteps?: number;
  decay?: DecayKind;
  seed: number;
  /** Used when no strategy is given: synchronous SGD with this compression (default none). */
  compression?: CompressionSpec;
  strategy?: TrainingStrategy;
  bucketCapBytes?: number;
  evalBatchSize?: number;
  /** Evaluate after every epoch (default true); the final evaluation always runs. */
  evalEveryEpoch?: boolean;
  /** Rank 0 writes a checkpoint here after every epoch. */
  checkpointPath?: string;
  /** Resume from checkpointPath when it exists. */
  resume?: boolean;
  prefetch?: number;
  onStep?: (p: StepProgress) => void;
  onEpoch?: (m: EpochMetrics) => void;
}

export interface StepProgress {
  epoch: number;
  epochs: number;
  stepInEpoch: number;
  stepsPerEpoch: number;
  globalStep: number;
  /** This rank's loss of the step. */
  loss: number;
  lr: number;
  /** Global images per second so far in this epoch (this rank's view). */
  imagesPerSec: number;
}

export interface EpochMetrics {
  epoch: number;
  steps: number;
  /** Mean training loss over all ranks' samples of the epoch. */
  loss: number;
  /** Training accuracy (0..1) over all ranks' samples. */
  accuracy: number;
  test_loss?: number;
  test_accuracy?: number;
  /** Global training throughput: images of all ranks / slowest rank's epoch time. */
  images_per_sec: number;
  /** Mean over ranks of the time spent blocked on gradient communication. */
  comm_ms: number;
  /** Mean over ranks of the bytes sent (communicator counters when available, else the ring estimate). */
  bytes: number;
  bytes_source: 'communicator' | 'estimate';
  /** Slowest rank's training time of the epoch. */
  time_ms: number;
  lr_end: number;
  /** Samples replaced because their file could not be decoded (all ranks). */
  skipped_samples: number;
}

export interface EvalResult {
  loss: number;
  accuracy: number;
  count: number;
}

export interface TrainResult {
  epochs: EpochMetrics[];
  steps: number;
  test: EvalResult | undefined;
  /** Hash of every rank's final parameter bytes, gathered to all ranks. */
  ranks: Array<{ rank: number; param_checksum: string }>;
  /** Rank-local (loss per step) history for plots. */
  stepLosses: Array<{ step: number; loss: number }>;
  skippedFiles: number;
  resumedFromEpoch: number;
  /** Global step the run resumed at (0 without a resume). */
  resumedFromStep: number;
  parameters: number;
}

type StatsComm = CommunicatorLike & { stats?: () => CommStats };

export class Trainer {
  readonly comm: CommunicatorLike;
  readonly tf: TF;
  readonly model: Model;
  readonly layout: FlatLayout;
  readonly params: Float32Array;
  readonly grad: Float32Array;
  readonly optimizer: MomentumSGD;
  readonly strategy: TrainingStrategy;
  readonly traffic: TrafficCounter;
  readonly schedule: LrSchedule;
  readonly stepsPerEpoch: number;
  readonly options: TrainerOptions;
  readonly state: StrategyState;
  globalStep = 0;
  epochsDone = 0;
  readonly history: EpochMetrics[] = [];
  readonly stepLosses: Array<{ step: number; loss: number }> = [];
  #setupDone = false;
  /** Bucket index of every parameter (forward index). */
  readonly #bucketOfIndex: Int32Array;
  #resumedFrom = 0;
  #resumedFromStep = 0;

  constructor(o: TrainerOptions) {
    if (!Number.isInteger(o.batchSize) || o.batchSize < 1) throw new RangeError(`batch size must be a positive integer, got ${o.batchSize}`);
    if (!Number.isInteger(o.epochs) || o.epochs < 1) throw new RangeError(`epochs must be a positive integer, got ${o.epochs}`);
    if (o.maxSteps !== undefined && !(Number.isInteger(o.maxSteps) && o.maxSteps >= 0)) throw new RangeError(`max steps must be an integer >= 0, got ${o.maxSteps}`);
    this.options = o;
    this.comm = o.comm;
    this.tf = o.tf;
    this.model = o.model;
    const P = o.comm.size;
    this.stepsPerEpoch = Math.floor(o.train.size / (P * o.batchSize));
    if (this.stepsPerEpoch < 1) throw new RangeError(`${o.train.name} has ${o.train.size} samples, fewer than one global batch (${P} x ${o.batchSize})`);
    this.layout = new FlatLayout(o.model.params.map((p) => ({ name: p.name, shape: p.shape })), o.bucketCapBytes ?? DEFAULT_BUCKET_CAP_BYTES);
    this.#bucketOfIndex = new Int32Array(o.model.params.length);
    for (const b of this.layout.buckets) for (const slot of b.slots) this.#bucketOfIndex[slot.index] = b.index;
    this.params = new Float32Array(this.layout.totalSize);
    this.grad = new Float32Array(this.layout.totalSize);
    this.optimizer = new MomentumSGD(this.layout.totalSize, { momentum: o.momentum, weightDecay: o.weightDecay, nesterov: o.nesterov ?? false });
    this.traffic = new TrafficCounter(P);
    this.schedule = new LrSchedule({
      baseLr: o.lr,
      globalBatch: P * o.batchSize,
      stepsPerEpoch: this.stepsPerEpoch,
      epochs: o.epochs,
      ...(o.warmupSteps !== undefined ? { warmupSteps: o.warmupSteps } : { warmupEpochs: o.warmupEpochs ?? 0 }),
      decay: o.decay ?? 'cosine',
    });
    const plannedSteps = Math.min(this.schedule.totalSteps, o.maxSteps ?? Infinity);
    this.strategy = o.strategy ?? new SyncSGD(createCompressor(o.compression ?? { kind: 'none' }, o.comm, o.seed, this.traffic, { totalSteps: plannedSteps }));
    this.state = { comm: o.comm, layout: this.layout, params: this.params, grad: this.grad, optimizer: this.optimizer, traffic: this.traffic, seed: o.seed };
  }

  /** The effective --compression spelling (e.g. 'powersgd:2:23' with its start step filled in). */
  get compressionSpec(): string {
    const c = (this.strategy as { compressor?: { spec?: unknown } }).compressor;
    return typeof c?.spec === 'string' ? c.spec : formatCompression(this.options.compression ?? { kind: 'none' });
  }

  /** Reads the model's variables into the flat parameter vector. */
  #readParams(): void {
    this.layout.flatten(this.model.params.map((p) => p.variable.dataSync() as Float32Array), this.params);
  }

  /** Writes the flat parameter vector into the model's variables. */
  #writeParams(): void {
    const tf = this.tf;
    this.model.params.forEach((p, i) => {
      const t = tf.tensor(this.layout.view(this.params, i).slice(), p.shape);
      p.variable.assign(t);
      t.dispose();
    });
  }

  #readBuffers(): Float32Array {
    const parts = this.model.buffers.map((b) => b.variable.dataSync() as Float32Array);
    const out = new Float32Array(parts.reduce((n, a) => n + a.length, 0));
    let o = 0;
    for (const a of parts) { out.set(a, o); o += a.length; }
    return out;
  }

  #writeBuffers(flat: Float32Array): void {
    let o = 0;
    for (const b of this.model.buffers) {
      const n = b.shape.reduce((x, y) => x * y, 1);
      const t = this.tf.tensor(flat.slice(o, o + n), b.shape);
      b.variable.assign(t);
      t.dispose();
      o += n;
    }
  }

  /** BatchNorm running statistics: average over ranks (ALGORITHMS.md section 3.2). */
  async #averageBuffers(): Promise<void> {
    if (this.model.buffers.length === 0 || this.comm.size === 1) return;
    const flat = this.#readBuffers();
    this.traffic.allReduce(flat.byteLength);
    await this.comm.allReduce(flat, { op: 'sum' });
    const inv = 1 / this.comm.size;
    for (let i = 0; i < flat.length; i++) flat[i] = flat[i]! * inv;
    this.#writeBuffers(flat);
  }

  /** Broadcasts rank 0's weights (or the checkpoint) and prepares the strategy. Collective. */
  async setup(): Promise<void> {
    if (this.#setupDone) return;
    const o = this.options;
    let resumed = false;
    if (o.resume && o.checkpointPath) {
      const ckpt = await loadCheckpointCollective(this.comm, o.checkpointPath);
      if (ckpt) {
        this.#restore(ckpt.header, ckpt.arrays);
        resumed = true;
      }
    }
    if (!resumed) {
      this.#readParams();
      await this.comm.broadcast(this.params, { root: 0 });
      this.traffic.broadcast(this.params.byteLength);
      if (this.model.buffers.length > 0) {
        const buf = this.#readBuffers();
        await this.comm.broadcast(buf, { root: 0 });
        this.#writeBuffers(buf);
      }
    }
    this.#writeParams();
    await this.strategy.setup(this.state);
    this.#setupDone = true;
  }

  #restore(header: CheckpointHeader, arrays: Map<string, Float32Array>): void {
    const params = arrays.get('params'), momentum = arrays.get('momentum');
    if (!params || params.length !== this.params.length) throw new Error(`checkpoint has ${params?.length ?? 0} parameters, model ${this.model.name} has ${this.params.length}`);
    if (!momentum || momentum.length !== this.optimizer.buffer.length) throw new Error('checkpoint momentum buffer does not match the model');
    this.params.set(params);
    this.optimizer.buffer.set(momentum);
    const buffers = arrays.get('buffers');
    if (buffers && buffers.length > 0) this.#writeBuffers(buffers);
    const shared: Record<string, Float32Array> = {};
    for (const [k, v] of arrays) if (k.startsWith('strategy.')) shared[k.slice('strategy.'.length)] = v;
    this.strategy.loadSharedState(shared);
    this.strategy.resetLocalState();
    this.epochsDone = header.epoch;
    this.globalStep = header.step;
    this.#resumedFrom = header.epoch;
    this.#resumedFromStep = header.step;
    const hist = header.meta['history'];
    if (Array.isArray(hist)) this.history.push(...(hist as EpochMetrics[]));
  }

  async #saveCheckpoint(): Promise<void> {
    const path = this.options.checkpointPath;
    if (!path || this.comm.rank !== 0) return;
    const arrays = new Map<string, Float32Array>([
      ['params', this.params],
      ['momentum', this.optimizer.buffer],
      ['buffers', this.#readBuffers()],
    ]);
    for (const [k, v] of Object.entries(this.strategy.sharedState())) arrays.set(`strategy.${k}`, v);
    await writeCheckpoint(path, {
      epoch: this.epochsDone,
      step: this.globalStep,
      model: this.model.name,
      worldSize: this.comm.size,
      meta: { history: this.history, compression: this.compressionSpec },
    }, arrays);
  }

  #lossAndLogits(x: tfc.Tensor4D, labels: tfc.Tensor1D, training: boolean, bn: BnUpdate[] | undefined, keep: { logits?: tfc.Tensor2D }, tap?: ParamTap): tfc.Scalar {
    const tf = this.tf;
    const logits = this.model.forward(x, training, bn, tap);
    keep.logits = tf.keep(logits);
    const onehot = tf.cast(tf.oneHot(labels, this.model.numClasses), 'float32');
    return tf.neg(tf.mean(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1))) as tfc.Scalar;
  }

  #tensors(batch: Batch): { x: tfc.Tensor4D; y: tfc.Tensor1D } {
    const [h, w, c] = this.model.inputShape;
    return { x: this.tf.tensor4d(batch.x, [batch.count, h, w, c]), y: this.tf.tensor1d(batch.y, 'int32') };
  }

  #bytesSent(): number | undefined {
    const s = (this.comm as StatsComm).stats;
    return typeof s === 'function' ? s.call(this.comm).bytesSent : undefined;
  }

  /**
   * Gradient taps: an identity on every parameter read whose custom gradient copies the parameter's
   * gradient into the flat layout the moment backward produces it. When the last tensor of a bucket
   * arrives, the bucket is handed to the strategy right there, so its all-reduce runs on the
   * communicator's thread while backward continues with the earlier layers.
   */
  #makeTap(info: StepInfo, pending: Int32Array, remaining: Int32Array, started: Uint8Array): ParamTap {
    const tf = this.tf;
    const reads = new Int32Array(pending.length);
    const onGrad = (index: number, dy: tfc.Tensor) => {
      const slot = this.layout.byIndex[index]!;
      const data = dy.dataSync() as Float32Array;
      if (pending[index] === reads[index]) {
        this.grad.set(data, slot.offset);
      } else {
        // Parameter read more than once: sum the per-read gradients.
        for (let i = 0; i < slot.size; i++) this.grad[slot.offset + i] = this.grad[slot.offset + i]! + data[i]!;
      }
      if (--pending[index]! > 0) return;
      const b = this.#bucketOfIndex[index]!;
      if (--remaining[b]! === 0 && !started[b]) {
        started[b] = 1;
        this.strategy.onBucketReady(this.state, this.layout.buckets[b]!, info);
      }
    };
    return (variable, index) => {
      reads[index]!++;
      pending[index]!++;
      const op = tf.customGrad((...args: Array<tfc.Tensor | tfc.GradSaveFunc>) => ({
        value: tf.clone(args[0] as tfc.Tensor),
        gradFunc: (dy: tfc.Tensor) => {
          onGrad(index, dy);
          return dy;
        },
      }));
      return op(variable);
    };
  }

  /** One optimization step on `batch`; returns this rank's loss and number of correct predictions. */
  async step(batch: Batch, epoch: number): Promise<{ loss: number; correct: number }> {
    const tf = this.tf;
    const info: StepInfo = { step: this.globalStep, epoch, lr: this.schedule.at(this.globalStep) };
    const { x, y } = this.#tensors(batch);
    const bn: BnUpdate[] = [];
    const keep: { logits?: tfc.Tensor2D } = {};
    const nParams = this.model.params.length;
    const pending = new Int32Array(nParams); // gradient contributions still expected per parameter
    const remaining = Int32Array.from(this.layout.buckets, (b) => b.slots.length);
    const started = new Uint8Array(this.layout.buckets.length);
    const tap = this.#makeTap(info, pending, remaining, started);
    const vars = this.model.params.map((p) => p.variable);
    const { value, grads } = tf.variableGrads(() => this.#lossAndLogits(x, y, true, bn, keep, tap), vars);
    const loss = value.dataSync()[0]!;
    const correct = tf.tidy(() => tf.sum(tf.cast(tf.equal(tf.argMax(keep.logits!, 1), y), 'float32')).dataSync()[0]!);
    // Buckets whose gradients did not all come through the taps (a parameter not read in this forward
    // pass): take the engine's gradient (or zeros) and start them now, in bucket order.
    for (const bucket of this.layout.buckets) {
      if (started[bucket.index]) continue;
      for (const slot of bucket.slots) {
        const g = grads[this.model.params[slot.index]!.variable.name];
        if (g) this.grad.set(g.dataSync() as Float32Array, slot.offset);
        else this.grad.fill(0, slot.offset, slot.offset + slot.size);
      }
      started[bucket.index] = 1;
      this.strategy.onBucketReady(this.state, bucket, info);
    }
    tf.dispose([value, x, y, keep.logits!, ...Object.values(grads)]);
    applyBnUpdates(tf, bn);
    await this.strategy.afterBackward(this.state, info);
    await this.strategy.beforeOptimizerStep(this.state, info);
    this.optimizer.step(this.params, this.grad, info.lr);
    await this.strategy.afterOptimizerStep(this.state, info);
    this.#writeParams();
    this.globalStep++;
    return { loss, correct };
  }

  #done(): boolean {
    return this.options.maxSteps !== undefined && this.globalStep >= this.options.maxSteps;
  }

  /** Trains one epoch (or until maxSteps). Collective. */
  async trainEpoch(epoch: number): Promise<EpochMetrics> {
    const o = this.options, P = this.comm.size, r = this.comm.rank, B = o.batchSize;
    const perm = epochPermutation(o.train.size, o.seed, epoch);
    const firstStep = this.globalStep - epoch * this.stepsPerEpoch; // > 0 only when resuming mid-epoch
    const start = Math.max(0, firstStep);
    let steps = this.stepsPerEpoch - start;
    if (o.maxSteps !== undefined) steps = Math.max(0, Math.min(steps, o.maxSteps - this.globalStep));
    const loader = new Prefetcher(o.train, (i) => perm.subarray((start + i) * P * B + r * B, (start + i) * P * B + (r + 1) * B), steps, o.prefetch ?? 2);
    this.strategy.takeCommWaitMs();
    const bytes0 = this.#bytesSent();
    const est0 = this.traffic.bytes;
    let lossSum = 0, correct = 0, count = 0, skipped = 0;
    const t0 = performance.now();
    for (let i = 0; i < steps; i++) {
      const batch = await loader.next();
      const res = await this.step(batch, epoch);
      lossSum += res.loss * batch.count;
      correct += res.correct;
      count += batch.count;
      skipped += batch.skipped;
      if (r === 0) this.stepLosses.push({ step: this.globalStep, loss: res.loss });
      o.onStep?.({
        epoch, epochs: o.epochs, stepInEpoch: start + i + 1, stepsPerEpoch: this.stepsPerEpoch, globalStep: this.globalStep,
        loss: res.loss, lr: this.schedule.at(this.globalStep - 1), imagesPerSec: ((i + 1) * P * B) / ((performance.now() - t0) / 1000),
      });
    }
    const elapsed = performance.now() - t0;
    const commMs = this.strategy.takeCommWaitMs();
    const bytes1 = this.#bytesSent();
    const fromComm = bytes0 !== undefined && bytes1 !== undefined;
    const bytes = fromComm ? bytes1 - bytes0 : this.traffic.bytes - est0;
    const sums = new Float64Array([lossSum, correct, count, commMs, bytes, skipped, steps]);
    const maxes = new Float64Array([elapsed]);
    await Promise.all([this.comm.allReduce(sums, { op: 'sum' }), this.comm.allReduce(maxes, { op: 'max' })]);
    if (steps > 0 && this.globalStep % this.stepsPerEpoch === 0) this.epochsDone = epoch + 1;
    const m: EpochMetrics = {
      epoch: epoch + 1,
      steps,
      loss: sums[2]! > 0 ? sums[0]! / sums[2]! : NaN,
      accuracy: sums[2]! > 0 ? sums[1]! / sums[2]! : NaN,
      images_per_sec: maxes[0]! > 0 ? sums[2]! / (maxes[0]! / 1000) : 0,
      comm_ms: sums[3]! / P,
      bytes: sums[4]! / P,
      bytes_source: fromComm ? 'communicator' : 'estimate',
      time_ms: maxes[0]!,
      lr_end: this.schedule.at(Math.max(0, this.globalStep - 1)),
      skipped_samples: sums[5]!,
    };
    return m;
  }

  /** Sharded evaluation on `data`, all-reduced. Collective. */
  async evaluate(data: Dataset): Promise<EvalResult> {
    const tf = this.tf;
    await this.strategy.beforeEvaluate(this.state);
    await this.#averageBuffers();
    const [lo, hi] = shardRange(data.size, this.comm.rank, this.comm.size);
    const eb = this.options.evalBatchSize ?? Math.max(this.options.batchSize, 256);
    const n = hi - lo, batches = Math.ceil(n / eb);
    const loader = new Prefetcher(data, (i) => {
      const a = lo + i * eb, b = Math.min(hi, a + eb);
      return Uint32Array.from({ length: b - a }, (_, k) => a + k);
    }, batches, this.options.prefetch ?? 2);
    let lossSum = 0, correct = 0, count = 0;
    for (let i = 0; i < batches; i++) {
      const batch = await loader.next();
      const [perLoss, hit] = tf.tidy(() => {
        const { x, y } = this.#tensors(batch);
        const logits = this.model.forward(x, false);
        const onehot = tf.cast(tf.oneHot(y, this.model.numClasses), 'float32');
        const l = tf.neg(tf.sum(tf.mul(onehot, tf.logSoftmax(logits)), 1));
        const c = tf.cast(tf.equal(tf.argMax(logits, 1), y), 'float32');
        return [l.dataSync() as Float32Array, c.dataSync() as Float32Array];
      });
      for (let k = 0; k < batch.count; k++) {
        if (!batch.valid[k]) continue;
        lossSum += perLoss[k]!;
        correct += hit[k]!;
        count++;
      }
    }
    const sums = new Float64Array([lossSum, correct, count]);
    await this.comm.allReduce(sums, { op: 'sum' });
    return { loss: sums[2]! > 0 ? sums[0]! / sums[2]! : NaN, accuracy: sums[2]! > 0 ? sums[1]! / sums[2]! : NaN, count: sums[2]! };
  }

  /** SHA-256 of this rank's parameter bytes (flat layout order). */
  paramChecksum(): string {
    return createHash('sha256').update(new Uint8Array(this.params.buffer, this.params.byteOffset, this.params.byteLength)).digest('hex');
  }

  /** Every rank's checksum, gathered with one all-gather of fixed-size digests. Collective. */
  async gatherChecksums(): Promise<Array<{ rank: number; param_checksum: string }>> {
    const digest = createHash('sha256').update(new Uint8Array(this.params.buffer, this.params.byteOffset, this.params.byteLength)).digest();
    const send = new Uint8Array(digest);
    const recv = new Uint8Array(32 * this.comm.size);
    await this.comm.allGather(send, recv);
    return Array.from({ length: this.comm.size }, (_, rank) => ({ rank, param_checksum: Buffer.from(recv.subarray(32 * rank, 32 * rank + 32)).toString('hex') }));
  }

  /** Full training run: setup, epochs (evaluating and checkpointing after each), final evaluation. Collective. */
  async fit(): Promise<TrainResult> {
    const o = this.options;
    await this.setup();
    let lastEval: EvalResult | undefined;
    for (let epoch = this.epochsDone; epoch < o.epochs && !this.#done(); epoch++) {
      const m = await this.trainEpoch(epoch);
      const last = epoch === o.epochs - 1 || this.#done();
      if (o.test && ((o.evalEveryEpoch ?? true) || last)) {
        lastEval = await this.evaluate(o.test);
        m.test_loss = lastEval.loss;
        m.test_accuracy = lastEval.accuracy;
      }
      this.history.push(m);
      o.onEpoch?.(m);
      if (o.checkpointPath) {
        await this.#averageBuffers();
        await this.#saveCheckpoint();
      }
    }
    if (o.test && !lastEval) lastEval = await this.evaluate(o.test);
    const ranks = await this.gatherChecksums();
    const skipped = new Float64Array([o.train.skippedFiles + (o.test?.skippedFiles ?? 0)]);
    await this.comm.allReduce(skipped, { op: 'max' });
    return {
      epochs: this.history,
      steps: this.globalStep,
      test: lastEval,
      ranks,
      stepLosses: this.stepLosses,
      skippedFiles: skipped[0]!,
      resumedFromEpoch: this.#resumedFrom,
      resumedFromStep: this.#resumedFromStep,
      parameters: this.layout.totalSize,
    };
  }
}
