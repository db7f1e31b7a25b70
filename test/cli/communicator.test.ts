// ringrun with the real communicator: a rank crashing mid-collective, the fault-injection specs
// applied by the runtime, and --timeout printing the flight recorders of a stuck job.

import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { processesWithTag, reapAll, repoRoot, runRingrun } from '../helpers/launcher.js';

test.after.always(reapAll);

const worker = path.join(repoRoot, 'dist/test/cli/_workers/allreduce-loop.js');
const missing = ['dist/lib/index.js', 'build/Release/ringtree.node'].filter((f) => !fs.existsSync(path.join(repoRoot, f)));
const ctest = missing.length === 0 ? test.serial : test.skip;
if (missing.length > 0) console.log(`communicator launcher tests skipped: ${missing.join(', ')} not built`);

function shmLeft(jobId: string): string[] {
  try {
    return fs.readdirSync('/dev/shm').filter((n) => n.startsWith(`ringtree-${jobId}-`));
  } catch {
    return [];
  }
}

ctest('a rank crashing mid-collective: survivors fail with typed errors and the job ends within the grace period', async (t) => {
  const r = await runRingrun(['-np', '4', process.execPath, worker], { env: { OPS: '1000000', CRASH_RANK: '1', CRASH_AT: '100' } });
  t.is(r.code, 137, r.stderr);
  const m = /CRASH (\d+) ([0-9a-f]+)/.exec(r.stdout);
  t.truthy(m, r.stdout);
  t.regex(r.stderr, /^ringrun: rank 1 \(pid \d+\) was killed by signal SIGKILL \(exit code 137\)/m);
  for (const rank of [0, 2, 3]) t.regex(r.stderr, new RegExp(`rank ${rank} caught ERR_RINGTREE_(PEER|ABORTED): `));
  t.notRegex(r.stderr, /sending SIGTERM/, 'the survivors exited on their own');
  const ms = r.endedAt - Number(m![1]);
  t.log(`crash to job end: ${ms} ms (survivors noticing the dead peer themselves)`);
  t.true(ms < 3000, `${ms} ms`);
  t.deepEqual(processesWithTag(r.tag), []);
  t.deepEqual(shmLeft(m![2]!), []);
});

ctest('the shared-memory segments carry the /dev/shm prefix ringrun removes after a job', async (t) => {
  // ringrun (and its remote cleanup) removes /dev/shm/ringtree-<job id>-*: the runtime must name its
  // segments that way, or segments of ranks killed during setup would outlive the job
  const r = await runRingrun(['-np', '2', process.execPath, worker], {
    env: { OPS: '3', CRASH_RANK: '0', CRASH_AT: '2', RINGTREE_DEBUG: 'INFO', RINGTREE_DEBUG_SUBSYS: 'SHM' },
  });
  const jobId = /CRASH \d+ (\S+)/.exec(r.stdout)?.[1];
  t.truthy(jobId, r.stdout);
  const names = [...r.stderr.matchAll(/shm segment \/(\S+) /g)].map((m) => m[1]!);
  t.is(names.length, 2, r.stderr);
  for (const n of names) t.true(n.startsWith(`ringtree-${jobId}-`), `${n} does not start with ringtree-${jobId}-`);
  t.deepEqual(shmLeft(jobId!), []);
});

ctest('--inject kill/delay/drop-conn are applied by the ranks', async (t) => {
  const killed = await runRingrun(['-np', '3', '--inject', 'kill:rank=2:after-ops=20', process.execPath, worker], { env: { OPS: '1000000' } });
  t.is(killed.code, 137, killed.stderr);
  t.regex(killed.stderr, /\[ringtree\] rank 2: fault injection: killing this rank after 20 ops/);
  t.regex(killed.stderr, /ringrun: rank 2 \(pid \d+\) was killed by signal SIGKILL/);
  t.regex(killed.stderr, /rank [01] caught ERR_RINGTREE_(PEER|ABORTED)/);

  const delayed = await runRingrun(['-np', '2', '--inject', 'delay:rank=0:ms=40', process.execPath, worker], { env: { OPS: '5' } });
  t.is(delayed.code, 0, delayed.stderr);
  t.true(delayed.ms >= 5 * 40, `${delayed.ms} ms`);

  const dropped = await runRingrun(['-np', '3', '--inject', 'drop-conn:rank=1:after-ops=10', process.execPath, worker], { env: { OPS: '1000000' } });
  t.not(dropped.code, 0);
  t.regex(dropped.stderr, /fault injection: dropping all connections after 10 ops/);
  t.regex(dropped.stderr, /caught ERR_RINGTREE_(PEER|ABORTED)/);
});

ctest('--timeout on a hung job prints every rank\'s flight recorder, aborts pending ops and exits 124', async (t) => {
  const r = await runRingrun(['-np', '3', '--timeout', '2', '--grace-ms', '500', '--inject', 'hang:rank=1:after-ops=5', process.execPath, worker], { env: { OPS: '1000000' } });
  t.is(r.code, 124, r.stderr);
  t.regex(r.stderr, /ringrun: job timed out after 2 s/);
  t.regex(r.stderr, /\[ringtree\] rank 1\/3 pid \d+: .*last completed: op #5 .*HUNG by fault injection/);
  for (const rank of [0, 2]) {
    t.regex(r.stderr, new RegExp(`\\[ringtree\\] rank ${rank}/3 pid \\d+: in flight: op #6 allReduce.*last completed: op #5`));
    // SIGTERM aborts; a rank whose peer aborted a moment earlier may see that first.
    t.regex(r.stderr, new RegExp(`rank ${rank} caught ERR_RINGTREE_(ABORTED|PEER): `));
  }
  t.regex(r.stderr, /rank [02] caught ERR_RINGTREE_ABORTED: received SIGTERM/);
});
