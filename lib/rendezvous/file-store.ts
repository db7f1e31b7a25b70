// FileStore: a Store over a directory (c10d/Gloo FileStore), for multi-process tests and jobs whose
// ranks share a filesystem. Any number of processes may open the same directory.
//
// Layout: one file per key, named `k.<base64url(key)>` (or `h.<sha256(key)>` when that would be too
// long for a file name). set() writes a temporary file and rename()s it over the key's file, so a
// reader sees either the old or the new value, never a partial one. get()/wait() poll with
// exponential backoff (1 ms doubling to 50 ms): no filesystem notifications, which network
// filesystems do not deliver reliably. add() serializes read-modify-write through a lock file
// created with O_EXCL (`<key file>.lock`); a lock older than staleLockMs (default 30 s; real
// holders keep it for microseconds) is taken to belong to a crashed process and removed. Breaking
// a stale lock is inherently racy if two processes do it at the very same moment after a crash;
// that window is accepted, as in other lock-file stores.

import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidArgumentError, StoreError } from '../errors.js';
import {
  checkDelta, checkKey, checkKeys, counterToNumber, defaultStoreTimeoutMs, describeTimeout,
  quoteKey, quoteKeys, resolveTimeout, toValueBytes,
} from './common.js';
import { addCounter, parseCounter } from './protocol.js';
import type { Store } from './store.js';

export interface FileStoreOptions {
  /** Default timeout of every call, in ms (default 300000). */
  timeoutMs?: number;
  /** Age after which a lock file is considered abandoned, in ms (default 30000). */
  staleLockMs?: number;
}

const firstPollMs = 1;
const maxPollMs = 50;
const maxLockPollMs = 20;
/** Longest file name used for a key (base64url beyond this is hashed). */
const maxPlainNameLength = 200;

const isErrno = (error: unknown, code: string): boolean => (error as NodeJS.ErrnoException | null)?.code === code;

/**
 * @example
 * const store = new FileStore('/tmp/job-42');          // every rank opens the same folder
 * await store.set(`addr/${rank}`, addressBytes);
 * const peer = await store.get('addr/0', 10_000);
 */
export class FileStore implements Store {
  readonly dir: string;
  readonly timeoutMs: number;
  readonly staleLockMs: number;
  readonly #aborter = new AbortController();

  /** Opens (creating it if needed) the directory shared by the store's users. */
  constructor(dir: string, opts: FileStoreOptions = {}) {
    if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError('FileStore: dir must be a non-empty path');
    this.dir = path.resolve(dir);
    this.timeoutMs = resolveTimeout(opts.timeoutMs, defaultStoreTimeoutMs, 'FileStore');
    this.staleLockMs = resolveTimeout(opts.staleLockMs, 30_000, 'FileStore (staleLockMs)');
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch (error) {
      throw new StoreError(`FileStore: cannot create ${this.dir}: ${(error as Error).message}`, { op: 'store.open', cause: error });
    }
  }

  /** The file that holds key's value. */
  fileOf(key: string): string {
    const plain = Buffer.from(key, 'utf8').toString('base64url');
    const name = plain.length <= maxPlainNameLength ? `k.${plain}` : `h.${createHash('sha256').update(key, 'utf8').digest('hex')}`;
    return path.join(this.dir, name);
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    this.#checkOpen('set');
    checkKey(key, 'FileStore.set');
    const bytes = toValueBytes(value, 'FileStore.set');
    await this.#io('set', `set(${quoteKey(key)})`, () => this.#writeAtomic(this.fileOf(key), bytes));
  }

