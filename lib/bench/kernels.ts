// `ringtree bench kernels`: training-step time of a small CNN and a VGG-style CNN with pure-JS tfjs
// (`cpu`), `ringtree-cpu` (own AVX2 GEMM, and OpenBLAS when built in) and PyTorch (when
// `python3 -c 'import torch'` works) on the same model, batch and thread count; sgemm GFLOP/s for
// 512^3 and the small CNN's conv-shaped GEMMs; and 2 concurrent 1-thread ranks vs one alone.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type * as Tf from '@tensorflow/tfjs';
import { loadEngine, nativeKernels, setGemm, setNumThreads } from '../tfjs/index.js';

export interface KernelBenchOptions {
  /** Timed steps per engine (median reported), after warm-up steps. Default 10. */
  iters?: number;
  /** Intra-op threads for ringtree-cpu and PyTorch. Default 1. */
  threads?: number;
  /** Write the results as JSON to this file. */
  json?: string;
  /** Skip the pure-JS step of the VGG-style model (about a minute). Default true. */
  skipCpuVgg?: boolean;
  /** Skip PyTorch even when available. */
  noTorch?: boolean;
  /** Skip the two-rank measurement. */
  noRanks?: boolean;
  /** Print the table (default true). */
  print?: boolean;
  /** Rounds alternating the engines; each engine's best round (lowest median) is kept. Default 3. */
  rounds?: number;
}

type ModelName = 'small-cnn' | 'vgg64';
export interface RankScaling {
  rounds: { alone: StepTime; concurrent: StepTime[] }[];
  ratio: { wall: number; cpu: number };
}
export interface StepTime { wall: number; cpu: number }
export interface Rate { wall: number; cpu: number }
export interface ModelSpec { name: ModelName; input: [number, number, number]; batch: number; classes: number }
export const MODELS: ModelSpec[] = [
  { name: 'small-cnn', input: [28, 28, 1], batch: 128, classes: 10 },
  { name: 'vgg64', input: [64, 64, 3], batch: 32, classes: 2 },
];

export interface KernelBenchResult {
  threads: number;
  gemm: string;
  openblas: boolean;
  /** model -> engine -> median ms per step: wall clock, and process CPU time (robust on a shared host) */
  steps: Record<string, Record<string, StepTime | null>>;
  /** GFLOP/s from the best of several alternating rounds, by wall clock and by CPU time */
  sgemm: { shape: string; own: Rate; openblas: Rate | null; portable: Rate | null }[];
  /**
   * Two ranks x 1 thread on the small CNN: per-step medians (ms) of one rank alone and of each of two
   * concurrent ranks, per round (rounds alternate which goes first); ratio = median of the concurrent
   * medians / median of the alone medians, by wall clock and by process CPU time. `torch` is the same
   * measurement of PyTorch's step: what this host does to any two compute-bound processes.
   */
  ranks?: RankScaling;
  ranksTorch?: RankScaling;
  torch: string | null;
}

function buildModel(tf: typeof Tf, spec: ModelSpec): Tf.Sequential {
  const L = tf.layers;
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  const layers: Tf.layers.Layer[] = spec.name === 'small-cnn'
    ? [
      L.conv2d({ inputShape: spec.input, filters: 16, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 64, activation: 'relu', kernelInitializer: init(3) }),
      L.dense({ units: spec.classes, kernelInitializer: init(4) }),
    ]
    : [
      L.conv2d({ inputShape: spec.input, filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      L.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(3) }),
      L.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(4) }),
      L.maxPooling2d({ poolSize: 2 }),
      L.conv2d({ filters: 128, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(5) }),
      L.maxPooling2d({ poolSize: 2 }),
      L.flatten(),
      L.dense({ units: 128, activation: 'relu', kernelInitializer: init(6) }),
      L.dense({ units: spec.classes, kernelInitializer: init(7) }),
    ];
  return tf.sequential({ layers });
}

const median = (v: number[]): number => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

/**
 * Median ms of one SGD training step (forward, softmax cross-entropy, backward, update) on the active
 * backend, by wall clock and by process CPU time.
 */
export function timeSteps(tf: typeof Tf, spec: ModelSpec, warmup: number, iters: number): StepTime {
  const model = buildModel(tf, spec);
  const opt = tf.train.sgd(0.01);
  const [h, w, c] = spec.input;
  const x = tf.randomUniform([spec.batch, h, w, c], 0, 1, 'float32', 1);
  const y = tf.oneHot(tf.randomUniform([spec.batch], 0, spec.classes, 'int32', 2) as Tf.Tensor1D, spec.classes);
  const step = (): void => {
    const loss = opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as Tf.Tensor) as Tf.Scalar, true);
    loss?.dataSync();
    loss?.dispose();
  };
  for (let i = 0; i < warmup; i++) step();
  const wall: number[] = [], cpu: number[] = [];
  for (let i = 0; i < iters; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    step();
    wall.push(Number(process.hrtime.bigint() - t0) / 1e6);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  tf.dispose([x, y]);
  model.dispose();
  opt.dispose();
  return { wall: median(wall), cpu: median(cpu) };
}

