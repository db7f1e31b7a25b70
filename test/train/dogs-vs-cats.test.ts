// End to end on a generated Dogs vs Cats tree (Kaggle layout, with one corrupt file): two in-process ranks,
// the ResNet-style and VGG-style models with BatchNorm, a few steps through runTraining.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import sharp from 'sharp';
import { runTraining } from '../../lib/train/run.js';
import { createFakeGroup } from './_fake-comm.js';

const tmp = mkdtempSync(join(tmpdir(), 'ringtree-dvc-'));
test.after.always(() => rmSync(tmp, { recursive: true, force: true }));

async function tree(): Promise<string> {
  const root = join(tmp, 'dogs-vs-cats');
  mkdirSync(join(root, 'train'), { recursive: true });
  for (let i = 0; i < 24; i++) {
    // cats: bright top half; dogs: bright bottom half
    const w = 24, h = 24;
    const raw = Buffer.alloc(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      const on = (y < h / 2) === (i % 2 === 0);
      raw.fill(on ? 220 - (i % 7) * 5 : 30 + (i % 5) * 4, (y * w + x) * 3, (y * w + x) * 3 + 3);
    }
    await sharp(raw, { raw: { width: w, height: h, channels: 3 } }).jpeg().toFile(join(root, 'train', `${i % 2 === 0 ? 'cat' : 'dog'}.${i}.jpg`));
  }
  writeFileSync(join(root, 'train', 'dog.999.jpg'), Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3])); // truncated JPEG
  return root;
}

for (const model of ['resnet', 'vgg'] as const) {
  test.serial(`dogs-vs-cats, ${model}, 2 ranks: trains, skips the corrupt file, identical replicas`, async (t) => {
    t.timeout(150_000);
    const dir = await tree();
    const report = join(tmp, `${model}.json`);
    const runs = await Promise.all(createFakeGroup(2).map((comm) => runTraining({
      dataset: 'dogs-vs-cats', dataDir: dir, model, epochs: 2, batchSize: 5, lr: 0.1, momentum: 0.9, weightDecay: 1e-4,
      warmupEpochs: 0, lrSchedule: 'cosine', compression: 'none', engine: 'auto', seed: 4, imageSize: 16, report, progress: false,
    }, { comm, log: () => {} })));
    const r = runs[0]!.report;
    t.is(r.world_size, 2);
    t.is(r.config['image_size'], 16);
    t.is(r.steps, 4, '22 train images / (2 x 5) = 2 steps per epoch');
    t.is(r.ranks[0]!.param_checksum, r.ranks[1]!.param_checksum);
    t.true(r.test_accuracy >= 0 && r.test_accuracy <= 1);
    t.true(Number.isFinite(r.epochs[1]!.loss));
    const j = JSON.parse(readFileSync(report, 'utf8')) as { skipped_files: number; epochs: Array<{ skipped_samples: number }> };
    t.is(j.skipped_files, runs[0]!.result.skippedFiles);
    t.log(`skipped files ${j.skipped_files}, skipped samples per epoch ${j.epochs.map((e) => e.skipped_samples).join(', ')}`);
  });
}
