// Public types of the ringtree API (DESIGN.md section 2).

export type ReduceOp = 'sum' | 'avg' | 'prod' | 'min' | 'max';
export type Algorithm = 'auto' | 'ring' | 'tree' | 'rhd';
export type DType = 'float32' | 'float64' | 'int32' | 'uint32' | 'int64' | 'uint8' | 'int8' | 'float16' | 'bfloat16';

/** Typed arrays ringtree moves. Uint16Array needs `{ dtype: 'float16' | 'bfloat16' }`. */
export type NumericArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array
  | Uint16Array;

export interface OpOptions {
  /** Per-op timeout in milliseconds (default: the communicator's, 300000). */
  timeoutMs?: number;
  /** Aborting an op in flight aborts the communicator (collectives cannot be half done). */
  signal?: AbortSignal;
  /** Element type for Uint16Array buffers: 'float16' or 'bfloat16'. */
  dtype?: 'float16' | 'bfloat16';
}

export interface AllReduceOptions<T extends NumericArray = NumericArray> extends OpOptions {
  op?: ReduceOp;
  algorithm?: Algorithm;
  /** Out-of-place destination, same type and length as the input. */
  out?: T;
}
export interface BroadcastOptions extends OpOptions { root?: number; algorithm?: Algorithm }
export interface ReduceOptions extends OpOptions { root?: number; op?: ReduceOp; algorithm?: Algorithm }
export interface ReduceScatterOptions extends OpOptions { op?: ReduceOp }
export interface P2POptions extends OpOptions { tag?: number }

/** What training code needs from a communicator (a fake can implement it in tests). */
export interface CommunicatorLike {
  readonly rank: number;
  readonly size: number;
  allReduce<T extends NumericArray>(buf: T, options?: AllReduceOptions<T>): Promise<T>;
  broadcast<T extends NumericArray>(buf: T, options?: BroadcastOptions): Promise<T>;
  allGather<T extends NumericArray>(send: T, recv: T, options?: OpOptions): Promise<T>;
  reduceScatter<T extends NumericArray>(send: T, recv: T, options?: ReduceScatterOptions): Promise<T>;
  barrier(options?: OpOptions): Promise<void>;
}

export interface CommStats {
  /** Ops completed. */
  ops: number;
  /** Bytes this rank sent over all transports. */
  bytesSent: number;
  /** Bytes this rank received. */
  bytesReceived: number;
  /** Wall time (ms) the progress thread spent executing ops. */
  busyMs: number;
}
