// `ringtree bench <collective>`: nccl-tests-style collective benchmark (DESIGN.md section 6).
//
// Method (the same as ../shared/peers/mpi_allreduce.c, so the numbers compare):
//   for each size (minBytes, x factor, up to maxBytes) and each algorithm, out-of-place then in-place:
//     2 warm-up iterations estimate the time t of one op (slowest rank);
//     iters = clamp(1 GiB / size, 5, 1000), lowered so iters * t <= timeCap (default 1 s);
//     the rest of the warm-up (10% of iters, at most 0.2 * timeCap);
//     barrier, then the timed loop: each op is awaited before the next is issued (the caller's view,
//     Promise completion included, as a blocking MPI call);
//     time = mean per-iteration time, averaged over ranks; algbw = size / time; busbw = algbw x factor;
//     check (default on): inputs are re-filled with exact rank-dependent small integers, one more op
//     runs, every element is compared with the exact expected result; #wrong is summed over ranks.
// Buffers are allocated once at the largest size; every size uses views of them (no allocation in
// the timed loop).
import os from 'node:os';
import {
  bfloat16BitsToFloat32 as bf16BitsToF32,
  float16BitsToFloat32 as f16BitsToF32,
  float32ToBfloat16Bits as f32ToBf16Bits,
  float32ToFloat16Bits as f32ToF16Bits,
} from '../train/half.js';
import type { Communicator } from '../communicator.js';
import type { Algorithm, DType, NumericArray, ReduceOp } from '../types.js';
import { formatCeilings, measureCeilings, noiseBetween, readProcStat, type Ceilings } from './ceilings.js';
import { csvText, formatBw, formatTime, writeFileMkdir, type BenchRow } from './report.js';

export const COLLECTIVES = ['allreduce', 'broadcast', 'reduce', 'allgather', 'reducescatter', 'sendrecv'] as const;
export type Collective = (typeof COLLECTIVES)[number];
export const DTYPES: readonly DType[] = ['float32', 'float64', 'int32', 'uint32', 'int64', 'uint8', 'int8', 'float16', 'bfloat16'];
export const REDUCE_OPS: readonly ReduceOp[] = ['sum', 'avg', 'prod', 'min', 'max'];
export const ALGORITHMS: readonly Algorithm[] = ['auto', 'ring', 'tree', 'rhd'];

// ------------------------------------------------------------------------------------ sizes and factors

/**
 * Parses a size in bytes: "8", "64K", "1M", "256M", "2G" (K, M, G = 2^10, 2^20, 2^30 as in nccl-tests;
 * lower case and a trailing "B"/"iB" are accepted: "4KiB", "16mb").
 */
export function parseSize(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0 || !Number.isInteger(input)) throw new Error(`invalid size: ${input}`);
    return input;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(input);
  if (!m) throw new Error(`invalid size "${input}" (use bytes with an optional K, M or G suffix, e.g. 8, 64K, 256M)`);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40 }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Number(m[1]) * mult;
  if (!Number.isInteger(v)) throw new Error(`invalid size "${input}": not a whole number of bytes`);
  return v;
}

/** minBytes, minBytes*factor, ... <= maxBytes (nccl-tests -b/-e/-f). */
export function sizeList(minBytes: number, maxBytes: number, factor: number): number[] {
  if (!(factor > 1)) throw new Error(`step factor must be > 1, got ${factor}`);
  if (minBytes <= 0) throw new Error(`minimum size must be > 0, got ${minBytes}`);
  if (maxBytes < minBytes) throw new Error(`maximum size ${maxBytes} is below the minimum ${minBytes}`);
  const out: number[] = [];
  for (let s = minBytes; s <= maxBytes; s = Math.round(s * factor)) out.push(s);
  return out;
}

/** nccl-tests' bus bandwidth factors (PERFORMANCE.md there): busbw = algbw x factor. */
export function busBwFactor(collective: Collective, nranks: number): number {
  const p = nranks;
  switch (collective) {
    case 'allreduce': return p > 1 ? (2 * (p - 1)) / p : 0;
    case 'allgather':
    case 'reducescatter': return p > 1 ? (p - 1) / p : 0;
    case 'broadcast':
    case 'reduce':
    case 'sendrecv': return 1;
  }
}

/** The iteration count of the peer harness: clamp(budget / size, min, max), lowered to fit the time cap. */
export function itersFor(bytes: number, estimateS: number, o: { budget: number; minIters: number; maxIters: number; timeCap: number }): number {
  let iters = Math.min(o.maxIters, Math.max(o.minIters, Math.floor(o.budget / Math.max(1, bytes))));
  if (o.timeCap > 0 && estimateS > 0 && estimateS * iters > o.timeCap) iters = Math.max(o.minIters, Math.floor(o.timeCap / estimateS));
  return iters;
}

