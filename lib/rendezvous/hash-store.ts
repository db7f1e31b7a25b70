// KvState: the in-memory key-value table with blocking waits that TcpStoreServer serves over the
// network; HashStore: the same table used directly as an in-process Store (c10d/Gloo HashStore,
// for single-process tests and fakes).
//
// Single-threaded (event loop) by construction. A waiter is parked on one missing key at a time;
// set()/add() of that key re-examines it and either completes it or parks it on the next missing
// key, so a wait over k keys costs O(k) overall and each write touches only its own waiters.

import { StoreError } from '../errors.js';
import { addCounter, parseCounter } from './protocol.js';
import {
  checkDelta, checkKey, checkKeys, counterToNumber, defaultStoreTimeoutMs, describeTimeout,
  quoteKey, quoteKeys, resolveTimeout, toValueBytes,
} from './common.js';
import type { Store } from './store.js';

/** A request the table cannot satisfy (not a transport failure): e.g. add() on a non-integer. */
export class KvError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KvError';
  }
}

interface Waiter {
  readonly keys: readonly string[];
  readonly onDone: (ok: boolean) => void;
  /** Keys before this index were present when last looked at. */
  next: number;
  /** The key this waiter is parked on, or null while it is being (re)examined or when done. */
  parkedOn: string | null;
  timer: NodeJS.Timeout | null;
  done: boolean;
}

export class KvState {
  readonly #data = new Map<string, Buffer>();
  readonly #waiters = new Map<string, Set<Waiter>>();
  #waiterCount = 0;

