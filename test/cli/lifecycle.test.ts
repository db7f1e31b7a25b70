// ringrun end to end on this machine, the job's life cycle: exit codes, failure escalation (grace,
// SIGTERM, SIGKILL), signals to ringrun, --timeout, spawn failures, orphans and /dev/shm cleanup.
// The built CLI runs as a subprocess with small `node -e` rank programs. Serial: timing checks must
// not compete with other jobs of this file for two CPUs.

import fs from 'node:fs';
import test from 'ava';
import { nodeRank, reapAll, results, runRingrun, startRingrun, waitUntilNoneTagged } from '../helpers/launcher.js';

test.after.always(reapAll);

test.serial('exit code is 0 when all ranks succeed, else the first failing rank\'s code', async (t) => {
  const ok = await runRingrun(['-np', '2', ...nodeRank('0')]);
  t.is(ok.code, 0);
  t.is(ok.stderr, '');
  // rank 1 fails first (7), rank 0 later (3): the job reports 7.
  const r = await runRingrun(['-np', '2', '--grace-ms', '5000', ...nodeRank('setTimeout(() => process.exit(process.env.RINGTREE_RANK === "1" ? 7 : 3), process.env.RINGTREE_RANK === "1" ? 50 : 600)')]);
  t.is(r.code, 7);
  t.regex(r.stderr, /^ringrun: rank 1 \(pid \d+\) exited with code 7; stopping the job\n/);
  t.notRegex(r.stderr, /SIGTERM/, 'rank 0 exited on its own within the grace period');
});

