// Dataset interface of the trainer: a fixed-size indexed collection of labelled images in NHWC float32.

export interface Batch {
  /** NHWC, normalized, length = count * h * w * c. */
  x: Float32Array;
  /** Class indices, length = count. */
  y: Int32Array;
  count: number;
  /** Entries that could not be loaded (corrupt files); their slots hold a copy of another sample. */
  skipped: number;
  /** 1 for real samples, 0 for substitutes of skipped ones (used to exclude them from evaluation). */
  valid: Uint8Array;
}

export interface Dataset {
  readonly name: string;
  readonly size: number;
  readonly inputShape: readonly [number, number, number];
  readonly numClasses: number;
  readonly classNames: readonly string[];
  /** Loads the samples at `indices` (0 <= index < size) in that order. */
  load(indices: ArrayLike<number>): Promise<Batch>;
  /** Files found unreadable so far (0 for in-memory datasets). */
  readonly skippedFiles: number;
}

export interface DatasetSplits {
  train: Dataset;
  test: Dataset;
}

/** Samples `shard` of `shards` of a range of `n` items, as contiguous nearly equal parts. */
export function shardRange(n: number, shard: number, shards: number): [number, number] {
  return [Math.floor((shard * n) / shards), Math.floor(((shard + 1) * n) / shards)];
}
