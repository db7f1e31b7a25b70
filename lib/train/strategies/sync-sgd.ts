import type { Bucket } from '../buckets.js';
import type { GradientCompressor, PendingReduction } from '../compression/index.js';
import { StrategyBase, type StepInfo, type StrategyState } from './strategy.js';

/**
 * Synchronous data-parallel SGD (ALGORITHMS.md sections 2 and 3): every step the gradient is averaged over
 * all ranks before the optimizer step, so replicas stay identical. Each bucket's (possibly compressed)
 * reduction is started the moment the bucket is ready, without waiting for the previous one; the
 * reductions are completed in bucket order in afterBackward, the only barrier of the step.
 */
export class SyncSGD extends StrategyBase {
  readonly name: string = 'sync-sgd';
  readonly #pending: PendingReduction[] = [];

  constructor(readonly compressor: GradientCompressor) {
    super();
  }

  override onBucketReady(state: StrategyState, bucket: Bucket, info: StepInfo): void {
    this.#pending.push(this.compressor.start(bucket, state.layout.bucketView(state.grad, bucket), info.step));
  }

  override async afterBackward(): Promise<void> {
    const t0 = performance.now();
    try {
      // Strictly in order: a compressor's second phase is issued in the same order on every rank.
      for (const p of this.#pending) await p.finish();
    } finally {
      this.#pending.length = 0;
      this.commWaitMs += performance.now() - t0;
    }
  }

  override sharedState(): Record<string, Float32Array> { return this.compressor.sharedState(); }
  override loadSharedState(state: Record<string, Float32Array>): void { this.compressor.loadSharedState(state); }
  override resetLocalState(): void { this.compressor.resetLocalState(); }
}
