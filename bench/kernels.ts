// node dist/bench/kernels.js [--iters N] [--threads T] [--rounds R] [--json FILE] [--cpu-vgg] [--no-torch] [--no-ranks]
import { runKernelBench } from '../lib/bench/kernels.js';

const argv = process.argv.slice(2);
const val = (name: string): string | undefined => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
await runKernelBench({
  iters: val('--iters') ? Number(val('--iters')) : 10,
  threads: val('--threads') ? Number(val('--threads')) : 1,
  json: val('--json'),
  rounds: val('--rounds') ? Number(val('--rounds')) : 3,
  skipCpuVgg: !argv.includes('--cpu-vgg'),
  noTorch: argv.includes('--no-torch'),
  noRanks: argv.includes('--no-ranks'),
});
