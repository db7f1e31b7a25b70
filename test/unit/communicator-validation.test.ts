// Argument validation of the Communicator API on a single-rank communicator (init() with no launcher
// env): every invalid argument rejects with ERR_RINGTREE_INVALID_ARGUMENT and a message naming the op
// and what is wrong, invalid calls are not sticky, and ops after destroy() reject ERR_RINGTREE_ABORTED.
// The same list runs on 2 real ranks in test/multiproc/validation.test.ts.
import test from 'ava';

import { init, InvalidArgumentError, RingtreeError, type Communicator } from '../../lib/index.js';
import { invalidCalls } from '../_workers/_invalid-calls.js';

let comm: Communicator;

test.before(async () => {
  comm = await init({ env: {} });
});

test.after.always(async () => {
  await comm?.destroy();
});

test('init() with no launcher env gives a size-1 communicator', (t) => {
  t.timeout(20_000);
  t.is(comm.size, 1);
  t.is(comm.rank, 0);
  t.is(comm.localSize, 1);
  t.is(comm.localRank, 0);
});

// a test per invalid call (titles come from the shared list, built on a stand-in with size 1)
const titles = invalidCalls({ size: 1, rank: 0 } as Communicator).map((c) => c.what);
for (const [i, what] of titles.entries()) {
  test(`rejects ${what} with ERR_RINGTREE_INVALID_ARGUMENT naming the op`, async (t) => {
    t.timeout(10_000);
    const c = invalidCalls(comm)[i]!;
    t.is(c.what, what);
    let p: Promise<unknown> | undefined;
    t.notThrows(() => {
      p = c.call();
    }, 'must reject, not throw synchronously');
    const e = await t.throwsAsync(p!, { instanceOf: InvalidArgumentError });
    if (!e) return;
    t.is((e as RingtreeError).code, 'ERR_RINGTREE_INVALID_ARGUMENT');
    t.true(e.message.startsWith(`${c.op}: `), `message names the op: ${e.message}`);
    t.regex(e.message, c.message);
    t.is((e as RingtreeError).op, c.op);
  });
}

test('invalid calls are not sticky: valid ops still work afterwards, on the same buffers', async (t) => {
  t.timeout(10_000);
  for (const c of invalidCalls(comm)) await c.call().catch(() => {});
  const a = Float32Array.from([1, 2, 3]);
  t.is(await comm.allReduce(a, { op: 'avg' }), a);
  t.deepEqual([...a], [1, 2, 3]);
  const out = new Float32Array(3);
  t.is(await comm.allReduce(a, { out }), out);
  t.deepEqual([...out], [1, 2, 3]);
  const h = Uint16Array.from([0x3c00]);
  await comm.allReduce(h, { dtype: 'float16' });
  t.is(h[0], 0x3c00);
  const g = new Float64Array(2);
  await comm.allGather(Float64Array.from([5, 6]), g);
  t.deepEqual([...g], [5, 6]);
  await comm.barrier();
});

test('an invalid argument is rejected before the op is enqueued (pendingOps unchanged)', async (t) => {
  t.timeout(20_000);
  const before = comm.pendingOps;
  const p = comm.broadcast(new Float32Array(1), { root: 7 });
  t.is(comm.pendingOps, before);
  await t.throwsAsync(p, { code: 'ERR_RINGTREE_INVALID_ARGUMENT' });
});

test('the rejection carries the caller\'s stack', async (t) => {
  t.timeout(20_000);
  const e = await t.throwsAsync(comm.allReduce(new Float32Array(2), { op: 'bogus' as never }));
  t.regex(e?.stack ?? '', /communicator-validation\.test/);
});

test('an already aborted signal rejects ERR_RINGTREE_ABORTED, and the communicator stays failed (sticky)', async (t) => {
  t.timeout(20_000);
  const c = await init({ env: {} });
  try {
    const ac = new AbortController();
    ac.abort(new Error('nope'));
    const e = await t.throwsAsync(c.allReduce(new Float32Array(4), { signal: ac.signal }), { code: 'ERR_RINGTREE_ABORTED' });
    t.is((e as RingtreeError | undefined)?.op, 'allReduce');
    await t.throwsAsync(c.barrier(), { code: 'ERR_RINGTREE_ABORTED' });
    // invalid arguments are still reported as such
    await t.throwsAsync(c.broadcast(new Float32Array(1), { root: 3 }), { code: 'ERR_RINGTREE_INVALID_ARGUMENT' });
  } finally {
    await c.destroy();
  }
});

