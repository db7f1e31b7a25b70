import type { CommunicatorLike } from '../../types.js';
import { type CompressorContext, type GradientCompressor, TrafficCounter } from './compressor.js';
import { HalfCompression } from './half.js';
import { NoCompression } from './none.js';
import { PowerSgdCompression } from './powersgd.js';
import { TopKCompression } from './topk.js';

export { TrafficCounter, type GradientCompressor, type PendingReduction, type CompressorContext } from './compressor.js';
export { NoCompression } from './none.js';
export { HalfCompression } from './half.js';
export { TopKCompression, selectTopK } from './topk.js';
export { PowerSgdCompression, orthogonalizeColumns, type PowerSgdOptions } from './powersgd.js';

export type CompressionSpec =
  | { kind: 'none' }
  | { kind: 'fp16' }
  | { kind: 'bf16' }
  | { kind: 'topk'; ratio: number }
  | { kind: 'powersgd'; rank: number; startStep?: number };

/**
 * Parses `none | fp16 | bf16 | topk[:RATIO] | powersgd[:RANK[:START]]` (defaults: top-k ratio 0.01,
 * PowerSGD rank 2; before step START PowerSGD all-reduces uncompressed, and without START the
 * compressor's `totalSteps` default applies: 10% of the run, torch's start_powerSGD_iter advice).
 */
export function parseCompression(text: string): CompressionSpec {
  const s = text.trim().toLowerCase();
  if (s === 'none' || s === '' || s === 'fp32') return { kind: 'none' };
  if (s === 'fp16' || s === 'float16') return { kind: 'fp16' };
  if (s === 'bf16' || s === 'bfloat16') return { kind: 'bf16' };
  const [name, arg, arg2] = s.split(':') as [string, string | undefined, string | undefined];
  if (name === 'topk') {
    if (arg2 !== undefined) throw new RangeError(`--compression topk takes one argument, got '${text}'`);
    const ratio = arg === undefined ? 0.01 : Number(arg);
    if (!(ratio > 0 && ratio <= 1)) throw new RangeError(`--compression topk:RATIO needs 0 < RATIO <= 1, got '${arg}'`);
    return { kind: 'topk', ratio };
  }
  if (name === 'powersgd') {
    const rank = arg === undefined ? 2 : Number(arg);
    if (!Number.isInteger(rank) || rank < 1) throw new RangeError(`--compression powersgd:RANK needs an integer RANK >= 1, got '${arg}'`);
    if (arg2 === undefined) return { kind: 'powersgd', rank };
    const startStep = Number(arg2);
    if (!Number.isInteger(startStep) || startStep < 0) throw new RangeError(`--compression powersgd:RANK:START needs an integer START >= 0, got '${arg2}'`);
    return { kind: 'powersgd', rank, startStep };
  }
  throw new RangeError(`unknown --compression '${text}' (expected none, fp16, bf16, topk:RATIO or powersgd:RANK)`);
}

export function formatCompression(spec: CompressionSpec): string {
  switch (spec.kind) {
    case 'topk': return `topk:${spec.ratio}`;
    case 'powersgd': return spec.startStep !== undefined ? `powersgd:${spec.rank}:${spec.startStep}` : `powersgd:${spec.rank}`;
    default: return spec.kind;
  }
}

export interface CompressorDefaults {
  /** Planned training steps: PowerSGD without an explicit START compresses from 10% of them on. */
  totalSteps?: number;
}

/** PowerSGD's uncompressed start phase when none is given: 10% of the planned steps. */
export function defaultPowerSgdStart(totalSteps: number | undefined): number {
  return totalSteps === undefined ? 0 : Math.round(0.1 * totalSteps);
}

export function createCompressor(spec: CompressionSpec, comm: CommunicatorLike, seed: number, traffic = new TrafficCounter(comm.size), defaults: CompressorDefaults = {}): GradientCompressor {
  const ctx: CompressorContext = { comm, traffic, seed };
  switch (spec.kind) {
    case 'none': return new NoCompression(ctx);
    case 'fp16': return new HalfCompression(ctx, 'float16');
    case 'bf16': return new HalfCompression(ctx, 'bfloat16');
    case 'topk': return new TopKCompression(ctx, spec.ratio);
    case 'powersgd': return new PowerSgdCompression(ctx, { rank: spec.rank, startStep: spec.startStep ?? defaultPowerSgdStart(defaults.totalSteps) });
  }
}