// ------------------------------------------------------------------------------------ data patterns

interface DTypeInfo {
  bytes: number;
  make(n: number): NumericArray;
  /** Number -> stored element (rounded/wrapped as the type stores it). */
  enc(v: number): number | bigint;
  /** Stored element -> number. */
  dec(x: number | bigint): number;
  float: boolean;
  /** Relative tolerance for avg (a division); other ops must be exact. */
  avgTol: number;
  opts?: { dtype: 'float16' | 'bfloat16' };
}


// half-precision conversions: the training layer's (round to nearest even), one implementation
export {
  float32ToBfloat16Bits as f32ToBf16Bits,
  bfloat16BitsToFloat32 as bf16BitsToF32,
  float32ToFloat16Bits as f32ToF16Bits,
  float16BitsToFloat32 as f16BitsToF32,
} from '../train/half.js';

function wrapper<T extends NumericArray>(make: (n: number) => T): (v: number) => number {
  const one = make(1) as unknown as { [i: number]: number };
  return (v: number) => { one[0] = v; return one[0]!; };
}

export function dtypeInfo(dtype: DType): DTypeInfo {
  const num = (x: number | bigint): number => Number(x);
  switch (dtype) {
    case 'float32': return { bytes: 4, make: (n) => new Float32Array(n), enc: Math.fround, dec: num, float: true, avgTol: 1e-6 };
    case 'float64': return { bytes: 8, make: (n) => new Float64Array(n), enc: (v) => v, dec: num, float: true, avgTol: 1e-12 };
    case 'int32': return { bytes: 4, make: (n) => new Int32Array(n), enc: wrapper((n) => new Int32Array(n)), dec: num, float: false, avgTol: 0 };
    case 'uint32': return { bytes: 4, make: (n) => new Uint32Array(n), enc: wrapper((n) => new Uint32Array(n)), dec: num, float: false, avgTol: 0 };
    case 'uint8': return { bytes: 1, make: (n) => new Uint8Array(n), enc: wrapper((n) => new Uint8Array(n)), dec: num, float: false, avgTol: 0 };
    case 'int8': return { bytes: 1, make: (n) => new Int8Array(n), enc: wrapper((n) => new Int8Array(n)), dec: num, float: false, avgTol: 0 };
    case 'int64': {
      const one = new BigInt64Array(1);
      return { bytes: 8, make: (n) => new BigInt64Array(n), enc: (v) => { one[0] = BigInt(Math.trunc(v)); return one[0]; }, dec: num, float: false, avgTol: 0 };
    }
    case 'float16': return { bytes: 2, make: (n) => new Uint16Array(n), enc: f32ToF16Bits, dec: (x) => f16BitsToF32(Number(x)), float: true, avgTol: 2e-3, opts: { dtype: 'float16' } };
    case 'bfloat16': return { bytes: 2, make: (n) => new Uint16Array(n), enc: f32ToBf16Bits, dec: (x) => bf16BitsToF32(Number(x)), float: true, avgTol: 1e-2, opts: { dtype: 'bfloat16' } };
  }
}

/** The period of the input pattern in the element index. */
function patternPeriod(op: ReduceOp): number {
  return op === 'prod' ? 2 : 17;
}

/** Rank r's input at index i: non-zero small integers (exact sums in every type); prod uses 1 and 2. */
export function inputValue(op: ReduceOp, rank: number, i: number): number {
  if (op === 'prod') return 1 + ((i + rank) % 2);
  return 1 + rank + ((i + 3 * rank) % 17);
}

/** The exact result at index i of reducing every rank's input (before storing it in the type). */
export function expectedValue(op: ReduceOp, nranks: number, i: number, float: boolean): number {
  let acc = inputValue(op, 0, i);
  for (let r = 1; r < nranks; r++) {
    const v = inputValue(op, r, i);
    if (op === 'sum' || op === 'avg') acc += v;
    else if (op === 'prod') acc *= v;
    else if (op === 'min') acc = Math.min(acc, v);
    else acc = Math.max(acc, v);
  }
  if (op === 'avg') return float ? acc / nranks : Math.trunc(acc / nranks);
  return acc;
}

type Elem = number | bigint;
type Indexed = { [i: number]: Elem; copyWithin(target: number, start: number, end: number): unknown };