const TORCH_SCRIPT = String.raw`
import json, sys, time, torch, torch.nn as nn
threads, iters, warmup = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
torch.manual_seed(0)
def small():
    return nn.Sequential(nn.Conv2d(1,16,3,padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16,32,3,padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32*7*7,64), nn.ReLU(), nn.Linear(64,10)), (128,1,28,28), 10
def vgg():
    c = lambda i,o: [nn.Conv2d(i,o,3,padding=1), nn.ReLU()]
    return nn.Sequential(*c(3,32), *c(32,32), nn.MaxPool2d(2), *c(32,64), *c(64,64), nn.MaxPool2d(2), *c(64,128), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(128*8*8,128), nn.ReLU(), nn.Linear(128,2)), (32,3,64,64), 2
out = {'version': torch.__version__}
for name, (m, shape, k) in (('small-cnn', small()), ('vgg64', vgg())):
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    x = torch.rand(*shape); y = torch.randint(0, k, (shape[0],)); lossf = nn.CrossEntropyLoss()
    def step():
        opt.zero_grad(); l = lossf(m(x), y); l.backward(); opt.step(); return l.item()
    for _ in range(warmup): step()
    ws, cs = [], []
    for _ in range(iters):
        t0 = time.perf_counter(); c0 = time.process_time(); step()
        ws.append((time.perf_counter() - t0) * 1e3); cs.append((time.process_time() - c0) * 1e3)
    ws.sort(); cs.sort(); out[name] = {'wall': ws[len(ws)//2], 'cpu': cs[len(cs)//2]}
print(json.dumps(out))
`;

/** A python3 that can `import torch` (PATH first, then Debian's /usr/bin/python3 for python3-torch). */
function torchPython(): string | null {
  for (const py of [process.env.RINGTREE_PYTHON ?? 'python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore', timeout: 60000 });
    if (r.status === 0) return py;
  }
  return null;
}

