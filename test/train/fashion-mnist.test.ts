// A short real Fashion-MNIST run (two in-process ranks on the fake communicator, MLP, 250 steps of a
// global batch of 128) must reach >= 80% test accuracy. Skipped, with the reason, when Debian's
// dataset-fashion-mnist package (or RINGTREE_FASHION_MNIST_DIR) is not there.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { fashionMnistDir } from '../../lib/train/data/index.js';
import { runTraining } from '../../lib/train/run.js';
import { createFakeGroup } from './_fake-comm.js';

const dir = fashionMnistDir();
const have = existsSync(join(dir, 'train-images-idx3-ubyte.gz')) || existsSync(join(dir, 'train-images-idx3-ubyte'));
const maybe = have ? test : test.skip;
if (!have) console.warn(`fashion-mnist tests skipped: no dataset in ${dir} (sudo apt-get install dataset-fashion-mnist)`);

const tmp = mkdtempSync(join(tmpdir(), 'ringtree-fm-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

maybe('Fashion-MNIST, 2 ranks, MLP, 250 steps: >= 80% test accuracy, identical replicas, report and plot written', async (t) => {
  t.timeout(120_000);
  const comms = createFakeGroup(2);
  const report = join(tmp, 'report.json');
  const plot = join(tmp, 'curves.svg');
  const lines: string[] = [];
  const runs = await Promise.all(comms.map((comm) => runTraining({
    dataset: 'fashion-mnist', model: 'mlp', epochs: 1, batchSize: 64, lr: 0.4, momentum: 0.9, weightDecay: 1e-4,
    warmupEpochs: 0, warmupSteps: 20, lrSchedule: 'cosine', compression: 'none', engine: 'auto', seed: 1, maxSteps: 250,
    report, plot: [plot], progress: false,
  }, { comm, log: (l) => lines.push(l) })));
  const r = runs[0]!.report;
  t.log(`test accuracy ${(100 * r.test_accuracy).toFixed(2)}% after ${r.steps} steps on ${r.engine}`);
  t.true(r.test_accuracy >= 0.8, `accuracy ${r.test_accuracy}`);
  t.is(r.steps, 250);
  t.is(r.world_size, 2);
  t.is(r.ranks.length, 2);
  t.is(r.ranks[0]!.param_checksum, r.ranks[1]!.param_checksum);
  const onDisk = JSON.parse(readFileSync(report, 'utf8')) as typeof r;
  t.is(onDisk.test_accuracy, r.test_accuracy);
  t.is(onDisk.config['compression'], 'none');
  t.is(onDisk.epochs.length, 1);
  for (const k of ['loss', 'accuracy', 'images_per_sec', 'comm_ms', 'bytes'] as const) t.is(typeof onDisk.epochs[0]![k], 'number');
  const svg = readFileSync(plot, 'utf8');
  t.regex(svg, /^<\?xml[\s\S]*<svg[\s\S]*<path d="M/);
  t.true(lines.some((l) => /engine .* world size 2/.test(l)), 'the chosen engine is printed');
});