/** buf[start .. start+n) = table[(phase + i) % L], filled by copyWithin doubling (fast for 256 MiB). */
function fillPeriodic(buf: NumericArray, start: number, n: number, table: readonly Elem[], phase: number): void {
  const b = buf as unknown as Indexed;
  const L = table.length;
  const seed = Math.min(n, L * 256);
  let j = phase % L;
  for (let i = 0; i < seed; i++) {
    b[start + i] = table[j]!;
    if (++j === L) j = 0;
  }
  let filled = seed;
  while (filled < n) {
    const c = Math.min(filled, n - filled);
    b.copyWithin(start + filled, start, start + c);
    filled += c;
  }
}

/** Elements of buf[start .. start+n) that differ from table[(phase + i) % L]. */
function countWrongPeriodic(buf: NumericArray, start: number, n: number, table: readonly Elem[], phase: number,
  tol: number, dec: (x: Elem) => number): number {
  const b = buf as unknown as { [i: number]: Elem };
  const L = table.length;
  let j = phase % L;
  let wrong = 0;
  if (tol === 0) {
    for (let i = 0; i < n; i++) {
      if (b[start + i] !== table[j]) wrong++;
      if (++j === L) j = 0;
    }
  } else {
    const exp = table.map(dec);
    for (let i = 0; i < n; i++) {
      const e = exp[j]!;
      if (!(Math.abs(dec(b[start + i]!) - e) <= tol * Math.max(1, Math.abs(e)))) wrong++;
      if (++j === L) j = 0;
    }
  }
  return wrong;
}

// ------------------------------------------------------------------------------------ cases

/** One (collective, size, mode, algorithm) to time and check. */
interface Case {
  /** nccl-tests size column: max(send, recv) bytes. */
  bytes: number;
  /** nccl-tests count column: elements per rank given to the call. */
  count: number;
  run(): Promise<unknown>;
  /** Fills inputs for the timed loop. */
  prepare(): void;
  /** Fills inputs and poisons outputs for the checked op. */
  prepareCheck(): void;
  /** Wrong elements on this rank after the checked op. */
  check(): number;
}

interface Buffers {
  a: NumericArray;
  b: NumericArray | null;
}

export interface CollectiveBenchOptions {
  collective: Collective;
  minBytes: number;
  maxBytes: number;
  stepFactor: number;
  /** Timed iterations per size (default: clamp(1 GiB / size, minIters, maxIters), time-capped). */
  iters?: number;
  /** Warm-up iterations per size, at least 2 (default: 10% of iters, at most 0.2 x timeCap). */
  warmup?: number;
  /** Seconds per size for the timed loop (default 1). */
  timeCap: number;
  minIters: number;
  maxIters: number;
  /** Bytes per size to move in the timed loop when iters is not given (default 1 GiB). */
  budget: number;
  algorithms: Algorithm[];
  transport?: 'shm' | 'tcp';
  dtype: DType;
  op: ReduceOp;
  root: number;
  check: boolean;
  outOfPlace: boolean;
  inPlace: boolean;
  csv?: string;
  json?: string;
  /** Measure the 8 B latency line (default true). */
  latency: boolean;
  ceilings: boolean;
  /** Print the table (rank 0 only in any case). */
  print: boolean;
  /** Per-op timeout (ms). */
  timeoutMs?: number;
  /** The command line, for the report. */
  commandLine?: string;
}

export const defaultBenchOptions: Omit<CollectiveBenchOptions, 'collective'> = {
  minBytes: 8,
  maxBytes: 256 * 2 ** 20,
  stepFactor: 2,
  timeCap: 1,
  minIters: 5,
  maxIters: 1000,
  budget: 2 ** 30,
  algorithms: ['auto'],
  dtype: 'float32',
  op: 'sum',
  root: 0,
  check: true,
  outOfPlace: true,
  inPlace: true,
  latency: true,
  ceilings: false,
  print: true,
};

export interface LatencyResult {
  bytes: number;
  algorithm: string;
  iters: number;
  /** Medians and means per rank, averaged over ranks (us). */
  median_us: number;
  mean_us: number;
  /** The same through a synchronous fast path (comm.allReduceSync), when the runtime has one. */
  sync_median_us?: number;
}

export interface BenchResult {
  tool: string;
  collective: Collective;
  nranks: number;
  transport: string;
  algorithms: string[];
  dtype: DType;
  op: ReduceOp;
  root: number;
  check: boolean;
  settings: Record<string, unknown>;
  host: { hostname: string; cpus: number; cpuModel: string; node: string; date: string; loadavg: number[] };
  commandLine?: string;
  latency: LatencyResult | null;
  ceilings: Ceilings | null;
  rows: BenchRow[];
  wrongTotal: number | null;
  avgBusbw: number;
  noise: { othersCpuS: number; othersCores: number; stealPct: number; wallS: number } | null;
}

