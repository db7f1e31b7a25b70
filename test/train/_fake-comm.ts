// In-process fake communicator: N simulated ranks in one process sharing memory, with the exact semantics
// the trainer relies on (issue order is the cross-rank order; ops complete asynchronously, in order;
// reductions sum in rank order, float32 arithmetic for float32 and half types, half results rounded to
// nearest even). Implements CommunicatorLike plus stats().

import { bfloat16BitsToFloat32, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from '../../lib/train/half.js';
import type { AllReduceOptions, BroadcastOptions, CommStats, CommunicatorLike, NumericArray, OpOptions, ReduceScatterOptions } from '../../lib/types.js';

type Kind = 'allReduce' | 'broadcast' | 'allGather' | 'reduceScatter' | 'barrier';

interface Entry {
  kind: Kind;
  send?: NumericArray;
  recv?: NumericArray;
  op?: string;
  root?: number;
  dtype?: 'float16' | 'bfloat16';
  resolve: () => void;
  reject: (e: Error) => void;
}

function toF32(buf: NumericArray, i: number, dtype?: 'float16' | 'bfloat16'): number {
  const v = buf[i] as number | bigint;
  if (dtype === 'float16') return float16BitsToFloat32(Number(v));
  if (dtype === 'bfloat16') return bfloat16BitsToFloat32(Number(v));
  return Number(v);
}

function combine(op: string, a: number, b: number, f32: boolean): number {
  const r = op === 'sum' || op === 'avg' ? a + b : op === 'prod' ? a * b : op === 'min' ? Math.min(a, b) : Math.max(a, b);
  return f32 ? Math.fround(r) : r;
}

class Hub {
  readonly pending = new Map<number, Array<Entry | undefined>>();
  constructor(readonly size: number) {}

  submit(seq: number, rank: number, e: Entry): void {
    let slot = this.pending.get(seq);
    if (!slot) { slot = new Array<Entry | undefined>(this.size).fill(undefined); this.pending.set(seq, slot); }
    slot[rank] = e;
    if (slot.every((x) => x !== undefined)) {
      this.pending.delete(seq);
      const entries = slot as Entry[];
      setImmediate(() => {
        try {
          this.#run(entries);
          for (const x of entries) x.resolve();
        } catch (err) {
          for (const x of entries) x.reject(err as Error);
        }
      });
    }
  }

  #run(es: Entry[]): void {
    const k = es[0]!.kind;
    if (es.some((e) => e.kind !== k)) throw new Error(`fake comm mismatch: ${es.map((e) => e.kind).join(' vs ')}`);
    const P = this.size;
    switch (k) {
      case 'barrier': return;
      case 'broadcast': {
        const root = es[0]!.root ?? 0;
        const src = es[root]!.send!;
        for (const e of es) { if (e.send!.length !== src.length) throw new Error('broadcast length mismatch'); if (e !== es[root]) (e.send as Float32Array).set(src as Float32Array); }
        return;
      }
      case 'allGather': {
        const n = es[0]!.send!.length;
        for (const e of es) {
          if (e.send!.length !== n || e.recv!.length !== n * P) throw new Error('allGather length mismatch');
          es.forEach((src, r) => (e.recv as Float32Array).set(src.send as Float32Array, r * n));
        }
        return;
      }
      case 'allReduce':
      case 'reduceScatter': {
        const op = es[0]!.op ?? 'sum';
        const dtype = es[0]!.dtype;
        const n = es[0]!.send!.length;
        for (const e of es) if (e.send!.length !== n) throw new Error(`${k} length mismatch`);
        const f32 = es[0]!.send instanceof Float32Array || dtype !== undefined;
        const isBig = es[0]!.send instanceof BigInt64Array;
        const out = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          let acc = toF32(es[0]!.send!, i, dtype);
          for (let r = 1; r < P; r++) acc = combine(op, acc, toF32(es[r]!.send!, i, dtype), f32);
          if (op === 'avg') acc = f32 ? Math.fround(acc / P) : acc / P;
          out[i] = acc;
        }
        const write = (dst: NumericArray, from: number, count: number) => {
          for (let i = 0; i < count; i++) {
            const v = out[from + i]!;
            if (dtype === 'float16') (dst as Uint16Array)[i] = float32ToFloat16Bits(v);
            else if (dtype === 'bfloat16') (dst as Uint16Array)[i] = float32ToBfloat16Bits(v);
            else if (isBig) (dst as BigInt64Array)[i] = BigInt(Math.trunc(v));
            else (dst as Float64Array)[i] = v;
          }
        };
        if (k === 'allReduce') for (const e of es) write(e.recv ?? e.send!, 0, n);
        else {
          const chunk = n / P;
          es.forEach((e, r) => write(e.recv!, r * chunk, chunk));
        }
        return;
      }
    }
  }
}

