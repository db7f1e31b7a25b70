// `ringtree bench` under `ringrun -np 2`: the table, CSV rows and JSON for a small range over both
// transports, verified results (wrong == 0), and the other collectives' shapes.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchResult } from '../../lib/bench/collectives.js';
import { CSV_COLUMNS, parseCsv } from '../../lib/bench/report.js';
import { reapAll, ringtreeJs, runRingrun } from '../helpers/launcher.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'ringtree-bench-test-'));
test.after.always(() => {
  reapAll();
  rmSync(tmp, { recursive: true, force: true });
});

const bench = (args: string[]) => runRingrun(['-np', '2', process.execPath, ringtreeJs, 'bench', ...args], { timeoutMs: 90_000 });

for (const transport of ['shm', 'tcp'] as const) {
  test(`allreduce 1K..64K over ${transport}: CSV header, rows, wrong == 0, JSON`, async (t) => {
    const csv = path.join(tmp, `ar-${transport}.csv`);
    const json = path.join(tmp, `ar-${transport}.json`);
    const r = await bench(['allreduce', '-b', '1K', '-e', '64K', '-f', '4', '-T', '0.1', '--transport', transport, '--csv', csv, '--json', json]);
    t.is(r.code, 0, r.stdout + r.stderr);
    // the table: only rank 0 prints it
    t.is(r.stdout.match(/# ringtree bench allreduce/g)?.length, 1, r.stdout);
    t.regex(r.stdout, /size\s+count\s+type\s+redop\s+root\s+time\s+algbw\s+busbw\s+#wrong\s+time\s+algbw\s+busbw\s+#wrong/);
    t.regex(r.stdout, /out-of-place\s+in-place/);
    t.regex(r.stdout, /# latency: 8 B allreduce .* median [\d.]+ us/);
    t.regex(r.stdout, /# Out of bounds values : 0 OK/);
    t.regex(r.stdout, new RegExp(`transport ${transport}`));
    const text = readFileSync(csv, 'utf8');
    t.is(text.split('\n')[0], CSV_COLUMNS.join(','));
    const rows = parseCsv(text);
    t.deepEqual(rows.map((x) => `${x.size}/${x.inplace}`), ['1024/0', '1024/1', '4096/0', '4096/1', '16384/0', '16384/1', '65536/0', '65536/1']);
    for (const x of rows) {
      t.is(x.wrong, '0');
      t.is(x.type, 'float32');
      t.is(x.redop, 'sum');
      t.is(x.root, '-1');
      t.is(x.algorithm, 'auto');
      t.is(x.transport, transport);
      t.is(x.nranks, '2');
      t.is(Number(x.count), Number(x.size) / 4);
      t.true(Number(x.time_us) > 0);
      // busbw = algbw x 2(p-1)/p = algbw for 2 ranks; algbw = size / time
      t.true(Math.abs(Number(x.algbw) - Number(x.size) / Number(x.time_us) / 1e3) <= 1e-3 + 1e-3 * Number(x.algbw));
      t.true(Math.abs(Number(x.busbw) - Number(x.algbw)) <= 1e-3);
    }
    const j = JSON.parse(readFileSync(json, 'utf8')) as BenchResult;
    t.is(j.collective, 'allreduce');
    t.is(j.nranks, 2);
    t.is(j.transport, transport);
    t.deepEqual(j.algorithms, ['auto']);
    t.is(j.rows.length, 8);
    t.is(j.wrongTotal, 0);
    t.true(j.latency !== null && j.latency.median_us > 0);
    for (const k of ['size', 'count', 'type', 'redop', 'root', 'inplace', 'time_us', 'algbw', 'busbw', 'wrong', 'algorithm', 'transport', 'nranks', 'iters', 'median_us']) {
      t.true(k in j.rows[0]!, k);
    }
    t.true(typeof j.settings === 'object' && typeof j.host.date === 'string');
  });
}

test('allgather and reducescatter sizes, sendrecv, several algorithms, int32 max', async (t) => {
  const csv = (n: string) => path.join(tmp, `${n}.csv`);
  const [ag, rs, sr, ar] = await Promise.all([
    bench(['allgather', '-b', '8', '-e', '4K', '-f', '8', '-n', '3', '--no-latency', '--csv', csv('ag')]),
    bench(['reducescatter', '-b', '1K', '-e', '4K', '-f', '4', '-n', '3', '--no-latency', '--csv', csv('rs')]),
    bench(['sendrecv', '-b', '1K', '-e', '1K', '-n', '3', '--no-latency', '--csv', csv('sr')]),
    bench(['allreduce', '-b', '4K', '-e', '4K', '-n', '3', '--no-latency', '--algorithm', 'ring,tree', '-d', 'int32', '-o', 'max', '--no-in-place', '--csv', csv('ar')]),
  ]);
  for (const r of [ag, rs, sr, ar]) t.is(r.code, 0, r.stdout + r.stderr);
  // all-gather: size = the whole receive buffer, count = per rank; 8 B with 2 ranks of float32 is 1 element each
  const agRows = parseCsv(readFileSync(csv('ag'), 'utf8'));
  t.deepEqual(agRows.map((x) => `${x.size}/${x.count}/${x.inplace}`), ['8/1/0', '8/1/1', '64/8/0', '64/8/1', '512/64/0', '512/64/1', '4096/512/0', '4096/512/1']);
  t.true(agRows.every((x) => x.wrong === '0' && x.redop === 'none' && x.algorithm === 'ring'));
  for (const x of agRows) t.true(Math.abs(Number(x.busbw) - Number(x.algbw) / 2) <= 1e-3);
  // reduce-scatter: out-of-place only
  const rsRows = parseCsv(readFileSync(csv('rs'), 'utf8'));
  t.deepEqual(rsRows.map((x) => `${x.size}/${x.count}/${x.inplace}`), ['1024/128/0', '4096/512/0']);
  t.true(rsRows.every((x) => x.wrong === '0'));
  const srRows = parseCsv(readFileSync(csv('sr'), 'utf8'));
  t.deepEqual(srRows.map((x) => `${x.size}/${x.inplace}/${x.wrong}/${x.algorithm}`), ['1024/0/0/p2p']);
  const arRows = parseCsv(readFileSync(csv('ar'), 'utf8'));
  t.deepEqual(arRows.map((x) => `${x.algorithm}/${x.type}/${x.redop}/${x.wrong}`), ['ring/int32/max/0', 'tree/int32/max/0']);
  t.regex(ar.stdout, /algo\s+size\s+count/);
});

test('bad arguments fail with a clear message', async (t) => {
  const r = await bench(['allreduce', '-b', '1Q']);
  t.not(r.code, 0);
  t.regex(r.stderr, /invalid size "1Q"/);
});
