// ringrun end to end on this machine: the built CLI run as a subprocess with small `node -e` rank
// programs. Env contract, store rendezvous, output routing, exit codes, failure escalation, signals,
// --timeout, fault-injection validation, orphans and /dev/shm cleanup. Serial: timing checks must not
// compete with a dozen other jobs for two CPUs.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { firstNonLoopbackIPv4 } from '../../lib/launcher/launch.js';
import {
  nodeRank,
  processesWithTag,
  reapAll,
  repoRoot,
  ringtreeJs,
  runRingrun,
  startRingrun,
  waitUntilNoneTagged,
} from '../helpers/launcher.js';

test.after.always(reapAll);

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrun-test-'));
test.after.always(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

const storeRank = path.join(repoRoot, 'dist/test/cli/_workers/store-rank.js');

function results(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.includes('RESULT '))
    .map((l) => JSON.parse(l.slice(l.indexOf('RESULT ') + 7)) as Record<string, unknown>)
    .sort((a, b) => (a.rank as number) - (b.rank as number));
}

const contractNames = [
  'RINGTREE_RANK', 'RINGTREE_WORLD_SIZE', 'RINGTREE_LOCAL_RANK', 'RINGTREE_LOCAL_WORLD_SIZE', 'RINGTREE_STORE',
  'RINGTREE_JOB_ID', 'RINGTREE_SECRET', 'RINGTREE_HOST_ID', 'RINGTREE_INJECT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK',
  'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'FOO', 'FROM_PARENT', 'NOT_FORWARDED_X',
];
const printEnv = `const o = { rank: Number(process.env.RINGTREE_RANK) }; for (const k of ${JSON.stringify(contractNames)}) o[k] = process.env[k]; console.log('RESULT ' + JSON.stringify(o));`;

test.serial('every rank sees the env contract', async (t) => {
  const r = await runRingrun(['-np', '3', '-x', 'FOO=bar baz', '-x', 'FROM_PARENT', ...nodeRank(printEnv)], {
    env: { FROM_PARENT: 'inherited', RINGTREE_INJECT: 'kill:rank=0:after-ops=1' },
  });
  t.is(r.code, 0, r.stderr);
  const ranks = results(r.stdout);
  t.deepEqual(ranks.map((x) => x.rank), [0, 1, 2]);
  const first = ranks[0]!;
  t.regex(String(first.RINGTREE_STORE), /^127\.0\.0\.1:\d+$/);
  t.regex(String(first.RINGTREE_JOB_ID), /^[0-9a-f]{12}$/);
  t.regex(String(first.RINGTREE_SECRET), /^[0-9a-f]{64}$/);
  for (const x of ranks) {
    const rank = String(x.rank);
    t.like(x, {
      RINGTREE_RANK: rank, RINGTREE_WORLD_SIZE: '3', RINGTREE_LOCAL_RANK: rank, RINGTREE_LOCAL_WORLD_SIZE: '3',
      RANK: rank, WORLD_SIZE: '3', LOCAL_RANK: rank, LOCAL_WORLD_SIZE: '3',
      MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(first.RINGTREE_STORE).split(':')[1],
      RINGTREE_STORE: first.RINGTREE_STORE, RINGTREE_JOB_ID: first.RINGTREE_JOB_ID, RINGTREE_SECRET: first.RINGTREE_SECRET,
      RINGTREE_HOST_ID: os.hostname(), FOO: 'bar baz', FROM_PARENT: 'inherited',
    });
    t.is(x.RINGTREE_INJECT, undefined, 'faults of an enclosing job are not inherited');
  }
  // A second job gets a fresh id and secret.
  const again = results((await runRingrun(['-np', '1', ...nodeRank(printEnv)])).stdout)[0]!;
  t.not(again.RINGTREE_JOB_ID, first.RINGTREE_JOB_ID);
  t.not(again.RINGTREE_SECRET, first.RINGTREE_SECRET);
});

