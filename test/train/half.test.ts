import test from 'ava';
import { bfloat16BitsToFloat32, decodeHalf, encodeHalf, float16BitsToFloat32, float32ToBfloat16Bits, float32ToFloat16Bits } from '../../lib/train/half.js';

test('float16: known values, signs, infinities, NaN', (t) => {
  t.is(float32ToFloat16Bits(0), 0x0000);
  t.is(float32ToFloat16Bits(-0), 0x8000);
  t.is(float32ToFloat16Bits(1), 0x3c00);
  t.is(float32ToFloat16Bits(-2), 0xc000);
  t.is(float32ToFloat16Bits(65504), 0x7bff);
  t.is(float32ToFloat16Bits(65520), 0x7c00, '65520 is the tie between 65504 and 2^16: rounds to even = Inf');
  t.is(float32ToFloat16Bits(65519), 0x7bff);
  t.is(float32ToFloat16Bits(1e6), 0x7c00);
  t.is(float32ToFloat16Bits(-Infinity), 0xfc00);
  t.is(float32ToFloat16Bits(2 ** -24), 0x0001, 'smallest subnormal');
  t.is(float32ToFloat16Bits(2 ** -25), 0x0000, 'tie with zero rounds to even (0)');
  t.is(float32ToFloat16Bits(2 ** -25 * 1.5), 0x0001);
  t.is(float32ToFloat16Bits(3 * 2 ** -25), 0x0002, '1.5 ulp ties to even (2)');
  t.is(float32ToFloat16Bits(2 ** -14), 0x0400, 'smallest normal');
  t.is(float32ToFloat16Bits(2 ** -14 - 2 ** -25), 0x0400, 'largest subnormal + half ulp rounds up into the normals');
  const nan = float32ToFloat16Bits(NaN);
  t.is(nan & 0x7c00, 0x7c00);
  t.not(nan & 0x3ff, 0);
  t.true(Number.isNaN(float16BitsToFloat32(nan)));
});

test('float16: ties to even in the normal range', (t) => {
  // 1 + 2^-11 is halfway between 1 and 1 + 2^-10: rounds to 1 (even mantissa).
  t.is(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00);
  // 1 + 3*2^-11 is halfway between 1 + 2^-10 (odd) and 1 + 2^-9 (even): rounds up.
  t.is(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02);
  t.is(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01, 'just above the tie rounds up');
});

test('float16: every finite half pattern round-trips exactly and decoding is monotone', (t) => {
  let prev = -Infinity;
  for (let h = 0xfbff; h >= 0x8001; h--) { // negative values ascending
    const v = float16BitsToFloat32(h);
    t.true(v > prev || (v === 0 && prev === 0));
    prev = v;
  }
  let bad = 0;
  for (let h = 0; h < 0x10000; h++) {
    const v = float16BitsToFloat32(h);
    if (Number.isNaN(v)) continue;
    if (float32ToFloat16Bits(v) !== h) bad++;
  }
  t.is(bad, 0);
});

test('float16: encoding is nearest (checked against the two neighbours on random inputs)', (t) => {
  let seed = 12345;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  for (let i = 0; i < 20000; i++) {
    const x = Math.fround((rand() - 0.5) * 2 ** (Math.floor(rand() * 40) - 24));
    const h = float32ToFloat16Bits(x);
    const v = float16BitsToFloat32(h);
    const err = Math.abs(v - x);
    for (const nb of [h - 1, h + 1]) {
      if ((nb & 0x7fff) > 0x7bff || nb < 0 || nb > 0xffff) continue;
      const w = float16BitsToFloat32(nb);
      if (Math.sign(w) !== Math.sign(v) && w !== 0 && v !== 0) continue;
      if (Math.abs(w - x) < err) { t.fail(`x=${x}: chose ${v} but ${w} is nearer`); return; }
    }
  }
  t.pass();
});

test('bfloat16: known values, ties to even, NaN stays NaN, exact decode', (t) => {
  t.is(float32ToBfloat16Bits(1), 0x3f80);
  t.is(float32ToBfloat16Bits(-0), 0x8000);
  t.is(float32ToBfloat16Bits(1 + 2 ** -8), 0x3f80, 'tie: rounds to even');
  t.is(float32ToBfloat16Bits(1 + 3 * 2 ** -8), 0x3f82, 'tie: rounds to even (up)');
  t.is(float32ToBfloat16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
  t.is(float32ToBfloat16Bits(3.4028234663852886e38), 0x7f80, 'max float32 rounds to Inf');
  t.is(float32ToBfloat16Bits(Infinity), 0x7f80);
  t.true(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(NaN))));
  let bad = 0;
  for (let b = 0; b < 0x10000; b++) {
    const v = bfloat16BitsToFloat32(b);
    if (!Number.isNaN(v) && float32ToBfloat16Bits(v) !== b) bad++;
  }
  t.is(bad, 0);
});

test('bulk encode/decode match the scalar functions; scale is applied before rounding', (t) => {
  const src = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i) * 10 ** ((i % 9) - 4));
  for (const type of ['float16', 'bfloat16'] as const) {
    const enc = encodeHalf(src, new Uint16Array(src.length), type);
    const scalar = type === 'float16' ? float32ToFloat16Bits : float32ToBfloat16Bits;
    t.deepEqual(Array.from(enc), Array.from(src, (v) => scalar(v)));
    const dec = decodeHalf(enc, new Float32Array(src.length), type);
    const back = type === 'float16' ? float16BitsToFloat32 : bfloat16BitsToFloat32;
    t.deepEqual(Array.from(dec), Array.from(enc, (h) => back(h)));
    const half = encodeHalf(src, new Uint16Array(src.length), type, 0.5);
    t.deepEqual(Array.from(half), Array.from(src, (v) => scalar(Math.fround(v * 0.5))));
  }
});
