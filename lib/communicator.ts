// The Communicator: ringtree's public API (DESIGN.md section 2).
//
// Every method validates its arguments synchronously, enqueues the op on the native progress engine
// in the same synchronous call, and returns a Promise. Issue order is therefore the cross-rank
// order: ops issued together with Promise.all run in the same order on every rank. Buffers are
// pinned, not copied, while an op is in flight: do not touch them until its Promise settles.
import os from 'node:os';

import {
  AbortedError,
  InvalidArgumentError,
  RingtreeError,
  toRingtreeError,
} from './errors.js';
import { AlgorithmCode, DTypeCode, OpCode, ReduceOpCode, dtypeBytes } from './native/codes.js';
import type { Addon, NativeCommunicatorHandle, OpName } from './native/codes.js';
import type { Store } from './rendezvous/store.js';
import type {
  AllReduceOptions,
  Algorithm,
  BroadcastOptions,
  CommStats,
  CommunicatorLike,
  DType,
  NumericArray,
  OpOptions,
  P2POptions,
  ReduceOp,
  ReduceOptions,
  ReduceScatterOptions,
} from './types.js';

/** The default op timeout: 5 minutes (RINGTREE_TIMEOUT_MS overrides). */
export const defaultTimeoutMs = 300_000;

const reduceOps: readonly ReduceOp[] = ['sum', 'avg', 'prod', 'min', 'max'];
const algorithms: readonly Algorithm[] = ['auto', 'ring', 'tree', 'rhd'];

/** Internal wiring handed over by init() and split(). */
export interface CommunicatorParts {
  addon: Addon;
  native: NativeCommunicatorHandle;
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  timeoutMs: number;
  store: Store | null;
  /** Closes what this communicator owns besides the native handle (store client, store server). */
  onDestroy?: () => Promise<void>;
  /** Creates a sub-communicator from a rendezvous prefix (used by split). */
  spawn: (prefix: string, rank: number, size: number) => Promise<Communicator>;
  prefix: string;
  faults: RankFaults;
}

/** Fault injection for this rank (RINGTREE_INJECT, see docs/launcher.md). */
export interface RankFaults {
  killAfterOps?: number;
  hangAfterOps?: number;
  dropAfterOps?: number;
}

interface Issue {
  op: OpName;
  dtype: DType;
  redop: ReduceOp;
  algorithm: Algorithm;
  root: number;
  peer: number;
  tag: number;
  count: number;
  input: NumericArray | null;
  output: NumericArray | null;
  options: OpOptions;
}

const live = new Set<Communicator>();
let signalsInstalled = false;

function installSignalHandlers(): void {
  if (signalsInstalled || process.env.RINGTREE_HANDLE_SIGNALS === '0') return;
  signalsInstalled = true;
  // SIGTERM (ringrun stopping the job, or a scheduler): reject pending ops with ERR_RINGTREE_ABORTED,
  // give the rejections a moment to be handled and printed, then exit like the default handler would.
  process.once('SIGTERM', () => {
    for (const c of live) c.abort('received SIGTERM');
    setTimeout(() => process.exit(143), 250).unref();
  });
  // Process exit without destroy() (process.exit(), or the event loop running dry): say goodbye to
  // the peers, or tell them why we left with ops in flight or a failure exit code, so they fail fast
  // and with the reason instead of guessing from a closed socket.
  process.on('exit', (code) => {
    for (const c of live) c.farewell(code === 0, `rank ${c.rank} exited with code ${code}${c.pendingOps ? ` with ${c.pendingOps} op(s) in flight` : ''}`);
  });
  // SIGUSR2: dump the flight recorder (what each communicator is doing) to stderr; ringrun
  // --timeout sends it before stopping a stuck job.
  process.on('SIGUSR2', () => {
    for (const c of live) process.stderr.write(`${c.flightRecord()}\n`);
  });
}

