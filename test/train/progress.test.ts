import { Writable } from 'node:stream';
import test from 'ava';
import { renderPlots } from '../../lib/train/plot.js';
import { formatBytes, ProgressReporter } from '../../lib/train/progress.js';
import type { EpochMetrics } from '../../lib/train/trainer.js';

function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  let buf = '';
  const w = new Writable({ write(chunk: Buffer, _enc, cb) { buf += chunk.toString(); cb(); } });
  return { stream: w as unknown as NodeJS.WriteStream, text: () => buf };
}

const epoch: EpochMetrics = {
  epoch: 1, steps: 10, loss: 0.5, accuracy: 0.8, test_loss: 0.4, test_accuracy: 0.85, images_per_sec: 1234.5, comm_ms: 10, bytes: 3 * 2 ** 20,
  bytes_source: 'estimate', time_ms: 100, lr_end: 0.1, skipped_samples: 0,
};

test('progress: a redrawn bar on a terminal, one line per epoch otherwise', (t) => {
  const tty = sink();
  const p = new ProgressReporter(tty.stream, true);
  for (let s = 1; s <= 10; s++) p.step({ epoch: 0, epochs: 2, stepInEpoch: s, stepsPerEpoch: 10, globalStep: s, loss: 1 / s, lr: 0.1, imagesPerSec: 100 });
  p.epoch(epoch, 2);
  t.regex(tty.text(), /\repoch 1\/2 \[#+-*\] 1\/10/);
  t.regex(tty.text(), /\[#{28}\] 10\/10/, 'the last step is always drawn');
  t.regex(tty.text(), /epoch 1\/2: 10 steps loss 0.5000 acc 80.00% test_loss 0.4000 test_acc 85.00% 1235 img\/s comm 10 ms 3.0 MiB sent\/rank\n$/);
  const log = sink();
  const q = new ProgressReporter(log.stream, false);
  for (let s = 1; s <= 10; s++) q.step({ epoch: 0, epochs: 2, stepInEpoch: s, stepsPerEpoch: 10, globalStep: s, loss: 1, lr: 0.1, imagesPerSec: 100 });
  q.epoch(epoch, 2);
  t.is(log.text().split('\n').length, 2, 'exactly one line');
  t.false(log.text().includes('\r'));
  t.is(formatBytes(512), '512 B');
  t.is(formatBytes(1536), '1.5 KiB');
});

test('plots: one file gets both charts, two files one chart each; valid SVG with escaped titles', (t) => {
  const data = {
    title: 'a <b> & c', stepsPerEpoch: 10,
    stepLosses: Array.from({ length: 20 }, (_, i) => ({ step: i + 1, loss: 2 / (i + 1) })),
    epochs: [{ ...epoch }, { ...epoch, epoch: 2, loss: 0.3, accuracy: 0.9, test_accuracy: 0.88, test_loss: 0.35 }],
  };
  const one = renderPlots(data, 1);
  t.is(one.length, 1);
  t.is((one[0]!.match(/<g /g) ?? []).length, 2);
  t.true(one[0]!.includes('a &lt;b&gt; &amp; c: loss'));
  const two = renderPlots(data, 2);
  t.is(two.length, 2);
  t.regex(two[0]!, /: loss</);
  t.regex(two[1]!, /: accuracy</);
  for (const s of [...one, ...two]) {
    t.regex(s, /^<\?xml version="1.0"/);
    t.regex(s, /<\/svg>\n$/);
    t.false(/NaN|undefined/.test(s));
  }
});
