// Gradient fusion buckets (DDP style, ALGORITHMS.md section 0.2 and 2): parameters are laid out in one flat
// Float32Array in *reverse* layer order (the order backward produces gradients), and that flat vector is cut
// into contiguous buckets of about `capBytes` (default 25 MiB) at tensor boundaries. Each bucket is reduced
// as one collective as soon as all of its gradients are in place.

export const DEFAULT_BUCKET_CAP_BYTES = 25 * 1024 * 1024;

export interface TensorSlot {
  /** Index of the tensor in the model's (forward) parameter order. */
  index: number;
  name: string;
  shape: readonly number[];
  size: number;
  /** Offset of the tensor's first element in the flat vector. */
  offset: number;
}

export interface Bucket {
  index: number;
  /** First element of the bucket in the flat vector. */
  offset: number;
  length: number;
  /** The bucket's tensors, in flat order. */
  slots: TensorSlot[];
}

export interface TensorInfo {
  name: string;
  shape: readonly number[];
}

export class FlatLayout {
  /** Slots in flat order (reverse of the forward order). */
  readonly slots: TensorSlot[];
  /** Slots by forward index. */
  readonly byIndex: TensorSlot[];
  readonly buckets: Bucket[];
  readonly totalSize: number;
  readonly capBytes: number;

  constructor(tensors: readonly TensorInfo[], capBytes = DEFAULT_BUCKET_CAP_BYTES) {
    if (!(capBytes > 0)) throw new RangeError(`bucket cap must be > 0 bytes, got ${capBytes}`);
    this.capBytes = capBytes;
    this.slots = [];
    this.byIndex = new Array<TensorSlot>(tensors.length);
    let offset = 0;
    for (let index = tensors.length - 1; index >= 0; index--) {
      const t = tensors[index]!;
      const size = t.shape.reduce((a, b) => a * b, 1);
      const slot: TensorSlot = { index, name: t.name, shape: [...t.shape], size, offset };
      this.slots.push(slot);
      this.byIndex[index] = slot;
      offset += size;
    }
    this.totalSize = offset;
    this.buckets = [];
    const capElems = Math.max(1, Math.floor(capBytes / 4));
    let current: Bucket | undefined;
    for (const slot of this.slots) {
      if (current && current.length > 0 && current.length + slot.size > capElems) {
        this.buckets.push(current);
        current = undefined;
      }
      current ??= { index: this.buckets.length, offset: slot.offset, length: 0, slots: [] };
      current.slots.push(slot);
      current.length += slot.size;
    }
    if (current) this.buckets.push(current);
  }

  /** The bucket that contains the tensor with forward index `index`. */
  bucketOf(index: number): Bucket {
    const off = this.byIndex[index]!.offset;
    for (const b of this.buckets) if (off >= b.offset && off < b.offset + b.length) return b;
    // Zero-size tensors: attach to the bucket that starts at or before their offset.
    return this.buckets.find((b) => b.slots.some((s) => s.index === index)) ?? this.buckets[0]!;
  }

  /** Copies per-tensor arrays (forward order) into one flat vector. */
  flatten(tensors: ReadonlyArray<ArrayLike<number>>, out: Float32Array = new Float32Array(this.totalSize)): Float32Array {
    if (tensors.length !== this.byIndex.length) throw new RangeError(`flatten: expected ${this.byIndex.length} tensors, got ${tensors.length}`);
    if (out.length !== this.totalSize) throw new RangeError(`flatten: out has ${out.length} elements, need ${this.totalSize}`);
    for (const slot of this.slots) {
      const src = tensors[slot.index]!;
      if (src.length !== slot.size) throw new RangeError(`flatten: tensor ${slot.name} has ${src.length} elements, expected ${slot.size}`);
      out.set(src, slot.offset);
    }
    return out;
  }

  /** Views (no copies) of each tensor inside `flat`, in forward order. */
  unflatten(flat: Float32Array): Float32Array[] {
    if (flat.length !== this.totalSize) throw new RangeError(`unflatten: flat has ${flat.length} elements, need ${this.totalSize}`);
    return this.byIndex.map((s) => flat.subarray(s.offset, s.offset + s.size));
  }

  /** View of tensor `index` (forward order) inside `flat`. */
  view(flat: Float32Array, index: number): Float32Array {
    const s = this.byIndex[index]!;
    return flat.subarray(s.offset, s.offset + s.size);
  }

  /** View of `bucket` inside `flat`. */
  bucketView(flat: Float32Array, bucket: Bucket): Float32Array {
    return flat.subarray(bucket.offset, bucket.offset + bucket.length);
  }
}
