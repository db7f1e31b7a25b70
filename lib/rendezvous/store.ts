// The rendezvous key-value store interface (c10d Store / Gloo rendezvous::Store shape).
// Values are bytes; keys are strings. Every blocking call takes a timeout and rejects with
// StoreError (code ERR_RINGTREE_STORE) when it expires or the store is unreachable.

export interface Store {
  /** Sets key to value (overwrites). */
  set(key: string, value: Uint8Array | string): Promise<void>;
  /** Waits until key exists (up to timeoutMs, default the store's timeout), then returns its value. */
  get(key: string, timeoutMs?: number): Promise<Uint8Array>;
  /** Atomically adds delta to the integer stored at key (missing = 0) and returns the new value. */
  add(key: string, delta: number): Promise<number>;
  /** Waits until every key exists. */
  wait(keys: string[], timeoutMs?: number): Promise<void>;
  /** True if every key exists now (does not wait). */
  check(keys: string[]): Promise<boolean>;
  /** Deletes key; true if it existed. */
  deleteKey(key: string): Promise<boolean>;
  /** Closes connections/handles held by this client. */
  close(): Promise<void>;
}
