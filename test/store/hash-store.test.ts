// HashStore (in-process) against the shared Store suite; KvState waiter bookkeeping.

import test from 'ava';

import { HashStore, KvState } from '../../lib/rendezvous/hash-store.js';
import { storeSuite } from './_suite.js';

storeSuite('HashStore', async (timeoutMs) => {
  // Every "client" is the same in-process table.
  const shared = new HashStore({ timeoutMs });
  return {
    async open() { return shared; },
    async dispose() { await shared.close(); },
  };
});

test('KvState releases waiters on completion, timeout and cancel', async (t) => {
  const kv = new KvState();
  const results: boolean[] = [];
  kv.waitFor(['a', 'b'], 1000, (ok) => results.push(ok));
  kv.waitFor(['c'], 20, (ok) => results.push(ok));
  const cancel = kv.waitFor(['d'], 1000, () => t.fail('cancelled waiter called'));
  t.is(kv.waiterCount, 3);
  kv.set('b', Buffer.from('1'));
  kv.set('a', Buffer.from('1'));
  t.deepEqual(results, [true]);
  cancel();
  await new Promise((r) => setTimeout(r, 50));
  t.deepEqual(results, [true, false]);
  t.is(kv.waiterCount, 0);
});

test('KvState wait rechecks keys deleted while it was parked', (t) => {
  const kv = new KvState();
  let done = false;
  kv.set('a', Buffer.from('1'));
  kv.waitFor(['a', 'b'], Infinity, () => { done = true; });
  kv.delete('a');
  kv.set('b', Buffer.from('1'));
  t.false(done, 'a was deleted: not all keys exist');
  kv.set('a', Buffer.from('2'));
  t.true(done);
  t.is(kv.waiterCount, 0);
});
