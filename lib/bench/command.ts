// `ringtree bench ...`: the yargs command module the ringtree CLI loads on demand (lib/cli/ringtree.ts
// imports `benchCommand` from here).
//
//   ringrun -np 2 ringtree bench allreduce -b 8 -e 256M -f 2 [--algorithm ring,tree] [--transport tcp] [--csv f]
//   ringrun -np 2 ringtree bench overlap [--size 64M]
//   ringtree bench --vs-mpi [--np 2] [-b 8 -e 256M] [--out DIR]      (not under ringrun: it starts the jobs)
//   ringtree bench kernels                                           (tfjs kernel benchmark)
import type { Argv, CommandModule } from 'yargs';
import type { Algorithm, DType, ReduceOp } from '../types.js';
import {
  ALGORITHMS, COLLECTIVES, DTYPES, REDUCE_OPS, applyTransportEnv, defaultBenchOptions, parseSize, transportOf,
  type Collective, type CollectiveBenchOptions,
} from './collectives.js';

const WHATS = [...COLLECTIVES, 'overlap', 'kernels'] as const;

export interface BenchArgs {
  what?: string;
  minbytes: string;
  maxbytes: string;
  stepfactor: number;
  iters?: number;
  warmup?: number;
  'time-cap'?: number;
  'min-iters': number;
  'max-iters': number;
  algorithm: string;
  transport?: 'shm' | 'tcp';
  dtype: string;
  op: string;
  root: number;
  check: boolean;
  'out-of-place': boolean;
  'in-place': boolean;
  csv?: string;
  json?: string;
  latency: boolean;
  ceilings?: boolean;
  'timeout-ms'?: number;
  'vs-mpi': boolean;
  np: number;
  repeats: number;
  peers?: string;
  out?: string;
  'quiet-wait': number;
  render?: string;
  size: string;
  threads?: number;
  'cpu-vgg': boolean;
  torch: boolean;
  ranks: boolean;
  rounds?: number;
}

/** "ring,tree,auto" -> validated algorithm list. */
export function parseAlgorithms(spec: string): Algorithm[] {
  const list = spec.split(',').map((s) => s.trim()).filter(Boolean);
  if (!list.length) throw new Error('--algorithm needs at least one of ' + ALGORITHMS.join(', '));
  for (const a of list) if (!ALGORITHMS.includes(a as Algorithm)) throw new Error(`unknown --algorithm "${a}" (one or more of ${ALGORITHMS.join(', ')}, comma-separated)`);
  return [...new Set(list)] as Algorithm[];
}

function inRingrun(): boolean {
  return process.env.RINGTREE_RANK !== undefined || process.env.RINGTREE_WORLD_SIZE !== undefined;
}

export function collectiveOptions(what: Collective, a: BenchArgs): CollectiveBenchOptions {
  return {
    ...defaultBenchOptions,
    collective: what,
    minBytes: parseSize(a.minbytes),
    maxBytes: parseSize(a.maxbytes),
    stepFactor: a.stepfactor,
    iters: a.iters,
    warmup: a.warmup,
    timeCap: a['time-cap'] ?? 1,
    minIters: a['min-iters'],
    maxIters: a['max-iters'],
    algorithms: parseAlgorithms(a.algorithm),
    transport: a.transport,
    dtype: a.dtype as DType,
    op: a.op as ReduceOp,
    root: a.root,
    check: a.check,
    outOfPlace: a['out-of-place'],
    inPlace: a['in-place'],
    csv: a.csv,
    json: a.json,
    latency: a.latency,
    ceilings: a.ceilings ?? false,
    timeoutMs: a['timeout-ms'],
    commandLine: process.argv.slice(1).map(shortPath).join(' '),
  };
}

async function runCollective(what: Collective, a: BenchArgs): Promise<void> {
  const opts = collectiveOptions(what, a);
  // RINGTREE_SHM_DISABLE is read by the native runtime when the communicator connects, so it must be
  // in this process's environment before init().
  applyTransportEnv(opts.transport);
  const { init } = await import('../init.js');
  const { runCollectiveBench } = await import('./collectives.js');
  const comm = await init();
  try {
    const r = await runCollectiveBench(comm, opts);
    if (r.wrongTotal) process.exitCode = 1;
  } finally {
    await comm.destroy();
  }
}

