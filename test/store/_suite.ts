// The Store conformance suite shared by every implementation (c10d StoreTestBase): each
// *.test.ts in this folder calls storeSuite() with a fixture that opens clients of one store.

import test, { type ExecutionContext } from 'ava';

import type { Store } from '../../lib/rendezvous/store.js';

export interface StoreFixture {
  /** A new client of the same underlying store (its own connection where that applies). */
  open(): Promise<Store>;
  /** Closes every client opened and whatever backs the store (server, directory). */
  dispose(): Promise<void>;
}

export interface SuiteOptions {
  /** Whether close() rejects a call pending on that client (false for views like PrefixStore). */
  closeRejectsPending?: boolean;
  /** Adds per client in the 16-client counter test. */
  addsPerClient?: number;
  /** Longest key the store accepts (less than 4096 for a PrefixStore). */
  maxKeyBytes?: number;
}

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

/** Registers the suite under `name`. makeFixture gets the default per-call timeout to configure. */
export function storeSuite(name: string, makeFixture: (timeoutMs: number) => Promise<StoreFixture>, opts: SuiteOptions = {}): void {
  const { closeRejectsPending = true, addsPerClient = 20, maxKeyBytes = 4096 } = opts;

  /** Runs body with a fresh fixture and always disposes of it. */
  const withStore = async (t: ExecutionContext, body: (fx: StoreFixture, store: Store) => Promise<void>, timeoutMs = 5000): Promise<void> => {
    t.timeout(Math.max(15_000, timeoutMs + 10_000));
    const fx = await makeFixture(timeoutMs);
    try {
      await body(fx, await fx.open());
    } finally {
      await fx.dispose();
    }
  };

  test(`${name}: set then get returns the bytes; set overwrites`, (t) => withStore(t, async (_fx, store) => {
    await store.set('a', 'hello');
    t.is(text(await store.get('a')), 'hello');
    const binary = Uint8Array.from({ length: 256 }, (_, i) => i);
    await store.set('a', binary);
    t.deepEqual([...await store.get('a')], [...binary]);
    await store.set('empty', new Uint8Array(0));
    t.is((await store.get('empty')).length, 0);
    await store.set('ключ/🙂/\uFEFFbom', 'unicode');
    t.is(text(await store.get('ключ/🙂/\uFEFFbom')), 'unicode');
    await store.set('k'.repeat(maxKeyBytes), 'longest key');
    t.is(text(await store.get('k'.repeat(maxKeyBytes))), 'longest key');
  }));

  test(`${name}: get blocks until another client sets the key`, (t) => withStore(t, async (fx, store) => {
    const other = await fx.open();
    let settled = false;
    const pending = store.get('late', 5000).then((v) => { settled = true; return v; });
    await new Promise((r) => setTimeout(r, 100));
    t.false(settled);
    await other.set('late', 'now');
    t.is(text(await pending), 'now');
  }));

  test(`${name}: get times out with ERR_RINGTREE_STORE`, (t) => withStore(t, async (_fx, store) => {
    const start = Date.now();
    const error = await t.throwsAsync(store.get('never', 150), { code: 'ERR_RINGTREE_STORE' });
    t.true(Date.now() - start >= 140, 'did not return before the timeout');
    t.regex(error!.message, /never"/);
    t.regex(error!.message, /150 ms/);
  }));

  test(`${name}: the store default timeout applies to get and wait`, (t) => withStore(t, async (_fx, store) => {
    await t.throwsAsync(store.get('never'), { code: 'ERR_RINGTREE_STORE', message: /200 ms/ });
    await t.throwsAsync(store.wait(['never']), { code: 'ERR_RINGTREE_STORE', message: /200 ms/ });
  }, 200));

  test(`${name}: add counts from zero, returns the new value, stores decimal text`, (t) => withStore(t, async (_fx, store) => {
    t.is(await store.add('n', 1), 1);
    t.is(await store.add('n', 41), 42);
    t.is(await store.add('n', -50), -8);
    t.is(await store.add('n', 0), -8);
    t.is(text(await store.get('n')), '-8');
    await store.set('m', '100');
    t.is(await store.add('m', 5), 105);
    t.is(await store.add('big', Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  }));

  test(`${name}: add on a non-integer value rejects and the store stays usable`, (t) => withStore(t, async (_fx, store) => {
    await store.set('s', 'not a number');
    await t.throwsAsync(store.add('s', 1), { code: 'ERR_RINGTREE_STORE', message: /int64 counter/ });
    await store.set('x', '9223372036854775807');
    await t.throwsAsync(store.add('x', 1), { code: 'ERR_RINGTREE_STORE', message: /overflow/ });
    t.is(await store.add('ok', 2), 2);
  }));

  test(`${name}: wait resolves once every key exists`, (t) => withStore(t, async (fx, store) => {
    const other = await fx.open();
    await store.set('w0', '0');
    await store.wait(['w0']);
    let done = false;
    const waiting = store.wait(['w0', 'w1', 'w2'], 5000).then(() => { done = true; });
    await other.set('w2', '2');
    await new Promise((r) => setTimeout(r, 60));
    t.false(done);
    await other.add('w1', 1);
    await waiting;
    t.true(done);
  }));

  test(`${name}: wait times out naming the keys`, (t) => withStore(t, async (_fx, store) => {
    await store.set('here', '1');
    await t.throwsAsync(store.wait(['here', 'missing'], 120), { code: 'ERR_RINGTREE_STORE', message: /missing".*120 ms/ });
  }));

  test(`${name}: check and deleteKey`, (t) => withStore(t, async (_fx, store) => {
    t.false(await store.check(['c1']));
    await store.set('c1', '1');
    await store.set('c2', '2');
    t.true(await store.check(['c1']));
    t.true(await store.check(['c1', 'c2']));
    t.false(await store.check(['c1', 'c3']));
    t.true(await store.deleteKey('c1'));
    t.false(await store.deleteKey('c1'));
    t.false(await store.check(['c1', 'c2']));
    await t.throwsAsync(store.get('c1', 50), { code: 'ERR_RINGTREE_STORE' });
    t.is(await store.add('c1', 3), 3, 'a deleted counter restarts from zero');
  }));

  test(`${name}: a wait over many keys set concurrently`, (t) => withStore(t, async (fx, store) => {
    const other = await fx.open();
    const keys = Array.from({ length: 100 }, (_, i) => `many/${i}`);
    const waiting = store.wait(keys, 5000);
    await Promise.all([...keys].reverse().map((k) => other.set(k, k)));
    await waiting;
    t.true(await store.check(keys));
  }));

  test(`${name}: concurrent add from 16 clients gives exact counts`, (t) => withStore(t, async (fx) => {
    const clients = await Promise.all(Array.from({ length: 16 }, () => fx.open()));
    const results = await Promise.all(clients.map(async (c) => {
      const seen: number[] = [];
      for (let i = 0; i < addsPerClient; i++) seen.push(await c.add('counter', 1));
      return seen;
    }));
    const all = results.flat().sort((a, b) => a - b);
    const total = 16 * addsPerClient;
    t.deepEqual(all, Array.from({ length: total }, (_, i) => i + 1), 'every value 1..N returned exactly once');
    t.is(text(await clients[0]!.get('counter')), String(total));
  }, 30_000)); // generous: this checks exactness under contention (lock waits on a busy host), not timeouts

  test(`${name}: invalid arguments reject with ERR_RINGTREE_INVALID_ARGUMENT`, (t) => withStore(t, async (_fx, store) => {
    const invalid = { code: 'ERR_RINGTREE_INVALID_ARGUMENT' };
    await t.throwsAsync(store.set('', 'x'), invalid);
    await t.throwsAsync(store.set('k'.repeat(4097), 'x'), invalid);
    await t.throwsAsync(store.set('lone\uD800', 'x'), invalid);
    await t.throwsAsync(store.set('k', 42 as unknown as string), invalid);
    await t.throwsAsync(store.get('k', -1), invalid);
    await t.throwsAsync(store.add('k', 1.5), invalid);
    await t.throwsAsync(store.add('k', 2 ** 60), invalid);
    await t.throwsAsync(store.wait([]), invalid);
    await t.throwsAsync(store.check(Array.from({ length: 4097 }, (_, i) => `k${i}`)), invalid);
  }));

  if (closeRejectsPending) {
    test(`${name}: close rejects pending calls and later calls`, (t) => withStore(t, async (fx) => {
      const client = await fx.open();
      const pending = client.get('never', 10_000);
      await new Promise((r) => setTimeout(r, 30));
      await client.close();
      await t.throwsAsync(pending, { code: 'ERR_RINGTREE_STORE', message: /closed/ });
      await t.throwsAsync(client.set('x', '1'), { code: 'ERR_RINGTREE_STORE' });
      await client.close(); // idempotent
    }));
  }
}
