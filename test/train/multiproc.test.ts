// Real multi-process runs under ringrun (skipped when the launcher or the addon is not built):
// INV-S1 with real ranks, and the `ringtree train` CLI end to end.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import test from 'ava';
import { fashionMnistDir } from '../../lib/train/data/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const ringrun = join(root, 'dist/lib/cli/ringrun.js');
const ringtree = join(root, 'dist/lib/cli/ringtree.js');
const worker = join(root, 'dist/test/train/_workers/sync-equivalence.js');
const haveLauncher = existsSync(ringrun) && existsSync(join(root, 'dist/lib/index.js'));
const fmDir = fashionMnistDir();
const haveFm = existsSync(join(fmDir, 'train-images-idx3-ubyte.gz')) || existsSync(join(fmDir, 'train-images-idx3-ubyte'));
if (!haveLauncher) console.warn('multi-process training tests skipped: dist/lib/cli/ringrun.js or dist/lib/index.js not built');

const tmp = mkdtempSync(join(tmpdir(), 'ringtree-mp-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(RINGTREE_(?!FASHION)|RANK$|WORLD_SIZE$|MASTER_|LOCAL_|OMPI_|PMI_|SLURM_)/.test(k)) env[k] = v;
  return { ...env, ...extra };
}

function run(args: string[], env: Record<string, string> = {}, timeoutMs = 150_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: cleanEnv(env), cwd: tmp, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => { child.kill('SIGTERM'); reject(new Error(`timed out: ${args.join(' ')}\n${stderr}`)); }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

const mp = haveLauncher ? test.serial : test.skip;

mp('real ranks: 2 processes x half batch == 1 process x full batch after 10 steps (rel. tol 1e-5), identical checksums', async (t) => {
  t.timeout(180_000);
  const results: Array<{ params: Float32Array; lines: Array<{ rank: number; checksum: string; ranks: Array<{ param_checksum: string }> }> }> = [];
  for (const np of [1, 2]) {
    const out = join(tmp, `params-${np}.bin`);
    const r = await run([ringrun, '-np', String(np), process.execPath, worker], { STEPS: '10', GLOBAL_BATCH: '32', OUT: out });
    t.is(r.code, 0, r.stderr.slice(-2000));
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { rank: number; checksum: string; ranks: Array<{ param_checksum: string }> });
    t.is(lines.length, np);
    const buf = readFileSync(out);
    results.push({ params: new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4), lines });
  }
  const [one, two] = results as [typeof results[0], typeof results[0]];
  t.is(new Set(two.lines.map((l) => l.checksum)).size, 1, 'both ranks hold the same parameters');
  t.deepEqual(two.lines[0]!.ranks.map((r) => r.param_checksum), [two.lines[0]!.checksum, two.lines[0]!.checksum]);
  let d = 0, s = 0;
  for (let i = 0; i < one.params.length; i++) { d = Math.max(d, Math.abs(one.params[i]! - two.params[i]!)); s = Math.max(s, Math.abs(one.params[i]!)); }
  t.log(`max |x_P2 - x_P1| / max |x| = ${(d / s).toExponential(2)}`);
  t.true(d / s < 1e-5);
});

mp('real ranks: every compression keeps the replicas identical (2 processes)', async (t) => {
  t.timeout(180_000);
  for (const c of ['fp16', 'bf16', 'topk:0.05', 'powersgd:2']) {
    const r = await run([ringrun, '-np', '2', process.execPath, worker], { STEPS: '6', GLOBAL_BATCH: '32', COMPRESSION: c });
    t.is(r.code, 0, `${c}: ${r.stderr.slice(-1500)}`);
    const lines = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { checksum: string });
    t.is(lines.length, 2);
    t.is(lines[0]!.checksum, lines[1]!.checksum, c);
  }
});

(haveLauncher && haveFm ? test.serial : test.skip)('ringrun -np 2 ringtree train (fashion-mnist, cnn, 20 steps) writes the report and plots; only rank 0 prints', async (t) => {
  t.timeout(240_000);
  const report = join(tmp, 'cli', 'report.json');
  const plots = [join(tmp, 'cli', 'loss.svg'), join(tmp, 'cli', 'acc.svg')];
  const r = await run([ringrun, '-np', '2', process.execPath, ringtree, 'train', '--dataset', 'fashion-mnist', '--model', 'cnn', '--epochs', '1',
    '--batch-size', '64', '--max-steps', '20', '--compression', 'fp16', '--report', report, '--plot', plots[0]!, plots[1]!], {}, 220_000);
  t.is(r.code, 0, r.stderr.slice(-2000));
  const j = JSON.parse(readFileSync(report, 'utf8')) as Record<string, any>;
  t.is(j['world_size'], 2);
  t.is(j['steps'], 20);
  t.true(j['test_accuracy'] >= 0 && j['test_accuracy'] <= 1);
  t.true(j['test_accuracy'] > 0.5, `20 steps already learn something: ${j['test_accuracy']}`);
  t.is(typeof j['engine'], 'string');
  t.is(j['config']['compression'], 'fp16');
  t.is(j['config']['batch_size'], 64);
  t.is(j['config']['global_batch'], 128);
  t.is(j['ranks'].length, 2);
  t.is(j['ranks'][0].param_checksum, j['ranks'][1].param_checksum);
  for (const k of ['loss', 'accuracy', 'images_per_sec', 'comm_ms', 'bytes']) t.is(typeof j['epochs'][0][k], 'number', k);
  for (const p of plots) t.regex(readFileSync(p, 'utf8'), /<svg/);
  t.is((r.stderr.match(/^ringtree train: engine/gm) ?? []).length, 1, 'only rank 0 prints');
});

(haveLauncher ? test.serial : test.skip)('ringtree train: a missing dataset fails with install instructions', async (t) => {
  t.timeout(60_000);
  const r = await run([ringtree, 'train', '--dataset', 'fashion-mnist', '--data-dir', join(tmp, 'nowhere'), '--max-steps', '1']);
  t.not(r.code, 0);
  t.regex(r.stderr, /apt-get install dataset-fashion-mnist/);
});