test.serial('--inject is validated and passed verbatim in RINGTREE_INJECT', async (t) => {
  const r = await runRingrun(['-np', '3', '--inject', 'kill:rank=2:after-ops=50;hang:rank=1:after-ops=10', '--inject', 'delay:rank=0:ms=20', ...nodeRank(printEnv)]);
  t.is(r.code, 0, r.stderr);
  for (const x of results(r.stdout)) t.is(x.RINGTREE_INJECT, 'kill:rank=2:after-ops=50;hang:rank=1:after-ops=10;delay:rank=0:ms=20');
  const bad = await runRingrun(['-np', '2', '--inject', 'kill:rank=1:afterops=5', ...nodeRank('console.log("ran")')]);
  t.is(bad.code, 1);
  t.regex(bad.stderr, /^ringrun: --inject "kill:rank=1:afterops=5": unexpected "afterops=5"; kill takes rank=N and after-ops=N\n$/);
  t.notRegex(bad.stdout, /ran/);
  const range = await runRingrun(['-np', '2', '--inject', 'drop-conn:rank=2:after-ops=5', ...nodeRank('0')]);
  t.is(range.code, 1);
  t.regex(range.stderr, /rank 2 does not exist in a job of 2 ranks/);
});

test.serial('ranks rendezvous through the store with the job secret; a client without it is refused and logged', async (t) => {
  const r = await runRingrun(['-np', '3', process.execPath, storeRank], { env: { TRY_STRANGER: '1' } });
  t.is(r.code, 0, r.stderr);
  const ranks = results(r.stdout);
  t.is(ranks.length, 3);
  for (const x of ranks) t.deepEqual(x.hosts, [os.hostname(), os.hostname(), os.hostname()]);
  t.regex(String(ranks[0]!.stranger), /^refused ERR_RINGTREE_STORE nothing written$/);
  t.regex(r.stderr, /ringrun: store: refused connection from 127\.0\.0\.1/);
});

test.serial('the rank command and its arguments are passed through verbatim', async (t) => {
  const script = path.join(tmpDir, 'argv.js');
  fs.writeFileSync(script, 'console.log("RESULT " + JSON.stringify({ rank: Number(process.env.RINGTREE_RANK), argv: process.argv.slice(2) }));\n');
  const args = ['-n', '5', '--csv', 'f', '--', '-np', '2', 'a b', '$HOME', `it's`, ''];
  const r = await runRingrun(['-np', '2', '--tag-output', 'node', script, ...args]);
  t.is(r.code, 0, r.stderr);
  t.deepEqual(results(r.stdout).map((x) => x.argv), [args, args]);
  const viaRingtree = await runRingrun(['run', '-n', '1', '--', 'node', script, '-n', '5'], { script: ringtreeJs });
  t.is(viaRingtree.code, 0, viaRingtree.stderr);
  t.deepEqual(results(viaRingtree.stdout).map((x) => x.argv), [['-n', '5']]);
});

// Each rank writes 300 lines in pieces spread over event-loop turns, to both streams.
const chatty = `
const r = process.env.RINGTREE_RANK;
let i = 0;
function step() {
  for (let k = 0; k < 30 && i < 300; k++, i++) {
    const body = r + ':' + i + ':' + String(r).repeat(200 + (i % 7) * 50);
    const half = body.length >> 1;
    process.stdout.write(body.slice(0, half));
    process.stdout.write(body.slice(half) + '\\n');
    process.stderr.write('E' + body + '\\n');
  }
  if (i < 300) setImmediate(step); else process.stdout.write('tail-' + r);
}
step();`;

function checkLines(t: import('ava').ExecutionContext, text: string, prefix: (rank: number) => string, stream: 'out' | 'err'): void {
  const lines = text.split('\n');
  const seen = new Map<number, number>();
  for (const line of lines) {
    if (line === '') continue;
    const m = /^(\[(\d)\] )?(E?)(\d):(\d+):(\d+)$/.exec(line) ?? /^(\[(\d)\] )?tail-(\d)$/.exec(line);
    if (!m) {
      t.fail(`mangled line: ${JSON.stringify(line.slice(0, 80))}`);
      return;
    }
    if (line.includes('tail-')) continue;
    const rank = Number(m[4]);
    t.is(m[1] ?? '', prefix(rank));
    t.is(m[3], stream === 'err' ? 'E' : '');
    const i = Number(m[5]);
    t.is(m[6], String(rank).repeat(200 + (i % 7) * 50));
    t.is(i, seen.get(rank) ?? 0, 'lines of one rank stay in order');
    seen.set(rank, i + 1);
  }
  t.deepEqual([...seen.values()], [300, 300, 300]);
}

