// Unit tests of ringrun's parsing: the stop-at-the-command rule, options, -x, hosts and hostfiles,
// placement, fault-injection specs, and the shell quoting used for remote starts.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { parseArgs, scanArgs } from '../../lib/launcher/args.js';
import { LaunchError } from '../../lib/launcher/errors.js';
import { parseHostfile, parseHostList, placeRanks, resolveHosts } from '../../lib/launcher/hostfile.js';
import { injectEnvValue, parseInject } from '../../lib/launcher/inject.js';
import { storeEndpoint } from '../../lib/launcher/launch.js';
import { buildRemoteCommand, parseRemotePidLine, shellQuote, splitCommandLine } from '../../lib/launcher/remote.js';

const scanTable: Array<[string[], string[], string[]]> = [
  // argv, ringrun options (normalized), rank command
  [['-np', '2', 'node', 'x.js', '-n', '5', '--csv', 'f'], ['--np=2'], ['node', 'x.js', '-n', '5', '--csv', 'f']],
  [['-n', '4', '--', '-weird', 'arg'], ['--np=4'], ['-weird', 'arg']],
  [['--np=3', '--tag-output', 'prog'], ['--np=3', '--tag-output'], ['prog']],
  [['-H', 'a:2,b:2', '-x', 'FOO', '-x', 'BAR=1=2', 'prog', '-x', 'Z'], ['--host=a:2,b:2', '--x=FOO', '--x=BAR=1=2'], ['prog', '-x', 'Z']],
  [['-host', 'a', '-hostfile', 'f', '-tag-output', 'p'], ['--host=a', '--hostfile=f', '--tag-output'], ['p']],
  [['--grace-ms', '10', '--timeout', '2.5', '--inject', 'kill:rank=0:after-ops=1', 'p'], ['--grace-ms=10', '--timeout=2.5', '--inject=kill:rank=0:after-ops=1'], ['p']],
  [['-np', '2', '--', '--'], ['--np=2'], ['--']],
  [['prog', '--tag-output'], [], ['prog', '--tag-output']],
  [['--output-dir', '-odd-dir', 'p'], ['--output-dir=-odd-dir'], ['p']],
  [[], [], []],
];

for (const [argv, options, command] of scanTable) {
  test(`scanArgs ${JSON.stringify(argv)}`, (t) => {
    t.deepEqual(scanArgs(argv), { options, command });
  });
}

test('scanArgs rejects unknown options and missing values', (t) => {
  t.throws(() => scanArgs(['--bogus', 'p']), { instanceOf: LaunchError, message: /unknown option "--bogus"/ });
  t.throws(() => scanArgs(['-np']), { instanceOf: LaunchError, message: /-np needs a value/ });
  t.throws(() => scanArgs(['--tag-output=yes', 'p']), { instanceOf: LaunchError, message: /takes no value/ });
});

test('parseArgs: passthrough, defaults and -x', (t) => {
  const p = parseArgs(['-np', '2', '-x', 'FOO', '-x', 'BAR=a=b', '-x', 'EMPTY=', 'node', 'x.js', '-n', '5', '--csv', 'f']);
  if (p.kind !== 'run') return t.fail();
  const o = p.options;
  t.deepEqual(o.command, ['node', 'x.js', '-n', '5', '--csv', 'f']);
  t.is(o.np, 2);
  t.deepEqual(o.env, [{ name: 'FOO' }, { name: 'BAR', value: 'a=b' }, { name: 'EMPTY', value: '' }]);
  t.is(o.graceMs, 3000);
  t.deepEqual(o.rsh, ['ssh']);
  t.is(o.tagOutput, false);
  t.is(o.timeoutSec, undefined);
  t.deepEqual(o.hosts, []);
  t.is(o.storePort, 0);
});

test('parseArgs: help, version and errors', (t) => {
  t.deepEqual(parseArgs(['--help']), { kind: 'help' });
  t.deepEqual(parseArgs(['-h', 'ignored']), { kind: 'help' });
  t.deepEqual(parseArgs(['--version']), { kind: 'version' });
  t.throws(() => parseArgs(['-np', '2']), { instanceOf: LaunchError, message: /no command given/ });
  t.throws(() => parseArgs(['-np', '0', 'p']), { instanceOf: LaunchError, message: /-np must be an integer >= 1/ });
  t.throws(() => parseArgs(['-np', 'two', 'p']), { instanceOf: LaunchError, message: /-np must be an integer/ });
  t.throws(() => parseArgs(['--timeout', '0', 'p']), { instanceOf: LaunchError, message: /--timeout must be a positive number/ });
  t.throws(() => parseArgs(['--grace-ms', '-1', 'p']), { instanceOf: LaunchError });
  t.throws(() => parseArgs(['-x', '1BAD', 'p']), { instanceOf: LaunchError, message: /not a valid environment variable name/ });
  t.throws(() => parseArgs(['--rsh', ' ', 'p']), { instanceOf: LaunchError, message: /--rsh must not be empty/ });
  t.throws(() => parseArgs(['--hostfile', '/nonexistent/hosts', 'p']), { instanceOf: LaunchError, message: /no such file/ });
  t.throws(() => parseArgs(['-np', '2', '--inject', 'kill:rank=2:after-ops=1', 'p']), { instanceOf: LaunchError, message: /rank 2 does not exist/ });
});

