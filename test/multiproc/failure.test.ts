// Fault behaviour with real rank processes (issue 3, "Fault behaviour"): a rank SIGKILLed mid-op,
// a silent rank, mismatched collectives, AbortSignal, SIGTERM with an op pending, shm cleanup.
// Every scenario runs in its own job (failures are sticky); the worker is test/_workers/failure.ts.
import test from 'ava';

import { loadAddon } from '../../lib/native/binding.js';
import {
  describeRun, freePort, runRanks, shmResidue, smallBufferEnv, startRanks, transports, workerPath, type RunRanksResult,
} from '../helpers/ranks.js';

const worker = workerPath('failure');

interface Outcome { ok: boolean; ms: number; at?: number; code?: string; message?: string; name?: string; peer?: number; op?: string; seq?: number; rank?: number }

/** Crash-to-error bound asserted by the kill tests (the issue asks for about a second). */
const crashBoundMs = 10_000;

function resultOf<R>(run: RunRanksResult<unknown>, rank: number): R {
  const r = run.ranks[rank]?.result;
  if (!r) throw new Error(`rank ${rank} printed no result\n${describeRun(run)}`);
  return r as R;
}

for (const transport of transports) {
  for (const [P, victim] of [[3, 1], [2, 0]] as const) {
    test(`${transport} P=${P}: SIGKILL rank ${victim} mid-op -> every survivor's op rejects ERR_RINGTREE_PEER within ${crashBoundMs / 1000} s, later ops too (sticky), no shm residue`, async (t) => {
      t.timeout(120_000);
      const port = await freePort();
      const job = startRanks<{ rank: number; iterations: number; first?: Outcome; later: Outcome; later2: Outcome }>(P, worker, {
        port, transport, env: { RT_MODE: 'loop' }, timeoutMs: 100_000,
      });
      try {
        await Promise.all(Array.from({ length: P }, (_, r) => job.waitFor(r, /LOOPING/, 60_000)));
      } catch (error) {
        job.killAll();
        const run = await job.done;
        t.fail(`${(error as Error).message}\n${describeRun(run)}`);
        return;
      }
      const killedAt = Date.now();
      job.kill(victim, 'SIGKILL');
      const run = await job.done;
      const why = describeRun(run);
      t.false(run.timedOut, why);
      t.is(run.ranks[victim]!.signal, 'SIGKILL');
      const delays: number[] = [];
      for (let r = 0; r < P; r++) {
        if (r === victim) continue;
        const res = resultOf<{ iterations: number; first?: Outcome; later: Outcome; later2: Outcome }>(run, r);
        t.is(run.ranks[r]!.code, 0, why);
        t.truthy(res.first, `rank ${r}: no op rejected\n${why}`);
        if (!res.first) continue;
        t.is(res.first.code, 'ERR_RINGTREE_PEER', `rank ${r}: ${res.first.message}`);
        // typed error fields: the op, its sequence number, this rank; the message names the dead rank
        t.is(res.first.name, 'PeerError');
        t.is(res.first.op, 'allReduce');
        t.is(res.first.rank, r);
        t.true(Number.isInteger(res.first.seq) && res.first.seq! >= 1, `seq ${res.first.seq}`);
        t.regex(res.first.message ?? '', new RegExp(`rank ${victim}\\b`), 'names the dead rank');
        const delay = res.first.at! - killedAt;
        delays.push(delay);
        t.true(delay < crashBoundMs, `rank ${r} noticed the crash after ${delay} ms`);
        // sticky: the next ops reject at once with the root cause
        t.is(res.later.code, 'ERR_RINGTREE_PEER', `rank ${r} later barrier: ${res.later.message}`);
        t.is(res.later2.code, 'ERR_RINGTREE_PEER', `rank ${r} later allReduce: ${res.later2.message}`);
      }
      t.log(`crash-to-error: ${delays.map((d) => `${d} ms`).join(', ')} (survivors of rank ${victim})`);
      t.deepEqual(shmResidue(run.jobId), [], 'shared-memory segments left after a killed rank');
    });
  }

  test(`${transport} P=3: a rank calling process.exit(0) between ops (no destroy) -> the others' next op rejects ERR_RINGTREE_PEER promptly, sticky`, async (t) => {
    t.timeout(120_000);
    const run = await runRanks<{ iterations: number; first?: Outcome; later: Outcome }>(3, worker, {
      transport, env: { RT_MODE: 'loop', RT_EXIT_RANK: '2' }, timeoutMs: 100_000,
    });
    const why = describeRun(run);
    t.false(run.timedOut, why);
    t.is(run.ranks[2]!.code, 0, why);
    const exitedAt = Number(/EXITING (\d+)/.exec(run.ranks[2]!.stdout)?.[1]);
    t.true(exitedAt > 0, why);
    const delays: number[] = [];
    for (const r of [0, 1]) {
      const res = resultOf<{ first?: Outcome; later: Outcome }>(run, r);
      t.is(res.first?.code, 'ERR_RINGTREE_PEER', `rank ${r}: ${res.first?.code} ${res.first?.message}`);
      if (res.first?.at) delays.push(res.first.at - exitedAt);
      t.is(res.later.code, 'ERR_RINGTREE_PEER', `rank ${r} later: ${res.later.message}`);
    }
    for (const d of delays) t.true(d < crashBoundMs, `noticed after ${d} ms`);
    t.log(`exit-to-error: ${delays.map((d) => `${d} ms`).join(', ')}`);
    t.deepEqual(shmResidue(run.jobId), []);
  });

  test(`${transport}: a silent rank -> the others' op with timeoutMs 1000 rejects ERR_RINGTREE_TIMEOUT, later ops too`, async (t) => {
    t.timeout(60_000);
    const run = await runRanks(2, worker, { transport, env: { RT_MODE: 'silent' }, timeoutMs: 50_000 });
    const why = describeRun(run);
    t.false(run.timedOut, why);
    const r0 = resultOf<{ first: Outcome; later: Outcome }>(run, 0);
    t.is(r0.first.code, 'ERR_RINGTREE_TIMEOUT', r0.first.message);
    t.true(r0.first.ms >= 900 && r0.first.ms < 10_000, `timed out after ${r0.first.ms} ms`);
    t.is(r0.later.code, 'ERR_RINGTREE_TIMEOUT', `sticky: ${r0.later.message}`);
    t.log(`timeout fired after ${r0.first.ms} ms`);
  });

  const mismatchRuns = new Map<number, Promise<RunRanksResult<unknown>>>();
  const mismatchJob = (P: number): Promise<RunRanksResult<unknown>> => {
    if (!mismatchRuns.has(P)) mismatchRuns.set(P, runRanks(P, worker, { transport, env: { RT_MODE: 'mismatch' }, timeoutMs: 100_000 }));
    return mismatchRuns.get(P)!;
  };
  const variants: Record<string, [RegExp, RegExp]> = {
    op: [/allReduce\(float32 x 13/, /broadcast\(float32 x 13/],
    count: [/allReduce\(float32 x 13,/, /allReduce\(float32 x 14,/],
    dtype: [/allReduce\(float32 x 13/, /allReduce\(int32 x 13/],
    redop: [/allReduce\(float32 x 13, sum/, /allReduce\(float32 x 13, max/],
  };
  const outcomes = (run: RunRanksResult<unknown>, v: string): Outcome[] =>
    run.ranks.map((r) => resultOf<{ results: Record<string, Outcome> }>(run, r.rank).results[v]!);

  for (const P of [2, 3]) {
    test(`${transport} P=${P}: mismatched collectives (op, count, dtype, reduce op) -> ERR_RINGTREE_MISMATCH naming both sides, no rank completes`, async (t) => {
      t.timeout(120_000);
      const run = await mismatchJob(P);
      t.false(run.timedOut, describeRun(run));
      for (const [v, [a, b]] of Object.entries(variants)) {
        const outs = outcomes(run, v);
        for (const [r, o] of outs.entries()) t.false(o.ok, `${v}: rank ${r} completed a mismatched op`);
        const mm = outs.filter((o) => o.code === 'ERR_RINGTREE_MISMATCH');
        t.true(mm.length >= 1, `${v}: no rank reported ERR_RINGTREE_MISMATCH: ${outs.map((o) => `${o.code} ${o.message}`).join(' | ')}`);
        for (const o of mm) {
          t.regex(o.message!, a, `${v}: the message names rank 0's side`);
          t.regex(o.message!, b, `${v}: the message names the other side`);
        }
      }
    });

    // Over TCP with P=3, rank 0 allReduce vs ranks 1,2 broadcast: rank 1 detects the mismatch and
    // fails, but ranks 0 and 2 wait on each other and only give up at their op timeout (8 s here,
    // 5 min by default): rank 1's failure does not reach TCP peers it has no request with.
    test(`${transport} P=${P}: after a mismatch every rank rejects promptly (MISMATCH or PEER, never its op timeout)`, async (t) => {
      t.timeout(120_000);
      const run = await mismatchJob(P);
      for (const v of Object.keys(variants)) {
        for (const [r, o] of outcomes(run, v).entries()) {
          t.true(o.code === 'ERR_RINGTREE_MISMATCH' || o.code === 'ERR_RINGTREE_PEER', `${v}: rank ${r}: ${o.code} after ${o.ms} ms: ${o.message}`);
          t.true(o.ms < 7900, `${v}: rank ${r} took ${o.ms} ms (its op timeout is 8000 ms)`);
        }
      }
    });
  }

  // Issue 3: ranks that issue different ops "get ERR_RINGTREE_MISMATCH naming both sides" — every
  // rank, including those that learn it from a peer's abort notice or stall probe.
  test(`${transport} P=2: a mismatch rejects with ERR_RINGTREE_MISMATCH on EVERY rank`, async (t) => {
    t.timeout(120_000);
    const run = await mismatchJob(2);
    for (const v of Object.keys(variants)) {
      for (const [r, o] of outcomes(run, v).entries()) t.is(o.code, 'ERR_RINGTREE_MISMATCH', `${v}: rank ${r}: ${o.code} ${o.message}`);
    }
  });

  test(`${transport} P=2: a recv of another size than the matching send -> ERR_RINGTREE_MISMATCH naming both sizes`, async (t) => {
    t.timeout(60_000);
    const run = await runRanks(2, worker, { transport, env: { RT_MODE: 'p2pmismatch' }, timeoutMs: 50_000 });
    t.false(run.timedOut, describeRun(run));
    const r1 = resultOf<{ first: Outcome }>(run, 1).first;
    t.is(r1.code, 'ERR_RINGTREE_MISMATCH', r1.message);
    t.regex(r1.message ?? '', /56\b.*52\b|52\b.*56\b/, 'names both sizes (bytes)');
    const r0 = resultOf<{ first: Outcome }>(run, 0).first;
    t.true(r0.ok || r0.code === 'ERR_RINGTREE_MISMATCH' || r0.code === 'ERR_RINGTREE_PEER', `${r0.code} ${r0.message}`);
    t.true(r1.ms < 7900 && r0.ms < 7900, 'no side waits for its timeout');
  });

  test(`${transport}: AbortSignal abort -> ERR_RINGTREE_ABORTED (sticky), the peer's later op rejects ERR_RINGTREE_PEER`, async (t) => {
    t.timeout(60_000);
    const run = await runRanks(2, worker, { transport, env: { RT_MODE: 'abort' }, timeoutMs: 50_000 });
    const why = describeRun(run);
    t.false(run.timedOut, why);
    const r0 = resultOf<{ first: Outcome; later: Outcome; preAborted: Outcome }>(run, 0);
    t.is(r0.first.code, 'ERR_RINGTREE_ABORTED', r0.first.message);
    t.regex(r0.first.message!, /user gave up/);
    t.true(r0.first.ms < 10_000);
    t.is(r0.later.code, 'ERR_RINGTREE_ABORTED', r0.later.message);
    t.is(r0.preAborted.code, 'ERR_RINGTREE_ABORTED', r0.preAborted.message);
    const r1 = resultOf<{ later: Outcome }>(run, 1);
    t.is(r1.later.code, 'ERR_RINGTREE_PEER', r1.later.message);
  });

  test(`${transport}: SIGTERM to a rank with a pending op -> it prints the ERR_RINGTREE_ABORTED rejection, then exits`, async (t) => {
    t.timeout(60_000);
    const port = await freePort();
    const job = startRanks<{ later?: Outcome }>(2, worker, { port, transport, env: { RT_MODE: 'sigterm' }, timeoutMs: 50_000 });
    await job.waitFor(1, /PENDING/, 30_000).catch(() => {});
    job.kill(1, 'SIGTERM');
    const run = await job.done;
    const why = describeRun(run);
    t.false(run.timedOut, why);
    const r1 = run.ranks[1]!;
    t.regex(r1.stdout, /REJECTED ERR_RINGTREE_ABORTED .*SIGTERM/, why);
    t.true(r1.code === 143 || r1.signal === 'SIGTERM', `exit ${r1.code ?? r1.signal}`);
    const r0 = resultOf<{ later: Outcome; later2: Outcome }>(run, 0);
    t.true(r0.later.ok || r0.later.code === 'ERR_RINGTREE_PEER', `${r0.later.code} ${r0.later.message}`);
    t.is(r0.later2.code, 'ERR_RINGTREE_PEER', r0.later2.message);
    t.deepEqual(shmResidue(run.jobId), []);
  });

}

// A simultaneous exchange (both ranks issue send then recv) of a message larger than the transport's
// buffering (here 40 KB through 4 KB shm rings): consecutive point-to-point ops run together, so
// neither rank's send blocks its recv.
{
  const transport = 'shm';
  test(`${transport}: simultaneous send+recv exchange of a large message completes`, async (t) => {
    t.timeout(60_000);
    const run = await runRanks(2, worker, {
      transport, env: { RT_MODE: 'exchange', RT_COUNT: '5003', ...smallBufferEnv }, timeoutMs: 50_000,
    });
    for (const r of [0, 1]) {
      const res = resultOf<{ r: Outcome; correct: boolean }>(run, r);
      t.true(res.r.ok, `rank ${r}: ${res.r.code} ${res.r.message}`);
      t.true(res.correct);
    }
  });
}

// Issue 3: "a peer that dies ... makes every pending and later op on every survivor reject within
// about a second" — also ops that do not involve the dead rank (ranks 0 and 2 have recvs pending
// from each other when rank 1 is SIGKILLed): every rank watches every peer's control connection.
for (const transport of transports) {
  test(`${transport} P=3: SIGKILL of rank 1 fails the recv rank 0 has pending from rank 2 (a bystander) promptly`, async (t) => {
    t.timeout(60_000);
    const port = await freePort();
    const job = startRanks<{ first: Outcome }>(3, worker, { port, transport, env: { RT_MODE: 'bystander' }, timeoutMs: 50_000 });
    await Promise.all([0, 1, 2].map((r) => job.waitFor(r, /READY/, 30_000))).catch(() => {});
    const killedAt = Date.now();
    job.kill(1, 'SIGKILL');
    const run = await job.done;
    const o = resultOf<{ first: Outcome }>(run, 0).first;
    t.is(o.code, 'ERR_RINGTREE_PEER', `rank 0: ${o.code} ${o.message}`);
    t.regex(o.message ?? '', /rank 1\b/, 'blames rank 1');
    t.true((o.at ?? Infinity) - killedAt < 5000, `rank 0 failed ${(o.at ?? NaN) - killedAt} ms after the kill`);
    t.deepEqual(shmResidue(run.jobId), []);
  });
}

// A correct program fails with a false ERR_RINGTREE_MISMATCH: rank 1 waits in a barrier > 200 ms
// (RINGTREE_PROBE_AFTER_MS) and sends stall probes "barrier() op #1" on the control sockets; rank 0
// leaves the barrier without reading them, and its next op, recv #1 (point-to-point numbering), is
// compared with the stale probe in Executor::readCtrl (native/core/executor.cc: `f.fp.seq ==
// fp_.seq && !sameOp`): "rank 0 issued recv(float32 x 4) as op #1, but rank 1 issued barrier() as
// op #1". Probes of finished ops, and collective vs point-to-point sequence numbers, must not be
// compared (fixed: probes only compare with a collective of the same number).
for (const transport of transports) {
  test(`${transport} P=3: a stale stall probe from a finished barrier does not fail a later recv with MISMATCH`, async (t) => {
    t.timeout(60_000);
    const run = await runRanks(3, worker, { transport, env: { RT_MODE: 'staleprobe' }, timeoutMs: 50_000 });
    for (const r of [0, 1, 2]) {
      const o = resultOf<{ first: Outcome }>(run, r).first;
      t.true(o.ok, `rank ${r}: ${o.code} ${o.message}`);
    }
  });
}

// DESIGN.md section 1: buffers are pinned while an op is in flight; "detect detached/resized buffers
// and reject". A view of a resizable ArrayBuffer is accepted, and shrinking the buffer while the op
// waits for its peer would let the progress thread write into decommitted memory, so such views
// are rejected with ERR_RINGTREE_INVALID_ARGUMENT before any byte moves.
test('shm P=2: a view of a resizable ArrayBuffer is rejected up front (it could shrink during the op), no crash', async (t) => {
  t.timeout(60_000);
  const run = await runRanks(2, worker, { transport: 'shm', env: { RT_MODE: 'resize' }, timeoutMs: 50_000 });
  const r0 = run.ranks[0]!;
  t.is(r0.signal, null, `rank 0 died of ${r0.signal}`);
  t.is(r0.code, 0, describeRun(run));
  const first = resultOf<{ first: Outcome }>(run, 0).first;
  t.is(first.code, 'ERR_RINGTREE_INVALID_ARGUMENT', first.message);
});

// Same family: transferring (detaching) the buffer of an op in flight to a clone that is then
// garbage collected would free the memory the progress thread writes into (a use after free that
// killed the process with SIGSEGV, or silently corrupted whatever reused the memory). The binding pins
// the backing store of every in-flight buffer (native/binding/v8_pin.h), so the op runs to its end on
// live memory and then rejects with a typed error; the peer's op is unaffected.
const pins = loadAddon<{ features?: { pinsInflightBuffers?: boolean } }>().features?.pinsInflightBuffers === true;
const detachTitle = 'shm P=2: detaching (transferring) the buffer of an op in flight, then GC: no crash, the op rejects ERR_RINGTREE_INVALID_ARGUMENT, the peer completes';
if (!pins) {
  test.skip(`${detachTitle} [skipped: the addon was built without Node's own headers, so it cannot pin buffers]`, () => {});
} else {
  test(detachTitle, async (t) => {
    t.timeout(60_000);
    const run = await runRanks(2, worker, { transport: 'shm', env: { RT_MODE: 'transfer' }, nodeArgs: ['--expose-gc'], timeoutMs: 50_000 });
    const r0 = run.ranks[0]!;
    t.is(r0.signal, null, `rank 0 died of ${r0.signal}\n${describeRun(run)}`);
    t.is(r0.code, 0, describeRun(run));
    const res0 = resultOf<{ first: Outcome }>(run, 0);
    t.false(res0.first.ok, 'the op on a transferred buffer resolved');
    t.is(res0.first.code, 'ERR_RINGTREE_INVALID_ARGUMENT');
    t.regex(res0.first.message ?? '', /detached \(transferred\) while the op was in flight/);
    t.is(res0.first.op, 'allReduce');
    t.is(res0.first.rank, 0);
    const res1 = resultOf<{ first: Outcome; b0: number }>(run, 1);
    t.true(res1.first.ok, `rank 1: ${res1.first.code} ${res1.first.message}`);
    t.is(res1.b0, 3);
  });
}

// Barrier semantics: nobody leaves a barrier before every rank has entered it (a 0-byte message
// chained on a receive must wait for that receive to complete).
for (const transport of transports) {
  test(`${transport} P=3: no rank leaves a barrier before the last rank enters it`, async (t) => {
    t.timeout(60_000);
    const run = await runRanks(3, worker, { transport, env: { RT_MODE: 'barrier' }, timeoutMs: 50_000 });
    const reps = run.ranks.map((r) => resultOf<{ entered: number; left: number }>(run, r.rank));
    const lastEntered = Math.max(...reps.map((r) => r.entered));
    for (const [r, rep] of reps.entries()) t.true(rep.left >= lastEntered, `rank ${r} left ${lastEntered - rep.left} ms before the last rank entered`);
  });
}

test('shm: small exchange (fits the buffers) works both ways at once', async (t) => {
  t.timeout(60_000);
  const run = await runRanks(2, worker, { transport: 'shm', env: { RT_MODE: 'exchange', RT_COUNT: '100' }, timeoutMs: 50_000 });
  for (const r of [0, 1]) {
    const res = resultOf<{ r: Outcome; correct: boolean }>(run, r);
    t.true(res.r.ok, `rank ${r}: ${res.r.code} ${res.r.message}`);
    t.true(res.correct);
  }
});