/** The transport a communicator uses, from its stats ("shm:1,tcp:0"). */
export function transportOf(comm: Communicator): string {
  if (comm.size === 1) return 'self';
  const t = comm.stats().transports;
  const shm = Number(/shm:(\d+)/.exec(t)?.[1] ?? 0);
  const tcp = Number(/tcp:(\d+)/.exec(t)?.[1] ?? 0);
  if (shm && tcp) return 'shm+tcp';
  return shm ? 'shm' : 'tcp';
}

/** Sets RINGTREE_SHM_DISABLE for the requested transport; call before init() (the native param is read on first use). */
export function applyTransportEnv(transport: 'shm' | 'tcp' | undefined, env: NodeJS.ProcessEnv = process.env): void {
  if (transport === 'tcp') env.RINGTREE_SHM_DISABLE = '1';
  else if (transport === 'shm' && env.RINGTREE_SHM_DISABLE && env.RINGTREE_SHM_DISABLE !== '0') env.RINGTREE_SHM_DISABLE = '0';
}

class Runner {
  readonly comm: Communicator;
  readonly o: CollectiveBenchOptions;
  readonly info: DTypeInfo;
  readonly p: number;
  readonly rank: number;
  readonly L: number;
  /** valTable[r][j] = rank r's input at index j (encoded); expTable[j] = the reduced result. */
  readonly valTable: Elem[][];
  readonly expTable: Elem[];
  readonly bufs: Buffers;
  readonly samples: Float64Array;
  readonly red = new Float64Array(4);

  constructor(comm: Communicator, o: CollectiveBenchOptions, maxCountPerRank: number) {
    this.comm = comm;
    this.o = o;
    this.info = dtypeInfo(o.dtype);
    this.p = comm.size;
    this.rank = comm.rank;
    this.L = patternPeriod(o.op);
    this.valTable = Array.from({ length: this.p }, (_, r) => Array.from({ length: this.L }, (_, j) => this.info.enc(inputValue(o.op, r, j))));
    this.expTable = Array.from({ length: this.L }, (_, j) => this.info.enc(expectedValue(o.op, this.p, j, this.info.float)));
    const n = maxCountPerRank;
    const p = this.p;
    const make = (k: number): NumericArray => this.info.make(k);
    switch (o.collective) {
      case 'allreduce': this.bufs = { a: make(n), b: make(n) }; break;
      case 'broadcast': case 'reduce': this.bufs = { a: make(n), b: null }; break;
      case 'allgather': this.bufs = { a: make(n), b: make(n * p) }; break;
      case 'reducescatter': this.bufs = { a: make(n * p), b: make(n) }; break;
      case 'sendrecv': this.bufs = { a: make(n), b: make(n) }; break;
    }
    // first touch every page outside the timed loops
    for (const b of [this.bufs.a, this.bufs.b]) if (b) fillPeriodic(b, 0, b.length, this.valTable[this.rank]!, 0);
    this.samples = new Float64Array(Math.max(o.maxIters, o.iters ?? 0, 1000));
  }

  get opOpts(): Record<string, unknown> {
    const x: Record<string, unknown> = {};
    if (this.info.opts) x.dtype = this.info.opts.dtype;
    if (this.o.timeoutMs) x.timeoutMs = this.o.timeoutMs;
    return x;
  }

  fill(buf: NumericArray, start: number, n: number, r: number, phase = 0): void {
    fillPeriodic(buf, start, n, this.valTable[r]!, phase);
  }

  poison(buf: NumericArray, start: number, n: number): void {
    fillPeriodic(buf, start, n, [this.info.enc(0)], 0);
  }

  wrongVs(buf: NumericArray, start: number, n: number, table: readonly Elem[], phase = 0): number {
    const tol = this.o.op === 'avg' ? (this.info.float ? this.info.avgTol : 1) : 0;
    return countWrongPeriodic(buf, start, n, table, phase, tol, this.info.dec);
  }

