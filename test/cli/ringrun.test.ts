// ringrun end to end on this machine, starting a job: the env contract, store rendezvous, argument
// passthrough, output routing, hostfiles, remote start through an rsh agent, usage errors. The
// built CLI runs as a subprocess with small `node -e` rank programs (lifecycle.test.ts has exit
// codes, escalation and signals). Nothing here depends on timing, so the tests run concurrently.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { firstNonLoopbackIPv4 } from '../../lib/launcher/launch.js';
import { nodeRank, reapAll, repoRoot, results, ringtreeJs, runRingrun } from '../helpers/launcher.js';

test.after.always(reapAll);

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrun-test-'));
test.after.always(() => fs.rmSync(tmpDir, { recursive: true, force: true }));

const storeRank = path.join(repoRoot, 'dist/test/cli/_workers/store-rank.js');

const contractNames = [
  'RINGTREE_RANK', 'RINGTREE_WORLD_SIZE', 'RINGTREE_LOCAL_RANK', 'RINGTREE_LOCAL_WORLD_SIZE', 'RINGTREE_STORE',
  'RINGTREE_JOB_ID', 'RINGTREE_SECRET', 'RINGTREE_HOST_ID', 'RINGTREE_INJECT', 'RANK', 'WORLD_SIZE', 'LOCAL_RANK',
  'LOCAL_WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT', 'FOO', 'FROM_PARENT', 'NOT_FORWARDED_X',
];
const printEnv = `const o = { rank: Number(process.env.RINGTREE_RANK) }; for (const k of ${JSON.stringify(contractNames)}) o[k] = process.env[k]; console.log('RESULT ' + JSON.stringify(o));`;

test('every rank sees the env contract', async (t) => {
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

test('--inject is validated and passed verbatim in RINGTREE_INJECT', async (t) => {
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

test('ranks rendezvous through the store with the job secret; a client without it is refused and logged', async (t) => {
  const r = await runRingrun(['-np', '3', process.execPath, storeRank], { env: { TRY_STRANGER: '1' } });
  t.is(r.code, 0, r.stderr);
  const ranks = results(r.stdout);
  t.is(ranks.length, 3);
  for (const x of ranks) t.deepEqual(x.hosts, [os.hostname(), os.hostname(), os.hostname()]);
  t.regex(String(ranks[0]!.stranger), /^refused ERR_RINGTREE_STORE nothing written$/);
  t.regex(r.stderr, /ringrun: store: refused connection from 127\.0\.0\.1/);
});

test('the rank command and its arguments are passed through verbatim', async (t) => {
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

test('--tag-output prefixes [rank] and never interleaves lines', async (t) => {
  const r = await runRingrun(['-np', '3', '--tag-output', ...nodeRank(chatty)]);
  t.is(r.code, 0, r.stderr);
  checkLines(t, r.stdout, (rank) => `[${rank}] `, 'out');
  checkLines(t, r.stderr, (rank) => `[${rank}] `, 'err');
  for (const rank of [0, 1, 2]) t.true(r.stdout.includes(`[${rank}] tail-${rank}\n`));
});

test('untagged output is line-buffered too', async (t) => {
  const r = await runRingrun(['-np', '3', ...nodeRank(chatty)]);
  t.is(r.code, 0, r.stderr);
  checkLines(t, r.stdout, () => '', 'out');
  checkLines(t, r.stderr, () => '', 'err');
  // Unterminated last lines are kept whole, each on its own line.
  for (const rank of [0, 1, 2]) t.regex(r.stdout, new RegExp(`(^|\\n)tail-${rank}(\\n|$)`));
  const single = await runRingrun(['-np', '1', ...nodeRank('process.stdout.write("no newline")')]);
  t.is(single.stdout, 'no newline');
});

test('--output-dir writes rank.N.stdout and rank.N.stderr', async (t) => {
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

test('usage errors exit 1 with a one-line message', async (t) => {
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

test('ringtree --help lists run, bench, train and demo', async (t) => {
  const r = await runRingrun(['--help'], { script: ringtreeJs });
  t.is(r.code, 0, r.stderr);
  for (const c of ['run', 'bench', 'train', 'demo']) t.regex(r.stdout, new RegExp(`ringtree ${c}\\b`));
});

test('remote start through an rsh agent (a local stand-in for ssh)', async (t) => {
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

test('--hostfile with this machine\'s names runs the ranks locally', async (t) => {
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

