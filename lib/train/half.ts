// float32 <-> float16 / bfloat16 conversion in TypeScript (Node 20 has no Float16Array).
// Both directions are exact where the format allows; float32 -> half rounds to nearest, ties to even,
// keeps the sign of zero, maps overflow to infinity and keeps NaN a (quiet) NaN.

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Bits of the IEEE 754 binary16 value nearest to `value` (round to nearest, ties to even). */
export function float32ToFloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToF16Bits(scratchU32[0]!);
}

function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return mant === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mant >>> 13); // Inf / quiet NaN
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00; // too large: infinity
  if (e <= 0) {
    // Subnormal half (or zero): value = m * 2^-24 with m = mant24 >> (14 - e).
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) !== 0)) h++; // may carry into the smallest normal: correct
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry into the exponent is correct (up to Inf)
  return sign | h;
}

/** Decoding table for all 65536 half patterns (256 KiB, built once on first use). */
let f16Table: Float32Array | undefined;
function f16DecodeTable(): Float32Array {
  if (f16Table) return f16Table;
  const table = new Float32Array(65536);
  const bits = new Uint32Array(table.buffer);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    if (exp === 0) {
      table[h] = (sign ? -1 : 1) * mant * 2 ** -24; // zero and subnormals: exact in float32
    } else if (exp === 0x1f) {
      bits[h] = (sign | 0x7f800000 | (mant << 13)) >>> 0;
    } else {
      bits[h] = (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
    }
  }
  f16Table = table;
  return table;
}

/** The float32 value of half bits `h` (exact). */
export function float16BitsToFloat32(h: number): number {
  return f16DecodeTable()[h & 0xffff]!;
}

/** Bits of the bfloat16 value nearest to `value` (round to nearest, ties to even). */
export function float32ToBfloat16Bits(value: number): number {
  scratchF32[0] = value;
  return f32BitsToBf16Bits(scratchU32[0]!);
}

function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The float32 value of bfloat16 bits `b` (exact). */
export function bfloat16BitsToFloat32(b: number): number {
  scratchU32[0] = (b & 0xffff) << 16;
  return scratchF32[0]!;
}

export type HalfType = 'float16' | 'bfloat16';

/**
 * dst[i] = half(src[i] * scale). `scale` is applied in float32 first (as a float32 multiply),
 * which is how the pre-division by the world size is done before the cast.
 */
export function encodeHalf(src: Float32Array, dst: Uint16Array, type: HalfType, scale = 1): Uint16Array {
  if (dst.length < src.length) throw new RangeError(`encodeHalf: dst has ${dst.length} elements, need ${src.length}`);
  const n = src.length;
  const tmp = new Float32Array(1);
  const tmpBits = new Uint32Array(tmp.buffer);
  if (scale === 1) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, n);
    if (type === 'float16') for (let i = 0; i < n; i++) dst[i] = f32BitsToF16Bits(bits[i]!);
    else for (let i = 0; i < n; i++) dst[i] = f32BitsToBf16Bits(bits[i]!);
  } else if (type === 'float16') {
    for (let i = 0; i < n; i++) { tmp[0] = src[i]! * scale; dst[i] = f32BitsToF16Bits(tmpBits[0]!); }
  } else {
    for (let i = 0; i < n; i++) { tmp[0] = src[i]! * scale; dst[i] = f32BitsToBf16Bits(tmpBits[0]!); }
  }
  return dst;
}

/** dst[i] = float32(src[i]) * scale (decode exactly, then one float32 multiply when scale != 1). */
export function decodeHalf(src: Uint16Array, dst: Float32Array, type: HalfType, scale = 1): Float32Array {
  if (dst.length < src.length) throw new RangeError(`decodeHalf: dst has ${dst.length} elements, need ${src.length}`);
  const n = src.length;
  if (type === 'float16') {
    const table = f16DecodeTable();
    if (scale === 1) for (let i = 0; i < n; i++) dst[i] = table[src[i]!]!;
    else for (let i = 0; i < n; i++) dst[i] = table[src[i]!]! * scale;
  } else {
    const bits = new Uint32Array(dst.buffer, dst.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = src[i]! << 16;
    if (scale !== 1) for (let i = 0; i < n; i++) dst[i] = dst[i]! * scale;
  }
  return dst;
}