async function runOverlap(a: BenchArgs): Promise<void> {
  applyTransportEnv(a.transport);
  const { init } = await import('../init.js');
  const { runOverlapBench } = await import('./overlap.js');
  const comm = await init();
  try {
    const algos = parseAlgorithms(a.algorithm);
    await runOverlapBench(comm, transportOf(comm), {
      bytes: parseSize(a.size), iters: a.iters ?? 10, warmup: a.warmup ?? 2, algorithm: algos[0]!, json: a.json, print: true, probe: true,
    });
  } finally {
    await comm.destroy();
  }
}

async function runKernels(a: BenchArgs): Promise<void> {
  let mod: Record<string, unknown>;
  try {
    mod = await import('./kernels.js' as string) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`the kernels benchmark is not available in this build (lib/bench/kernels.ts): ${(err as Error).message}`);
  }
  const run = mod.runKernelBench as ((o: Record<string, unknown>) => Promise<unknown>) | undefined;
  if (typeof run !== 'function') throw new Error('lib/bench/kernels.js does not export runKernelBench(opts)');
  await run({
    iters: a.iters ?? 10,
    threads: a.threads ?? 1,
    json: a.json,
    skipCpuVgg: !a['cpu-vgg'],
    noTorch: !a.torch,
    noRanks: !a.ranks,
    rounds: a.rounds ?? 3,
  });
}

async function runVsMpiCommand(a: BenchArgs): Promise<void> {
  if (a.render) {
    const { rerenderVsMpi } = await import('./vs-mpi.js');
    process.stdout.write(rerenderVsMpi(a.render) + '\n');
    return;
  }
  if (inRingrun()) throw new Error('--vs-mpi starts its own jobs (mpirun and ringrun): run it directly, not under ringrun');
  const { runVsMpi } = await import('./vs-mpi.js');
  const transports: Array<'shm' | 'tcp'> = a.transport ? [a.transport] : ['shm', 'tcp'];
  const algorithms = a.algorithm === 'auto' ? ['ring', 'tree', 'auto'] : parseAlgorithms(a.algorithm);
  const r = await runVsMpi({
    np: a.np,
    minBytes: parseSize(a.minbytes),
    maxBytes: parseSize(a.maxbytes),
    timeCap: a['time-cap'] ?? 0.3,
    repeats: a.repeats,
    algorithms,
    transports,
    peersDir: a.peers,
    outDir: a.out ?? 'vs-mpi-results',
    print: true,
    noCeilings: a.ceilings === false,
    quietWait: a['quiet-wait'],
  });
  if (r.wrongTotal) process.exitCode = 1;
}

/** A path relative to the working folder when it lies inside it (no machine paths in reports). */
function shortPath(arg: string): string {
  const cwd = process.cwd() + '/';
  return arg.startsWith(cwd) ? arg.slice(cwd.length) : arg;
}

