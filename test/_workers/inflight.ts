// Rank worker: 64 ops of mixed kinds, sizes, reduce ops and dtypes issued at once (Promise.all) —
// issue order is the cross-rank order — then every result checked exactly against the reference,
// plus the order in which the Promises settled (reported for information).
import { init } from '../../lib/index.js';
import type { NumericArray } from '../../lib/types.js';
import {
  allDTypes, allOps, alloc, bytesView, fill, firstDiff, isHalf, reduced, show, type Buf, type DType,
} from '../unit/reduce-reference.js';
import { emit, errorInfo, sha1 } from './_common.js';

const comm = await init();
const P = comm.size, rank = comm.rank;
const sizes = [0, 1, 7, 100, 1000, 3001, 20_000, 2];
const algos = ['ring', 'tree', 'rhd', 'auto'] as const;
const N = <T>(b: Buf): T => b as unknown as T;
const dt = (d: DType): { dtype?: 'float16' | 'bfloat16' } => (isHalf(d) ? { dtype: d } : {});

interface Pending { k: number; what: string; promise: Promise<unknown>; check: () => string | null; hash?: () => string }
const pending: Pending[] = [];
const mismatch = (what: string, d: DType, a: Buf, e: Buf): string | null => {
  const i = firstDiff(a, e);
  return i < 0 ? null : `${what}: element ${i} is ${show(a, d, i)}, expected ${show(e, d, i)}`;
};

for (let k = 0; k < 64; k++) {
  const dtype = allDTypes[k % allDTypes.length]!;
  const op = allOps[(k >> 1) % allOps.length]!;
  const count = sizes[(k * 5 + 3) % sizes.length]!;
  const kind = k % 8;
  let p: Pending;
  if (kind <= 2) {
    const algorithm = algos[k % 4]!;
    const buf = fill(dtype, op, rank, count);
    const outOfPlace = kind === 2;
    const out = outOfPlace ? alloc(dtype, count) : buf;
    const what = `#${k} allReduce ${op} ${dtype} ${algorithm} n=${count}${outOfPlace ? ' out-of-place' : ''}`;
    p = {
      k, what,
      promise: comm.allReduce(N<NumericArray>(buf), { op, algorithm, ...dt(dtype), ...(outOfPlace ? { out: N<NumericArray>(out) } : {}) }),
      check: () => mismatch(what, dtype, out, reduced(dtype, op, P, count)),
      hash: () => sha1(out),
    };
  } else if (kind === 3) {
    const root = k % P;
    const buf = rank === root ? fill(dtype, 'sum', root, count) : alloc(dtype, count);
    const what = `#${k} broadcast ${dtype} root=${root} n=${count}`;
    p = { k, what, promise: comm.broadcast(N<NumericArray>(buf), { root, ...dt(dtype) }), check: () => mismatch(what, dtype, buf, fill(dtype, 'sum', root, count)), hash: () => sha1(buf) };
  } else if (kind === 4) {
    const send = fill(dtype, 'sum', rank, count, 5);
    const recv = alloc(dtype, P * count);
    const exp = alloc(dtype, P * count);
    for (let r = 0; r < P; r++) bytesView(exp).set(bytesView(fill(dtype, 'sum', r, count, 5)), r * send.byteLength);
    const what = `#${k} allGather ${dtype} n=${count}`;
    p = { k, what, promise: comm.allGather(N<NumericArray>(send), N<NumericArray>(recv), dt(dtype)), check: () => mismatch(what, dtype, recv, exp), hash: () => sha1(recv) };
  } else if (kind === 5) {
    const send = fill(dtype, op, rank, P * count);
    const recv = alloc(dtype, count);
    const what = `#${k} reduceScatter ${op} ${dtype} n=${count}`;
    p = { k, what, promise: comm.reduceScatter(N<NumericArray>(send), N<NumericArray>(recv), { op, ...dt(dtype) }), check: () => mismatch(what, dtype, recv, reduced(dtype, op, P, count, rank * count)) };
  } else if (kind === 6) {
    const root = (k >> 3) % P;
    const buf = fill(dtype, op, rank, count);
    const orig = buf.slice() as Buf;
    const what = `#${k} reduce ${op} ${dtype} root=${root} n=${count}`;
    p = { k, what, promise: comm.reduce(N<NumericArray>(buf), { root, op, ...dt(dtype) }), check: () => mismatch(what, dtype, buf, rank === root ? reduced(dtype, op, P, count) : orig) };
  } else {
    p = { k, what: `#${k} barrier`, promise: comm.barrier(), check: () => null };
  }
  pending.push(p);
}
const settled: number[] = [];
for (const p of pending) p.promise.then(() => settled.push(p.k), () => settled.push(p.k));
let error: string | undefined;
try {
  await Promise.all(pending.map((p) => p.promise));
} catch (e) {
  const info = errorInfo(e);
  error = `${info.code}: ${info.message}`;
}
await new Promise((r) => setImmediate(r));
const failures = error ? [] : pending.map((p) => p.check()).filter((x): x is string => x !== null);
const hashes = error ? [] : pending.map((p) => (p.hash ? p.hash() : ''));
emit({ rank, error, failures, settled, hashes, ops: pending.length });
await comm.destroy();
