// Fashion-MNIST (Zalando) from IDX files: by default Debian's `dataset-fashion-mnist` package
// (/usr/share/datasets/fashion-mnist, gzipped), or any directory with the four files (plain or .gz).

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Batch, Dataset, DatasetSplits } from './dataset.js';
import { readIdxFile } from './idx.js';

export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';
export const FASHION_MNIST_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;
/** Mean and standard deviation of the training pixels (in 0..1). */
const MEAN = 0.286;
const STD = 0.353;

export class DatasetNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatasetNotFoundError';
  }
}

function locate(dir: string, base: string): string | undefined {
  for (const name of [base, `${base}.gz`, base.replace('-idx', '.idx'), `${base.replace('-idx', '.idx')}.gz`]) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return undefined;
}

export function fashionMnistDir(dataDir?: string): string {
  return dataDir ?? process.env['RINGTREE_FASHION_MNIST_DIR'] ?? FASHION_MNIST_DEFAULT_DIR;
}

export class InMemoryImageDataset implements Dataset {
  readonly skippedFiles = 0;
  readonly size: number;
  readonly #pixels: number;

  constructor(
    readonly name: string,
    readonly images: Uint8Array,
    readonly labels: Uint8Array,
    readonly inputShape: readonly [number, number, number],
    readonly classNames: readonly string[],
    readonly mean: number,
    readonly std: number,
  ) {
    this.#pixels = inputShape[0] * inputShape[1] * inputShape[2];
    this.size = labels.length;
    if (images.length !== this.size * this.#pixels) throw new RangeError(`${name}: ${images.length} pixels for ${this.size} images of ${this.#pixels}`);
  }

  get numClasses(): number { return this.classNames.length; }

  loadSync(indices: ArrayLike<number>): Batch {
    const n = indices.length, px = this.#pixels;
    const x = new Float32Array(n * px);
    const y = new Int32Array(n);
    const scale = 1 / (255 * this.std), shift = this.mean / this.std;
    for (let b = 0; b < n; b++) {
      const i = indices[b]!;
      if (!(i >= 0 && i < this.size)) throw new RangeError(`${this.name}: index ${i} out of range [0, ${this.size})`);
      const src = i * px, dst = b * px;
      for (let k = 0; k < px; k++) x[dst + k] = this.images[src + k]! * scale - shift;
      y[b] = this.labels[i]!;
    }
    return { x, y, count: n, skipped: 0, valid: new Uint8Array(n).fill(1) };
  }

  async load(indices: ArrayLike<number>): Promise<Batch> {
    return this.loadSync(indices);
  }
}

async function readSplit(dir: string, prefix: 'train' | 't10k', name: string): Promise<InMemoryImageDataset> {
  const imgPath = locate(dir, `${prefix}-images-idx3-ubyte`);
  const lblPath = locate(dir, `${prefix}-labels-idx1-ubyte`);
  if (!imgPath || !lblPath) {
    throw new DatasetNotFoundError(
      `Fashion-MNIST ${prefix} files not found in ${dir} (looked for ${prefix}-images-idx3-ubyte[.gz] and ${prefix}-labels-idx1-ubyte[.gz]).\n` +
        `Install Debian's package:  sudo apt-get install dataset-fashion-mnist   (files go to ${FASHION_MNIST_DEFAULT_DIR})\n` +
        'or download the four IDX files from https://github.com/zalandoresearch/fashion-mnist and pass --data-dir DIR.',
    );
  }
  const images = await readIdxFile(imgPath);
  const labels = await readIdxFile(lblPath);
  if (!(images.data instanceof Uint8Array) || images.dims.length !== 3) throw new Error(`${imgPath}: expected a uint8 N x 28 x 28 IDX file, got dims ${images.dims.join('x')}`);
  if (!(labels.data instanceof Uint8Array) || labels.dims.length !== 1) throw new Error(`${lblPath}: expected a uint8 label vector`);
  if (labels.dims[0] !== images.dims[0]) throw new Error(`${dir}: ${images.dims[0]} images but ${labels.dims[0]} labels in the ${prefix} split`);
  for (const l of labels.data) if (l >= FASHION_MNIST_CLASSES.length) throw new Error(`${lblPath}: label ${l} out of range`);
  return new InMemoryImageDataset(name, images.data, labels.data, [images.dims[1]!, images.dims[2]!, 1], FASHION_MNIST_CLASSES, MEAN, STD);
}

export async function loadFashionMnist(dataDir?: string): Promise<DatasetSplits> {
  const dir = fashionMnistDir(dataDir);
  if (!existsSync(dir)) {
    throw new DatasetNotFoundError(
      `Fashion-MNIST directory ${dir} does not exist.\n` +
        'Install Debian\'s package:  sudo apt-get install dataset-fashion-mnist\n' +
        'or download the four IDX files from https://github.com/zalandoresearch/fashion-mnist and pass --data-dir DIR.',
    );
  }
  const [train, test] = await Promise.all([readSplit(dir, 'train', 'fashion-mnist/train'), readSplit(dir, 't10k', 'fashion-mnist/test')]);
  return { train, test };
}