  async get(key: string, timeoutMs?: number): Promise<Uint8Array> {
    this.#checkOpen('get');
    checkKey(key, 'FileStore.get');
    const t = resolveTimeout(timeoutMs, this.timeoutMs, 'FileStore.get');
    const file = this.fileOf(key);
    const what = `get(${quoteKey(key)})`;
    return this.#poll('get', what, t, 'waiting for the key', async () => {
      try {
        return await fs.readFile(file);
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return undefined;
        throw error;
      }
    });
  }

  async add(key: string, delta: number): Promise<number> {
    this.#checkOpen('add');
    checkKey(key, 'FileStore.add');
    const d = checkDelta(delta, 'FileStore.add');
    const what = `add(${quoteKey(key)}, ${delta})`;
    const file = this.fileOf(key);
    const sum = await this.#withLock(file, what, async () => {
      let base = 0n;
      try {
        const parsed = parseCounter(await fs.readFile(file));
        if (parsed === null) throw new StoreError(`FileStore ${what} in ${this.dir}: the stored value is not an int64 counter`, { op: 'store.add' });
        base = parsed;
      } catch (error) {
        if (!isErrno(error, 'ENOENT')) throw error;
      }
      const next = addCounter(base, d);
      if (next === null) throw new StoreError(`FileStore ${what} in ${this.dir}: int64 overflow (current value ${base})`, { op: 'store.add' });
      await this.#writeAtomic(file, Buffer.from(next.toString(), 'latin1'));
      return next;
    });
    const n = counterToNumber(sum);
    if (n === null) throw new StoreError(`FileStore ${what} in ${this.dir}: result ${sum} is not a safe integer`, { op: 'store.add' });
    return n;
  }

  async wait(keys: string[], timeoutMs?: number): Promise<void> {
    this.#checkOpen('wait');
    const ks = checkKeys(keys, 'FileStore.wait');
    const t = resolveTimeout(timeoutMs, this.timeoutMs, 'FileStore.wait');
    const files = ks.map((k) => this.fileOf(k));
    let next = 0; // files before this index existed at the last look
    await this.#poll('wait', `wait(${quoteKeys(ks)})`, t, 'waiting for the keys', async () => {
      while (next < files.length && await exists(files[next]!)) next++;
      if (next < files.length) return undefined;
      // All seen; make sure none was deleted meanwhile.
      for (let i = 0; i < files.length; i++) {
        if (!await exists(files[i]!)) {
          next = i;
          return undefined;
        }
      }
      return true;
    });
  }

  async check(keys: string[]): Promise<boolean> {
    this.#checkOpen('check');
    const ks = checkKeys(keys, 'FileStore.check');
    return this.#io('check', `check(${quoteKeys(ks)})`, async () => {
      for (const k of ks) if (!await exists(this.fileOf(k))) return false;
      return true;
    });
  }

  async deleteKey(key: string): Promise<boolean> {
    this.#checkOpen('deleteKey');
    checkKey(key, 'FileStore.deleteKey');
    return this.#io('deleteKey', `deleteKey(${quoteKey(key)})`, async () => {
      try {
        await fs.unlink(this.fileOf(key));
        return true;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) return false;
        throw error;
      }
    });
  }

  /** Stops pending polls (they reject); the directory and its files stay for the other users. */
  async close(): Promise<void> {
    this.#aborter.abort();
  }

  // -------------------------------------------------------------------------------------------

  #checkOpen(op: string): void {
    if (this.#aborter.signal.aborted) throw new StoreError(`FileStore ${op} in ${this.dir}: store is closed`, { op: `store.${op}` });
  }

  /** Runs a filesystem operation, turning its failures into StoreError. */
  async #io<T>(op: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (error instanceof StoreError) throw error;
      throw new StoreError(`FileStore ${what} in ${this.dir}: ${(error as Error).message}`, { op: `store.${op}`, cause: error });
    }
  }

  /** Calls probe until it returns a value, sleeping with backoff in between, until timeoutMs. */
  async #poll<T>(op: string, what: string, timeoutMs: number, detail: string, probe: () => Promise<T | undefined>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let delay = firstPollMs;
    const { signal } = this.#aborter;
    for (;;) {
      const value = await this.#io(op, what, probe);
      if (value !== undefined) return value;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new StoreError(`FileStore ${what} in ${this.dir}: timed out after ${describeTimeout(timeoutMs)} (${detail})`, { op: `store.${op}` });
      }
      try {
        await sleep(Math.min(delay, left), undefined, { signal });
      } catch {
        throw new StoreError(`FileStore ${what} in ${this.dir}: store closed while the call was pending`, { op: `store.${op}` });
      }
      delay = Math.min(delay * 2, maxPollMs);
    }
  }

  /** Writes bytes to a temporary file in the store directory, then renames it over file. */
  async #writeAtomic(file: string, bytes: Uint8Array): Promise<void> {
    const tmp = path.join(this.dir, `.tmp.${process.pid}.${randomBytes(8).toString('hex')}`);
    try {
      await fs.writeFile(tmp, bytes);
      await fs.rename(tmp, file);
    } catch (error) {
      await fs.rm(tmp, { force: true }).catch(() => {});
      throw error;
    }
  }

  /** Runs fn while holding `<file>.lock` (O_EXCL), waiting up to the store timeout for it. */
  async #withLock<T>(file: string, what: string, fn: () => Promise<T>): Promise<T> {
    const lock = `${file}.lock`;
    const deadline = Date.now() + this.timeoutMs;
    let delay = firstPollMs;
    const { signal } = this.#aborter;
    for (;;) {
      try {
        const handle = await fs.open(lock, 'wx');
        await handle.close();
        break;
      } catch (error) {
        if (!isErrno(error, 'EEXIST')) {
          throw new StoreError(`FileStore ${what} in ${this.dir}: cannot create lock file: ${(error as Error).message}`, { op: 'store.add', cause: error });
        }
      }
      if (await this.#breakIfStale(lock)) continue;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new StoreError(`FileStore ${what} in ${this.dir}: timed out after ${describeTimeout(this.timeoutMs)} waiting for lock ${path.basename(lock)}`, { op: 'store.add' });
      }
      try {
        await sleep(Math.min(left, delay * (0.5 + Math.random())), undefined, { signal });
      } catch {
        throw new StoreError(`FileStore ${what} in ${this.dir}: store closed while the call was pending`, { op: 'store.add' });
      }
      delay = Math.min(delay * 2, maxLockPollMs);
    }
    try {
      return await this.#io('add', what, fn);
    } finally {
      await fs.rm(lock, { force: true }).catch(() => {});
    }
  }

  /** Removes a lock file older than staleLockMs; true when it is gone (removed or released). */
  async #breakIfStale(lock: string): Promise<boolean> {
    try {
      const { mtimeMs } = await fs.stat(lock);
      if (Date.now() - mtimeMs < this.staleLockMs) return false;
      await fs.rm(lock, { force: true });
      return true;
    } catch (error) {
      return isErrno(error, 'ENOENT');
    }
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch (error) {
    if (isErrno(error, 'ENOENT')) return false;
    throw error;
  }
}
