// Dogs vs Cats from the Kaggle layout (train/cat.0.jpg, train/dog.0.jpg, ...) or Microsoft's PetImages
// layout (PetImages/Cat/*.jpg, PetImages/Dog/*.jpg). Images are decoded and resized with sharp on the
// libuv thread pool. Files that cannot be decoded (the real PetImages set has some) are skipped and counted:
// their slot in the batch is filled with a copy of another sample of the same batch, so every rank still
// takes the same number of steps. Labels: cat = 0, dog = 1. The labelled files are split into train and
// test parts with a fixed seed (independent of --seed).

import { existsSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { Rng } from '../rng.js';
import type { Batch, Dataset, DatasetSplits } from './dataset.js';
import { DatasetNotFoundError } from './fashion-mnist.js';

export const DOGS_VS_CATS_CLASSES = ['cat', 'dog'] as const;
const IMAGE_RE = /\.(jpe?g|png|webp|bmp|gif|tiff?)$/i;
const KAGGLE_RE = /^(cat|dog)\.\d+\.(jpe?g|png)$/i;
const MEAN = [0.485, 0.456, 0.406];
const STD = [0.229, 0.224, 0.225];

export interface LabelledFile {
  path: string;
  label: number;
}

export interface DogsVsCatsOptions {
  dataDir: string;
  /** Side of the square the images are resized to (default 64). */
  imageSize?: number;
  /** Fraction of the labelled images held out for testing (default 0.1). */
  testFraction?: number;
  /** Decoded-image cache per process, in bytes (default 512 MiB; 0 disables). */
  cacheBytes?: number;
}

async function listImages(dir: string): Promise<string[]> {
  return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile() && IMAGE_RE.test(e.name)).map((e) => join(dir, e.name));
}

/** Finds the labelled images under `dataDir` in either layout. Returns files sorted by path. */
export async function scanDogsVsCats(dataDir: string): Promise<{ files: LabelledFile[]; layout: 'kaggle' | 'petimages'; emptyFiles: number }> {
  if (!existsSync(dataDir)) {
    throw new DatasetNotFoundError(
      `Dogs vs Cats directory ${dataDir} does not exist. Download the Kaggle "dogs-vs-cats" train.zip (train/cat.0.jpg ...) ` +
        'or Microsoft\'s PetImages (PetImages/Cat, PetImages/Dog), unpack it and pass --data-dir DIR.',
    );
  }
  const candidatesKaggle = [join(dataDir, 'train'), dataDir];
  for (const d of candidatesKaggle) {
    if (!existsSync(d) || !statSync(d).isDirectory()) continue;
    const names = (await readdir(d)).filter((n) => KAGGLE_RE.test(n));
    if (names.length > 0) {
      const files = names.sort().map((n) => ({ path: join(d, n), label: n.toLowerCase().startsWith('cat') ? 0 : 1 }));
      return dropEmpty(files, 'kaggle');
    }
  }
  for (const root of [join(dataDir, 'PetImages'), dataDir]) {
    const cat = join(root, 'Cat'), dog = join(root, 'Dog');
    if (existsSync(cat) && existsSync(dog)) {
      const files = [
        ...(await listImages(cat)).map((p) => ({ path: p, label: 0 })),
        ...(await listImages(dog)).map((p) => ({ path: p, label: 1 })),
      ].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
      return dropEmpty(files, 'petimages');
    }
  }
  throw new DatasetNotFoundError(
    `no Dogs vs Cats images under ${dataDir}: expected train/cat.0.jpg, train/dog.0.jpg ... (Kaggle) or PetImages/Cat/*.jpg and PetImages/Dog/*.jpg`,
  );
}

function dropEmpty(files: LabelledFile[], layout: 'kaggle' | 'petimages') {
  const kept = files.filter((f) => statSync(f.path).size > 0);
  if (kept.length === 0) throw new DatasetNotFoundError('all Dogs vs Cats image files are empty');
  return { files: kept, layout, emptyFiles: files.length - kept.length };
}

