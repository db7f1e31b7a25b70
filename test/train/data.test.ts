import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import test from 'ava';
import { DatasetNotFoundError, encodeIdxUint8, loadFashionMnist, parseIdx, Prefetcher, readIdxFile, shardRange } from '../../lib/train/data/index.js';
import { epochPermutation } from '../../lib/train/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'ringtree-data-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function writeFakeMnist(dir: string, n: number, gz: boolean): { images: Uint8Array; labels: Uint8Array } {
  const images = Uint8Array.from({ length: n * 28 * 28 }, (_, i) => (i * 7) % 256);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const w = (name: string, bytes: Uint8Array) => writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(bytes) : bytes);
  w('train-images-idx3-ubyte', encodeIdxUint8([n, 28, 28], images));
  w('train-labels-idx1-ubyte', encodeIdxUint8([n], labels));
  w('t10k-images-idx3-ubyte', encodeIdxUint8([n, 28, 28], images));
  w('t10k-labels-idx1-ubyte', encodeIdxUint8([n], labels));
  return { images, labels };
}

test('IDX: parses a generated uint8 file, plain and gzipped, big-endian dims', async (t) => {
  const data = Uint8Array.from({ length: 2 * 3 * 4 }, (_, i) => i);
  const bytes = encodeIdxUint8([2, 3, 4], data);
  t.deepEqual(Array.from(bytes.subarray(0, 8)), [0, 0, 8, 3, 0, 0, 0, 2]);
  const a = parseIdx(bytes);
  t.deepEqual(a.dims, [2, 3, 4]);
  t.deepEqual(Array.from(a.data), Array.from(data));
  writeFileSync(join(tmp, 'x.idx.gz'), gzipSync(bytes));
  const b = await readIdxFile(join(tmp, 'x.idx.gz'));
  t.deepEqual(b.dims, [2, 3, 4]);
  t.deepEqual(Array.from(b.data), Array.from(data));
});

test('IDX: other element types are decoded big-endian', (t) => {
  const buf = new Uint8Array(4 + 4 + 2 * 4);
  const v = new DataView(buf.buffer);
  buf[2] = 0x0d; buf[3] = 1; v.setUint32(4, 2);
  v.setFloat32(8, 1.5); v.setFloat32(12, -2.25);
  t.deepEqual(Array.from(parseIdx(buf).data), [1.5, -2.25]);
});

test('IDX: bad magic, unknown type, truncated and trailing data are errors', (t) => {
  const good = encodeIdxUint8([4], new Uint8Array(4));
  t.throws(() => parseIdx(Uint8Array.from([1, 0, 8, 1, 0, 0, 0, 0])), { message: /bad magic/ });
  t.throws(() => parseIdx(Uint8Array.from([0, 0, 0x42, 1, 0, 0, 0, 0])), { message: /unknown element type/ });
  t.throws(() => parseIdx(good.subarray(0, good.length - 1)), { message: /truncated data/ });
  t.throws(() => parseIdx(Uint8Array.from([...good, 0])), { message: /trailing/ });
});

test('Fashion-MNIST loader reads a directory of IDX files and normalizes pixels', async (t) => {
  for (const gz of [false, true]) {
    const dir = mkdtempSync(join(tmp, gz ? 'fm-gz-' : 'fm-'));
    const { images, labels } = writeFakeMnist(dir, 12, gz);
    const { train, test: testSet } = await loadFashionMnist(dir);
    t.is(train.size, 12);
    t.is(testSet.size, 12);
    t.deepEqual(train.inputShape, [28, 28, 1]);
    t.is(train.numClasses, 10);
    const batch = await train.load([3, 0]);
    t.is(batch.count, 2);
    t.deepEqual(Array.from(batch.y), [labels[3], labels[0]]);
    t.true(Math.abs(batch.x[0]! - (images[3 * 784]! / 255 - 0.286) / 0.353) < 1e-5);
    await t.throwsAsync(train.load([12]), { instanceOf: RangeError });
  }
});

test('Fashion-MNIST: a clear error telling how to install it when missing', async (t) => {
  const e1 = await t.throwsAsync(loadFashionMnist(join(tmp, 'nope')), { instanceOf: DatasetNotFoundError });
  t.regex(e1!.message, /apt-get install dataset-fashion-mnist/);
  t.regex(e1!.message, /--data-dir/);
  const empty = mkdtempSync(join(tmp, 'empty-'));
  const e2 = await t.throwsAsync(loadFashionMnist(empty), { instanceOf: DatasetNotFoundError });
  t.regex(e2!.message, /train-images-idx3-ubyte/);
});

test('per-epoch shuffle is a seeded permutation shared by all ranks, different per epoch; shards tile the range', (t) => {
  const a = epochPermutation(1000, 42, 0);
  t.deepEqual(Array.from(a), Array.from(epochPermutation(1000, 42, 0)));
  t.notDeepEqual(Array.from(a), Array.from(epochPermutation(1000, 42, 1)));
  t.notDeepEqual(Array.from(a), Array.from(epochPermutation(1000, 43, 0)));
  t.deepEqual(Array.from(a).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  let next = 0;
  for (let r = 0; r < 3; r++) { const [lo, hi] = shardRange(10, r, 3); t.is(lo, next); next = hi; }
  t.is(next, 10);
});

test('Prefetcher keeps batches in order and surfaces load errors', async (t) => {
  const loads: number[] = [];
  const ds = {
    name: 'x', size: 100, inputShape: [1, 1, 1] as const, numClasses: 2, classNames: ['a', 'b'], skippedFiles: 0,
    async load(idx: ArrayLike<number>) {
      loads.push(idx[0]!);
      await new Promise((r) => setTimeout(r, 5 - (idx[0]! % 3)));
      if (idx[0] === 40) throw new Error('disk on fire');
      return { x: new Float32Array(idx.length), y: Int32Array.from(idx), count: idx.length, skipped: 0, valid: new Uint8Array(idx.length).fill(1) };
    },
  };
  const p = new Prefetcher(ds, (i) => [i * 10], 4, 2);
  t.deepEqual(loads, [0, 10], 'two batches requested ahead');
  for (let i = 0; i < 4; i++) t.is((await p.next()).y[0], i * 10);
  const bad = new Prefetcher(ds, (i) => [40 + i], 2, 2);
  await t.throwsAsync(bad.next(), { message: 'disk on fire' });
});