test.serial('--tag-output prefixes [rank] and never interleaves lines', async (t) => {
  const r = await runRingrun(['-np', '3', '--tag-output', ...nodeRank(chatty)]);
  t.is(r.code, 0, r.stderr);
  checkLines(t, r.stdout, (rank) => `[${rank}] `, 'out');
  checkLines(t, r.stderr, (rank) => `[${rank}] `, 'err');
  for (const rank of [0, 1, 2]) t.true(r.stdout.includes(`[${rank}] tail-${rank}\n`));
});

test.serial('untagged output is line-buffered too', async (t) => {
  const r = await runRingrun(['-np', '3', ...nodeRank(chatty)]);
  t.is(r.code, 0, r.stderr);
  checkLines(t, r.stdout, () => '', 'out');
  checkLines(t, r.stderr, () => '', 'err');
  // Unterminated last lines are kept whole, each on its own line.
  for (const rank of [0, 1, 2]) t.regex(r.stdout, new RegExp(`(^|\\n)tail-${rank}(\\n|$)`));
  const single = await runRingrun(['-np', '1', ...nodeRank('process.stdout.write("no newline")')]);
  t.is(single.stdout, 'no newline');
});

test.serial('--output-dir writes rank.N.stdout and rank.N.stderr', async (t) => {
  const dir = path.join(tmpDir, 'out', 'nested');
  const r = await runRingrun(['-np', '2', '--output-dir', dir, ...nodeRank('console.log("out of " + process.env.RINGTREE_RANK); console.error("err of " + process.env.RINGTREE_RANK)')]);
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  t.is(r.stderr, '');
  for (const rank of [0, 1]) {
    t.is(fs.readFileSync(path.join(dir, `rank.${rank}.stdout`), 'utf8'), `out of ${rank}\n`);
    t.is(fs.readFileSync(path.join(dir, `rank.${rank}.stderr`), 'utf8'), `err of ${rank}\n`);
  }
});

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

test.serial('a rank killed by a signal gives 128+N', async (t) => {
  const r = await runRingrun(['-np', '2', '--grace-ms', '200', ...nodeRank('if (process.env.RINGTREE_RANK === "0") process.kill(process.pid, "SIGKILL"); else setInterval(() => {}, 1000)')]);
  t.is(r.code, 137);
  t.regex(r.stderr, /ringrun: rank 0 \(pid \d+\) was killed by signal SIGKILL \(exit code 137\); stopping the job/);
  t.regex(r.stderr, /ringrun: sending SIGTERM to rank 1 \(still running after the 200 ms grace period\)/);
  const segv = await runRingrun(['-np', '1', ...nodeRank('process.kill(process.pid, "SIGSEGV")')]);
  t.is(segv.code, 139);
});

