// Rank 0's progress display: a redrawn bar per epoch when stderr is a terminal, else one line per epoch.

import type { EpochMetrics, StepProgress } from './trainer.js';

export class ProgressReporter {
  readonly #tty: boolean;
  #lastDraw = 0;
  constructor(private readonly stream: NodeJS.WriteStream = process.stderr, tty?: boolean) {
    this.#tty = tty ?? Boolean(stream.isTTY);
  }

  step(p: StepProgress): void {
    if (!this.#tty) return;
    const now = performance.now();
    if (p.stepInEpoch !== p.stepsPerEpoch && now - this.#lastDraw < 100) return;
    this.#lastDraw = now;
    const width = 28;
    const filled = Math.round((p.stepInEpoch / p.stepsPerEpoch) * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    this.stream.write(`\repoch ${p.epoch + 1}/${p.epochs} [${bar}] ${p.stepInEpoch}/${p.stepsPerEpoch} loss ${p.loss.toFixed(4)} lr ${p.lr.toFixed(4)} ${Math.round(p.imagesPerSec)} img/s\x1b[K`);
  }

  epoch(m: EpochMetrics, epochs: number): void {
    if (this.#tty) this.stream.write('\r\x1b[K');
    const test = m.test_accuracy !== undefined ? ` test_loss ${m.test_loss!.toFixed(4)} test_acc ${(100 * m.test_accuracy).toFixed(2)}%` : '';
    this.stream.write(
      `epoch ${m.epoch}/${epochs}: ${m.steps} steps loss ${m.loss.toFixed(4)} acc ${(100 * m.accuracy).toFixed(2)}%${test} ` +
        `${Math.round(m.images_per_sec)} img/s comm ${Math.round(m.comm_ms)} ms ${formatBytes(m.bytes)} sent/rank\n`,
    );
  }
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}
