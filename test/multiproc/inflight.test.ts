// 64 ops in flight at once (Promise.all) with mixed kinds, sizes, ops and dtypes: every result is
// exact and identical on all ranks where it must be (so every rank ran them in the same order: the
// issue order). The order in which the Promises settle is not part of the contract (small ops may
// settle inline, before larger ops issued earlier finish): it is logged, not asserted.
import test from 'ava';

import { describeRun, runRanks, smallBufferEnv, workerPath, type Transport } from '../helpers/ranks.js';

interface Report { rank: number; error?: string; failures: string[]; settled: number[]; hashes: string[]; ops: number }

const configs: Array<[Transport, number, boolean]> = [['shm', 3, true], ['tcp', 3, true], ['shm', 4, false], ['tcp', 5, true], ['shm', 2, false]];

for (const [transport, P, small] of configs) {
  test(`${transport} P=${P}${small ? ' small buffers' : ''}: 64 mixed ops via Promise.all are all exact, identical across ranks`, async (t) => {
    t.timeout(120_000);
    const run = await runRanks<Report>(P, workerPath('inflight'), { transport, env: small ? smallBufferEnv : {}, timeoutMs: 110_000 });
    const why = describeRun(run);
    t.false(run.timedOut, why);
    const reports: Report[] = [];
    for (const r of run.ranks) {
      t.is(r.code, 0, why);
      if (!r.result) {
        t.fail(`rank ${r.rank} printed no result\n${why}`);
        return;
      }
      reports.push(r.result);
      t.is(r.result.error, undefined);
      t.is(r.result.ops, 64);
      t.deepEqual(r.result.failures, [], `rank ${r.rank}`);
      t.deepEqual([...r.result.settled].sort((a, b) => a - b), Array.from({ length: 64 }, (_, k) => k), `rank ${r.rank}: every op settled once`);
      const outOfOrder = r.result.settled.filter((k, i) => i > 0 && k < r.result!.settled[i - 1]!).length;
      if (outOfOrder) t.log(`rank ${r.rank}: ${outOfOrder} op(s) settled before an op issued earlier`);
    }
    for (let k = 0; k < 64; k++) {
      const hs = new Set(reports.map((r) => r.hashes[k]));
      t.is(hs.size, 1, `op #${k}: result bytes differ between ranks`);
    }
  });
}