function dtypeOf(buf: unknown, requested: OpOptions['dtype'], what: string, ctx: { op: string; rank: number }): DType {
  let dtype: DType;
  if (buf instanceof Float32Array) dtype = 'float32';
  else if (buf instanceof Float64Array) dtype = 'float64';
  else if (buf instanceof Int32Array) dtype = 'int32';
  else if (buf instanceof Uint32Array) dtype = 'uint32';
  else if (buf instanceof BigInt64Array) dtype = 'int64';
  else if (buf instanceof Uint8Array) dtype = 'uint8';
  else if (buf instanceof Int8Array) dtype = 'int8';
  else if (buf instanceof Uint16Array) {
    if (requested !== 'float16' && requested !== 'bfloat16') {
      throw new InvalidArgumentError(
        `${ctx.op}: ${what} is a Uint16Array; pass { dtype: 'float16' } or { dtype: 'bfloat16' } to say what it holds`, ctx);
    }
    dtype = requested;
  } else {
    const got = buf === null ? 'null' : typeof buf === 'object' ? (buf as object).constructor?.name ?? 'object' : typeof buf;
    throw new InvalidArgumentError(
      `${ctx.op}: ${what} must be a Float32Array, Float64Array, Int32Array, Uint32Array, BigInt64Array, Uint8Array, ` +
        `Int8Array or Uint16Array (float16/bfloat16), got ${got}`, ctx);
  }
  if (requested !== undefined && dtype !== requested) {
    throw new InvalidArgumentError(`${ctx.op}: option dtype '${String(requested)}' does not match ${what} (${dtype})`, ctx);
  }
  return dtype;
}

function isResizable(view: ArrayBufferView | null): boolean {
  return !!view && (view.buffer as ArrayBuffer & { resizable?: boolean }).resizable === true;
}

function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  if (a.buffer !== b.buffer) return false;
  return a.byteOffset < b.byteOffset + b.byteLength && b.byteOffset < a.byteOffset + a.byteLength;
}

export class Communicator implements CommunicatorLike, AsyncDisposable {
  readonly rank: number;
  readonly size: number;
  readonly localRank: number;
  readonly localSize: number;
  readonly hostname = os.hostname();

  readonly #addon: Addon;
  readonly #native: NativeCommunicatorHandle;
  readonly #timeoutMs: number;
  readonly #store: Store | null;
  readonly #onDestroy?: () => Promise<void>;
  readonly #spawn: CommunicatorParts['spawn'];
  readonly #prefix: string;
  readonly #faults: RankFaults;
  readonly #pending = new Set<Promise<unknown>>();
  #issued = 0;
  #hung = false;
  #splits = 0;
  #destroyed = false;
  #destroying: Promise<void> | null = null;

  /** @internal use init() */
  constructor(parts: CommunicatorParts) {
    this.#addon = parts.addon;
    this.#native = parts.native;
    this.rank = parts.rank;
    this.size = parts.size;
    this.localRank = parts.localRank;
    this.localSize = parts.localSize;
    this.#timeoutMs = parts.timeoutMs;
    this.#store = parts.store;
    this.#onDestroy = parts.onDestroy;
    this.#spawn = parts.spawn;
    this.#prefix = parts.prefix;
    this.#faults = parts.faults;
    live.add(this);
    installSignalHandlers();
  }

  // ------------------------------------------------------------------ collectives

