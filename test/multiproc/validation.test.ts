// The invalid-argument list of test/_workers/_invalid-calls.ts on 2 real ranks (shm and tcp): every
// call rejects ERR_RINGTREE_INVALID_ARGUMENT naming the op and the problem, on every rank, and the
// communicator still works afterwards (nothing moved, nothing sticky).
import test from 'ava';

import { describeRun, runRanks, transports, workerPath } from '../helpers/ranks.js';

interface Report {
  rank: number;
  results: Array<{ what: string; op: string; sync: boolean; code?: string; name: string; message: string; matches: boolean; namesOp: boolean }>;
  after: number[];
}

for (const transport of transports) {
  test(`${transport} P=2: every invalid argument rejects ERR_RINGTREE_INVALID_ARGUMENT naming the op, then a collective still works`, async (t) => {
    t.timeout(90_000);
    const run = await runRanks<Report>(2, workerPath('validation'), { transport, timeoutMs: 80_000 });
    const why = describeRun(run);
    t.false(run.timedOut, why);
    const bad: string[] = [];
    for (const r of run.ranks) {
      t.is(r.code, 0, why);
      const rep = r.result;
      if (!rep) {
        t.fail(`rank ${r.rank} printed no result\n${why}`);
        continue;
      }
      t.true(rep.results.length >= 50, `only ${rep.results.length} calls`);
      for (const c of rep.results) {
        if (c.sync) bad.push(`rank ${r.rank}: ${c.what}: threw synchronously instead of rejecting`);
        else if (c.code !== 'ERR_RINGTREE_INVALID_ARGUMENT') bad.push(`rank ${r.rank}: ${c.what}: ${c.code ?? c.name} ${c.message}`);
        else if (!c.matches || !c.namesOp) bad.push(`rank ${r.rank}: ${c.what}: unexpected message "${c.message}"`);
      }
      t.deepEqual(rep.after, [3, 20], `rank ${r.rank}: the allReduce after the invalid calls`);
    }
    t.deepEqual(bad, []);
  });
}
