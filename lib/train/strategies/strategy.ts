// Training strategies: how ranks combine their work. The trainer computes this rank's gradient, lays it
// out in the flat bucket layout and calls the hooks below in this order every step:
//
//   onBucketReady(bucket)      synchronously, for each bucket in order, as soon as its gradients are in place
//   afterBackward()            awaited: e.g. finish the gradient all-reduces
//   beforeOptimizerStep()      awaited
//   optimizer.step(params, grad, lr)
//   afterOptimizerStep()       awaited: e.g. periodic model averaging (Local SGD), SlowMo outer step
//
// beforeEvaluate() runs before every evaluation and checkpoint. Synchronous SGD is the only strategy
// shipped now; Local SGD, Double-Averaging (plain and pipelined), SlowMo, DASO and AB-training fit the
// same hooks because the strategy can read and overwrite params, grad and the optimizer's momentum.

import type { CommunicatorLike } from '../../types.js';
import type { Bucket, FlatLayout } from '../buckets.js';
import type { TrafficCounter } from '../compression/index.js';
import type { MomentumSGD } from '../optimizer.js';

export interface StrategyState {
  readonly comm: CommunicatorLike;
  readonly layout: FlatLayout;
  /** Flat parameters (the optimizer's master copy; written to the model after each step). */
  readonly params: Float32Array;
  /** Flat gradient of this step (this rank's until a strategy replaces it with an aggregate). */
  readonly grad: Float32Array;
  readonly optimizer: MomentumSGD;
  readonly traffic: TrafficCounter;
  readonly seed: number;
}

export interface StepInfo {
  /** Global step (0-based, counts across epochs). */
  step: number;
  epoch: number;
  lr: number;
}

export interface TrainingStrategy {
  readonly name: string;
  /** Once, after rank 0's initial weights have been broadcast. */
  setup(state: StrategyState): Promise<void>;
  onBucketReady(state: StrategyState, bucket: Bucket, info: StepInfo): void;
  afterBackward(state: StrategyState, info: StepInfo): Promise<void>;
  beforeOptimizerStep(state: StrategyState, info: StepInfo): Promise<void>;
  afterOptimizerStep(state: StrategyState, info: StepInfo): Promise<void>;
  beforeEvaluate(state: StrategyState): Promise<void>;
  /** State identical on all ranks that checkpoints keep. */
  sharedState(): Record<string, Float32Array>;
  loadSharedState(state: Record<string, Float32Array>): void;
  /** After a resume: forget rank-local state that was not checkpointed. */
  resetLocalState(): void;
  /** Milliseconds this rank spent blocked on the strategy's collectives since the last call (then reset). */
  takeCommWaitMs(): number;
}

/** No-op hooks; strategies override what they need. */
export abstract class StrategyBase implements TrainingStrategy {
  abstract readonly name: string;
  protected commWaitMs = 0;
  async setup(_state: StrategyState): Promise<void> {}
  onBucketReady(_state: StrategyState, _bucket: Bucket, _info: StepInfo): void {}
  async afterBackward(_state: StrategyState, _info: StepInfo): Promise<void> {}
  async beforeOptimizerStep(_state: StrategyState, _info: StepInfo): Promise<void> {}
  async afterOptimizerStep(_state: StrategyState, _info: StepInfo): Promise<void> {}
  async beforeEvaluate(_state: StrategyState): Promise<void> {}
  sharedState(): Record<string, Float32Array> { return {}; }
  loadSharedState(_state: Record<string, Float32Array>): void {}
  resetLocalState(): void {}
  takeCommWaitMs(): number { const ms = this.commWaitMs; this.commWaitMs = 0; return ms; }

  /** Awaits `p`, adding the time spent to the communication-wait counter. */
  protected async timed<T>(p: Promise<T>): Promise<T> {
    const t0 = performance.now();
    try { return await p; } finally { this.commWaitMs += performance.now() - t0; }
  }
}