  /** The case for one size/mode/algorithm, or null when the collective has no such mode or the size is too small. */
  makeCase(bytes: number, inplace: boolean, algorithm: Algorithm): Case | null {
    const { comm, info, p, rank, o } = this;
    const ws = info.bytes;
    const total = Math.floor(bytes / ws);
    const opts = { ...this.opOpts };
    const { a, b } = this.bufs;
    switch (o.collective) {
      case 'allreduce': {
        const n = total;
        if (n === 0) return null;
        const src = a.subarray(0, n) as NumericArray;
        const dst = inplace ? src : (b!.subarray(0, n) as NumericArray);
        const aopts = { ...opts, op: o.op, algorithm, ...(inplace ? {} : { out: dst }) };
        return {
          bytes: n * ws, count: n,
          run: () => comm.allReduce(src, aopts),
          prepare: () => this.fill(src, 0, n, rank),
          prepareCheck: () => { this.fill(src, 0, n, rank); if (!inplace) this.poison(dst, 0, n); },
          check: () => this.wrongVs(dst, 0, n, this.expTable),
        };
      }
      case 'broadcast': {
        if (!inplace) return null; // the API broadcasts in place only
        const n = total;
        if (n === 0) return null;
        const buf = a.subarray(0, n) as NumericArray;
        const bopts = { ...opts, root: o.root, algorithm };
        return {
          bytes: n * ws, count: n,
          run: () => comm.broadcast(buf, bopts),
          prepare: () => this.fill(buf, 0, n, rank),
          prepareCheck: () => { if (rank === o.root) this.fill(buf, 0, n, rank); else this.poison(buf, 0, n); },
          check: () => this.wrongVs(buf, 0, n, this.valTable[o.root]!),
        };
      }
      case 'reduce': {
        if (!inplace) return null; // the API reduces in place only
        const n = total;
        if (n === 0) return null;
        const buf = a.subarray(0, n) as NumericArray;
        const ropts = { ...opts, root: o.root, op: o.op };
        return {
          bytes: n * ws, count: n,
          run: () => comm.reduce(buf, ropts),
          prepare: () => this.fill(buf, 0, n, rank),
          prepareCheck: () => this.fill(buf, 0, n, rank),
          check: () => (rank === o.root ? this.wrongVs(buf, 0, n, this.expTable) : 0),
        };
      }
      case 'allgather': {
        const n = Math.floor(total / p);
        if (n === 0) return null;
        const recv = b!.subarray(0, n * p) as NumericArray;
        const send = (inplace ? b!.subarray(rank * n, (rank + 1) * n) : a.subarray(0, n)) as NumericArray;
        return {
          bytes: n * p * ws, count: n,
          run: () => comm.allGather(send, recv, opts),
          prepare: () => this.fill(send, 0, n, rank),
          prepareCheck: () => { this.poison(recv, 0, n * p); this.fill(send, 0, n, rank); },
          check: () => {
            let w = 0;
            for (let r = 0; r < p; r++) w += this.wrongVs(recv, r * n, n, this.valTable[r]!);
            return w;
          },
        };
      }
      case 'reducescatter': {
        if (inplace) return null; // the API needs separate send and recv buffers
        const n = Math.floor(total / p);
        if (n === 0) return null;
        const send = a.subarray(0, n * p) as NumericArray;
        const recv = b!.subarray(0, n) as NumericArray;
        const ropts = { ...opts, op: o.op };
        return {
          bytes: n * p * ws, count: n,
          run: () => comm.reduceScatter(send, recv, ropts),
          prepare: () => this.fill(send, 0, n * p, rank),
          prepareCheck: () => { this.fill(send, 0, n * p, rank); this.poison(recv, 0, n); },
          check: () => this.wrongVs(recv, 0, n, this.expTable, (rank * n) % this.L),
        };
      }
      case 'sendrecv': {
        if (inplace || p < 2) return null;
        const n = total;
        if (n === 0) return null;
        const send = a.subarray(0, n) as NumericArray;
        const recv = b!.subarray(0, n) as NumericArray;
        const next = (rank + 1) % p;
        const prev = (rank - 1 + p) % p;
        // Full duplex: point-to-point ops issued together progress together (the runtime batches
        // consecutive sends/recvs), so every rank sends and receives at the same time.
        const run = async () => { await Promise.all([comm.send(send, next, opts), comm.recv(recv, prev, opts)]); };
        return {
          bytes: n * ws, count: n, run,
          prepare: () => this.fill(send, 0, n, rank),
          prepareCheck: () => { this.fill(send, 0, n, rank); this.poison(recv, 0, n); },
          check: () => this.wrongVs(recv, 0, n, this.valTable[prev]!),
        };
      }
    }
  }

  /** Sum (or max) of per-rank values over ranks. */
  async reduceValues(values: number[], op: 'sum' | 'max'): Promise<number[]> {
    const buf = new Float64Array(values);
    if (this.p > 1) await this.comm.allReduce(buf, { op, algorithm: 'auto' });
    return [...buf];
  }

