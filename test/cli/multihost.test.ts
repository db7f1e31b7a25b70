// Multi-host ringrun jobs, with network namespaces of this machine as the hosts: ringrun runs in a
// launcher namespace and starts ranks in two host namespaces through --rsh test/helpers/netns-rsh.sh
// (in place of ssh). Skipped, with the reason, where namespaces cannot be created (not root, no ip).

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { nodeRank, processesWithTag, reapAll, repoRoot, results, runRingrun, startRingrun } from '../helpers/launcher.js';
import { createTopology, netnsRsh, netnsUnavailable, pidsInside, type Topology } from '../helpers/netns.js';

const unavailable = netnsUnavailable();
let topo: Topology | undefined;
let setupError: string | undefined;

if (!unavailable) {
  test.before(() => {
    try {
      topo = createTopology(2);
    } catch (err) {
      setupError = (err as Error).message;
    }
  });
  test.after.always(() => {
    reapAll();
    topo?.destroy();
  });
}

const storeRank = path.join(repoRoot, 'dist/test/cli/_workers/store-rank.js');

type Body = (t: import('ava').ExecutionContext, topo: Topology) => Promise<void>;

function netnsTest(title: string, body: Body): void {
  if (unavailable) {
    test.skip(`${title} (skipped: ${unavailable})`, () => {});
    return;
  }
  test.serial(title, async (t) => {
    if (!topo) {
      t.log(`skipped: could not create network namespaces: ${setupError}`);
      t.pass();
      return;
    }
    t.timeout(30_000);
    await body(t, topo);
  });
}

const rsh = ['--rsh', `sh ${netnsRsh}`];

netnsTest('ranks on two namespace hosts and the launcher host rendezvous through the store over TCP', async (t, tp) => {
  const [a, b] = tp.hosts as [string, string];
  const run = await runRingrun([...rsh, '-H', `localhost:1,${a}:2,${b}:2`, '-x', 'FOO=bar', '--tag-output', process.execPath, storeRank], {
    wrapper: tp.wrap(tp.launcher),
    env: { TRY_STRANGER: '1' },
  });
  t.is(run.code, 0, run.stderr);
  const ranks = results(run.stdout);
  t.deepEqual(ranks.map((x) => x.rank), [0, 1, 2, 3, 4]);
  for (const x of ranks) t.deepEqual(x.hosts, [os.hostname(), a, a, b, b]);
  t.is(ranks[0]!.stranger, 'refused ERR_RINGTREE_STORE nothing written');
  t.regex(run.stderr, /ringrun: store: refused connection from 10\.77\.0\.1/);
  t.notRegex(run.stderr, /__RINGTREE_PID__/);
});

netnsTest('remote ranks get the env contract, -x variables and the secret (not on the command line)', async (t, tp) => {
  const [a, b] = tp.hosts as [string, string];
  const names = ['RINGTREE_RANK', 'RINGTREE_LOCAL_RANK', 'RINGTREE_LOCAL_WORLD_SIZE', 'RINGTREE_WORLD_SIZE', 'RINGTREE_STORE', 'RINGTREE_HOST_ID', 'MASTER_ADDR', 'RINGTREE_SECRET', 'FOO', 'PASSED'];
  const code = `const fs = require('fs'); const o = { rank: Number(process.env.RINGTREE_RANK), cwd: process.cwd(), argv: process.argv.slice(1) };
for (const k of ${JSON.stringify(names)}) o[k] = process.env[k];
o.secretOnCmdline = fs.readFileSync('/proc/' + process.pid + '/cmdline', 'latin1').includes(o.RINGTREE_SECRET);
o.ifaces = Object.values(require('os').networkInterfaces()).flat().filter((i) => i.family === 'IPv4' && !i.internal).map((i) => i.address);
console.log('RESULT ' + JSON.stringify(o));`;
  const r = await runRingrun([...rsh, '-H', `${a}:2,${b}:2`, '-x', 'FOO=b a r', '-x', 'PASSED', '--wdir', '/tmp', ...nodeRank(code), 'x y', `it's`], {
    wrapper: tp.wrap(tp.launcher),
    env: { PASSED: 'from launcher' },
  });
  t.is(r.code, 0, r.stderr);
  const ranks = results(r.stdout);
  t.is(ranks.length, 4);
  const store = String(ranks[0]!.RINGTREE_STORE);
  t.regex(store, /^10\.77\.0\.1:\d+$/);
  ranks.forEach((x, rank) => {
    const host = rank < 2 ? a : b;
    t.like(x, {
      RINGTREE_RANK: String(rank), RINGTREE_LOCAL_RANK: String(rank % 2), RINGTREE_LOCAL_WORLD_SIZE: '2', RINGTREE_WORLD_SIZE: '4',
      RINGTREE_STORE: store, RINGTREE_HOST_ID: host, MASTER_ADDR: '10.77.0.1', FOO: 'b a r', PASSED: 'from launcher',
      cwd: '/tmp', secretOnCmdline: false,
    });
    t.deepEqual(x.argv, ['x y', `it's`]);
    t.deepEqual(x.ifaces, [tp.addr[host]]);
    t.regex(String(x.RINGTREE_SECRET), /^[0-9a-f]{64}$/);
  });
});