function runTorch(py: string, threads: number, iters: number): (Record<string, StepTime> & { version?: string }) | null {
  // OMP_NUM_THREADS too: with only set_num_threads(1), libgomp's idle threads still spin on a second core.
  const r = spawnSync(py, ['-c', TORCH_SCRIPT, String(threads), String(iters), '3'], {
    encoding: 'utf8', timeout: 600000, env: { ...process.env, OMP_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) return null;
  try { return JSON.parse(r.stdout.trim().split('\n').pop() ?? ''); } catch { return null; }
}

/** Child process body for the two-rank measurement: 1 thread, small CNN, prints the median ms. */
export async function rankChild(iters: number): Promise<void> {
  const { tf } = await loadEngine({ engine: 'ringtree-cpu', threads: 1, quiet: true });
  const ms = timeSteps(tf, MODELS[0], 3, iters);
  process.stdout.write(`RANKMS ${ms.wall} ${ms.cpu}\n`);
}

const TORCH_RANK_SCRIPT = String.raw`
import sys, time, torch, torch.nn as nn
torch.set_num_threads(1); torch.manual_seed(0)
m = nn.Sequential(nn.Conv2d(1,16,3,padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16,32,3,padding=1), nn.ReLU(), nn.MaxPool2d(2),
                  nn.Flatten(), nn.Linear(32*7*7,64), nn.ReLU(), nn.Linear(64,10))
opt = torch.optim.SGD(m.parameters(), lr=0.01); x = torch.rand(128,1,28,28); y = torch.randint(0,10,(128,)); lf = nn.CrossEntropyLoss()
def step():
    opt.zero_grad(); l = lf(m(x), y); l.backward(); opt.step(); return l.item()
for _ in range(3): step()
ws, cs = [], []
for _ in range(int(sys.argv[1])):
    t0 = time.perf_counter(); c0 = time.process_time(); step()
    ws.append((time.perf_counter() - t0) * 1e3); cs.append((time.process_time() - c0) * 1e3)
ws.sort(); cs.sort(); print('RANKMS', ws[len(ws)//2], cs[len(cs)//2])
`;

/** Starts n concurrent 1-thread ranks (ringtree-cpu, or PyTorch with `py`) and returns their step medians. */
function spawnRanks(n: number, iters: number, py: string | null = null): Promise<StepTime[]> {
  const url = new URL(import.meta.url).href;
  const code = `import(${JSON.stringify(url)}).then((m) => m.rankChild(${iters}))`;
  return Promise.all(Array.from({ length: n }, () => new Promise<StepTime>((resolve, reject) => {
    const c = py
      ? spawn(py, ['-c', TORCH_RANK_SCRIPT, String(iters)], { env: { ...process.env, OMP_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'inherit'] })
      : spawn(process.execPath, ['--input-type=module', '-e', code], {
        env: { ...process.env, RINGTREE_NUM_THREADS: '1' }, stdio: ['ignore', 'pipe', 'inherit'],
      });
    let out = '';
    c.stdout.on('data', (d: Buffer) => (out += d.toString()));
    c.on('exit', (code2) => {
      const m = /RANKMS ([\d.]+) ([\d.]+)/.exec(out);
      if (code2 === 0 && m) resolve({ wall: Number(m[1]), cpu: Number(m[2]) });
      else reject(new Error(`rank child failed (${code2}): ${out}`));
    });
  })));
}

/**
 * One rank alone and two concurrent ranks, `rounds` times, alternating which of the two goes first so
 * that drift in the host's load hits both alike; the ratio compares medians over all rounds.
 */
export async function measureRankScaling(rounds: number, iters: number, py: string | null = null): Promise<RankScaling> {
  const out: RankScaling['rounds'] = [];
  for (let r = 0; r < rounds; r++) {
    let alone: StepTime, concurrent: StepTime[];
    if (r % 2 === 0) {
      [alone] = await spawnRanks(1, iters, py);
      concurrent = await spawnRanks(2, iters, py);
    } else {
      concurrent = await spawnRanks(2, iters, py);
      [alone] = await spawnRanks(1, iters, py);
    }
    out.push({ alone, concurrent });
  }
  const ratio = (kind: 'wall' | 'cpu'): number =>
    median(out.flatMap((r) => r.concurrent.map((c) => c[kind]))) / median(out.map((r) => r.alone[kind]));
  return { rounds: out, ratio: { wall: ratio('wall'), cpu: ratio('cpu') } };
}

const fmt = (v: number | null | undefined, d = 1): string => (v == null ? '-' : v.toFixed(d));

export async function runKernelBench(opts: KernelBenchOptions = {}): Promise<KernelBenchResult> {
  const iters = opts.iters ?? 10;
  const threads = opts.threads ?? 1;
  const print = opts.print ?? true;
  const log = (s: string): void => { if (print) process.stdout.write(s + '\n'); };
  const { tf } = await loadEngine({ engine: 'ringtree-cpu', threads, quiet: true });
  const k = nativeKernels();
  setNumThreads(threads);
  const info = k.info();
  const res: KernelBenchResult = { threads, gemm: info.gemm, openblas: info.openblas, steps: {}, sgemm: [], torch: null };
  log(`ringtree bench kernels: ${threads} thread(s), median of ${iters} steps after warm-up, best of ${opts.rounds ?? 3} alternating rounds; own GEMM ${info.gemm}, OpenBLAS ${info.openblas ? 'built in' : 'not found'}`);

  // sgemm GFLOP/s
  const shapes: [string, number, number, number][] = [
    ['512^3', 512, 512, 512],
    ['conv1 fwd 100352x16x9', 100352, 16, 9],
    ['conv2 fwd 25088x32x144', 25088, 32, 144],
    ['conv2 dW 144x32x25088', 144, 32, 25088],
    ['conv2 dX 25088x144x32', 25088, 144, 32],
    ['dense1 128x64x1568', 128, 64, 1568],
  ];
  for (const [name, m, n, kk] of shapes) {
    const flop = 2 * m * n * kk;
    const reps = Math.max(2, Math.min(20, Math.round(1e9 / flop)));
    const impls = [1, ...(info.openblas ? [2] : []), ...(name === '512^3' ? [3] : [])];
    const best = new Map<number, Rate>();
    for (let round = 0; round < 5; round++) {  // alternate implementations, keep the best of each
      for (const impl of impls) {
        if (impl === 3 && round > 1) continue;
        const r = k.sgemmBench(m, n, kk, impl === 3 ? 1 : reps, impl);
        if (r === -1) continue;
        const b = best.get(impl) ?? { wall: 0, cpu: 0 };
        best.set(impl, { wall: Math.max(b.wall, flop / r.wall / 1e9), cpu: Math.max(b.cpu, flop / (r.cpu / threads) / 1e9) });
      }
    }
    res.sgemm.push({ shape: name, own: best.get(1)!, openblas: best.get(2) ?? null, portable: best.get(3) ?? null });
  }
  setNumThreads(threads);

  // training steps: pure-JS once; then rounds alternating ringtree-cpu (own, OpenBLAS) and PyTorch so
  // that load from other processes on a shared host hits them alike; each keeps its best round.
  const rounds = opts.rounds ?? 3;
  const engines: string[] = ['cpu', 'ringtree-cpu (own)', ...(info.openblas ? ['ringtree-cpu (openblas)'] : [])];
  const keep = (model: string, engine: string, t: StepTime | null): void => {
    const row = (res.steps[model] ??= {});
    const prev = row[engine];
    row[engine] = !t ? prev ?? null : !prev ? t : { wall: Math.min(prev.wall, t.wall), cpu: Math.min(prev.cpu, t.cpu) };
  };
  for (const spec of MODELS) {
    if (spec.name !== 'small-cnn' && (opts.skipCpuVgg ?? true)) { keep(spec.name, 'cpu', null); continue; }
    tf.setBackend('cpu');
    keep(spec.name, 'cpu', timeSteps(tf, spec, 0, 1));
  }
  const py = opts.noTorch ? null : torchPython();
  for (let round = 0; round < rounds; round++) {
    for (const spec of MODELS) {
      for (const e of engines.slice(1)) {
        tf.setBackend('ringtree-cpu');
        setGemm(e.includes('openblas') ? 'openblas' : 'own');
        keep(spec.name, e, timeSteps(tf, spec, round === 0 ? 3 : 1, iters));
        setGemm('auto');
      }
    }
    if (py) {
      const t = runTorch(py, threads, iters);
      if (t) {
        res.torch = t.version ?? 'unknown';
        for (const spec of MODELS) keep(spec.name, 'pytorch', t[spec.name] ?? null);
      }
    }
  }
  if (!opts.noRanks) {
    res.ranks = await measureRankScaling(Math.max(3, rounds), Math.max(iters, 20));
    if (py) res.ranksTorch = await measureRankScaling(Math.max(3, rounds), Math.max(iters, 20), py);
  }
  tf.setBackend('ringtree-cpu');

  // table
  const cols = [...engines, 'pytorch'];
  const ratio = (a: number | undefined, b: number | undefined): string => (a && b ? (a / b).toFixed(2) : '-');
  for (const kind of ['wall', 'cpu'] as const) {
    log('');
    log(`training step, median ms (${kind === 'wall' ? 'wall clock' : 'process CPU time'})`);
    log(`${''.padEnd(16)}${cols.map((c) => c.padStart(25)).join('')}   cpu/own  own/torch  own/openblas`);
    for (const spec of MODELS) {
      const r = res.steps[spec.name];
      const v = (c: string): number | undefined => r[c]?.[kind];
      const own = v('ringtree-cpu (own)');
      log(`${`${spec.name} b${spec.batch}`.padEnd(16)}${cols.map((c) => fmt(v(c)).padStart(25)).join('')}` +
        `${(v('cpu') && own ? `${(v('cpu')! / own).toFixed(0)}x` : '-').padStart(10)}${ratio(own, v('pytorch')).padStart(11)}${ratio(own, v('ringtree-cpu (openblas)')).padStart(14)}`);
    }
  }
  log('');
  log(`sgemm GFLOP/s, ${threads} thread(s), best of 5 alternating rounds (wall | CPU time)`);
  log(`${''.padEnd(26)}${'own'.padStart(15)}${'openblas'.padStart(17)}${'own/openblas'.padStart(17)}${'portable'.padStart(15)}`);
  const pair = (r: Rate | null): string => (r ? `${fmt(r.wall)} | ${fmt(r.cpu)}` : '-');
  for (const s of res.sgemm)
    log(`${s.shape.padEnd(26)}${pair(s.own).padStart(15)}${pair(s.openblas).padStart(17)}${(s.openblas ? `${(s.own.wall / s.openblas.wall).toFixed(2)} | ${(s.own.cpu / s.openblas.cpu).toFixed(2)}` : '-').padStart(17)}${pair(s.portable).padStart(15)}`);
  const scaling = (name: string, rs: RankScaling | undefined): void => {
    if (!rs) return;
    const rounds = rs.rounds.map((r) => `${fmt(r.alone.wall)} vs ${r.concurrent.map((c) => fmt(c.wall)).join('/')}`).join(', ');
    log(`${name.padEnd(14)}${rs.ratio.wall.toFixed(2).padStart(6)}x wall ${rs.ratio.cpu.toFixed(2).padStart(6)}x cpu    (alone vs concurrent ms per round: ${rounds})`);
  };
  if (res.ranks) {
    log('');
    log(`2 concurrent ranks x 1 thread vs 1 rank alone, small CNN step (median over ${res.ranks.rounds.length} alternating rounds)`);
    scaling('ringtree-cpu', res.ranks);
    scaling('pytorch', res.ranksTorch);
  }
  if (res.torch) log(`PyTorch ${res.torch}`);
  if (opts.json) writeFileSync(opts.json, JSON.stringify(res, null, 2) + '\n');
  return res;
}
