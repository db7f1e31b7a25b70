import type { Bucket } from '../buckets.js';
import { decodeHalf, encodeHalf, type HalfType } from '../half.js';
import { allReduceSum, type CompressorContext, type GradientCompressor, type PendingReduction } from './compressor.js';

/**
 * fp16 / bf16 transport: each rank pre-divides its gradient by P (so the sum cannot overflow where the
 * average does not), casts to half with round-to-nearest-even, all-reduces the Uint16Array with
 * `{ dtype }` and widens the result back to float32. No error feedback (nearly unbiased).
 */
export class HalfCompression implements GradientCompressor {
  readonly spec: string;
  constructor(private readonly ctx: CompressorContext, private readonly type: HalfType) {
    this.spec = type === 'float16' ? 'fp16' : 'bf16';
  }

  start(_bucket: Bucket, grad: Float32Array, _step = 0): PendingReduction {
    const { comm, traffic } = this.ctx;
    const wire = encodeHalf(grad, new Uint16Array(grad.length), this.type, 1 / comm.size);
    traffic.allReduce(wire.byteLength);
    const done = allReduceSum(comm, wire, this.type);
    const type = this.type;
    return {
      async finish() {
        await done;
        decodeHalf(wire, grad, type);
      },
    };
  }

  sharedState(): Record<string, Float32Array> { return {}; }
  loadSharedState(): void {}
  resetLocalState(): void {}
}