const BYTES: Record<string, number> = { float16: 2, bfloat16: 2 };

export class FakeComm implements CommunicatorLike {
  #seq = 0;
  readonly #stats: CommStats = { ops: 0, bytesSent: 0, bytesReceived: 0, busyMs: 0 };
  /** Every op issued, in order: for tests of issue order. */
  readonly issued: string[] = [];
  constructor(private readonly hub: Hub, readonly rank: number, readonly size: number) {}

  stats(): CommStats { return { ...this.#stats }; }

  #submit(e: Omit<Entry, 'resolve' | 'reject'>): Promise<void> {
    const seq = this.#seq++;
    this.issued.push(`${e.kind}:${e.send?.length ?? 0}`);
    const bytes = e.send ? e.send.length * (e.dtype ? BYTES[e.dtype]! : e.send.BYTES_PER_ELEMENT) : 0;
    const P = this.size;
    const sent = e.kind === 'allReduce' ? (2 * (P - 1) * bytes) / P : e.kind === 'allGather' ? (P - 1) * bytes : e.kind === 'reduceScatter' ? ((P - 1) * bytes) / P : e.kind === 'broadcast' ? (this.rank === (e.root ?? 0) ? bytes : 0) : 0;
    return new Promise<void>((resolve, reject) => {
      this.hub.submit(seq, this.rank, {
        ...e,
        resolve: () => { this.#stats.ops++; this.#stats.bytesSent += P > 1 ? sent : 0; resolve(); },
        reject,
      });
    });
  }

  async allReduce<T extends NumericArray>(buf: T, options: AllReduceOptions<T> = {}): Promise<T> {
    const out = options.out;
    await this.#submit({ kind: 'allReduce', send: buf, ...(out ? { recv: out } : {}), op: options.op ?? 'sum', ...(options.dtype ? { dtype: options.dtype } : {}) });
    return out ?? buf;
  }
  async broadcast<T extends NumericArray>(buf: T, options: BroadcastOptions = {}): Promise<T> {
    await this.#submit({ kind: 'broadcast', send: buf, root: options.root ?? 0 });
    return buf;
  }
  async allGather<T extends NumericArray>(send: T, recv: T, _options?: OpOptions): Promise<T> {
    await this.#submit({ kind: 'allGather', send, recv });
    return recv;
  }
  async reduceScatter<T extends NumericArray>(send: T, recv: T, options: ReduceScatterOptions = {}): Promise<T> {
    await this.#submit({ kind: 'reduceScatter', send, recv, op: options.op ?? 'sum', ...(options.dtype ? { dtype: options.dtype } : {}) });
    return recv;
  }
  async barrier(_options?: OpOptions): Promise<void> {
    await this.#submit({ kind: 'barrier' });
  }
}

/** Creates `size` connected fake ranks. */
export function createFakeGroup(size: number): FakeComm[] {
  const hub = new Hub(size);
  return Array.from({ length: size }, (_, r) => new FakeComm(hub, r, size));
}
