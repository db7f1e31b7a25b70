// The case matrix of the multi-process collectives suite. Both the ava tests and the rank worker
// (test/_workers/collectives.ts) build the list from the same spec with buildCases(), so every rank
// issues the same collectives in the same order and the test knows what each result is about.
import { allDTypes, allOps, bytesOf, type DType, type ReduceOp } from '../unit/reduce-reference.js';

export type Algo = 'auto' | 'ring' | 'tree' | 'rhd';

export type Case =
  | { id: string; kind: 'allReduce'; dtype: DType; op: ReduceOp; algorithm: Algo; count: number; inPlace: boolean }
  | { id: string; kind: 'broadcast'; dtype: DType; root: number; algorithm: Algo; count: number }
  | { id: string; kind: 'reduce'; dtype: DType; op: ReduceOp; root: number; count: number }
  | { id: string; kind: 'allGather'; dtype: DType; count: number; inPlace: boolean }
  | { id: string; kind: 'reduceScatter'; dtype: DType; op: ReduceOp; count: number }
  | { id: string; kind: 'barrier'; n: number }
  | { id: string; kind: 'sendRecv'; dtype: DType; count: number; tag: number }
  | { id: string; kind: 'tagsOutOfOrder'; dtype: DType; counts: number[] }
  | { id: string; kind: 'exchange'; dtype: DType; count: number }
  | { id: string; kind: 'inexact'; dtype: DType; op: ReduceOp; algorithm: Algo; count: number }
  | { id: string; kind: 'split'; dtype: DType; count: number };

export type Kind = Case['kind'];

export interface MatrixSpec {
  /** Which kinds to include (default: all). */
  kinds?: Kind[];
  /** Small element counts (0, 1, odd, not divisible by P...). */
  counts: number[];
  /** Also run a count of about `big` bytes per dtype (odd, so never divisible by P): run it with
   * small shm rings/chunks and TCP staging so that it takes many chunks and wraps the rings. */
  bigBytes?: number;
  dtypes?: DType[];
  ops?: ReduceOp[];
  algorithms?: Algo[];
}

/** Per-case result a rank reports. */
export interface CaseResult {
  id: string;
  ok: boolean;
  /** What went wrong on this rank (check failure or the rejection). */
  error?: string;
  code?: string;
  /** sha1 of the result bytes, for results that must be bitwise identical on all ranks. */
  hash?: string;
  /** Wall time of the case on this rank. */
  ms?: number;
}

export interface WorkerReport {
  rank: number;
  /** RINGTREE_JOB_ID as the rank saw it (ringrun chooses its own). */
  jobId?: string;
  size: number;
  transports: string;
  results: CaseResult[];
  /** An error that stopped the worker before all cases ran. */
  fatal?: string;
  ms: number;
}

/** Result kinds whose bytes must be identical on every rank. */
export const identicalOnAllRanks: ReadonlySet<Kind> = new Set<Kind>(['allReduce', 'broadcast', 'allGather', 'inexact']);

/** An odd element count of at least `bytes` bytes of the dtype. */
export function bigCount(dtype: DType, bytes: number): number {
  const n = Math.ceil(bytes / bytesOf[dtype]);
  return n % 2 === 0 ? n + 1 : n;
}