test('parseArgs: -H, hostfile, rsh and timeout', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringrun-args-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const hf = path.join(dir, 'hosts');
  fs.writeFileSync(hf, '# cluster\nnodeC slots=4\n\nnodeD:2  # two\n');
  const p = parseArgs(['-H', 'nodeA:2,nodeB', '--hostfile', hf, '--rsh', 'ssh -p 2222 -o "A B"', '--timeout', '1.5', 'p']);
  if (p.kind !== 'run') return t.fail();
  t.deepEqual(p.options.hosts, [
    { name: 'nodeA', slots: 2 },
    { name: 'nodeB', slots: 1 },
    { name: 'nodeC', slots: 4 },
    { name: 'nodeD', slots: 2 },
  ]);
  t.deepEqual(p.options.rsh, ['ssh', '-p', '2222', '-o', 'A B']);
  t.is(p.options.timeoutSec, 1.5);
});

test('parseHostfile: formats, comments and errors', (t) => {
  const text = ['# comment', '', 'a slots=2', 'b:3', '  c   # trailing comment', 'd slots=1 max_slots=4', '[fe80::1]:2', 'fe80::2'].join('\n');
  t.deepEqual(parseHostfile(text), [
    { name: 'a', slots: 2 },
    { name: 'b', slots: 3 },
    { name: 'c', slots: 1 },
    { name: 'd', slots: 1 },
    { name: 'fe80::1', slots: 2 },
    { name: 'fe80::2', slots: 1 },
  ]);
  t.throws(() => parseHostfile('a slots=0'), { message: /hostfile:1: slot count must be a positive integer/ });
  t.throws(() => parseHostfile('ok\na slots=x'), { message: /hostfile:2/ });
  t.throws(() => parseHostfile('a cpus=2'), { message: /unexpected "cpus=2"/ });
  t.throws(() => parseHostfile('a:2 slots=3'), { message: /slot count given twice/ });
  t.throws(() => parseHostfile('a;b'), { message: /invalid host name/ });
});

test('parseHostList', (t) => {
  t.deepEqual(parseHostList('h1:2,h2:2,h3'), [
    { name: 'h1', slots: 2 },
    { name: 'h2', slots: 2 },
    { name: 'h3', slots: 1 },
  ]);
  t.throws(() => parseHostList('h1:2,,h2'), { message: /empty host entry/ });
  t.throws(() => parseHostList('h1:0'), { message: /positive integer/ });
  t.throws(() => parseHostList('$(reboot):1'), { message: /invalid host name/ });
});

test('resolveHosts merges duplicates and local aliases; placeRanks fills by slot', (t) => {
  const hosts = resolveHosts(
    [
      { name: 'localhost', slots: 1 },
      { name: 'far', slots: 2 },
      { name: '127.0.0.1', slots: 1 },
      { name: os.hostname(), slots: 1 },
      { name: 'far', slots: 1 },
    ],
    99,
  );
  t.deepEqual(hosts, [
    { name: os.hostname(), slots: 3, local: true },
    { name: 'far', slots: 3, local: false },
  ]);
  const placed = placeRanks(hosts, 5, false).map((p) => [p.rank, p.host.name, p.localRank, p.localSize]);
  t.deepEqual(placed, [
    [0, os.hostname(), 0, 3],
    [1, os.hostname(), 1, 3],
    [2, os.hostname(), 2, 3],
    [3, 'far', 0, 2],
    [4, 'far', 1, 2],
  ]);
  t.throws(() => placeRanks(hosts, 7, false), { message: /7 ranks requested but the hosts have only 6 slots/ });
  const over = placeRanks(hosts, 8, true).map((p) => p.host.name);
  t.deepEqual(over, [os.hostname(), os.hostname(), os.hostname(), 'far', 'far', 'far', os.hostname(), 'far']);
  t.deepEqual(resolveHosts([], 4), [{ name: os.hostname(), slots: 4, local: true }]);
});

