// Numeric codes of the native enums (native/core/types.h): keep in sync.
import type { Algorithm, DType, ReduceOp } from '../types.js';

export const OpCode = {
  allReduce: 0,
  broadcast: 1,
  reduce: 2,
  allGather: 3,
  reduceScatter: 4,
  barrier: 5,
  send: 6,
  recv: 7,
} as const;
export type OpName = keyof typeof OpCode;

export const DTypeCode: Record<DType, number> = {
  float32: 0,
  float64: 1,
  int32: 2,
  uint32: 3,
  int64: 4,
  uint8: 5,
  int8: 6,
  float16: 7,
  bfloat16: 8,
};

export const ReduceOpCode: Record<ReduceOp, number> = { sum: 0, avg: 1, prod: 2, min: 3, max: 4 };

export const AlgorithmCode: Record<Algorithm, number> = { auto: 0, ring: 1, tree: 2, rhd: 3 };

export const dtypeBytes: Record<DType, number> = {
  float32: 4,
  float64: 8,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint8: 1,
  int8: 1,
  float16: 2,
  bfloat16: 2,
};

/** The addon surface used by the TS layer (native/binding/*.cc). */
export interface NativeCommunicatorHandle {
  port(): number;
  connect(peers: Array<{ host: string; port: number; hostId: string }>, timeoutMs: number): Promise<unknown>;
  submit(
    op: number, dtype: number, redop: number, algo: number, root: number, peer: number, tag: number, count: number,
    input: ArrayBufferView | null, output: ArrayBufferView | null, timeoutMs: number,
  ): Promise<void> | true | Error;
  abort(code: string, message: string): void;
  dropConnections(): void;
  close(): void;
  stats(): { ops: number; bytesSent: number; bytesReceived: number; busyMs: number; transports: string };
  flight(): {
    busy: boolean; seq: number; op: string; runningMs: number; lastCompletedSeq: number; lastCompletedOp: string;
    queued: number; failed: boolean;
  };
  pending(): number;
  farewell(clean: boolean, why: string): void;
}

export interface Addon {
  NativeCommunicator: new (options: {
    rank: number; size: number; bindHost: string; secret?: string; jobId: string; injectDelayMs?: number;
  }) => NativeCommunicatorHandle;
  isDetached(view: ArrayBufferView): boolean;
  dtypeSizes: Record<string, number>;
}