export function buildCases(P: number, spec: MatrixSpec): Case[] {
  const kinds = new Set<Kind>(spec.kinds ?? ['allReduce', 'broadcast', 'reduce', 'allGather', 'reduceScatter', 'barrier', 'sendRecv', 'tagsOutOfOrder', 'exchange', 'inexact', 'split']);
  const dtypes = spec.dtypes ?? allDTypes;
  const ops = spec.ops ?? allOps;
  const algos = spec.algorithms ?? ['ring', 'tree', 'rhd', 'auto'];
  const counts = spec.counts;
  const cases: Case[] = [];
  const big = spec.bigBytes;
  if (kinds.has('allReduce')) {
    // count 0: in place only; small counts: in place and out of place; big: in place for every
    // op, out of place for sum (the out-of-place path does not depend on the op)
    for (const count of counts) for (const dtype of dtypes) for (const op of ops) for (const algorithm of algos) {
      for (const inPlace of count === 0 ? [true] : [true, false]) {
        cases.push({ id: `allReduce ${op} ${dtype} ${algorithm} n=${count}${inPlace ? '' : ' out-of-place'}`, kind: 'allReduce', dtype, op, algorithm, count, inPlace });
      }
    }
    if (big) {
      for (const dtype of dtypes) for (const op of ops) for (const algorithm of algos) {
        const count = bigCount(dtype, big);
        for (const inPlace of op === 'sum' ? [true, false] : [true]) {
          cases.push({ id: `allReduce ${op} ${dtype} ${algorithm} n=${count} (big)${inPlace ? '' : ' out-of-place'}`, kind: 'allReduce', dtype, op, algorithm, count, inPlace });
        }
      }
    }
  }
  const withBig = (dtype: DType, div = 1): number[] => (big ? [...counts, bigCount(dtype, Math.ceil(big / div))] : counts);
  if (kinds.has('broadcast')) {
    for (const dtype of dtypes) for (const count of withBig(dtype)) for (let root = 0; root < P; root++) {
      for (const algorithm of ['tree', 'ring', 'auto'] as const) {
        cases.push({ id: `broadcast ${dtype} root=${root} ${algorithm} n=${count}`, kind: 'broadcast', dtype, root, algorithm, count });
      }
    }
  }
  if (kinds.has('reduce')) {
    for (const dtype of dtypes) for (const count of withBig(dtype)) for (let root = 0; root < P; root++) {
      // every op at every root for the small counts; sum and max for the rest
      const rops = count <= 7 ? ops : ops.filter((o) => o === 'sum' || o === 'max' || o === 'avg');
      for (const op of rops) cases.push({ id: `reduce ${op} ${dtype} root=${root} n=${count}`, kind: 'reduce', dtype, op, root, count });
    }
  }
  if (kinds.has('allGather')) {
    for (const dtype of dtypes) for (const count of withBig(dtype, P)) for (const inPlace of [false, true]) {
      cases.push({ id: `allGather ${dtype} n=${count}${inPlace ? ' in-place' : ''}`, kind: 'allGather', dtype, count, inPlace });
    }
  }
  if (kinds.has('reduceScatter')) {
    for (const dtype of dtypes) for (const count of withBig(dtype, P)) for (const op of ops) {
      cases.push({ id: `reduceScatter ${op} ${dtype} n=${count}`, kind: 'reduceScatter', dtype, op, count });
    }
  }
  if (kinds.has('barrier')) cases.push({ id: 'barrier x3', kind: 'barrier', n: 3 });
  if (P > 1 && kinds.has('sendRecv')) {
    for (const dtype of ['float32', 'int64', 'uint8', 'bfloat16'] as const) for (const count of withBig(dtype)) {
      cases.push({ id: `sendRecv ring shift ${dtype} n=${count} tag=${count % 5}`, kind: 'sendRecv', dtype, count, tag: count % 5 });
    }
  }
  if (P > 1 && kinds.has('tagsOutOfOrder')) {
    const large = big ? bigCount('float64', big) : Math.max(...counts);
    cases.push({ id: 'send/recv tags out of order, both directions (float64)', kind: 'tagsOutOfOrder', dtype: 'float64', counts: [3, 0, large, 1] });
    cases.push({ id: 'send/recv tags out of order, both directions (int8)', kind: 'tagsOutOfOrder', dtype: 'int8', counts: [large * 8, 7, 1] });
  }
  if (kinds.has('inexact')) {
    // fractional inputs: rounding makes the result depend on the combination order, which differs
    // between algorithms, but within one allReduce every rank must end with the same bits
    for (const dtype of ['float32', 'float64', 'float16', 'bfloat16'] as const) for (const op of ['sum', 'avg', 'prod'] as const) {
      for (const algorithm of algos) for (const count of withBig(dtype)) {
        if (count === 0) continue;
        cases.push({ id: `inexact ${op} ${dtype} ${algorithm} n=${count}: bitwise identical on all ranks`, kind: 'inexact', dtype, op, algorithm, count });
      }
    }
  }
  if (P > 1 && kinds.has('exchange')) {
    for (const dtype of ['float64', 'float16'] as const) for (const count of withBig(dtype)) {
      cases.push({ id: `exchange: pairs (r, r^1) both issue send then recv at once, ${dtype} n=${count}`, kind: 'exchange', dtype, count });
    }
  }
  if (kinds.has('split')) {
    for (const count of [1, 7, ...(big ? [bigCount('int32', big)] : [])]) {
      cases.push({ id: `split(rank % 2, -rank) then allReduce/broadcast/allGather and a nested split on the sub-communicator n=${count}`, kind: 'split', dtype: 'int32', count });
    }
  }
  return cases;
}

/** Sub-communicator layout of the split case: color rank % 2, key -rank, the last rank of 5 opts out. */
export function splitLayout(P: number, rank: number): { color: number; key: number } {
  if (P === 5 && rank === 4) return { color: -1, key: 0 };
  return { color: rank % 2, key: -rank };
}
