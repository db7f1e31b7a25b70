// Recycles the Float32Arrays that native kernels write their outputs into. A fresh multi-MB
// Float32Array costs page faults (~2 ms per 5 MB here); a recycled one does not. Arrays are only
// recycled when nothing else can still see them:
//  - an array handed out by acquire() is 'pending' until the backend stores it for exactly one dataId
//    ('owned'); any other path that stores or reads it (a view made by a JS kernel, dataSync(),
//    bufferSync(), a second write) marks it 'escaped', and escaped arrays are never reused;
//  - it returns to the free list only when its owning dataId is disposed.

type State = { arr: Float32Array; state: 'pending' | 'owned' | 'free' | 'escaped'; owner: object | null; gen: number };

export class BufferPool {
  private readonly free = new Map<number, Float32Array[]>();
  private readonly meta = new WeakMap<ArrayBufferLike, State>();
  private readonly cleanups = new WeakMap<Float32Array, () => void>();
  private freeBytes = 0;
  private gens = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxFreeBytes = 512 * 1024 * 1024) {}

  acquire(length: number): Float32Array {
    const list = this.free.get(length);
    let arr = list?.pop();
    if (arr) {
      this.hits++;
      this.freeBytes -= arr.byteLength;
    } else {
      this.misses++;
      arr = new Float32Array(length);
    }
    this.runCleanup(arr);
    this.meta.set(arr.buffer, { arr, state: 'pending', owner: null, gen: ++this.gens });
    return arr;
  }

  /**
   * A number that changes whenever `arr` is handed out again (0 for arrays the pool never owned, whose
   * contents never change): side data computed from an array's contents is valid while it is unchanged.
   */
  generation(arr: Float32Array): number {
    return this.meta.get(arr.buffer)?.gen ?? 0;
  }

  /** Runs `cleanup` once when `arr` returns to the pool (or is handed out again). */
  attach(arr: Float32Array, cleanup: () => void): void {
    this.runCleanup(arr);
    this.cleanups.set(arr, cleanup);
  }

  private runCleanup(arr: Float32Array): void {
    const c = this.cleanups.get(arr);
    if (c) {
      this.cleanups.delete(arr);
      c();
    }
  }

  /** An array that was acquired but will not be stored (error path). */
  giveBack(arr: Float32Array): void {
    const m = this.meta.get(arr.buffer);
    if (m && m.state === 'pending' && m.arr === arr) this.putFree(m);
  }

  /** The backend stored `values` under `dataId`. */
  onWrite(values: unknown, dataId: object): void {
    if (!ArrayBuffer.isView(values)) return;
    const m = this.meta.get(values.buffer);
    if (!m) return;
    if (m.state === 'pending' && m.arr === values) {
      m.state = 'owned';
      m.owner = dataId;
    } else {
      m.state = 'escaped';
    }
  }

  /** Someone outside the kernels got a reference to `values`. */
  onEscape(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const m = this.meta.get(values.buffer);
    if (m) m.state = 'escaped';
  }

  /** `dataId` (which held `values`) was deleted from the backend. */
  onDispose(values: unknown, dataId: object): void {
    if (!ArrayBuffer.isView(values)) return;
    const m = this.meta.get(values.buffer);
    if (!m || m.state !== 'owned' || m.owner !== dataId || m.arr !== values) return;
    this.putFree(m);
  }

  get stats(): { hits: number; misses: number; freeBytes: number } {
    return { hits: this.hits, misses: this.misses, freeBytes: this.freeBytes };
  }

  clear(): void {
    this.free.clear();
    this.freeBytes = 0;
  }

  private putFree(m: State): void {
    m.owner = null;
    this.runCleanup(m.arr);
    if (this.freeBytes + m.arr.byteLength > this.maxFreeBytes) {
      m.state = 'escaped';
      return;
    }
    m.state = 'free';
    let list = this.free.get(m.arr.length);
    if (!list) this.free.set(m.arr.length, (list = []));
    list.push(m.arr);
    this.freeBytes += m.arr.byteLength;
  }
}
