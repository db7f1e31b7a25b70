// Small deterministic random number generation (identical on every rank and every platform):
// seeds are mixed with SplitMix64-style hashing of (seed, stream labels), draws use xoshiro128**.

function mix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Hashes a seed and any number of stream labels (numbers or strings) to a 32-bit value. */
export function deriveSeed(seed: number, ...streams: Array<number | string>): number {
  let h = mix32((seed >>> 0) ^ 0x9e3779b9);
  for (const s of streams) {
    if (typeof s === 'number') {
      h = mix32(h ^ mix32((s >>> 0) + 0x7f4a7c15));
      h = mix32(h ^ Math.floor(s / 2 ** 32));
    } else {
      for (let i = 0; i < s.length; i++) h = mix32(h ^ (s.charCodeAt(i) + Math.imul(i + 1, 0x27d4eb2d)));
    }
  }
  return h;
}

export class Rng {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spare: number | undefined;

  constructor(seed: number, ...streams: Array<number | string>) {
    let h = deriveSeed(seed, ...streams);
    const next = (): number => { h = (h + 0x9e3779b9) >>> 0; return mix32(h) || 1; };
    this.#s0 = next(); this.#s1 = next(); this.#s2 = next(); this.#s3 = next();
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(((Math.imul(this.#s1, 5) << 7) | (Math.imul(this.#s1, 5) >>> 25)), 9) >>> 0;
    const t = this.#s1 << 9;
    this.#s2 ^= this.#s0; this.#s3 ^= this.#s1; this.#s1 ^= this.#s2; this.#s0 ^= this.#s3;
    this.#s2 ^= t;
    this.#s3 = (this.#s3 << 11) | (this.#s3 >>> 21);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  next(): number {
    return ((this.nextUint32() >>> 5) * 67108864 + (this.nextUint32() >>> 6)) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal (Box-Muller, the second value is kept for the next call). */
  normal(): number {
    if (this.#spare !== undefined) { const s = this.#spare; this.#spare = undefined; return s; }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher-Yates shuffle in place. */
  shuffle<T extends { length: number; [i: number]: number }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i]!; a[i] = a[j]!; a[j] = t;
    }
    return a;
  }
}

/** The permutation of 0..n-1 used for `epoch` (identical on every rank for the same seed). */
export function epochPermutation(n: number, seed: number, epoch: number): Uint32Array {
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  return new Rng(seed, 'epoch-shuffle', epoch).shuffle(perm);
}