  /** All-reduce in place (or into `options.out`); resolves to the buffer holding the result. */
  allReduce<T extends NumericArray>(buf: T, options: AllReduceOptions<T> = {}): Promise<T> {
    const ctx = { op: 'allReduce', rank: this.rank };
    return this.#run(ctx, () => {
      const opts = this.#checkOptions(options, ctx);
      const dtype = dtypeOf(buf, opts.dtype, 'buffer', ctx);
      const redop = this.#checkReduceOp(opts.op, ctx);
      const algorithm = this.#checkAlgorithm(opts.algorithm, ctx);
      let out: NumericArray = buf;
      if (opts.out !== undefined && opts.out !== buf) {
        const outType = dtypeOf(opts.out, opts.dtype, 'out', ctx);
        if (outType !== dtype) throw new InvalidArgumentError(`allReduce: out must be the same type as the input (${dtype}), got ${outType}`, ctx);
        if (opts.out.length !== buf.length) {
          throw new InvalidArgumentError(`allReduce: out has ${opts.out.length} elements but the input has ${buf.length}`, ctx);
        }
        if (overlaps(buf, opts.out) && (buf.byteOffset !== opts.out.byteOffset)) {
          throw new InvalidArgumentError('allReduce: out partially overlaps the input (use the same buffer for in place)', ctx);
        }
        out = opts.out;
      }
      return {
        issue: { op: 'allReduce', dtype, redop, algorithm, root: 0, peer: -1, tag: 0, count: buf.length, input: buf, output: out, options: opts },
        result: out as T,
      };
    });
  }

  /** Broadcasts `buf` from `options.root` (default 0) to every rank, in place. */
  broadcast<T extends NumericArray>(buf: T, options: BroadcastOptions = {}): Promise<T> {
    const ctx = { op: 'broadcast', rank: this.rank };
    return this.#run(ctx, () => {
      const opts = this.#checkOptions(options, ctx);
      const dtype = dtypeOf(buf, opts.dtype, 'buffer', ctx);
      const root = this.#checkRank(opts.root ?? 0, 'root', ctx);
      const algorithm = this.#checkAlgorithm(opts.algorithm, ctx);
      return {
        issue: { op: 'broadcast', dtype, redop: 'sum', algorithm, root, peer: -1, tag: 0, count: buf.length, input: buf, output: buf, options: opts },
        result: buf,
      };
    });
  }

  /** Reduces every rank's `buf` into root's `buf` (other ranks' buffers are left unchanged). */
  reduce<T extends NumericArray>(buf: T, options: ReduceOptions = {}): Promise<T> {
    const ctx = { op: 'reduce', rank: this.rank };
    return this.#run(ctx, () => {
      const opts = this.#checkOptions(options, ctx);
      const dtype = dtypeOf(buf, opts.dtype, 'buffer', ctx);
      const root = this.#checkRank(opts.root ?? 0, 'root', ctx);
      const redop = this.#checkReduceOp(opts.op, ctx);
      this.#checkAlgorithm(opts.algorithm, ctx);
      return {
        issue: { op: 'reduce', dtype, redop, algorithm: 'tree', root, peer: -1, tag: 0, count: buf.length, input: buf, output: buf, options: opts },
        result: buf,
      };
    });
  }

  /** Gathers every rank's `send` into `recv` (recv.length === size * send.length), rank order. */
  allGather<T extends NumericArray>(send: T, recv: T, options: OpOptions = {}): Promise<T> {
    const ctx = { op: 'allGather', rank: this.rank };
    return this.#run(ctx, () => {
      const opts = this.#checkOptions(options, ctx);
      const dtype = dtypeOf(send, opts.dtype, 'send', ctx);
      const rtype = dtypeOf(recv, opts.dtype, 'recv', ctx);
      if (rtype !== dtype) throw new InvalidArgumentError(`allGather: recv must be ${dtype} like send, got ${rtype}`, ctx);
      if (recv.length !== this.size * send.length) {
        throw new InvalidArgumentError(
          `allGather: recv has ${recv.length} elements but must have size x send.length = ${this.size} x ${send.length} = ${this.size * send.length}`, ctx);
      }
      if (overlaps(send, recv) && send.byteOffset !== recv.byteOffset + this.rank * send.byteLength) {
        throw new InvalidArgumentError('allGather: send overlaps recv (it may only be recv\'s own block, for in place)', ctx);
      }
      return {
        issue: { op: 'allGather', dtype, redop: 'sum', algorithm: 'ring', root: 0, peer: -1, tag: 0, count: send.length, input: send, output: recv, options: opts },
        result: recv,
      };
    });
  }

  /** Reduces `send` (size blocks) across ranks; rank r receives block r in `recv`. */
  reduceScatter<T extends NumericArray>(send: T, recv: T, options: ReduceScatterOptions = {}): Promise<T> {
    const ctx = { op: 'reduceScatter', rank: this.rank };
    return this.#run(ctx, () => {
      const opts = this.#checkOptions(options, ctx);
      const dtype = dtypeOf(send, opts.dtype, 'send', ctx);
      const rtype = dtypeOf(recv, opts.dtype, 'recv', ctx);
      if (rtype !== dtype) throw new InvalidArgumentError(`reduceScatter: recv must be ${dtype} like send, got ${rtype}`, ctx);
      const redop = this.#checkReduceOp(opts.op, ctx);
      if (send.length !== this.size * recv.length) {
        throw new InvalidArgumentError(
          `reduceScatter: send has ${send.length} elements but must have size x recv.length = ${this.size} x ${recv.length} = ${this.size * recv.length}`, ctx);
      }
      if (overlaps(send, recv)) throw new InvalidArgumentError('reduceScatter: send and recv overlap', ctx);
      return {
        issue: { op: 'reduceScatter', dtype, redop, algorithm: 'ring', root: 0, peer: -1, tag: 0, count: recv.length, input: send, output: recv, options: opts },
        result: recv,
      };
    });
  }

  /** Resolves once every rank has entered the barrier. */
  barrier(options: OpOptions = {}): Promise<void> {
    const ctx = { op: 'barrier', rank: this.rank };
    return this.#run(ctx, () => {
      const opts = this.#checkOptions(options, ctx);
      return {
        issue: { op: 'barrier', dtype: 'uint8', redop: 'sum', algorithm: 'tree', root: 0, peer: -1, tag: 0, count: 0, input: null, output: null, options: opts },
        result: undefined,
      };
    });
  }

  /** Sends `buf` to `peer`; matched by the peer's recv with the same tag (messages of one tag arrive in order). */
  send<T extends NumericArray>(buf: T, peer: number, options: P2POptions = {}): Promise<T> {
    return this.#pointToPoint('send', buf, peer, options);
  }

  /** Receives into `buf` from `peer` (the message must have exactly buf.byteLength bytes). */
  recv<T extends NumericArray>(buf: T, peer: number, options: P2POptions = {}): Promise<T> {
    return this.#pointToPoint('recv', buf, peer, options);
  }

  #pointToPoint<T extends NumericArray>(op: 'send' | 'recv', buf: T, peer: number, options: P2POptions): Promise<T> {
    const ctx = { op, rank: this.rank, peer };
    return this.#run(ctx, () => {
      const opts = this.#checkOptions(options, ctx);
      const dtype = dtypeOf(buf, opts.dtype, 'buffer', ctx);
      this.#checkPeer(peer, ctx);
      const tag = this.#checkTag(opts.tag, ctx);
      return {
        issue: {
          op, dtype, redop: 'sum', algorithm: 'auto', root: 0, peer, tag, count: buf.length,
          input: op === 'send' ? buf : null, output: op === 'recv' ? buf : null, options: opts,
        },
        result: buf,
      };
    });
  }

  /**
   * Splits into sub-communicators (MPI_Comm_split): ranks with the same `color` form one, ordered by
   * `key` (default: this rank) then by rank. A negative color takes no part and gets null.
   * Collective: every rank must call it.
   */
  async split(color: number, key: number = this.rank, options: OpOptions = {}): Promise<Communicator | null> {
    const ctx = { op: 'split', rank: this.rank };
    if (this.#destroyed || this.#destroying) throw new AbortedError('split: the communicator is destroyed', ctx);
    if (!Number.isInteger(color) || color > 0x7fffffff || color < -0x80000000) {
      throw new InvalidArgumentError(`split: color must be an integer, got ${color} (range -2^31..2^31-1; a negative color opts out)`, ctx);
    }
    if (!Number.isInteger(key) || Math.abs(key) > 0x7fffffff) throw new InvalidArgumentError(`split: key must be an integer, got ${key}`, ctx);
    const splitId = this.#splits++;
    const table = new Int32Array(this.size * 2);
    await this.allGather(new Int32Array([color, key]), table, options);
    if (color < 0) return null;
    const members: Array<{ rank: number; key: number }> = [];
    for (let r = 0; r < this.size; r++) {
      if (table[2 * r] === color) members.push({ rank: r, key: table[2 * r + 1]! });
    }
    members.sort((a, b) => a.key - b.key || a.rank - b.rank);
    const newRank = members.findIndex((m) => m.rank === this.rank);
    return this.#spawn(`${this.#prefix}/split${splitId}/c${color}`, newRank, members.length);
  }

  // ------------------------------------------------------------------ lifecycle and introspection

  /** Traffic and time counters of this communicator. */
  stats(): CommStats & { transports: string } {
    return this.#native.stats();
  }

  /** One line telling what this rank is doing now (the flight recorder ringrun prints on --timeout). */
  flightRecord(): string {
    const f = this.#native.flight();
    const now = f.busy ? `in flight: op #${f.seq} ${f.op} for ${f.runningMs.toFixed(0)} ms` : 'idle';
    const last = f.lastCompletedSeq ? `last completed: op #${f.lastCompletedSeq} (${f.lastCompletedOp})` : 'no op completed';
    const hung = this.#hung ? '; HUNG by fault injection (no new op is started)' : '';
    return `[ringtree] rank ${this.rank}/${this.size} pid ${process.pid}: ${now}; ${last}; ${f.queued} queued${f.failed ? '; FAILED' : ''}${hung}`;
  }

  /** Number of ops issued and not yet settled. */
  get pendingOps(): number {
    return this.#pending.size;
  }

  /**
   * Aborts: every pending and later op rejects with ERR_RINGTREE_ABORTED, the connections are shut
   * so peers fail fast too. The communicator is then only good for destroy().
   */
  abort(reason = 'aborted by the application'): void {
    if (this.#destroyed) return;
    this.#native.abort('ERR_RINGTREE_ABORTED', reason);
  }

  /** @internal process exit without destroy(): goodbye (clean) or an abort notice to every peer. */
  farewell(clean: boolean, why: string): void {
    if (!this.#destroyed) this.#native.farewell(clean, why);
  }

  /** Waits for pending ops to settle, then releases connections, threads and shared memory. */
  destroy(): Promise<void> {
    this.#destroying ??= (async () => {
      await Promise.allSettled([...this.#pending]);
      this.#destroyed = true;
      live.delete(this);
      this.#native.close();
      if (this.#onDestroy) await this.#onDestroy();
    })();
    return this.#destroying;
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }

  /** @internal the rendezvous store (split, training helpers) */
  get store(): Store | null {
    return this.#store;
  }

  // ------------------------------------------------------------------ internals

  #checkOptions<O extends OpOptions>(options: O, ctx: { op: string; rank: number }): O {
    if (options === null || typeof options !== 'object') {
      throw new InvalidArgumentError(`${ctx.op}: options must be an object, got ${options === null ? 'null' : typeof options}`, ctx);
    }
    const t = options.timeoutMs;
    if (t !== undefined && (typeof t !== 'number' || !(t > 0) || Number.isNaN(t))) {
      throw new InvalidArgumentError(`${ctx.op}: timeoutMs must be a positive number of milliseconds, got ${String(t)}`, ctx);
    }
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) {
      throw new InvalidArgumentError(`${ctx.op}: signal must be an AbortSignal`, ctx);
    }
    return options;
  }

  #checkReduceOp(op: unknown, ctx: { op: string; rank: number }): ReduceOp {
    if (op === undefined) return 'sum';
    if (!reduceOps.includes(op as ReduceOp)) {
      throw new InvalidArgumentError(`${ctx.op}: op must be one of ${reduceOps.join(', ')}, got ${String(op)}`, ctx);
    }
    return op as ReduceOp;
  }

  #checkAlgorithm(algo: unknown, ctx: { op: string; rank: number }): Algorithm {
    if (algo === undefined) return 'auto';
    if (!algorithms.includes(algo as Algorithm)) {
      throw new InvalidArgumentError(`${ctx.op}: algorithm must be one of ${algorithms.join(', ')}, got ${String(algo)}`, ctx);
    }
    return algo as Algorithm;
  }

  #checkRank(value: unknown, what: string, ctx: { op: string; rank: number }): number {
    if (!Number.isInteger(value) || (value as number) < 0 || (value as number) >= this.size) {
      throw new InvalidArgumentError(`${ctx.op}: ${what} must be an integer rank in 0..${this.size - 1}, got ${String(value)}`, ctx);
    }
    return value as number;
  }

  #checkPeer(peer: unknown, ctx: { op: string; rank: number }): void {
    this.#checkRank(peer, 'peer', ctx);
    if (peer === this.rank) throw new InvalidArgumentError(`${ctx.op}: peer must be another rank than this one (${this.rank})`, ctx);
  }

  #checkTag(tag: unknown, ctx: { op: string; rank: number }): number {
    if (tag === undefined) return 0;
    if (!Number.isInteger(tag) || (tag as number) < 0 || (tag as number) > 0xffffffff) {
      throw new InvalidArgumentError(`${ctx.op}: tag must be an integer in 0..4294967295, got ${String(tag)}`, ctx);
    }
    return tag as number;
  }

  /**
   * Validates (synchronously, via `prepare`), enqueues, and returns the Promise. Nothing is awaited
   * before the enqueue, so issue order is preserved. Ops the native fast path settles at once come
   * back as `true` (or an error object) and become an already-settled Promise. Errors of ops that
   * settle later are created after an `await` in #settle, so V8's zero-cost async stack traces put
   * the caller's frames in them (no per-op stack capture).
   */
  #run<R>(ctx: { op: string; rank: number; peer?: number }, prepare: () => { issue: Issue; result: R }): Promise<R> {
    try {
      if (this.#destroyed || this.#destroying) throw new AbortedError(`${ctx.op}: the communicator is destroyed`, ctx);
      const { issue, result } = prepare();
      if (issue.input?.length === 0 && this.#addon.isDetached(issue.input)) this.#detached('input', ctx);
      if (isResizable(issue.input) || isResizable(issue.output)) {
        throw new InvalidArgumentError(
          `${ctx.op}: views of resizable ArrayBuffers are not accepted (the buffer could shrink while the op is in flight); use a fixed-length buffer`, ctx);
      }
      if (issue.output?.length === 0 && this.#addon.isDetached(issue.output)) this.#detached('output', ctx);
      if (this.#applyFaults()) {
        // injected hang: this op (and everything after it) never starts and never settles, while
        // the process stays alive and responsive (so SIGUSR2 can still print the flight recorder)
        setInterval(() => {}, 1 << 30);
        return new Promise<R>(() => {});
      }
      const o = issue.options;
      if (o.signal?.aborted) {
        this.abort(`${ctx.op} aborted by its signal before it started: ${String(o.signal.reason)}`);
      }
      const timeoutMs = Math.min(o.timeoutMs ?? this.#timeoutMs, 2 ** 52);
      const seq = ++this.#issued;
      const r = this.#native.submit(
        OpCode[issue.op], DTypeCode[issue.dtype], ReduceOpCode[issue.redop], AlgorithmCode[issue.algorithm],
        issue.root, issue.peer, issue.tag, issue.count, issue.input, issue.output, Math.ceil(timeoutMs),
      );
      if (r === true) return Promise.resolve(result);
      if (r instanceof Error) return Promise.reject(toRingtreeError(r, undefined, { ...ctx, seq }));
      return this.#settle(r, result, { ...ctx, seq }, o.signal);
    } catch (error) {
      return Promise.reject(error instanceof RingtreeError ? toRingtreeError(error, undefined, ctx) : error);
    }
  }

  #detached(what: string, ctx: { op: string; rank: number }): never {
    throw new InvalidArgumentError(`${ctx.op}: the ${what} buffer is detached (transferred); ops need a live buffer`, ctx);
  }

  async #settle<R>(p: Promise<unknown>, result: R, ctx: { op: string; rank: number; peer?: number; seq: number }, signal?: AbortSignal): Promise<R> {
    let onAbort: (() => void) | undefined;
    if (signal) {
      onAbort = () => this.abort(`${ctx.op} aborted by its signal: ${String(signal.reason)}`);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    this.#pending.add(p);
    try {
      await p;
      return result;
    } catch (error) {
      throw toRingtreeError(error, undefined, ctx);
    } finally {
      this.#pending.delete(p);
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
  }

  /** Applies injected faults due at this op; true when this rank must hang from now on. */
  #applyFaults(): boolean {
    if (this.#hung) return true;
    const f = this.#faults;
    const n = this.#issued;
    if (f.killAfterOps !== undefined && n >= f.killAfterOps) {
      process.stderr.write(`[ringtree] rank ${this.rank}: fault injection: killing this rank after ${n} ops\n`);
      process.kill(process.pid, 'SIGKILL');
    }
    if (f.dropAfterOps !== undefined && n >= f.dropAfterOps) {
      f.dropAfterOps = undefined;
      process.stderr.write(`[ringtree] rank ${this.rank}: fault injection: dropping all connections after ${n} ops\n`);
      this.#native.dropConnections();
    }
    if (f.hangAfterOps !== undefined && n >= f.hangAfterOps) {
      process.stderr.write(`[ringtree] rank ${this.rank}: fault injection: hanging after ${n} ops\n`);
      this.#hung = true;
      return true;
    }
    return false;
  }
}

/** Bytes per element of a dtype. */
export function bytesPerElement(dtype: DType): number {
  return dtypeBytes[dtype];
}