/** Decodes one file to `size` x `size` RGB uint8 (center crop after resizing the short side). */
export async function decodeImage(path: string, size: number): Promise<Uint8Array> {
  const { data, info } = await sharp(path, { failOn: 'error' })
    .resize(size, size, { fit: 'cover', position: 'centre' })
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.width !== size || info.height !== size) throw new Error(`${path}: decoded to ${info.width}x${info.height}, expected ${size}x${size}`);
  if (info.channels === 3) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(size * size * 3);
  for (let i = 0; i < size * size; i++) for (let c = 0; c < 3; c++) out[i * 3 + c] = data[i * info.channels + Math.min(c, info.channels - 1)]!;
  return out;
}

export class ImageFileDataset implements Dataset {
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly #failed = new Set<number>();
  readonly #cache = new Map<number, Uint8Array>();
  #cacheBytes = 0;

  constructor(
    readonly name: string,
    readonly files: readonly LabelledFile[],
    readonly classNames: readonly string[],
    readonly imageSize: number,
    readonly preSkipped: number,
    readonly cacheLimitBytes: number,
  ) {
    this.inputShape = [imageSize, imageSize, 3];
    this.numClasses = classNames.length;
  }

  get size(): number { return this.files.length; }
  get skippedFiles(): number { return this.preSkipped + this.#failed.size; }

  async #decode(index: number): Promise<Uint8Array | undefined> {
    if (this.#failed.has(index)) return undefined;
    const hit = this.#cache.get(index);
    if (hit) return hit;
    try {
      const img = await decodeImage(this.files[index]!.path, this.imageSize);
      if (this.#cacheBytes + img.byteLength <= this.cacheLimitBytes) {
        this.#cache.set(index, img);
        this.#cacheBytes += img.byteLength;
      }
      return img;
    } catch {
      this.#failed.add(index);
      return undefined;
    }
  }

  async load(indices: ArrayLike<number>): Promise<Batch> {
    const n = indices.length, s = this.imageSize, px = s * s * 3;
    const list = Array.from(indices);
    for (const i of list) if (!(i >= 0 && i < this.size)) throw new RangeError(`${this.name}: index ${i} out of range [0, ${this.size})`);
    const images = await Promise.all(list.map((i) => this.#decode(i)));
    const x = new Float32Array(n * px);
    const y = new Int32Array(n);
    const valid = new Uint8Array(n);
    let skipped = 0;
    for (let b = 0; b < n; b++) {
      let src = b;
      if (!images[b]) {
        skipped++;
        // Substitute the next loadable sample of the batch (cyclically), keeping the batch size fixed.
        src = -1;
        for (let k = 1; k < n; k++) if (images[(b + k) % n]) { src = (b + k) % n; break; }
      } else {
        valid[b] = 1;
      }
      if (src < 0) continue; // nothing in the batch could be decoded: zeros, label 0, invalid
      const img = images[src]!;
      const o = b * px;
      for (let p = 0; p < s * s; p++) {
        for (let c = 0; c < 3; c++) x[o + p * 3 + c] = (img[p * 3 + c]! / 255 - MEAN[c]!) / STD[c]!;
      }
      y[b] = this.files[list[src]!]!.label;
    }
    return { x, y, count: n, skipped, valid };
  }
}

export async function loadDogsVsCats(o: DogsVsCatsOptions): Promise<DatasetSplits & { train: ImageFileDataset; test: ImageFileDataset; layout: string }> {
  const size = o.imageSize ?? 64;
  const frac = o.testFraction ?? 0.1;
  if (!(frac > 0 && frac < 1)) throw new RangeError(`testFraction must be in (0, 1), got ${frac}`);
  const { files, layout, emptyFiles } = await scanDogsVsCats(o.dataDir);
  const order = new Rng(0, 'dogs-vs-cats-split').shuffle(Uint32Array.from(files.keys()));
  const nTest = Math.max(1, Math.round(files.length * frac));
  const testFiles = Array.from(order.subarray(0, nTest), (i) => files[i]!);
  const trainFiles = Array.from(order.subarray(nTest), (i) => files[i]!);
  const cache = o.cacheBytes ?? 512 * 1024 * 1024;
  return {
    layout,
    train: new ImageFileDataset('dogs-vs-cats/train', trainFiles, DOGS_VS_CATS_CLASSES, size, emptyFiles, cache),
    test: new ImageFileDataset('dogs-vs-cats/test', testFiles, DOGS_VS_CATS_CLASSES, size, 0, cache),
  };
}