test.serial('grace period, then SIGTERM, then SIGKILL for a rank that ignores SIGTERM (bounded)', async (t) => {
  const grace = 300;
  const r = await runRingrun([
    '-np', '3', '--grace-ms', String(grace),
    ...nodeRank(`
const r = process.env.RINGTREE_RANK;
if (r === '2') setTimeout(() => { console.log('FAIL ' + Date.now()); process.exit(5); }, 100);
else {
  if (r === '0') process.on('SIGTERM', () => console.log('rank 0 ignores SIGTERM'));
  setInterval(() => {}, 1000);
}`),
  ]);
  t.is(r.code, 5);
  const lines = r.stderr.trim().split('\n');
  t.regex(lines[0]!, /^ringrun: rank 2 \(pid \d+\) exited with code 5; stopping the job$/);
  t.is(lines[1], 'ringrun: sending SIGTERM to ranks 0,1 (still running after the 300 ms grace period)');
  t.is(lines[2], 'ringrun: sending SIGKILL to rank 0 (still running 300 ms after SIGTERM)');
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

test.serial('usage errors exit 1 with a one-line message', async (t) => {
  const cases: Array<[string[], RegExp]> = [
    [['--bogus', 'node'], /^ringrun: unknown option "--bogus"/],
    [['-np', '2'], /^ringrun: no command given/],
    [['-np', '3', '-H', 'localhost:2', 'node'], /^ringrun: 3 ranks requested but the hosts have only 2 slots/],
    [['-np', '1', '-x', 'RINGTREE_RANK=5', 'node'], /^ringrun: -x RINGTREE_RANK: RINGTREE_RANK is set by ringrun/],
  ];
  // None of these starts a rank, so they can run side by side.
  const [help, version, ...runs] = await Promise.all([runRingrun(['--help']), runRingrun(['--version']), ...cases.map(([args]) => runRingrun(args))]);
  runs.forEach((r, i) => {
    t.is(r.code, 1, cases[i]![0].join(' '));
    t.regex(r.stderr, cases[i]![1]);
    t.is(r.stderr.trim().split('\n').length, 1);
  });
  t.is(help!.code, 0);
  t.regex(help!.stdout, /Usage: ringrun \[options\] <command> \[args\.\.\.\]/);
  t.regex(help!.stdout, /--nproc-per-node 4 prog/);
  t.regex(version!.stdout, /^ringrun \(ringtree\) \d+\.\d+\.\d+/);
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

test.serial('time from a rank crash to the job end (default 3000 ms grace, survivors that do not notice)', async (t) => {
  const run = startRingrun(['-np', '3', ...nodeRank(`
if (process.env.RINGTREE_RANK === '1') setTimeout(() => { console.log('CRASH ' + Date.now()); process.kill(process.pid, 'SIGKILL'); }, 200);
else setInterval(() => {}, 1000);`)]);
  const r = await run.result;
  t.is(r.code, 137);
  const ms = r.endedAt - Number(/CRASH (\d+)/.exec(r.stdout)?.[1]);
  t.log(`crash to job end: ${ms} ms (grace 3000 ms)`);
  t.true(ms >= 3000 && ms < 6000, `${ms} ms`);
  t.deepEqual(processesWithTag(r.tag), []);
});

test.serial('ringtree --help lists run, bench, train and demo', async (t) => {
  const r = await runRingrun(['--help'], { script: ringtreeJs });
  t.is(r.code, 0, r.stderr);
  for (const c of ['run', 'bench', 'train', 'demo']) t.regex(r.stdout, new RegExp(`ringtree ${c}\\b`));
});

test.serial('remote start through an rsh agent (a local stand-in for ssh)', async (t) => {
  const addr = firstNonLoopbackIPv4();
  if (addr === undefined) {
    t.log('skipped: this machine has no non-loopback IPv4 address for the store');
    t.pass();
    return;
  }
  // Runs the command here, the way `ssh HOST COMMAND` runs it there: $1 is the host, the rest the command.
  const rsh = `sh -c 'shift; exec sh -c "$*"' rsh`;
  const code = `${printEnv} process.exit(process.env.RINGTREE_RANK === '2' ? 4 : 0);`;
  const r = await runRingrun(['--rsh', rsh, '-H', 'far-a:2,far-b:1', '-x', 'FOO=x y', '--grace-ms', '5000', ...nodeRank(code)]);
  t.is(r.code, 4);
  t.regex(r.stderr, /^ringrun: rank 2 \(pid \d+ on far-b\) exited with code 4(; stopping the job)?\n$/);
  const ranks = results(r.stdout);
  t.deepEqual(ranks.map((x) => x.RINGTREE_HOST_ID), ['far-a', 'far-a', 'far-b']);
  t.deepEqual(ranks.map((x) => x.RINGTREE_LOCAL_RANK), ['0', '1', '0']);
  for (const x of ranks) {
    t.regex(String(x.RINGTREE_STORE), new RegExp(`^${addr.replace(/\./g, '\\.')}:\\d+$`));
    t.is(x.MASTER_ADDR, addr);
    t.regex(String(x.RINGTREE_SECRET), /^[0-9a-f]{64}$/);
    t.is(x.FOO, 'x y');
  }
});

test.serial('--hostfile with this machine\'s names runs the ranks locally', async (t) => {
  const hf = path.join(tmpDir, 'hostfile');
  fs.writeFileSync(hf, `# local slots\nlocalhost slots=2\n${os.hostname()}:1   # same machine\n`);
  const r = await runRingrun(['--hostfile', hf, ...nodeRank(printEnv)]);
  t.is(r.code, 0, r.stderr);
  const ranks = results(r.stdout);
  t.deepEqual(ranks.map((x) => [x.RINGTREE_LOCAL_RANK, x.RINGTREE_LOCAL_WORLD_SIZE, x.RINGTREE_HOST_ID]), [
    ['0', '3', os.hostname()],
    ['1', '3', os.hostname()],
    ['2', '3', os.hostname()],
  ]);
  t.regex(String(ranks[0]!.RINGTREE_STORE), /^127\.0\.0\.1:/);
});