  /** Times one case: returns mean and median per-iteration seconds (averaged over ranks), iters, wrong. */
  async measure(c: Case): Promise<{ meanS: number; medianS: number; iters: number; wrong: number | null }> {
    const o = this.o;
    c.prepare();
    await this.comm.barrier();
    const w0 = performance.now();
    await c.run();
    await c.run();
    const [estMax] = await this.reduceValues([(performance.now() - w0) / 2e3], 'max');
    const est = estMax!;
    const iters = o.iters ?? itersFor(c.bytes, est, o);
    let warmRest: number;
    if (o.warmup !== undefined) warmRest = Math.max(0, o.warmup - 2);
    else {
      warmRest = Math.max(2, Math.floor(iters * 0.1)) - 2;
      if (o.timeCap > 0 && est > 0) warmRest = Math.min(warmRest, Math.floor((0.2 * o.timeCap) / est));
    }
    for (let i = 0; i < warmRest; i++) await c.run();
    await this.comm.barrier();
    const s = this.samples.length >= iters ? this.samples : new Float64Array(iters);
    const t0 = performance.now();
    let tp = t0;
    for (let i = 0; i < iters; i++) {
      await c.run();
      const tn = performance.now();
      s[i] = tn - tp;
      tp = tn;
    }
    const meanMs = (tp - t0) / iters;
    const sorted = s.subarray(0, iters).sort();
    const medMs = iters % 2 ? sorted[(iters - 1) / 2]! : (sorted[iters / 2 - 1]! + sorted[iters / 2]!) / 2;
    let wrong = 0;
    if (o.check) {
      c.prepareCheck();
      await c.run();
      wrong = c.check();
    }
    const [sumMean, sumMed, sumWrong] = await this.reduceValues([meanMs, medMs, wrong], 'sum');
    return { meanS: sumMean! / this.p / 1e3, medianS: sumMed! / this.p / 1e3, iters, wrong: o.check ? sumWrong! : null };
  }

  /** 8 B all-reduce awaited one at a time: median and mean (us), averaged over ranks. */
  async latency(algorithm: Algorithm): Promise<LatencyResult> {
    const buf = new Float32Array(2);
    const opts = { algorithm, op: 'sum' as const };
    for (let i = 0; i < 20; i++) await this.comm.allReduce(buf.fill(1), opts);
    const t = performance.now();
    for (let i = 0; i < 20; i++) await this.comm.allReduce(buf, opts);
    const [est] = await this.reduceValues([(performance.now() - t) / 20], 'max');
    const iters = Math.max(20, Math.min(1000, Math.floor(1000 / Math.max(est!, 1e-3))));
    await this.comm.barrier();
    const s = new Float64Array(iters);
    const t0 = performance.now();
    let tp = t0;
    for (let i = 0; i < iters; i++) {
      await this.comm.allReduce(buf, opts);
      const tn = performance.now();
      s[i] = tn - tp;
      tp = tn;
    }
    s.sort();
    const med = iters % 2 ? s[(iters - 1) / 2]! : (s[iters / 2 - 1]! + s[iters / 2]!) / 2;
    const [sm, sa] = await this.reduceValues([med, (tp - t0) / iters], 'sum');
    const res: LatencyResult = { bytes: 8, algorithm, iters, median_us: (sm! / this.p) * 1e3, mean_us: (sa! / this.p) * 1e3 };
    const sync = (this.comm as unknown as { allReduceSync?: (b: Float32Array, o?: object) => unknown }).allReduceSync;
    if (typeof sync === 'function') {
      for (let i = 0; i < 20; i++) sync.call(this.comm, buf, opts);
      await this.comm.barrier();
      let t1 = performance.now();
      for (let i = 0; i < iters; i++) {
        sync.call(this.comm, buf, opts);
        const tn = performance.now();
        s[i] = tn - t1;
        t1 = tn;
      }
      s.sort();
      const smed = iters % 2 ? s[(iters - 1) / 2]! : (s[iters / 2 - 1]! + s[iters / 2]!) / 2;
      const [ss] = await this.reduceValues([smed], 'sum');
      res.sync_median_us = (ss! / this.p) * 1e3;
    }
    return res;
  }
}

/** The algorithm label rows get: what the API runs for collectives that take no algorithm. */
function algorithmLabel(collective: Collective, requested: Algorithm): string {
  switch (collective) {
    case 'allreduce': case 'broadcast': return requested;
    case 'reduce': return 'tree';
    case 'allgather': case 'reducescatter': return 'ring';
    case 'sendrecv': return 'p2p';
  }
}

const REDOP_COLLECTIVES = new Set<Collective>(['allreduce', 'reduce', 'reducescatter']);

function tableHeader(multiAlgo: boolean, modes: { oop: boolean; ip: boolean }): string[][] {
  const h1 = [...(multiAlgo ? [''] : []), '', '', '', '', ''];
  const h2 = [...(multiAlgo ? ['algo'] : []), 'size', 'count', 'type', 'redop', 'root'];
  const h3 = [...(multiAlgo ? [''] : []), '(B)', '(elements)', '', '', ''];
  for (const [on, label] of [[modes.oop, 'out-of-place'], [modes.ip, 'in-place']] as const) {
    if (!on) continue;
    h1.push('', label, '', '');
    h2.push('time', 'algbw', 'busbw', '#wrong');
    h3.push('(us)', '(GB/s)', '(GB/s)', '');
  }
  return [h1, h2, h3];
}

