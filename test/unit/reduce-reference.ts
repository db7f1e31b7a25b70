// Reference model of ringtree's collectives, computed in plain JS, for the exact checks of the
// multi-process suite (test/multiproc/*) and its rank workers (test/_workers/*).
//
// Inputs are deterministic, rank-dependent small integers chosen per (dtype, op) so that:
//   * float sums/products stay exact in every float type, float16 and bfloat16 included (|sum| <= 30,
//     products are powers of two), so the order in which an algorithm combines ranks cannot matter;
//   * integer types use their whole range, so sums and products wrap (mod 2^bits), which the
//     reference computes the same way (wrapping arithmetic is order independent too);
//   * avg is the wrapped sum divided by P: truncating integer division for integer types, one
//     correctly rounded division for float types (C++ float/half division, see native/reduce).
// Everything here is pure: no addon, no I/O.

export type DType = 'float32' | 'float64' | 'int32' | 'uint32' | 'int64' | 'uint8' | 'int8' | 'float16' | 'bfloat16';
export type ReduceOp = 'sum' | 'avg' | 'prod' | 'min' | 'max';
export type Buf = Float32Array | Float64Array | Int32Array | Uint32Array | BigInt64Array | Uint8Array | Int8Array | Uint16Array;

export const allDTypes: readonly DType[] = ['float32', 'float64', 'int32', 'uint32', 'int64', 'uint8', 'int8', 'float16', 'bfloat16'];
export const allOps: readonly ReduceOp[] = ['sum', 'avg', 'prod', 'min', 'max'];

export const bytesOf: Record<DType, number> = {
  float32: 4, float64: 8, int32: 4, uint32: 4, int64: 8, uint8: 1, int8: 1, float16: 2, bfloat16: 2,
};

export function isFloat(d: DType): boolean {
  return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
}

export function isHalf(d: DType): d is 'float16' | 'bfloat16' {
  return d === 'float16' || d === 'bfloat16';
}

/** A zeroed typed array of the dtype (Uint16Array for the half types). */
export function alloc(dtype: DType, length: number): Buf {
  switch (dtype) {
    case 'float32': return new Float32Array(length);
    case 'float64': return new Float64Array(length);
    case 'int32': return new Int32Array(length);
    case 'uint32': return new Uint32Array(length);
    case 'int64': return new BigInt64Array(length);
    case 'uint8': return new Uint8Array(length);
    case 'int8': return new Int8Array(length);
    case 'float16': case 'bfloat16': return new Uint16Array(length);
  }
}

// ------------------------------------------------------------------ half precision

/** Rounds a finite double to `mant` fraction bits, minimum normal exponent `emin`, ties to even. */
function roundTo(x: number, mant: number, emin: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const q = Math.max(e, emin) - mant; // quantum (power of two)
  const m = a / 2 ** q; // exact: scaling by a power of two
  let f = Math.floor(m);
  const d = m - f;
  if (d > 0.5 || (d === 0.5 && f % 2 === 1)) f++;
  return Math.sign(x) * f * 2 ** q;
}

/** float16 bits of x (rounded to nearest even; overflow to infinity). */
export function toHalfBits(x: number): number {
  const r = roundTo(x, 10, -14);
  const sign = r < 0 || Object.is(r, -0) ? 0x8000 : 0;
  const a = Math.abs(r);
  if (a >= 65520 || !Number.isFinite(a)) return sign | 0x7c00;
  if (a === 0) return sign;
  if (a < 2 ** -14) return sign | Math.round(a / 2 ** -24); // subnormal, exact after roundTo
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (2 ** (e + 1) <= a) e++;
  const frac = a / 2 ** e - 1;
  return sign | ((e + 15) << 10) | Math.round(frac * 1024);
}