test.serial('a crash reaped after the peer that noticed it still gives the job its 128+N', async (t) => {
  // rank 0 exits 3 first (as a rank that saw a dead peer does); rank 1 dies of SIGKILL 300 ms later,
  // inside the grace period and before ringrun signalled anyone: the crash is the job's exit code
  const r = await runRingrun(['-np', '2', '--grace-ms', '3000', ...nodeRank(
    'if (process.env.RINGTREE_RANK === "0") setTimeout(() => process.exit(3), 50); else setTimeout(() => process.kill(process.pid, "SIGKILL"), 350)')]);
  t.is(r.code, 137, r.stderr);
  t.regex(r.stderr, /^ringrun: rank 0 \(pid \d+\) exited with code 3; stopping the job\n/);
  t.regex(r.stderr, /ringrun: rank 1 \(pid \d+\) was killed by signal SIGKILL \(exit code 137\): the job's exit code/);
  // a rank that ringrun itself kills during the shutdown is not a cause
  const stopped = await runRingrun(['-np', '2', '--grace-ms', '200', ...nodeRank(
    'if (process.env.RINGTREE_RANK === "0") setTimeout(() => process.exit(3), 50); else { process.on("SIGTERM", () => {}); setInterval(() => {}, 1000); }')]);
  t.is(stopped.code, 3, stopped.stderr);
  t.regex(stopped.stderr, /sending SIGKILL to rank 1/);
});

test.serial('a rank killed by a signal gives 128+N', async (t) => {
  const r = await runRingrun(['-np', '2', '--grace-ms', '200', ...nodeRank('if (process.env.RINGTREE_RANK === "0") process.kill(process.pid, "SIGKILL"); else setInterval(() => {}, 1000)')]);
  t.is(r.code, 137);
  t.regex(r.stderr, /ringrun: rank 0 \(pid \d+\) was killed by signal SIGKILL \(exit code 137\); stopping the job/);
  t.regex(r.stderr, /ringrun: sending SIGTERM to rank 1 \(still running after the 200 ms grace period\)/);
  const segv = await runRingrun(['-np', '1', ...nodeRank('process.kill(process.pid, "SIGSEGV")')]);
  t.is(segv.code, 139);
});

test.serial('grace period, then SIGTERM, then SIGKILL for a rank that ignores SIGTERM (bounded)', async (t) => {
  // long enough for rank 0's SIGTERM handler to run (and print) before SIGKILL on a loaded host
  const grace = 800;
  const r = await runRingrun([
    '-np', '3', '--grace-ms', String(grace),
    ...nodeRank(`
const r = process.env.RINGTREE_RANK;
if (r === '2') setTimeout(() => { console.log('FAIL ' + Date.now()); process.exit(5); }, 100);
else {
  if (r === '0') process.on('SIGTERM', () => require('fs').writeSync(1, 'rank 0 ignores SIGTERM\\n'));
  setInterval(() => {}, 1000);
}`),
  ]);
  t.is(r.code, 5);
  const lines = r.stderr.trim().split('\n');
  t.regex(lines[0]!, /^ringrun: rank 2 \(pid \d+\) exited with code 5; stopping the job$/);
  t.is(lines[1], `ringrun: sending SIGTERM to ranks 0,1 (still running after the ${grace} ms grace period)`);
  t.is(lines[2], `ringrun: sending SIGKILL to rank 0 (still running ${grace} ms after SIGTERM)`);
  t.regex(r.stdout, /rank 0 ignores SIGTERM/);
  const ms = r.endedAt - Number(/FAIL (\d+)/.exec(r.stdout)?.[1]);
  t.true(ms >= 2 * grace && ms < 2 * grace + 3000, `ended ${ms} ms after the failure`);
});

test.serial('SIGINT to ringrun is forwarded to every rank', async (t) => {
  const run = startRingrun(['-np', '3', ...nodeRank(`
process.on('SIGINT', () => { console.log('rank ' + process.env.RINGTREE_RANK + ' got SIGINT'); process.exit(42); });
console.log('ready'); setInterval(() => {}, 1000);`)]);
  await run.waitFor('stdout', /(ready\n[^]*){3}/);
  run.child.kill('SIGINT');
  const r = await run.result;
  t.is(r.code, 42);
  for (const rank of [0, 1, 2]) t.regex(r.stdout, new RegExp(`rank ${rank} got SIGINT`));
  t.regex(r.stderr, /ringrun: received SIGINT; forwarding it to 3 ranks/);
});

test.serial('SIGTERM to ringrun: forwarded, then SIGKILL after the grace period', async (t) => {
  const run = startRingrun(['-np', '2', '--grace-ms', '300', ...nodeRank(`
process.on('SIGTERM', () => console.log('ignoring SIGTERM'));
console.log('ready'); setInterval(() => {}, 1000);`)]);
  await run.waitFor('stdout', /(ready\n[^]*){2}/);
  const sent = Date.now();
  run.child.kill('SIGTERM');
  const r = await run.result;
  t.is(r.code, 137);
  t.is(r.stdout.match(/ignoring SIGTERM/g)?.length, 2);
  t.regex(r.stderr, /ringrun: sending SIGKILL to ranks 0,1 \(still running 300 ms after SIGTERM\)/);
  t.true(Date.now() - sent < 4000);
});

test.serial('--timeout dumps the flight recorders (SIGUSR2), stops the job and exits 124', async (t) => {
  const r = await runRingrun(['-np', '2', '--timeout', '0.5', '--grace-ms', '300', ...nodeRank(`
process.on('SIGUSR2', () => console.error('flight recorder of rank ' + process.env.RINGTREE_RANK + ': in flight allReduce seq 7'));
if (process.env.RINGTREE_RANK === '0') console.log('START ' + Date.now());
setInterval(() => {}, 1000);`)]);
  t.is(r.code, 124);
  t.regex(r.stderr, /^ringrun: job timed out after 0.5 s; asking 2 ranks for their flight recorders \(SIGUSR2\), then stopping the job\n/);
  t.regex(r.stderr, /flight recorder of rank 0/);
  t.regex(r.stderr, /flight recorder of rank 1/);
  t.regex(r.stderr, /sending SIGTERM to ranks 0,1/);
  const ms = r.endedAt - Number(/START (\d+)/.exec(r.stdout)?.[1]);
  t.true(ms < 500 + 1000 + 300 + 3000, `ended ${ms} ms after the ranks started`);
  const quick = await runRingrun(['-np', '1', '--timeout', '20', ...nodeRank('0')]);
  t.is(quick.code, 0, 'a job that ends in time is not affected');
});

test.serial('a command that cannot be started exits 127', async (t) => {
  const r = await runRingrun(['-np', '2', '/nonexistent/ringtree-rank']);
  t.is(r.code, 127);
  t.regex(r.stderr, /ringrun: rank \d: cannot start "\/nonexistent\/ringtree-rank": spawn \/nonexistent\/ringtree-rank ENOENT/);
});

test.serial('no orphans: the ranks\' children die with the job', async (t) => {
  const child = `require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }).unref();`;
  // rank 1 fails; rank 0 and both grandchildren must be gone afterwards.
  const r = await runRingrun(['-np', '2', '--grace-ms', '200', ...nodeRank(`${child}
if (process.env.RINGTREE_RANK === '1') setTimeout(() => process.exit(3), 200); else setInterval(() => {}, 1000);`)]);
  t.is(r.code, 3);
  t.deepEqual(await waitUntilNoneTagged(r.tag), []);
  // Successful ranks that leave a child behind: the child is reaped too.
  const ok = await runRingrun(['-np', '2', ...nodeRank(`${child} console.log('started child')`)]);
  t.is(ok.code, 0);
  t.deepEqual(await waitUntilNoneTagged(ok.tag), []);
});

test.serial('the job\'s /dev/shm segments are removed, also after a crash', async (t) => {
  if (!fs.existsSync('/dev/shm')) {
    t.log('no /dev/shm here');
    t.pass();
    return;
  }
  const r = await runRingrun(['-np', '2', '--grace-ms', '200', ...nodeRank(`
const fs = require('fs');
const f = '/dev/shm/ringtree-' + process.env.RINGTREE_JOB_ID + '-seg' + process.env.RINGTREE_RANK;
fs.writeFileSync(f, 'x');
console.log('RESULT ' + JSON.stringify({ rank: Number(process.env.RINGTREE_RANK), f }));
if (process.env.RINGTREE_RANK === '1') process.kill(process.pid, 'SIGKILL'); else setInterval(() => {}, 1000);`)]);
  t.is(r.code, 137);
  const files = results(r.stdout).map((x) => String(x.f));
  t.is(files.length, 2);
  for (const f of files) t.false(fs.existsSync(f), `${f} left behind`);
});