  /** Number of keys stored. */
  get size(): number { return this.#data.size; }
  /** Number of waits not yet completed or timed out. */
  get waiterCount(): number { return this.#waiterCount; }

  has(key: string): boolean { return this.#data.has(key); }
  get(key: string): Buffer | undefined { return this.#data.get(key); }
  check(keys: readonly string[]): boolean { return keys.every((k) => this.#data.has(k)); }

  /** Stores value (the table keeps this very buffer: pass a copy) and wakes the key's waiters. */
  set(key: string, value: Buffer): void {
    this.#data.set(key, value);
    this.#wake(key);
  }

  /**
   * Adds delta to the decimal int64 counter at key (missing = 0), stores the result as decimal text
   * and returns it. Throws KvError when the current value is not an int64 or the sum overflows.
   */
  add(key: string, delta: bigint): bigint {
    const current = this.#data.get(key);
    const base = current === undefined ? 0n : parseCounter(current);
    if (base === null) throw new KvError(`add(${quoteKey(key)}): the stored value is not an int64 counter`);
    const sum = addCounter(base, delta);
    if (sum === null) throw new KvError(`add(${quoteKey(key)}, ${delta}): int64 overflow (current value ${base})`);
    this.set(key, Buffer.from(sum.toString(), 'latin1'));
    return sum;
  }

  delete(key: string): boolean { return this.#data.delete(key); }

  /**
   * Calls onDone(true) once every key exists, or onDone(false) after timeoutMs (Infinity = never).
   * Completes synchronously when the keys already exist. Returns a function that cancels the wait
   * without calling onDone.
   */
  waitFor(keys: readonly string[], timeoutMs: number, onDone: (ok: boolean) => void): () => void {
    const w: Waiter = { keys, onDone, next: 0, parkedOn: null, timer: null, done: false };
    this.#waiterCount++;
    this.#advance(w);
    if (!w.done && Number.isFinite(timeoutMs)) {
      w.timer = setTimeout(() => {
        w.timer = null;
        this.#finish(w, false);
      }, timeoutMs);
    }
    return () => this.#finish(w, null);
  }

  /** Cancels every pending wait without calling its callback (used on shutdown). */
  cancelAll(): void {
    for (const set of [...this.#waiters.values()]) for (const w of [...set]) this.#finish(w, null);
  }

  #wake(key: string): void {
    const parked = this.#waiters.get(key);
    if (!parked) return;
    this.#waiters.delete(key);
    for (const w of parked) {
      w.parkedOn = null;
      if (!w.done) this.#advance(w);
    }
  }

  /** Parks w on its next missing key, or completes it when none is missing. */
  #advance(w: Waiter): void {
    const { keys } = w;
    while (w.next < keys.length && this.#data.has(keys[w.next]!)) w.next++;
    if (w.next === keys.length) {
      // Every key was present at some point; confirm none was deleted since.
      const missing = keys.findIndex((k) => !this.#data.has(k));
      if (missing === -1) {
        this.#finish(w, true);
        return;
      }
      w.next = missing;
    }
    const key = keys[w.next]!;
    let set = this.#waiters.get(key);
    if (!set) this.#waiters.set(key, (set = new Set()));
    set.add(w);
    w.parkedOn = key;
  }

  /** Completes a waiter once: ok true/false calls onDone, null cancels silently. */
  #finish(w: Waiter, ok: boolean | null): void {
    if (w.done) return;
    w.done = true;
    this.#waiterCount--;
    if (w.timer) clearTimeout(w.timer);
    w.timer = null;
    if (w.parkedOn !== null) {
      const set = this.#waiters.get(w.parkedOn);
      if (set) {
        set.delete(w);
        if (set.size === 0) this.#waiters.delete(w.parkedOn);
      }
      w.parkedOn = null;
    }
    if (ok !== null) w.onDone(ok);
  }
}

/**
 * An in-process Store over a KvState: every client of one HashStore object shares one table.
 * For single-process tests and fakes; it cannot be shared between processes.
 *
 * @example
 * const store = new HashStore({ timeoutMs: 1000 });
 * await store.set('x', 'hello');
 * new TextDecoder().decode(await store.get('x')); // 'hello'
 */
export class HashStore implements Store {
  readonly timeoutMs: number;
  readonly #state = new KvState();
  readonly #pending = new Set<{ cancel: () => void; reject: (e: Error) => void }>();
  #closed = false;

  constructor(opts: { timeoutMs?: number } = {}) {
    this.timeoutMs = resolveTimeout(opts.timeoutMs, defaultStoreTimeoutMs, 'HashStore');
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    this.#checkOpen('set');
    checkKey(key, 'HashStore.set');
    this.#state.set(key, Buffer.from(toValueBytes(value, 'HashStore.set')));
  }

  async get(key: string, timeoutMs?: number): Promise<Uint8Array> {
    this.#checkOpen('get');
    checkKey(key, 'HashStore.get');
    const t = resolveTimeout(timeoutMs, this.timeoutMs, 'HashStore.get');
    await this.#wait('get', [key], t, `get(${quoteKey(key)})`);
    const value = this.#state.get(key);
    if (value === undefined) throw new StoreError(`HashStore get(${quoteKey(key)}): key was deleted while waiting`, { op: 'store.get' });
    return Uint8Array.prototype.slice.call(value);
  }

  async add(key: string, delta: number): Promise<number> {
    this.#checkOpen('add');
    checkKey(key, 'HashStore.add');
    const d = checkDelta(delta, 'HashStore.add');
    let sum: bigint;
    try {
      sum = this.#state.add(key, d);
    } catch (error) {
      throw new StoreError(`HashStore ${(error as Error).message}`, { op: 'store.add', cause: error });
    }
    const n = counterToNumber(sum);
    if (n === null) throw new StoreError(`HashStore add(${quoteKey(key)}): result ${sum} is not a safe integer`, { op: 'store.add' });
    return n;
  }

  async wait(keys: string[], timeoutMs?: number): Promise<void> {
    this.#checkOpen('wait');
    const ks = checkKeys(keys, 'HashStore.wait');
    const t = resolveTimeout(timeoutMs, this.timeoutMs, 'HashStore.wait');
    await this.#wait('wait', ks, t, `wait(${quoteKeys(ks)})`);
  }

  async check(keys: string[]): Promise<boolean> {
    this.#checkOpen('check');
    return this.#state.check(checkKeys(keys, 'HashStore.check'));
  }

  async deleteKey(key: string): Promise<boolean> {
    this.#checkOpen('deleteKey');
    return this.#state.delete(checkKey(key, 'HashStore.deleteKey'));
  }

  /** Rejects pending waits; later calls reject. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const p of [...this.#pending]) {
      p.cancel();
      p.reject(new StoreError('HashStore closed while a call was waiting', { op: 'store.close' }));
    }
    this.#pending.clear();
  }

  #checkOpen(op: string): void {
    if (this.#closed) throw new StoreError(`HashStore ${op}: store is closed`, { op: `store.${op}` });
  }

  #wait(op: string, keys: readonly string[], timeoutMs: number, what: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const entry = { cancel: () => {}, reject };
      this.#pending.add(entry);
      entry.cancel = this.#state.waitFor(keys, timeoutMs, (ok) => {
        this.#pending.delete(entry);
        if (ok) resolve();
        else reject(new StoreError(`HashStore ${what}: timed out after ${describeTimeout(timeoutMs)}`, { op: `store.${op}` }));
      });
    });
  }
}
