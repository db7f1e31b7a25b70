// Runs one case of the collectives matrix (test/multiproc/_cases.ts) on a communicator and checks
// the result exactly against the JS reference (test/unit/reduce-reference.ts).
import type { Communicator } from '../../lib/index.js';
import type { NumericArray } from '../../lib/types.js';
import { splitLayout, identicalOnAllRanks, type Case, type CaseResult } from '../multiproc/_cases.js';
import * as ref from '../unit/reduce-reference.js';
import {
  alloc, bytesView, firstDiff, isHalf, show, type Buf, type DType, type ReduceOp,
} from '../unit/reduce-reference.js';
import { errorInfo, sha1 } from './_common.js';

class CheckError extends Error {}

// The reference is plain JS (a few hundred ms for 600 KB): many cases share inputs and expected
// results (algorithms, in/out of place), so both are computed once and handed out as copies.
const memo = new Map<string, Buf>();
function cached(key: string, make: () => Buf): Buf {
  let b = memo.get(key);
  if (!b) {
    b = make();
    if (b.byteLength >= 4096) memo.set(key, b);
  }
  return b.slice() as Buf;
}
function fill(dtype: DType, op: ReduceOp, rank: number, length: number, offset = 0): Buf {
  return cached(`f ${dtype} ${op} ${rank} ${length} ${offset}`, () => ref.fill(dtype, op, rank, length, offset));
}
function reduced(dtype: DType, op: ReduceOp, P: number, count: number, offset = 0): Buf {
  return cached(`r ${dtype} ${op} ${P} ${count} ${offset}`, () => ref.reduced(dtype, op, P, count, offset));
}

function garbage(dtype: DType, length: number): Buf {
  const b = alloc(dtype, length);
  bytesView(b).fill(0xa5);
  return b;
}

/** A view of `length` elements at element offset 1 of a bigger buffer whose guard elements are garbage. */
function guarded(dtype: DType, length: number): { view: Buf; whole: Buf } {
  const whole = garbage(dtype, length + 2);
  return { view: whole.subarray(1, length + 1) as Buf, whole };
}

function expectEqual(what: string, dtype: DType, actual: Buf, expected: Buf): void {
  const i = firstDiff(actual, expected);
  if (i < 0) return;
  let diffs = 0;
  const a = bytesView(actual), e = bytesView(expected);
  for (let k = 0; k < a.length; k++) if (a[k] !== e[k]) diffs++;
  throw new CheckError(
    `${what}: element ${i} of ${expected.length} is ${show(actual, dtype, i)}, expected ${show(expected, dtype, i)} ` +
      `(${diffs} differing bytes of ${e.length})`);
}

function expectGuards(dtype: DType, whole: Buf): void {
  const g = garbage(dtype, 1);
  const first = whole.subarray(0, 1) as Buf, last = whole.subarray(whole.length - 1) as Buf;
  if (firstDiff(first, g) >= 0 || firstDiff(last, g) >= 0) throw new CheckError('wrote outside the output view (guard element changed)');
}

function concat(dtype: DType, parts: Buf[]): Buf {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = alloc(dtype, n);
  let at = 0;
  for (const p of parts) {
    bytesView(out).set(bytesView(p), at * out.BYTES_PER_ELEMENT);
    at += p.length;
  }
  return out;
}

function dt(dtype: DType): { dtype?: 'float16' | 'bfloat16' } {
  return isHalf(dtype) ? { dtype } : {};
}

const N = <T>(b: Buf): T => b as unknown as T;