netnsTest('a failing remote rank ends the job on every host with its exit code, leaving no process behind', async (t, tp) => {
  const [a, b] = tp.hosts as [string, string];
  const r = await runRingrun([...rsh, '-H', `${a}:2,${b}:2`, '--grace-ms', '300', ...nodeRank(`
const r = process.env.RINGTREE_RANK;
require('child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' }).unref();
if (r === '3') setTimeout(() => { console.log('FAIL ' + Date.now()); process.exit(9); }, 300);
else { if (r === '1') process.on('SIGTERM', () => console.log('rank 1 ignores SIGTERM')); setInterval(() => {}, 1000); }`)], { wrapper: tp.wrap(tp.launcher) });
  t.is(r.code, 9, r.stderr);
  t.regex(r.stderr, new RegExp(`ringrun: rank 3 \\(pid \\d+ on ${b}\\) exited with code 9; stopping the job`));
  t.regex(r.stderr, /sending SIGTERM to ranks 0,1,2/);
  t.regex(r.stderr, /sending SIGKILL to rank 1 /);
  t.regex(r.stdout, /rank 1 ignores SIGTERM/);
  const ms = r.endedAt - Number(/FAIL (\d+)/.exec(r.stdout)?.[1]);
  t.true(ms < 600 + 4000, `ended ${ms} ms after the failure`);
  t.deepEqual(processesWithTag(r.tag), []);
  t.deepEqual([...pidsInside(a), ...pidsInside(b)], []);
});

netnsTest('SIGINT and --timeout reach remote ranks', async (t, tp) => {
  const [a, b] = tp.hosts as [string, string];
  const run = startRingrun([...rsh, '-H', `${a}:1,${b}:1`, ...nodeRank(`
process.on('SIGINT', () => { console.log('rank ' + process.env.RINGTREE_RANK + ' got SIGINT'); process.exit(42); });
console.log('ready'); setInterval(() => {}, 1000);`)], { wrapper: tp.wrap(tp.launcher) });
  await run.waitFor('stdout', /(ready\n[^]*){2}/);
  run.child.kill('SIGINT'); // the ip netns exec wrapper has exec'd node: this reaches ringrun itself
  const r = await run.result;
  t.is(r.code, 42, r.stderr);
  t.regex(r.stdout, /rank 0 got SIGINT/);
  t.regex(r.stdout, /rank 1 got SIGINT/);

  const timed = await runRingrun([...rsh, '-H', `${a}:1,${b}:1`, '--timeout', '0.5', '--grace-ms', '300', ...nodeRank(`
process.on('SIGUSR2', () => console.error('flight recorder of rank ' + process.env.RINGTREE_RANK));
setInterval(() => {}, 1000);`)], { wrapper: tp.wrap(tp.launcher) });
  t.is(timed.code, 124, timed.stderr);
  t.regex(timed.stderr, /flight recorder of rank 0/);
  t.regex(timed.stderr, /flight recorder of rank 1/);
});

netnsTest('--output-dir and --bind with remote ranks', async (t, tp) => {
  const [a, b] = tp.hosts as [string, string];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrun-netns-out-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const r = await runRingrun([...rsh, '-H', `${a}:1,${b}:1`, '--bind', '10.77.0.1', '--output-dir', dir, ...nodeRank(`
console.log('out ' + process.env.RINGTREE_RANK + ' ' + process.env.RINGTREE_STORE); console.error('err ' + process.env.RINGTREE_RANK);`)], { wrapper: tp.wrap(tp.launcher) });
  t.is(r.code, 0, r.stderr);
  t.is(r.stdout, '');
  for (const rank of [0, 1]) {
    t.regex(fs.readFileSync(path.join(dir, `rank.${rank}.stdout`), 'utf8'), new RegExp(`^out ${rank} 10\\.77\\.0\\.1:\\d+\\n$`));
    t.is(fs.readFileSync(path.join(dir, `rank.${rank}.stderr`), 'utf8'), `err ${rank}\n`, 'the remote pid line is not in the file');
  }
});

const communicatorBuilt = ['dist/lib/index.js', 'build/Release/ringtree.node'].every((f) => fs.existsSync(path.join(repoRoot, f)));

netnsTest('one job: shared memory between ranks of a host, TCP across hosts', async (t, tp) => {
  if (!communicatorBuilt) {
    t.log('skipped: the communicator (dist/lib/index.js, build/Release/ringtree.node) is not built');
    t.pass();
    return;
  }
  const [a, b] = tp.hosts as [string, string];
  const worker = path.join(repoRoot, 'dist/test/cli/_workers/allreduce-loop.js');
  const r = await runRingrun([...rsh, '-H', `${a}:2,${b}:2`, process.execPath, worker], { wrapper: tp.wrap(tp.launcher), env: { OPS: '20' } });
  t.is(r.code, 0, r.stderr);
  const ranks = results(r.stdout);
  t.is(ranks.length, 4);
  for (const x of ranks) {
    t.like(x, { size: 4, localRank: (x.rank as number) % 2, localSize: 2, transports: 'shm:1,tcp:2' });
  }
});
