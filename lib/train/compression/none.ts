import type { Bucket } from '../buckets.js';
import { allReduceSum, type CompressorContext, type GradientCompressor, type PendingReduction } from './compressor.js';

/** Plain float32 all-reduce (sum), then division by the world size. */
export class NoCompression implements GradientCompressor {
  readonly spec = 'none';
  constructor(private readonly ctx: CompressorContext) {}

  start(_bucket: Bucket, grad: Float32Array, _step = 0): PendingReduction {
    const { comm, traffic } = this.ctx;
    const size = comm.size;
    traffic.allReduce(grad.byteLength);
    const done = allReduceSum(comm, grad);
    return {
      async finish() {
        await done;
        if (size > 1) {
          const inv = 1 / size;
          for (let i = 0; i < grad.length; i++) grad[i] = grad[i]! * inv;
        }
      },
    };
  }

  sharedState(): Record<string, Float32Array> { return {}; }
  loadSharedState(): void {}
  resetLocalState(): void {}
}