export async function runCase(comm: Communicator, c: Case): Promise<CaseResult> {
  const P = comm.size, rank = comm.rank;
  const t0 = performance.now();
  let hashOf: Buf | undefined;
  try {
    switch (c.kind) {
      case 'allReduce': {
        const input = fill(c.dtype, c.op, rank, c.count);
        const orig = input.slice() as Buf;
        const expected = reduced(c.dtype, c.op, P, c.count);
        const opts = { op: c.op, algorithm: c.algorithm, ...dt(c.dtype) };
        if (c.inPlace) {
          const r = await comm.allReduce(N<NumericArray>(input), opts);
          if (r !== (input as unknown)) throw new CheckError('did not resolve to the buffer');
          expectEqual('result', c.dtype, input, expected);
          hashOf = input;
        } else {
          const { view, whole } = guarded(c.dtype, c.count);
          const r = await comm.allReduce(N<NumericArray>(input), { ...opts, out: N<NumericArray>(view) });
          if (r !== (view as unknown)) throw new CheckError('did not resolve to out');
          expectEqual('out', c.dtype, view, expected);
          expectEqual('input (must be unchanged out of place)', c.dtype, input, orig);
          expectGuards(c.dtype, whole);
          hashOf = view;
        }
        break;
      }
      case 'broadcast': {
        const expected = fill(c.dtype, 'sum', c.root, c.count);
        const buf = rank === c.root ? fill(c.dtype, 'sum', rank, c.count) : fill(c.dtype, 'min', rank, c.count, 1000);
        await comm.broadcast(N<NumericArray>(buf), { root: c.root, algorithm: c.algorithm, ...dt(c.dtype) });
        expectEqual('buffer', c.dtype, buf, expected);
        hashOf = buf;
        break;
      }
      case 'reduce': {
        const buf = fill(c.dtype, c.op, rank, c.count);
        const orig = buf.slice() as Buf;
        await comm.reduce(N<NumericArray>(buf), { root: c.root, op: c.op, ...dt(c.dtype) });
        if (rank === c.root) expectEqual('root buffer', c.dtype, buf, reduced(c.dtype, c.op, P, c.count));
        else expectEqual('non-root buffer (must be unchanged)', c.dtype, buf, orig);
        break;
      }
      case 'allGather': {
        const parts = Array.from({ length: P }, (_, r) => fill(c.dtype, 'sum', r, c.count, 3));
        const expected = concat(c.dtype, parts);
        const { view, whole } = guarded(c.dtype, P * c.count);
        let send: Buf;
        if (c.inPlace) {
          send = view.subarray(rank * c.count, (rank + 1) * c.count) as Buf;
          bytesView(send).set(bytesView(parts[rank]!));
        } else {
          send = fill(c.dtype, 'sum', rank, c.count, 3);
        }
        const r = await comm.allGather(N<NumericArray>(send), N<NumericArray>(view), dt(c.dtype));
        if (r !== (view as unknown)) throw new CheckError('did not resolve to recv');
        expectEqual('recv', c.dtype, view, expected);
        expectGuards(c.dtype, whole);
        hashOf = view;
        break;
      }
      case 'reduceScatter': {
        const send = fill(c.dtype, c.op, rank, P * c.count);
        const orig = send.slice() as Buf;
        const { view, whole } = guarded(c.dtype, c.count);
        await comm.reduceScatter(N<NumericArray>(send), N<NumericArray>(view), { op: c.op, ...dt(c.dtype) });
        expectEqual('recv', c.dtype, view, reduced(c.dtype, c.op, P, c.count, rank * c.count));
        expectEqual('send (must be unchanged)', c.dtype, send, orig);
        expectGuards(c.dtype, whole);
        break;
      }
      case 'barrier': {
        for (let i = 0; i < c.n; i++) await comm.barrier();
        break;
      }
      case 'sendRecv': {
        // ring shift: rank r sends to r+1 and receives from r-1; even ranks send first, odd ranks
        // receive first (a FIFO progress engine cannot overlap a rank's send with its later recv)
        const right = (rank + 1) % P, left = (rank + P - 1) % P;
        const out = fill(c.dtype, 'sum', rank, c.count, 7);
        const { view, whole } = guarded(c.dtype, c.count);
        const o = { tag: c.tag, ...dt(c.dtype) };
        const ps = rank % 2 === 0
          ? [comm.send(N<NumericArray>(out), right, o), comm.recv(N<NumericArray>(view), left, o)]
          : [comm.recv(N<NumericArray>(view), left, o), comm.send(N<NumericArray>(out), right, o)];
        await Promise.all(ps);
        expectEqual('received', c.dtype, view, fill(c.dtype, 'sum', left, c.count, 7));
        expectGuards(c.dtype, whole);
        break;
      }
      case 'tagsOutOfOrder': {
        // pairs (r, r^1): the lower rank sends tags 10.. in order, the higher one receives them in
        // reverse order (earlier tags are stashed); then the other direction.
        const partner = rank ^ 1;
        if (partner >= P) break;
        const o = dt(c.dtype);
        const mine = c.counts.map((n, k) => fill(c.dtype, 'sum', rank, n, 100 * k));
        const bufs = c.counts.map((n) => alloc(c.dtype, n));
        const sendAll = (): Array<Promise<unknown>> => mine.map((b, k) => comm.send(N<NumericArray>(b), partner, { tag: 10 + k, ...o }));
        const recvAll = (): Array<Promise<unknown>> => {
          const ps: Array<Promise<unknown>> = [];
          for (let k = bufs.length - 1; k >= 0; k--) ps.push(comm.recv(N<NumericArray>(bufs[k]!), partner, { tag: 10 + k, ...o }));
          return ps;
        };
        const ps = rank < partner ? [...sendAll(), ...recvAll()] : [...recvAll(), ...sendAll()];
        await Promise.all(ps);
        c.counts.forEach((n, k) => expectEqual(`message tag ${10 + k}`, c.dtype, bufs[k]!, fill(c.dtype, 'sum', partner, n, 100 * k)));
        break;
      }
      case 'inexact': {
        const buf = alloc(c.dtype, c.count);
        for (let i = 0; i < c.count; i++) {
          const x = c.op === 'prod' ? 1 + Math.sin(rank * 7.3 + i * 0.37) / 3 : Math.sin(rank * 7.3 + i * 0.37) * 1000 / (rank + 3);
          ref.store(buf, c.dtype, i, x);
        }
        await comm.allReduce(N<NumericArray>(buf), { op: c.op, algorithm: c.algorithm, ...dt(c.dtype) });
        // sanity: close to the exact result (rounding only), so identical bits mean a real result
        for (let i = 0; i < c.count; i += 97) {
          let exact = c.op === 'prod' ? 1 : 0;
          for (let r = 0; r < P; r++) {
            const x = c.op === 'prod' ? 1 + Math.sin(r * 7.3 + i * 0.37) / 3 : Math.sin(r * 7.3 + i * 0.37) * 1000 / (r + 3);
            const tmp = alloc(c.dtype, 1);
            ref.store(tmp, c.dtype, 0, x);
            const v = c.dtype === 'float16' ? ref.halfBitsToNumber(tmp[0] as number) : c.dtype === 'bfloat16' ? ref.bf16BitsToNumber(tmp[0] as number) : Number(tmp[0]);
            exact = c.op === 'prod' ? exact * v : exact + v;
          }
          if (c.op === 'avg') exact /= P;
          const raw = buf[i] as number;
          const got = c.dtype === 'float16' ? ref.halfBitsToNumber(raw) : c.dtype === 'bfloat16' ? ref.bf16BitsToNumber(raw) : raw;
          const tol = (c.dtype === 'bfloat16' ? 0.05 : c.dtype === 'float16' ? 0.01 : 1e-5) * (Math.abs(exact) + (c.op === 'prod' ? 1 : 100));
          if (!(Math.abs(got - exact) <= tol)) throw new CheckError(`element ${i} is ${got}, far from ${exact}`);
        }
        hashOf = buf;
        break;
      }
      case 'exchange': {
        // both ranks of a pair issue send then recv together (Promise.all): point-to-point ops must
        // not block each other even when the message exceeds the transport's buffering
        const partner = rank ^ 1;
        if (partner >= P) break;
        const out = fill(c.dtype, 'sum', rank, c.count, 11);
        const { view, whole } = guarded(c.dtype, c.count);
        const o = { tag: 7, timeoutMs: 20_000, ...dt(c.dtype) };
        await Promise.all([comm.send(N<NumericArray>(out), partner, o), comm.recv(N<NumericArray>(view), partner, o)]);
        expectEqual('received', c.dtype, view, fill(c.dtype, 'sum', partner, c.count, 11));
        expectGuards(c.dtype, whole);
        break;
      }
      case 'split': {
        const { color, key } = splitLayout(P, rank);
        const sub = await comm.split(color, key);
        if (color < 0) {
          if (sub !== null) throw new CheckError('split with a negative color must give null');
          await comm.barrier();
          break;
        }
        if (!sub) throw new CheckError('split gave null for a non-negative color');
        try {
          const members = Array.from({ length: P }, (_, r) => ({ r, ...splitLayout(P, r) }))
            .filter((m) => m.color === color)
            .sort((a, b) => a.key - b.key || a.r - b.r)
            .map((m) => m.r);
          if (sub.size !== members.length) throw new CheckError(`sub.size ${sub.size}, expected ${members.length}`);
          if (sub.rank !== members.indexOf(rank)) throw new CheckError(`sub.rank ${sub.rank}, expected ${members.indexOf(rank)}`);
          const buf = fill('int32', 'sum', rank, c.count);
          await sub.allReduce(N<NumericArray>(buf));
          const exp = alloc('int32', c.count) as Int32Array;
          for (const m of members) {
            const v = fill('int32', 'sum', m, c.count) as Int32Array;
            for (let i = 0; i < c.count; i++) exp[i] = (exp[i]! + v[i]!) | 0;
          }
          expectEqual('sub allReduce', 'int32', buf, exp);
          const b2 = sub.rank === 0 ? fill('int32', 'min', rank, c.count) : alloc('int32', c.count);
          await sub.broadcast(N<NumericArray>(b2));
          expectEqual('sub broadcast', 'int32', b2, fill('int32', 'min', members[0]!, c.count));
          const g = alloc('int32', sub.size * c.count);
          await sub.allGather(N<NumericArray>(fill('int32', 'max', rank, c.count)), N<NumericArray>(g));
          expectEqual('sub allGather', 'int32', g, concat('int32', members.map((m) => fill('int32', 'max', m, c.count))));
          // nested split: the sub-communicator reversed again; then a collective on it
          const nested = await sub.split(0, -sub.rank);
          try {
            if (!nested || nested.size !== sub.size || nested.rank !== sub.size - 1 - sub.rank) {
              throw new CheckError(`nested split: rank ${nested?.rank}/${nested?.size}, expected ${sub.size - 1 - sub.rank}/${sub.size}`);
            }
            const nb = alloc('int32', c.count) as Int32Array;
            if (nested.rank === 0) nb.set(fill('int32', 'sum', rank, c.count) as Int32Array);
            await nested.broadcast(nb);
            expectEqual('nested broadcast from its rank 0', 'int32', nb, fill('int32', 'sum', members[members.length - 1]!, c.count));
          } finally {
            await nested?.destroy();
          }
          // the parent still works while the sub-communicator exists (every rank, opted out or not)
          await comm.barrier();
        } finally {
          await sub.destroy();
        }
        break;
      }
    }
  } catch (error) {
    if (error instanceof CheckError) return { id: c.id, ok: false, error: `rank ${rank}: ${error.message}` };
    const info = errorInfo(error);
    return { id: c.id, ok: false, error: `rank ${rank}: rejected ${info.code ?? info.name}: ${info.message}`, code: info.code ?? info.name };
  }
  const res: CaseResult = { id: c.id, ok: true, ms: Math.round((performance.now() - t0) * 10) / 10 };
  if (hashOf && identicalOnAllRanks.has(c.kind)) res.hash = sha1(hashOf);
  return res;
}