test('abort() rejects later ops with ERR_RINGTREE_ABORTED and the given reason', async (t) => {
  t.timeout(20_000);
  const c = await init({ env: {} });
  try {
    c.abort('test says stop');
    const e = await t.throwsAsync(c.allReduce(new Float32Array(4)), { code: 'ERR_RINGTREE_ABORTED' });
    t.regex(e?.message ?? '', /test says stop/);
  } finally {
    await c.destroy();
  }
});

test('ops after destroy() reject with ERR_RINGTREE_ABORTED naming the op; destroy is idempotent', async (t) => {
  t.timeout(20_000);
  const c = await init({ env: {} });
  await c.allReduce(new Float32Array(2));
  await c.destroy();
  await c.destroy();
  const ops: Array<[string, () => Promise<unknown>]> = [
    ['allReduce', () => c.allReduce(new Float32Array(2))],
    ['broadcast', () => c.broadcast(new Float32Array(2))],
    ['reduce', () => c.reduce(new Float32Array(2))],
    ['allGather', () => c.allGather(new Float32Array(2), new Float32Array(2))],
    ['reduceScatter', () => c.reduceScatter(new Float32Array(2), new Float32Array(2))],
    ['barrier', () => c.barrier()],
    ['send', () => c.send(new Float32Array(2), 1)],
    ['recv', () => c.recv(new Float32Array(2), 1)],
  ];
  for (const [op, call] of ops) {
    const e = await t.throwsAsync(call(), { code: 'ERR_RINGTREE_ABORTED' }, op);
    t.regex(e?.message ?? '', new RegExp(`^${op}: .*destroyed`), op);
  }
});

test('split after destroy() rejects with ERR_RINGTREE_ABORTED', async (t) => {
  t.timeout(20_000);
  const c = await init({ env: {} });
  await c.destroy();
  await t.throwsAsync(c.split(0), { code: 'ERR_RINGTREE_ABORTED' });
});

// split() runs an allGather inside; after destroy() the rejection must still name split.
test('split after destroy() names split in the error', async (t) => {
  t.timeout(20_000);
  const c = await init({ env: {} });
  await c.destroy();
  const e = await t.throwsAsync(c.split(0));
  t.regex(e?.message ?? '', /^split: /);
  t.is((e as RingtreeError | undefined)?.op, 'split');
});

// split() checks `color > 0x7fffffff` but not the lower bound, then exchanges colors through an
// Int32Array: split(-(2 ** 40)) passes validation, this rank opts out locally (negative color) while
// the others read color 0 (the int32 wrap of -2^40) and count it as a member of color 0 that never
// joins them: they would wait for it until the init timeout. So it is rejected.
test('split rejects a color below -2^31 (it would wrap to another color on the other ranks)', async (t) => {
  t.timeout(20_000);
  await t.throwsAsync(comm.split(-(2 ** 40)), { code: 'ERR_RINGTREE_INVALID_ARGUMENT' });
});

test('split with a negative color opts out (null); a color or key that is not an integer rejects', async (t) => {
  t.timeout(20_000);
  t.is(await comm.split(-1), null);
  const sub = await comm.split(5, 3);
  t.truthy(sub);
  t.is(sub?.size, 1);
  await sub?.destroy();
  await t.throwsAsync(comm.split(2 ** 31), { code: 'ERR_RINGTREE_INVALID_ARGUMENT' });
  await t.throwsAsync(comm.split(0, 2 ** 32), { code: 'ERR_RINGTREE_INVALID_ARGUMENT' });
});

test('Symbol.asyncDispose destroys the communicator', async (t) => {
  t.timeout(20_000);
  const c = await init({ env: {} });
  await c[Symbol.asyncDispose]();
  await t.throwsAsync(c.barrier(), { code: 'ERR_RINGTREE_ABORTED' });
});

test('destroy() waits for pending ops, which settle normally', async (t) => {
  t.timeout(20_000);
  const c = await init({ env: {} });
  const a = Float64Array.from([1, 2]);
  const p = c.allReduce(a, { op: 'max' });
  await c.destroy();
  t.is(await p, a);
});
