import type { Batch, Dataset } from './dataset.js';

/**
 * Keeps up to `depth` batches loading ahead of the consumer (decoding runs on sharp's threads, so the
 * trainer's step overlaps the next batches' I/O and decoding).
 */
export class Prefetcher {
  readonly #queue: Array<Promise<Batch>> = [];
  #nextToSchedule = 0;

  constructor(
    private readonly dataset: Dataset,
    private readonly indicesOf: (batch: number) => ArrayLike<number>,
    readonly count: number,
    readonly depth = 2,
  ) {
    this.#fill();
  }

  #fill(): void {
    while (this.#queue.length < this.depth && this.#nextToSchedule < this.count) {
      const p = this.dataset.load(this.indicesOf(this.#nextToSchedule++));
      p.catch(() => {}); // surfaced by next(); avoid an unhandled rejection while queued
      this.#queue.push(p);
    }
  }

  async next(): Promise<Batch> {
    const p = this.#queue.shift();
    if (!p) throw new RangeError('Prefetcher: no more batches');
    this.#fill();
    return p;
  }
}