const goodInject: Array<[string[], string]> = [
  [['kill:rank=2:after-ops=50'], 'kill:rank=2:after-ops=50'],
  [['hang:rank=1:after-ops=10;delay:rank=0:ms=20'], 'hang:rank=1:after-ops=10;delay:rank=0:ms=20'],
  [['drop-conn:rank=1:after-ops=5', 'kill:after-ops=0:rank=3'], 'drop-conn:rank=1:after-ops=5;kill:after-ops=0:rank=3'],
];
for (const [specs, env] of goodInject) {
  test(`parseInject accepts ${specs.join(' + ')}`, (t) => {
    t.notThrows(() => parseInject(specs, 4));
    t.is(injectEnvValue(specs), env);
  });
}

test('parseInject parses fields', (t) => {
  t.deepEqual(parseInject(['kill:rank=2:after-ops=50;delay:rank=0:ms=20']), [
    { kind: 'kill', rank: 2, afterOps: 50 },
    { kind: 'delay', rank: 0, ms: 20 },
  ]);
});

const badInject: Array<[string, RegExp]> = [
  ['explode:rank=1:after-ops=2', /unknown fault "explode"/],
  ['kill:rank=1', /missing after-ops=N/],
  ['kill:after-ops=3', /missing rank=N/],
  ['kill:rank=1:after-ops=x', /after-ops must be a non-negative integer/],
  ['kill:rank=-1:after-ops=3', /rank must be a non-negative integer/],
  ['delay:rank=1:after-ops=3', /unexpected "after-ops=3"/],
  ['hang:rank=1:after-ops=1:rank=2', /rank given twice/],
  ['kill:rank=9:after-ops=1', /rank 9 does not exist in a job of 4 ranks/],
  ['kill:rank=1:after-ops', /unexpected "after-ops"/],
  [';', /empty spec/],
];
for (const [spec, message] of badInject) {
  test(`parseInject rejects ${JSON.stringify(spec)}`, (t) => {
    t.throws(() => parseInject([spec], 4), { instanceOf: LaunchError, message });
  });
}

test('storeEndpoint', (t) => {
  t.deepEqual(storeEndpoint({}, false), { bind: '127.0.0.1', advertise: '127.0.0.1' });
  t.deepEqual(storeEndpoint({ storeAddr: '10.0.0.5' }, true), { bind: '0.0.0.0', advertise: '10.0.0.5' });
  t.deepEqual(storeEndpoint({ bind: '10.1.1.1' }, true), { bind: '10.1.1.1', advertise: '10.1.1.1' });
  t.throws(() => storeEndpoint({ storeAddr: '127.0.0.1' }, true), { message: /loopback/ });
});

test('splitCommandLine', (t) => {
  t.deepEqual(splitCommandLine('ssh'), ['ssh']);
  t.deepEqual(splitCommandLine(`  ssh -o 'A B' -p 22 "x \\"y\\"" a\\ b ''`), ['ssh', '-o', 'A B', '-p', '22', 'x "y"', 'a b', '']);
  t.throws(() => splitCommandLine(`ssh 'open`), { message: /unterminated/ });
});

test('shellQuote and buildRemoteCommand survive sh byte for byte', (t) => {
  const tricky = ['plain', '', 'sp ace', `it's`, '"dq"', '$HOME', '`id`', 'a\nb', '\\', '*', '-n', 'ü€'];
  for (const w of tricky) {
    const r = spawnSync('sh', ['-c', `printf '%s' ${shellQuote(w)}`], { encoding: 'utf8' });
    t.is(r.stdout, w);
  }
  const script = buildRemoteCommand({
    cwd: os.tmpdir(),
    env: { RINGTREE_RANK: '3', ODD: `x'y $z` },
    command: [process.execPath, '-e', 'console.log(JSON.stringify([process.cwd(), process.env.RINGTREE_RANK, process.env.ODD, process.env.RINGTREE_SECRET, process.argv.slice(1)]))', ...tricky],
  });
  t.false(script.includes('s3cret'));
  // The outer layer is what the remote login shell sees (ssh joins words with spaces).
  const r = spawnSync('sh', ['-c', script], { input: 's3cret\n', encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  const pidLine = r.stderr.split('\n')[0]!;
  t.true(parseRemotePidLine(pidLine)! > 0);
  t.deepEqual(JSON.parse(r.stdout), [fs.realpathSync(os.tmpdir()), '3', `x'y $z`, 's3cret', tricky]);
  t.is(parseRemotePidLine('__RINGTREE_PID__=abc'), undefined);
  t.is(parseRemotePidLine('hello'), undefined);
});
