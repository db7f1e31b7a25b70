// Dogs vs Cats pipeline on small JPEG trees generated here with sharp (Kaggle and PetImages layouts),
// including a corrupt file and an empty one.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import sharp from 'sharp';
import { DatasetNotFoundError, decodeImage, loadDogsVsCats, scanDogsVsCats } from '../../lib/train/data/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'ringtree-img-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

async function jpeg(path: string, color: { r: number; g: number; b: number }, w = 40, h = 30, channels: 3 | 1 = 3): Promise<void> {
  let img = sharp({ create: { width: w, height: h, channels: 3, background: color } });
  if (channels === 1) img = img.greyscale();
  await img.jpeg({ quality: 90 }).toFile(path);
}

const CAT = { r: 200, g: 30, b: 30 };
const DOG = { r: 30, g: 30, b: 200 };

async function kaggleTree(n: number): Promise<string> {
  const root = mkdtempSync(join(tmp, 'kaggle-'));
  mkdirSync(join(root, 'train'));
  for (let i = 0; i < n; i++) {
    await jpeg(join(root, 'train', `cat.${i}.jpg`), CAT);
    await jpeg(join(root, 'train', `dog.${i}.jpg`), DOG, 30, 50);
  }
  return root;
}

test('decodeImage resizes to a square RGB image; greyscale becomes 3 channels', async (t) => {
  const p = join(tmp, 'one.jpg');
  await jpeg(p, CAT, 64, 32);
  const img = await decodeImage(p, 16);
  t.is(img.length, 16 * 16 * 3);
  t.true(img[0]! > 150 && img[1]! < 80 && img[2]! < 80);
  const g = join(tmp, 'grey.jpg');
  await jpeg(g, DOG, 20, 20, 1);
  const gi = await decodeImage(g, 8);
  t.is(gi.length, 8 * 8 * 3);
  t.is(gi[0], gi[1]);
});

test('Kaggle layout: labels from file names, fixed train/test split, normalized RGB batches', async (t) => {
  const root = await kaggleTree(10);
  const { files, layout } = await scanDogsVsCats(root);
  t.is(layout, 'kaggle');
  t.is(files.length, 20);
  t.is(files.filter((f) => f.label === 1).length, 10);
  const { train, test: testSet } = await loadDogsVsCats({ dataDir: root, imageSize: 12, testFraction: 0.2 });
  t.is(train.size + testSet.size, 20);
  t.is(testSet.size, 4);
  t.deepEqual(train.inputShape, [12, 12, 3]);
  const batch = await train.load([0, 1, 2, 3]);
  t.is(batch.x.length, 4 * 12 * 12 * 3);
  for (let b = 0; b < 4; b++) {
    const red = batch.x[b * 432]!, blue = batch.x[b * 432 + 2]!;
    t.is(batch.y[b], red > blue ? 0 : 1, 'red images are cats (0), blue ones dogs (1)');
  }
  t.is(batch.skipped, 0);
  const again = await loadDogsVsCats({ dataDir: root, imageSize: 12, testFraction: 0.2 });
  t.deepEqual(again.test.files.map((f) => f.path), testSet.files.map((f) => f.path), 'split is deterministic');
});

test('PetImages layout: corrupt and empty files are skipped and counted, batches keep their size', async (t) => {
  const root = mkdtempSync(join(tmp, 'pet-'));
  mkdirSync(join(root, 'PetImages', 'Cat'), { recursive: true });
  mkdirSync(join(root, 'PetImages', 'Dog'), { recursive: true });
  for (let i = 0; i < 4; i++) {
    await jpeg(join(root, 'PetImages', 'Cat', `${i}.jpg`), CAT);
    await jpeg(join(root, 'PetImages', 'Dog', `${i}.jpg`), DOG);
  }
  writeFileSync(join(root, 'PetImages', 'Cat', '666.jpg'), Buffer.from('this is not a jpeg at all, just text pretending'));
  writeFileSync(join(root, 'PetImages', 'Dog', '11702.jpg'), new Uint8Array(0)); // like the real set
  writeFileSync(join(root, 'PetImages', 'Dog', 'Thumbs.db'), 'x');
  const scan = await scanDogsVsCats(root);
  t.is(scan.layout, 'petimages');
  t.is(scan.files.length, 9, 'Thumbs.db ignored, the empty file dropped at scan time');
  t.is(scan.emptyFiles, 1);
  const { train } = await loadDogsVsCats({ dataDir: root, imageSize: 8, testFraction: 0.1 });
  const corrupt = train.files.findIndex((f) => f.path.endsWith('666.jpg'));
  t.true(corrupt >= 0, 'the corrupt file landed in the train split for this test');
  const idx = Array.from({ length: train.size }, (_, i) => i);
  const batch = await train.load(idx);
  t.is(batch.count, train.size);
  t.is(batch.skipped, 1);
  t.is(batch.valid[corrupt], 0);
  t.is(batch.valid.reduce((a, b) => a + b, 0), train.size - 1);
  // The substitute is a real image (a copy of another sample), not zeros.
  t.true(batch.x.subarray(corrupt * 192, corrupt * 192 + 192).some((v) => v !== 0));
  t.is(train.skippedFiles, 2, 'one empty (at scan) + one undecodable');
  const second = await train.load([corrupt, corrupt === 0 ? 1 : 0]);
  t.is(second.skipped, 1, 'known-bad files are not decoded again but still counted per batch');
  t.is(train.skippedFiles, 2);
});

test('missing or empty directories give a clear error', async (t) => {
  await t.throwsAsync(scanDogsVsCats(join(tmp, 'missing')), { instanceOf: DatasetNotFoundError, message: /--data-dir/ });
  const empty = mkdtempSync(join(tmp, 'empty-'));
  await t.throwsAsync(scanDogsVsCats(empty), { instanceOf: DatasetNotFoundError, message: /PetImages/ });
});