export function halfBitsToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return sign * f * 2 ** -24;
  if (e === 0x1f) return f ? NaN : sign * Infinity;
  return sign * (1 + f / 1024) * 2 ** (e - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** bfloat16 bits of x (rounded to nearest even through float32, as the runtime does). */
export function toBf16Bits(x: number): number {
  f32[0] = roundTo(Math.fround(x), 7, -126);
  return u32[0]! >>> 16;
}

export function bf16BitsToNumber(h: number): number {
  u32[0] = (h << 16) >>> 0;
  return f32[0]!;
}

// ------------------------------------------------------------------ inputs

/**
 * The input element i of `rank` for a reduction `op` over `dtype` (a number, or a bigint for int64),
 * as a value in the dtype's domain (half types: the real value, not the bits).
 */
export function value(dtype: DType, op: ReduceOp, rank: number, i: number): number | bigint {
  if (isFloat(dtype)) {
    if (op === 'prod') return [1, 2, -1, 0.5, -2][(rank * 3 + i) % 5]!;
    if (op === 'min' || op === 'max') return ((rank * 7 + i * 5) % 17) - 8;
    return ((rank * 5 + i * 3) % 13) - 6; // sum, avg: |sum over 5 ranks| <= 30, exact in bfloat16
  }
  const u = (rank * 37 + i * 11 + 13) % 256;
  switch (dtype) {
    case 'uint8': return u;
    case 'int8': return u - 128;
    case 'uint32': return op === 'prod' ? u * 257 + rank : u * 16843009; // sums wrap past 2^32
    case 'int32': return op === 'prod' ? (u - 128) * 65537 : (u - 128) * 16777216;
    case 'int64': return op === 'prod' ? BigInt(u - 128) * 1000003n : BigInt(u - 128) * 2n ** 55n;
    default: throw new Error(`unreachable ${dtype}`);
  }
}

/** Fills a new buffer with value(dtype, op, rank, i + offset) (half types get the half bits). */
export function fill(dtype: DType, op: ReduceOp, rank: number, length: number, offset = 0): Buf {
  const b = alloc(dtype, length);
  for (let i = 0; i < length; i++) store(b, dtype, i, value(dtype, op, rank, i + offset));
  return b;
}

/** Writes a value into element i (wrapping for integer types, rounding for halves). */
export function store(b: Buf, dtype: DType, i: number, v: number | bigint): void {
  if (dtype === 'int64') (b as BigInt64Array)[i] = BigInt.asIntN(64, BigInt(v));
  else if (dtype === 'float16') (b as Uint16Array)[i] = toHalfBits(Number(v));
  else if (dtype === 'bfloat16') (b as Uint16Array)[i] = toBf16Bits(Number(v));
  else (b as Exclude<Buf, BigInt64Array>)[i] = Number(v);
}

// ------------------------------------------------------------------ reductions

function wrapInt(dtype: DType, v: number): number {
  switch (dtype) {
    case 'int8': return (v << 24) >> 24;
    case 'uint8': return v & 0xff;
    case 'int32': return v | 0;
    case 'uint32': return v >>> 0;
    default: return v;
  }
}

/** a OP b in the dtype's arithmetic (integers wrap; floats exact given our inputs). */
function combine(dtype: DType, op: ReduceOp, a: number | bigint, b: number | bigint): number | bigint {
  if (dtype === 'int64') {
    const x = a as bigint, y = b as bigint;
    switch (op) {
      case 'sum': case 'avg': return BigInt.asIntN(64, x + y);
      case 'prod': return BigInt.asIntN(64, x * y);
      case 'min': return y < x ? y : x;
      case 'max': return x < y ? y : x;
    }
  }
  const x = a as number, y = b as number;
  if (isFloat(dtype)) {
    switch (op) {
      case 'sum': case 'avg': return x + y;
      case 'prod': return x * y;
      case 'min': return Math.min(x, y);
      case 'max': return Math.max(x, y);
    }
  }
  switch (op) {
    case 'sum': case 'avg': return wrapInt(dtype, wrapInt(dtype, x) + wrapInt(dtype, y));
    case 'prod': return wrapInt(dtype, Math.imul(x, y));
    case 'min': return Math.min(x, y);
    case 'max': return Math.max(x, y);
  }
}

/** The reduction of element i over ranks 0..P-1 (avg included), as a value (not bits). */
export function reducedValue(dtype: DType, op: ReduceOp, P: number, i: number): number | bigint {
  let acc = value(dtype, op, 0, i);
  if (dtype !== 'int64' && !isFloat(dtype)) acc = wrapInt(dtype, acc as number);
  for (let r = 1; r < P; r++) acc = combine(dtype, op, acc, value(dtype, op, r, i));
  if (op !== 'avg' || P === 1) return acc;
  if (dtype === 'int64') return (acc as bigint) / BigInt(P); // truncates toward zero, like C++
  if (!isFloat(dtype)) return Math.trunc((acc as number) / P);
  const q = (acc as number) / P;
  // one correctly rounded division in the storage precision (float for float32 and the halves)
  return dtype === 'float64' ? q : Math.fround(q);
}

/** Expected buffer of a full reduction (allReduce, reduce at root) of `count` elements. */
export function reduced(dtype: DType, op: ReduceOp, P: number, count: number, offset = 0): Buf {
  const b = alloc(dtype, count);
  for (let i = 0; i < count; i++) store(b, dtype, i, reducedValue(dtype, op, P, i + offset));
  return b;
}

/** The bytes of a typed array view. */
export function bytesView(b: ArrayBufferView): Uint8Array {
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Index of the first differing element (by bytes), or -1 when equal. */
export function firstDiff(actual: Buf, expected: Buf): number {
  if (actual.length !== expected.length) return Math.min(actual.length, expected.length);
  const a = bytesView(actual), e = bytesView(expected);
  const es = actual.BYTES_PER_ELEMENT;
  for (let k = 0; k < a.length; k++) if (a[k] !== e[k]) return Math.floor(k / es);
  return -1;
}

/** Renders element i for error messages. */
export function show(b: Buf, dtype: DType, i: number): string {
  const v = b[i];
  if (v === undefined) return 'undefined';
  if (dtype === 'float16') return `${halfBitsToNumber(v as number)} (0x${(v as number).toString(16)})`;
  if (dtype === 'bfloat16') return `${bf16BitsToNumber(v as number)} (0x${(v as number).toString(16)})`;
  return String(v);
}
