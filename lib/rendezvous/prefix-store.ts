// PrefixStore: a view of another Store under a key prefix (c10d PrefixStore), so that independent
// users of one store (sub-communicators, jobs, tests) cannot collide: key k becomes `prefix/k`.
// It owns nothing: close() only stops this view and never closes the inner store.

import { InvalidArgumentError, StoreError } from '../errors.js';
import { checkKey } from './common.js';
import type { Store } from './store.js';

/**
 * @example
 * const sub = new PrefixStore('comm-1', store);
 * await sub.set('addr/0', bytes); // sets "comm-1/addr/0" in store
 */
export class PrefixStore implements Store {
  readonly prefix: string;
  readonly inner: Store;
  #closed = false;

  constructor(prefix: string, inner: Store) {
    if (typeof prefix !== 'string' || prefix === '') throw new InvalidArgumentError('PrefixStore: prefix must be a non-empty string');
    if (inner === null || typeof inner !== 'object') throw new InvalidArgumentError('PrefixStore: inner store required');
    this.prefix = prefix;
    this.inner = inner;
  }

  /** The key as stored in the inner store (the inner store checks the total length). */
  keyOf(key: string): string {
    return `${this.prefix}/${checkKey(key, 'PrefixStore')}`;
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    this.#checkOpen('set');
    return this.inner.set(this.keyOf(key), value);
  }

  async get(key: string, timeoutMs?: number): Promise<Uint8Array> {
    this.#checkOpen('get');
    return this.inner.get(this.keyOf(key), timeoutMs);
  }

  async add(key: string, delta: number): Promise<number> {
    this.#checkOpen('add');
    return this.inner.add(this.keyOf(key), delta);
  }

  async wait(keys: string[], timeoutMs?: number): Promise<void> {
    this.#checkOpen('wait');
    if (!Array.isArray(keys)) throw new InvalidArgumentError('PrefixStore.wait: keys must be an array of strings');
    return this.inner.wait(keys.map((k) => this.keyOf(k)), timeoutMs);
  }

  async check(keys: string[]): Promise<boolean> {
    this.#checkOpen('check');
    if (!Array.isArray(keys)) throw new InvalidArgumentError('PrefixStore.check: keys must be an array of strings');
    return this.inner.check(keys.map((k) => this.keyOf(k)));
  }

  async deleteKey(key: string): Promise<boolean> {
    this.#checkOpen('deleteKey');
    return this.inner.deleteKey(this.keyOf(key));
  }

  /** Stops this view; the inner store stays open (its owner closes it). */
  async close(): Promise<void> {
    this.#closed = true;
  }

  #checkOpen(op: string): void {
    if (this.#closed) throw new StoreError(`PrefixStore(${JSON.stringify(this.prefix)}) ${op}: store is closed`, { op: `store.${op}` });
  }
}
