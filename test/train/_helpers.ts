import { InMemoryImageDataset } from '../../lib/train/data/index.js';
import { loadTrainEngine, type TF } from '../../lib/train/engine.js';
import { Rng } from '../../lib/train/rng.js';

let tfPromise: Promise<TF> | undefined;

/** TF.js on the plain 'cpu' backend (deterministic), via the engine adapter. */
export function testTf(): Promise<TF> {
  tfPromise ??= loadTrainEngine('cpu', () => {}).then((e) => e.tf);
  return tfPromise;
}

/**
 * A small learnable synthetic image set: class k has a bright k-th horizontal band plus noise.
 */
export function syntheticDataset(n: number, side: number, classes: number, seed: number, name = 'synthetic'): InMemoryImageDataset {
  const rng = new Rng(seed, 'synthetic', name);
  const px = side * side;
  const images = new Uint8Array(n * px);
  const labels = new Uint8Array(n);
  const band = Math.max(1, Math.floor(side / classes));
  for (let i = 0; i < n; i++) {
    const y = rng.int(classes);
    labels[i] = y;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const on = Math.floor(r / band) === y;
        images[i * px + r * side + c] = Math.min(255, Math.max(0, Math.round((on ? 170 : 60) + 50 * rng.normal())));
      }
    }
  }
  return new InMemoryImageDataset(name, images, labels, [side, side, 1], Array.from({ length: classes }, (_, k) => `c${k}`), 0.3, 0.3);
}