export const benchCommand: CommandModule<object, BenchArgs> = {
  command: 'bench [what]',
  describe: 'collective benchmarks (nccl-tests style table); run it under ringrun',
  builder: (y: Argv<object>) => y
    .usage('Usage:\n  ringrun -np 2 ringtree bench <allreduce|broadcast|reduce|allgather|reducescatter|sendrecv> [options]\n' +
      '  ringrun -np 2 ringtree bench overlap [--size 64M]\n  ringtree bench --vs-mpi [--np 2] [-b 8 -e 256M] [--out DIR]\n  ringtree bench kernels')
    .positional('what', { type: 'string', choices: WHATS, describe: 'what to measure' })
    .option('minbytes', { alias: 'b', type: 'string', default: '8', describe: 'smallest size in bytes (K, M, G = 2^10, 2^20, 2^30)' })
    .option('maxbytes', { alias: 'e', type: 'string', default: '256M', describe: 'largest size in bytes' })
    .option('stepfactor', { alias: 'f', type: 'number', default: 2, describe: 'multiply the size by this from one step to the next' })
    .option('iters', { alias: 'n', type: 'number', describe: 'timed iterations per size (default: clamp(1 GiB / size, 5, 1000), lowered to fit --time-cap)' })
    .option('warmup', { alias: 'w', type: 'number', describe: 'warm-up iterations per size, >= 2 (default: 10% of iters, at most 0.2 x --time-cap)' })
    .option('time-cap', { alias: 'T', type: 'number', describe: 'seconds per size for the timed loop (default 1; --vs-mpi: 0.3)' })
    .option('min-iters', { type: 'number', default: 5, describe: 'fewest timed iterations per size' })
    .option('max-iters', { type: 'number', default: 1000, describe: 'most timed iterations per size' })
    .option('algorithm', { alias: 'a', type: 'string', default: 'auto', describe: 'ring, tree, rhd or auto; a comma-separated list is measured interleaved per size (--vs-mpi: ring,tree,auto)' })
    .option('transport', { type: 'string', choices: ['shm', 'tcp'] as const, describe: 'force the transport between ranks of one host (tcp sets RINGTREE_SHM_DISABLE=1)' })
    .option('dtype', { alias: 'd', type: 'string', choices: DTYPES, default: 'float32', describe: 'element type' })
    .option('op', { alias: 'o', type: 'string', choices: REDUCE_OPS, default: 'sum', describe: 'reduction' })
    .option('root', { alias: 'r', type: 'number', default: 0, describe: 'root rank (broadcast, reduce)' })
    .option('check', { alias: 'c', type: 'boolean', default: true, describe: 'verify every size (--no-check skips it)' })
    .option('out-of-place', { type: 'boolean', default: true, describe: 'measure out-of-place (--no-out-of-place skips it)' })
    .option('in-place', { type: 'boolean', default: true, describe: 'measure in-place (--no-in-place skips it)' })
    .option('csv', { type: 'string', describe: 'write the rows as CSV (rank 0)' })
    .option('json', { type: 'string', describe: 'write everything as JSON (rank 0)' })
    .option('latency', { type: 'boolean', default: true, describe: 'measure 8 B all-reduce latency first (--no-latency skips it)' })
    .option('ceilings', { type: 'boolean', describe: 'measure memory copy bandwidth and TCP loopback first (default off; with --vs-mpi on)' })
    .option('timeout-ms', { type: 'number', describe: 'per-op timeout in ms' })
    .option('vs-mpi', { type: 'boolean', default: false, describe: 'compare with Open MPI (../shared/peers/mpi_allreduce.c) in the same run' })
    .option('np', { type: 'number', default: 2, describe: '--vs-mpi: ranks' })
    .option('repeats', { type: 'number', default: 2, describe: '--vs-mpi: interleaved repeats' })
    .option('peers', { type: 'string', describe: '--vs-mpi: folder with mpi_allreduce.c (default: ../shared/peers next to the package)' })
    .option('out', { type: 'string', describe: '--vs-mpi: output folder for JSON, SVG, tables and logs (default ./vs-mpi-results)' })
    .option('quiet-wait', { type: 'number', default: 10, describe: '--vs-mpi: before each run wait up to this many seconds for the machine to be quiet (0: no wait)' })
    .option('render', { type: 'string', describe: '--vs-mpi: only re-render vs-mpi.md and the SVGs from DIR/vs-mpi.json (no measuring)' })
    .option('size', { type: 'string', default: '64M', describe: 'overlap: all-reduce size in bytes' })
    .option('threads', { type: 'number', describe: 'kernels: intra-op threads' })
    .option('cpu-vgg', { type: 'boolean', default: false, describe: 'kernels: also time the pure-JS VGG step (slow)' })
    .option('torch', { type: 'boolean', default: true, describe: 'kernels: compare with PyTorch when available (--no-torch skips it)' })
    .option('ranks', { type: 'boolean', default: true, describe: 'kernels: measure two concurrent ranks (--no-ranks skips it)' })
    .option('rounds', { type: 'number', describe: 'kernels: alternating rounds, each engine keeps its best (default 3; the two-rank part runs at least 3)' })
    .check((a) => {
      if (!a['vs-mpi'] && !a.what) throw new Error('say what to measure (allreduce, broadcast, ...) or give --vs-mpi');
      if (a['vs-mpi'] && a.what && a.what !== 'allreduce') throw new Error('--vs-mpi compares all-reduce only');
      parseSize(a.minbytes);
      parseSize(a.maxbytes);
      if (!(a.stepfactor > 1)) throw new Error('-f/--stepfactor must be > 1');
      if (a.iters !== undefined && !(Number.isInteger(a.iters) && a.iters > 0)) throw new Error('-n/--iters must be a positive integer');
      if (a.warmup !== undefined && !(Number.isInteger(a.warmup) && a.warmup >= 0)) throw new Error('-w/--warmup must be a non-negative integer');
      parseAlgorithms(a.algorithm);
      return true;
    }) as unknown as Argv<BenchArgs>,
  handler: async (a) => {
    if (a['vs-mpi']) return runVsMpiCommand(a);
    const what = a.what as (typeof WHATS)[number];
    if (what === 'kernels') return runKernels(a);
    if (what === 'overlap') return runOverlap(a);
    return runCollective(what, a);
  },
};