/**
 * Runs the benchmark on `comm` (every rank calls it). Rank 0 prints and writes files; every rank
 * gets the result (the rows are identical on all ranks).
 */
export async function runCollectiveBench(comm: Communicator, opts: CollectiveBenchOptions): Promise<BenchResult> {
  const o = opts;
  const p = comm.size;
  const lead = comm.rank === 0;
  const out = (s: string): void => { if (lead && o.print) process.stdout.write(s + '\n'); };
  const warn = (s: string): void => { if (lead) process.stderr.write(`ringtree bench: ${s}\n`); };
  if (o.collective === 'sendrecv' && p < 2) throw new Error('sendrecv needs at least 2 ranks (start it under ringrun -np 2)');
  if (o.root < 0 || o.root >= p) throw new Error(`--root must be a rank in 0..${p - 1}, got ${o.root}`);
  if (p === 1) warn('running with 1 rank (busbw is 0); start it under ringrun, e.g. ringrun -np 2 ringtree bench allreduce');
  const info = dtypeInfo(o.dtype);
  const modes = {
    oop: o.outOfPlace && o.collective !== 'broadcast' && o.collective !== 'reduce',
    ip: o.inPlace && o.collective !== 'reducescatter' && o.collective !== 'sendrecv',
  };
  if (!modes.oop && !modes.ip) throw new Error(`${o.collective} has no ${o.inPlace ? 'in-place' : 'out-of-place'} form; see --in-place/--out-of-place`);
  const takesAlgo = o.collective === 'allreduce' || o.collective === 'broadcast';
  const algos: Algorithm[] = takesAlgo ? o.algorithms : ['auto'];
  if (!takesAlgo && o.algorithms.some((a) => a !== 'auto')) warn(`${o.collective} takes no algorithm option; it always runs ${algorithmLabel(o.collective, 'auto')}`);
  const sizes = sizeList(o.minBytes, o.maxBytes, o.stepFactor);
  const maxTotal = Math.floor(o.maxBytes / info.bytes);
  const perRank = o.collective === 'allgather' || o.collective === 'reducescatter' ? Math.floor(maxTotal / p) : maxTotal;
  const transport = transportOf(comm);
  if (o.transport && transport !== 'self' && transport !== o.transport) warn(`asked for --transport ${o.transport} but the communicator uses ${transport}`);

  const stat0 = readProcStat();
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();

  let ceilings: Ceilings | null = null;
  if (o.ceilings) {
    if (lead) ceilings = await measureCeilings({ nranks: p });
    await comm.barrier({ timeoutMs: 600_000 });
  }
  const runner = new Runner(comm, o, Math.max(perRank, 1));
  const redop = REDOP_COLLECTIVES.has(o.collective) ? o.op : 'none';
  const root = o.collective === 'broadcast' || o.collective === 'reduce' ? o.root : -1;

  out(`# ringtree bench ${o.collective}: nranks ${p}, transport ${transport}, algorithm ${algos.map((a) => algorithmLabel(o.collective, a)).join(',')}, ` +
    `dtype ${o.dtype}, op ${redop}${root >= 0 ? `, root ${root}` : ''}, check ${o.check ? 'on' : 'off'}`);
  out(`# sizes ${o.minBytes}..${o.maxBytes} B x${o.stepFactor}; iters ${o.iters ?? `clamp(${o.budget} B / size, ${o.minIters}, ${o.maxIters}) capped at ${o.timeCap} s per size`}; ` +
    `warm-up ${o.warmup ?? '10% of iters (>= 2, <= 0.2 x cap)'}; each op awaited before the next; time = mean per iteration, averaged over ranks; GB = 1e9 B`);
  out(`# host ${os.hostname()}: ${os.cpus()[0]?.model ?? 'cpu'} x ${os.availableParallelism()}, node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (ceilings) for (const l of formatCeilings(ceilings)) out(l);
  else out('# ceilings: not measured (add --ceilings to measure memory copy bandwidth and TCP loopback first)');

  let latency: LatencyResult | null = null;
  if (o.latency && p > 1) {
    latency = await runner.latency(algos.includes('auto') ? 'auto' : algos[0]!);
    out(`# latency: 8 B allreduce (float32 sum, algorithm ${latency.algorithm}, awaited one at a time): ` +
      `median ${latency.median_us.toFixed(2)} us, mean ${latency.mean_us.toFixed(2)} us over ${latency.iters} ops` +
      (latency.sync_median_us !== undefined ? `; allReduceSync median ${latency.sync_median_us.toFixed(2)} us` : ''));
  }

  const multi = algos.length > 1;
  const header = tableHeader(multi, modes);
  const widths = [multi ? 5 : 0, 12, 12, 9, 6, 5].filter((_w, i) => i > 0 || multi);
  const modeW = [10, 7, 7, 7];
  const colW = [...widths, ...(modes.oop ? modeW : []), ...(modes.ip ? modeW : [])];
  const fmtRow = (cells: string[], first = ''): string => first + cells.map((c, i) => c.padStart(colW[i] ?? 8)).join(' ');
  out('#');
  for (const h of header) out(fmtRow(h, '#'));

  const rows: BenchRow[] = [];
  let wrongTotal = 0;
  for (const size of sizes) {
    for (const algo of algos) {
      const label = algorithmLabel(o.collective, algo);
      const cells: string[] = [];
      let count = 0;
      let bytes = 0;
      for (const inplace of [false, true]) {
        if (inplace ? !modes.ip : !modes.oop) continue;
        const c = runner.makeCase(size, inplace, algo);
        if (!c) { cells.push('N/A', 'N/A', 'N/A', 'N/A'); continue; }
        count = c.count;
        bytes = c.bytes;
        const r = await runner.measure(c);
        const timeUs = r.meanS * 1e6;
        const algbw = c.bytes / r.meanS / 1e9;
        const busbw = algbw * busBwFactor(o.collective, p);
        if (r.wrong !== null) wrongTotal += r.wrong;
        rows.push({
          size: c.bytes, count: c.count, type: o.dtype, redop, root, inplace: inplace ? 1 : 0,
          time_us: timeUs, algbw, busbw, wrong: r.wrong, algorithm: label, transport, nranks: p,
          iters: r.iters, median_us: r.medianS * 1e6,
        });
        cells.push(formatTime(timeUs), formatBw(algbw), formatBw(busbw), r.wrong === null ? 'N/A' : String(r.wrong));
      }
      if (count === 0) continue; // too small for this collective and rank count
      out(fmtRow([...(multi ? [label] : []), String(bytes), String(count), o.dtype, redop, String(root), ...cells], ' '));
    }
  }
  const avgBusbw = rows.length ? rows.reduce((a, r) => a + r.busbw, 0) / rows.length : 0;
  const wallS = (performance.now() - wall0) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  const [allCpu] = await (async () => {
    const buf = new Float64Array([(cpu.user + cpu.system) / 1e6]);
    if (p > 1) await comm.allReduce(buf, { op: 'sum' });
    return [buf[0]!];
  })();
  const nz = comm.localSize === comm.size ? noiseBetween(stat0, readProcStat(), allCpu!, wallS) : null;
  out(`# Out of bounds values : ${o.check ? `${wrongTotal} ${wrongTotal ? 'FAILED' : 'OK'}` : 'N/A (--no-check)'}`);
  out(`# Avg bus bandwidth    : ${avgBusbw.toFixed(3)}`);
  if (nz) {
    out(`# noise: other processes used ${nz.othersCpuS.toFixed(1)} CPU-s in ${wallS.toFixed(1)} s (${nz.othersCores.toFixed(2)} cores on average), ` +
      `steal ${nz.stealPct.toFixed(1)}%; compare only numbers from the same run`);
  }

  const result: BenchResult = {
    tool: 'ringtree bench',
    collective: o.collective,
    nranks: p,
    transport,
    algorithms: algos.map((a) => algorithmLabel(o.collective, a)),
    dtype: o.dtype,
    op: redop as ReduceOp,
    root,
    check: o.check,
    settings: {
      minBytes: o.minBytes, maxBytes: o.maxBytes, stepFactor: o.stepFactor, iters: o.iters ?? null, warmup: o.warmup ?? null,
      timeCap: o.timeCap, minIters: o.minIters, maxIters: o.maxIters, budget: o.budget, outOfPlace: modes.oop, inPlace: modes.ip,
    },
    host: {
      hostname: os.hostname(), cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model ?? '', node: process.version,
      date: new Date().toISOString(), loadavg: os.loadavg(),
    },
    commandLine: o.commandLine,
    latency,
    ceilings,
    rows,
    wrongTotal: o.check ? wrongTotal : null,
    avgBusbw,
    noise: nz ? { ...nz, wallS } : null,
  };
  if (lead) {
    if (o.csv) { writeFileMkdir(o.csv, csvText(rows)); out(`# CSV: ${o.csv}`); }
    if (o.json) { writeFileMkdir(o.json, JSON.stringify(result, null, 2) + '\n'); out(`# JSON: ${o.json}`); }
  }
  return result;
}

