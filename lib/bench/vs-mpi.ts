// `ringtree bench --vs-mpi`: ringtree's all-reduce against Open MPI's in the same run.
//
// Builds ../shared/peers/mpi_allreduce.c (the peer harness, nccl-tests method) with mpicc, then runs,
// `repeats` times, back to back: MPI shm, ringtree shm (ring, tree, auto interleaved per size), MPI tcp,
// ringtree tcp — 2 ranks by default, float32 sum, out-of-place, the same sizes, the same iteration
// rule and time cap. Prints per size the busbw of each (mean over the repeats) and the ratio
// ringtree / MPI on the same transport; writes vs-mpi.json (every number of every repeat), vs-mpi.md
// (the tables), vs-mpi.svg (busbw vs size) and vs-mpi-tcp.svg, and the raw logs.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allReduceMemoryCeiling, measureCeilings, noiseBetween, readProcStat } from './ceilings.js';
import type { BenchResult } from './collectives.js';
import { formatBytes, markdownTable, parseCsv, svgLinePlot, type PlotSeries } from './report.js';

export interface VsMpiOptions {
  np: number;
  minBytes: number;
  maxBytes: number;
  /** Seconds per size (each implementation, each algorithm). */
  timeCap: number;
  repeats: number;
  algorithms: string[];
  transports: Array<'shm' | 'tcp'>;
  peersDir?: string;
  outDir: string;
  print: boolean;
  /** Skip measuring the ceilings (memory bandwidth, TCP loopback). */
  noCeilings?: boolean;
  /** Before each run, wait up to this many seconds for the machine to be quiet (others < 25% of all CPUs); 0 = don't. */
  quietWait?: number;
}

export interface SeriesPoint {
  size: number;
  /** busbw (GB/s) per repeat. */
  busbw: number[];
  time_us: number[];
  mean: number;
  wrong: number;
}

export interface Series {
  name: string;
  impl: 'mpi' | 'ringtree';
  transport: 'shm' | 'tcp';
  algorithm: string;
  points: SeriesPoint[];
}

export interface RunRecord {
  name: string;
  repeat: number;
  command: string[];
  wallS: number;
  rc: number | null;
  noise: { othersCpuS: number; othersCores: number; stealPct: number } | null;
  /** Fraction of all CPUs busy in the second before the run started, and seconds waited for quiet. */
  preBusy: number | null;
  waitedS: number;
  log: string;
}

export interface VsMpiCeilings {
  /** Read+write copy bandwidth with np threads (GB/s) and where it came from. */
  memRwGBps: number | null;
  memSource: string;
  tcpGBps: number | null;
  tcpSource: string;
  allReduceBusbw: number | null;
}

export interface VsMpiResult {
  tool: string;
  date: string;
  host: { hostname: string; cpus: number; cpuModel: string; node: string; mpi: string; kernel: string };
  settings: { np: number; minBytes: number; maxBytes: number; timeCap: number; repeats: number; algorithms: string[]; transports: string[]; dtype: string; op: string };
  ceilings: VsMpiCeilings;
  runs: RunRecord[];
  series: Series[];
  latency: Record<string, number[]>;
  /** Per transport and size: ringtree (each algorithm) / MPI of the means. */
  ratios: Array<{ transport: string; size: number; mpi: number; [alg: string]: number | string }>;
  /** The issue's ratio targets at the sizes this run covered. */
  targets: Array<{ transport: string; size: number; ratio: number; auto: number; best: number; met: boolean; perRepeat: number[] }>;
  /** Runs that started (or ran) while the machine was busy with other work. */
  busyRuns: string[];
  wrongTotal: number;
}

/** The package root: the nearest folder above this file with a package.json named ringtree. */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pj = path.join(dir, 'package.json');
    if (existsSync(pj)) {
      try { if (JSON.parse(readFileSync(pj, 'utf8')).name === 'ringtree') return dir; } catch { /* keep looking */ }
    }
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the ringtree package root above ' + fileURLToPath(import.meta.url));
}

export function defaultPeersDir(): string {
  return path.join(packageRoot(), '..', 'shared', 'peers');
}

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function newer(target: string, source: string): boolean {
  return existsSync(target) && statSync(target).mtimeMs >= statSync(source).mtimeMs;
}

function compile(cc: string, args: string[], out: string, src: string): boolean {
  if (newer(out, src)) return true;
  const r = spawnSync(cc, [...args, '-o', out, src], { encoding: 'utf8' });
  if (r.status !== 0) process.stderr.write(`ringtree bench --vs-mpi: ${cc} ${src} failed:\n${r.stderr}\n`);
  return r.status === 0;
}

/** Runs a command, saving stdout+stderr to `log`; resolves with the exit code and wall time. */
function runLogged(cmd: string[], log: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ rc: number | null; wallS: number; output: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd[0]!, cmd.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => { output += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { output += d.toString(); });
    const timer = setTimeout(() => { output += `\n[vs-mpi] timed out after ${timeoutMs} ms; killing\n`; child.kill('SIGTERM'); }, timeoutMs);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      writeFileSync(log, `$ ${cmd.map((a) => a.split(process.cwd() + '/').join('').split(os.tmpdir()).join('$TMPDIR')).join(' ')}\n${output}`);
      resolve({ rc: code ?? (signal ? 128 : null), wallS: (performance.now() - t0) / 1e3, output });
    });
  });
}

/** Issue 5's busbw ratio targets (ringtree / Open MPI, same transport, same run). */
export function issueTargets(np: number, transports: string[]): Array<{ transport: string; size: number; ratio: number }> {
  const M = 2 ** 20;
  const all = np === 2
    ? [{ transport: 'shm', size: 256 * M, ratio: 3 }, { transport: 'shm', size: 16 * M, ratio: 2 }, { transport: 'shm', size: M, ratio: 1 }, { transport: 'tcp', size: 16 * M, ratio: 1.2 }]
    : [{ transport: 'shm', size: 16 * M, ratio: 1 }];
  return all.filter((t) => transports.includes(t.transport));
}

/** Busy fraction of all CPUs over `ms` (from /proc/stat), or null. */
async function busyFraction(ms = 1000): Promise<number | null> {
  const a = readProcStat();
  await new Promise((r) => setTimeout(r, ms));
  const b = readProcStat();
  if (!a || !b || b.total <= a.total) return null;
  return (b.busy - a.busy) / (b.total - a.total);
}

const mean = (v: number[]): number => {
  const f = v.filter((x) => Number.isFinite(x));
  return f.length ? f.reduce((a, b) => a + b, 0) / f.length : NaN;
};

function seriesName(impl: 'mpi' | 'ringtree', transport: string, algorithm: string): string {
  return impl === 'mpi' ? `MPI ${transport}` : `ringtree ${algorithm} (${transport})`;
}

export async function runVsMpi(o: VsMpiOptions): Promise<VsMpiResult> {
  const say = (s: string): void => { if (o.print) process.stdout.write(s + '\n'); };
  const root = packageRoot();
  const peers = path.resolve(o.peersDir ?? defaultPeersDir());
  const src = path.join(peers, 'mpi_allreduce.c');
  if (!existsSync(src)) throw new Error(`no peer harness at ${src} (give --peers DIR, the folder with mpi_allreduce.c)`);
  const mpicc = which('mpicc');
  const mpirun = which('mpirun');
  if (!mpicc || !mpirun) {
    throw new Error('Open MPI is not installed (mpicc/mpirun not found). On Debian/Ubuntu: apt-get install -y openmpi-bin libopenmpi-dev');
  }
  const ringrunJs = path.join(root, 'dist', 'lib', 'cli', 'ringrun.js');
  const ringtreeJs = path.join(root, 'dist', 'lib', 'cli', 'ringtree.js');
  if (!existsSync(ringrunJs) || !existsSync(ringtreeJs)) throw new Error(`ringtree is not built (${ringrunJs} missing); run node scripts/build.mjs`);

  const buildDir = path.join(os.tmpdir(), `ringtree-vs-mpi-${process.getuid?.() ?? 'u'}`);
  mkdirSync(buildDir, { recursive: true });
  const outDir = path.resolve(o.outDir);
  const logDir = path.join(outDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const mpiBin = path.join(buildDir, 'mpi_allreduce');
  if (!compile(mpicc, ['-O2', '-Wall'], mpiBin, src)) throw new Error(`building ${src} with mpicc failed`);
  const mpiVersion = spawnSync(mpirun, ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0]?.trim() ?? 'unknown';
  const cores = os.availableParallelism();
  const isRoot = process.getuid?.() === 0;

  // ---------------------------------------------------------------- ceilings
  const ceilings: VsMpiCeilings = { memRwGBps: null, memSource: 'not measured', tcpGBps: null, tcpSource: 'not measured', allReduceBusbw: null };
  if (!o.noCeilings) {
    const cc = which('cc') ?? which('gcc');
    const membwSrc = path.join(peers, 'membw.c');
    const tcpSrc = path.join(peers, 'tcp_loopback.c');
    const membw = path.join(buildDir, 'membw');
    const tcpBin = path.join(buildDir, 'tcp_loopback');
    if (cc && existsSync(membwSrc) && compile(cc, ['-O2', '-march=native', '-fopenmp', '-Wall'], membw, membwSrc)) {
      const csv = path.join(logDir, 'membw.csv');
      const r = spawnSync(membw, ['256', '6', csv], { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: String(Math.min(o.np, cores)) } });
      writeFileSync(path.join(logDir, 'membw.txt'), r.stdout + r.stderr);
      const rows = existsSync(csv) ? parseCsv(readFileSync(csv, 'utf8')) : [];
      const rw = rows.filter((x) => x.kernel === 'memcpy_rw').sort((a, b) => Number(b.threads) - Number(a.threads))[0];
      if (rw) { ceilings.memRwGBps = Number(rw.best_GBps); ceilings.memSource = `membw.c memcpy_rw, ${rw.threads} thread(s), best of 5`; }
    }
    if (cc && existsSync(tcpSrc) && compile(cc, ['-O2', '-Wall'], tcpBin, tcpSrc)) {
      const csv = path.join(logDir, 'tcp_loopback.csv');
      const r = spawnSync(tcpBin, [String(2 ** 30), String(4 * 2 ** 20), '2', csv], { encoding: 'utf8', timeout: 120_000 });
      writeFileSync(path.join(logDir, 'tcp_loopback.txt'), r.stdout + r.stderr);
      const rows = existsSync(csv) ? parseCsv(readFileSync(csv, 'utf8')) : [];
      const best = rows.find((x) => x.metric === 'throughput_best');
      if (best) { ceilings.tcpGBps = Number(best.value); ceilings.tcpSource = 'tcp_loopback.c, 1 GiB in 4 MiB writes, best of 2'; }
    }
    if (ceilings.memRwGBps === null || ceilings.tcpGBps === null) {
      const c = await measureCeilings({ nranks: o.np, noTcp: ceilings.tcpGBps !== null });
      if (ceilings.memRwGBps === null) {
        const b = c.copy[c.copy.length - 1]!;
        ceilings.memRwGBps = b.rwBest;
        ceilings.memSource = `node Buffer.copy read+write, ${b.threads} thread(s), best of ${b.trials}`;
      }
      if (ceilings.tcpGBps === null && c.tcp) { ceilings.tcpGBps = c.tcp.best; ceilings.tcpSource = 'node sockets, 1 GiB in 4 MiB writes, best of 2'; }
    }
    if (ceilings.memRwGBps !== null) ceilings.allReduceBusbw = allReduceMemoryCeiling(ceilings.memRwGBps, o.np);
    say(`# ceilings: memory ${ceilings.memRwGBps?.toFixed(2) ?? '?'} GB/s read+write (${ceilings.memSource}) -> all-reduce busbw <= ` +
      `${ceilings.allReduceBusbw?.toFixed(2) ?? '?'} GB/s for ${o.np} ranks; TCP loopback ${ceilings.tcpGBps?.toFixed(2) ?? '?'} GB/s (${ceilings.tcpSource})`);
  }

  // ---------------------------------------------------------------- the runs
  const baseEnv = { ...process.env };
  for (const k of Object.keys(baseEnv)) if (/^(RINGTREE_|OMPI_|PMI_|PMIX_)/.test(k)) delete baseEnv[k];
  const mpiCmd = (transport: 'shm' | 'tcp', label: string, csv: string): string[] => [
    mpirun, ...(isRoot ? ['--allow-run-as-root'] : []), '--bind-to', 'none', '--mca', 'pml', 'ob1', '--mca', 'oob_tcp_if_include', 'lo',
    ...(o.np > cores ? ['--oversubscribe'] : []),
    ...(transport === 'shm' ? ['--mca', 'btl', 'vader,self'] : ['--mca', 'btl', 'tcp,self', '--mca', 'btl_tcp_if_include', 'lo']),
    '-np', String(o.np), mpiBin, '-b', String(o.minBytes), '-e', String(o.maxBytes), '-T', String(o.timeCap), '-l', label, '-c', csv,
  ];
  const rtCmd = (transport: 'shm' | 'tcp', json: string): string[] => [
    process.execPath, ringrunJs, '--timeout', '1200', '-np', String(o.np), process.execPath, ringtreeJs, 'bench', 'allreduce',
    '-b', String(o.minBytes), '-e', String(o.maxBytes), '-f', '2', '-T', String(o.timeCap), '--algorithm', o.algorithms.join(','),
    '--transport', transport, '--dtype', 'float32', '--op', 'sum', '--no-in-place', '--json', json,
  ];
  const runs: RunRecord[] = [];
  const raw: Array<{ impl: 'mpi' | 'ringtree'; transport: 'shm' | 'tcp'; repeat: number; file: string }> = [];
  const plan: Array<{ impl: 'mpi' | 'ringtree'; transport: 'shm' | 'tcp' }> = [];
  for (const t of o.transports) plan.push({ impl: 'mpi', transport: t }, { impl: 'ringtree', transport: t });
  const total = plan.length * o.repeats;
  let k = 0;
  let quietLeft = Math.max(0, (o.quietWait ?? 0) * 6);
  const waitQuiet = async (): Promise<{ busy: number | null; waited: number }> => {
    let waited = 0;
    for (;;) {
      const busy = await busyFraction();
      if (busy === null || busy < 0.25 || waited >= (o.quietWait ?? 0) || quietLeft <= 0) return { busy, waited };
      waited++;
      quietLeft--;
    }
  };
  for (let rep = 1; rep <= o.repeats; rep++) {
    for (const step of plan) {
      k++;
      const name = `${step.impl}_${step.transport}_np${o.np}_r${rep}`;
      const file = path.join(logDir, `${name}.${step.impl === 'mpi' ? 'csv' : 'json'}`);
      const cmd = step.impl === 'mpi' ? mpiCmd(step.transport, name, file) : rtCmd(step.transport, file);
      const env = { ...baseEnv, ...(step.impl === 'ringtree' && step.transport === 'tcp' ? { RINGTREE_SHM_DISABLE: '1' } : {}) };
      const q = o.quietWait ? await waitQuiet() : { busy: null, waited: 0 };
      const s0 = readProcStat();
      const log = path.join(logDir, `${name}.txt`);
      const r = await runLogged(cmd, log, env, 1_500_000);
      // the children's CPU time (user + sys) is not visible here, so "others" counts every process
      // but this one: it is the load on the machine during the run, including the benchmark itself
      const noise = noiseBetween(s0, readProcStat(), 0, r.wallS);
      runs.push({ name, repeat: rep, command: cmd, wallS: r.wallS, rc: r.rc, noise, preBusy: q.busy, waitedS: q.waited, log: path.relative(outDir, log) });
      say(`# [${k}/${total}] ${name}: ${r.wallS.toFixed(1)} s, rc ${r.rc}` +
        (q.busy !== null ? `; before it: ${(100 * q.busy).toFixed(0)}% of the CPUs busy${q.waited ? ` after waiting ${q.waited} s for quiet` : ''}` : '') +
        (noise ? `; during it: ${noise.othersCores.toFixed(2)} cores busy in all, steal ${noise.stealPct.toFixed(1)}%` : ''));
      if (r.rc !== 0) {
        process.stderr.write(`ringtree bench --vs-mpi: ${name} failed (rc ${r.rc}); log: ${log}\n${r.output.slice(-2000)}\n`);
        continue;
      }
      raw.push({ ...step, repeat: rep, file });
    }
  }

  // ---------------------------------------------------------------- collect
  const seriesMap = new Map<string, Series>();
  const latency: Record<string, number[]> = {};
  const put = (impl: 'mpi' | 'ringtree', transport: 'shm' | 'tcp', algorithm: string, size: number, busbw: number, timeUs: number, wrong: number, rep: number): void => {
    const name = seriesName(impl, transport, algorithm);
    let s = seriesMap.get(name);
    if (!s) { s = { name, impl, transport, algorithm, points: [] }; seriesMap.set(name, s); }
    let pt = s.points.find((x) => x.size === size);
    if (!pt) { pt = { size, busbw: [], time_us: [], mean: NaN, wrong: 0 }; s.points.push(pt); }
    pt.busbw[rep - 1] = busbw;
    pt.time_us[rep - 1] = timeUs;
    pt.wrong += wrong;
  };
  for (const r of raw) {
    if (!existsSync(r.file)) continue;
    if (r.impl === 'mpi') {
      for (const row of parseCsv(readFileSync(r.file, 'utf8'))) {
        put('mpi', r.transport, 'default', Number(row.bytes), Number(row.busbw_GBps), Number(row.time_us), Number(row.wrong), r.repeat);
      }
    } else {
      const res = JSON.parse(readFileSync(r.file, 'utf8')) as BenchResult;
      for (const row of res.rows) {
        if (row.inplace) continue;
        put('ringtree', r.transport, row.algorithm, row.size, row.busbw, row.time_us, row.wrong ?? 0, r.repeat);
      }
      if (res.latency) (latency[`ringtree ${res.latency.algorithm} (${r.transport}) 8 B median us`] ??= []).push(res.latency.median_us);
      if (res.latency?.sync_median_us !== undefined) (latency[`ringtree allReduceSync (${r.transport}) 8 B median us`] ??= []).push(res.latency.sync_median_us);
    }
  }
  const series = [...seriesMap.values()];
  for (const s of series) {
    s.points.sort((a, b) => a.size - b.size);
    for (const p of s.points) p.mean = mean(p.busbw.filter((x) => Number.isFinite(x)));
  }
  for (const t of o.transports) {
    const m = seriesMap.get(seriesName('mpi', t, 'default'));
    const p8 = m?.points.find((x) => x.size === 8);
    if (p8) latency[`MPI ${t} 8 B mean us`] = p8.time_us;
  }
  const wrongTotal = series.reduce((a, s) => a + s.points.reduce((b, p) => b + p.wrong, 0), 0);

  const result: VsMpiResult = {
    tool: 'ringtree bench --vs-mpi',
    date: new Date().toISOString(),
    host: { hostname: os.hostname(), cpus: cores, cpuModel: os.cpus()[0]?.model ?? '', node: process.version, mpi: mpiVersion, kernel: `${os.type()} ${os.release()}` },
    settings: { np: o.np, minBytes: o.minBytes, maxBytes: o.maxBytes, timeCap: o.timeCap, repeats: o.repeats, algorithms: o.algorithms, transports: o.transports, dtype: 'float32', op: 'sum' },
    ceilings,
    runs,
    series,
    latency,
    ratios: [],
    targets: [],
    busyRuns: runs.filter((x) => (x.preBusy ?? 0) > 0.25).map((x) => x.name),
    wrongTotal,
  };
  const md = renderVsMpi(result);
  writeVsMpiFiles(outDir, result, md);
  say('');
  say(md);
  say(`# wrong elements over all runs: ${wrongTotal}`);
  say(`# wrote ${path.join(outDir, 'vs-mpi.json')}, vs-mpi.md, vs-mpi.svg${o.transports.includes('tcp') ? ', vs-mpi-tcp.svg' : ''} and logs/`);
  return result;
}

/** The markdown report of a vs-mpi result (also fills r.ratios and r.targets). */
export function renderVsMpi(r: VsMpiResult): string {
  const { ceilings, runs, latency } = r;
  const seriesMap = new Map(r.series.map((x) => [x.name, x] as const));
  // Sizes up to 4 KiB show the mean time per call (us), larger ones busbw (GB/s). The ratio is
  // ringtree / MPI of busbw (= MPI time / ringtree time): > 1 means ringtree is faster.
  const ratios: VsMpiResult['ratios'] = [];
  const md: string[] = [];
  if (ceilings.memSource !== 'not measured') {
    md.push(`Ceilings measured in this run: memory ${ceilings.memRwGBps?.toFixed(2) ?? '?'} GB/s read+write (${ceilings.memSource}), ` +
      `so a memory-bound all-reduce reaches busbw <= ${ceilings.allReduceBusbw?.toFixed(2) ?? '?'} GB/s with ${r.settings.np} ranks; ` +
      `TCP loopback ${ceilings.tcpGBps?.toFixed(2) ?? '?'} GB/s (${ceilings.tcpSource}).\n`);
  }
  const smallMax = 4096;
  for (const t of r.settings.transports) {
    const m = seriesMap.get(seriesName('mpi', t, 'default'));
    if (!m) continue;
    const rts = r.settings.algorithms.map((a) => seriesMap.get(seriesName('ringtree', t, a)));
    const header = ['size', `MPI ${t}`, ...r.settings.algorithms.map((a) => `ringtree ${a}`), ...r.settings.algorithms.map((a) => `${a} / MPI`)];
    const rows: string[][] = [];
    for (const mp of m.points) {
      const pts = rts.map((s) => s?.points.find((x) => x.size === mp.size));
      const vals = pts.map((x) => x?.mean ?? NaN);
      const rec: VsMpiResult['ratios'][number] = { transport: t, size: mp.size, mpi: mp.mean };
      r.settings.algorithms.forEach((a, i) => { rec[a] = vals[i]!; rec[`${a}/mpi`] = vals[i]! / mp.mean; });
      ratios.push(rec);
      const small = mp.size <= smallMax;
      const cell = (pt: SeriesPoint | undefined): string => {
        if (!pt) return '-';
        if (small) { const us = mean(pt.time_us); return Number.isFinite(us) ? `${us.toFixed(us < 100 ? 1 : 0)} us` : '-'; }
        return Number.isFinite(pt.mean) ? pt.mean.toFixed(3) : '-';
      };
      const ratio = (pt: SeriesPoint | undefined): string => {
        if (!pt) return '-';
        const q = small ? mean(mp.time_us) / mean(pt.time_us) : pt.mean / mp.mean;
        return Number.isFinite(q) ? `${q.toFixed(2)}x` : '-';
      };
      rows.push([formatBytes(mp.size), cell(mp), ...pts.map(cell), ...pts.map(ratio)]);
    }
    md.push(`### ${t === 'shm' ? 'Shared memory' : 'TCP loopback'}, ${r.settings.np} ranks: busbw (GB/s; time per call for sizes <= 4 KiB), mean of ${r.settings.repeats} run(s), and ringtree / MPI\n`);
    md.push(markdownTable(header, rows));
  }
  const targets = issueTargets(r.settings.np, r.settings.transports);
  const targetRows: string[][] = [];
  const targetResults: VsMpiResult['targets'] = [];
  for (const tg of targets) {
    const rec = ratios.find((x) => x.transport === tg.transport && x.size === tg.size);
    if (!rec) continue;
    const per = r.settings.algorithms.map((a) => Number(rec[`${a}/mpi`]));
    const best = Math.max(...per.filter((x) => Number.isFinite(x)));
    const auto = r.settings.algorithms.includes('auto') ? Number(rec['auto/mpi']) : best;
    // the same ratio within each repeat (the two runs that were next to each other in time)
    const mp = seriesMap.get(seriesName('mpi', tg.transport, 'default'))?.points.find((x) => x.size === tg.size);
    const ap = seriesMap.get(seriesName('ringtree', tg.transport, 'auto'))?.points.find((x) => x.size === tg.size);
    const perRepeat = mp && ap ? mp.busbw.map((v, i) => (ap.busbw[i] ?? NaN) / v) : [];
    targetResults.push({ ...tg, auto, best, met: auto >= tg.ratio, perRepeat });
    targetRows.push([tg.transport, formatBytes(tg.size), `>= ${tg.ratio}x`, `${auto.toFixed(2)}x`,
      perRepeat.map((x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-')).join(', ') || '-', `${best.toFixed(2)}x`, auto >= tg.ratio ? 'yes' : 'no']);
  }
  if (targetRows.length) {
    md.push(`### Issue 5 targets (ratio of busbw to Open MPI on the same transport, same run)\n`);
    md.push(markdownTable(['transport', 'size', 'target', 'auto / MPI (means)', 'auto / MPI per repeat', 'best algorithm / MPI', 'met (auto, means)'], targetRows));
  }
  const busyRuns = runs.filter((x) => (x.preBusy ?? 0) > 0.25);
  md.push(`### Runs (in order; "busy before" = share of all CPUs busy in the second before the run, "cores busy" = average over the run, benchmark included)\n`);
  md.push(markdownTable(['run', 'wall (s)', 'rc', 'busy before', 'waited (s)', 'cores busy', 'steal'], runs.map((x) => [
    x.name, x.wallS.toFixed(1), String(x.rc), x.preBusy === null ? '-' : `${(100 * x.preBusy).toFixed(0)}%`, String(x.waitedS),
    x.noise ? x.noise.othersCores.toFixed(2) : '-', x.noise ? `${x.noise.stealPct.toFixed(1)}%` : '-',
  ])));
  const busyNote = busyRuns.length
    ? `**Caution:** ${busyRuns.length} of ${runs.length} runs started while other processes kept more than a quarter of the CPUs busy. ` +
      'Open MPI busy-polls and loses more than ringtree (which sleeps when it waits) when the cores are shared, so on a busy machine ' +
      'the ratios flatter ringtree; compare with a run on a quiet machine.\n'
    : '';
  if (busyNote) md.push(busyNote);
  const latLines = Object.entries(latency).map(([k2, v]) => `- ${k2}: ${v.map((x) => x.toFixed(2)).join(', ')}`);
  if (latLines.length) md.push('### 8 B latency per run (MPI: mean time per call from C; ringtree: median, awaited from JavaScript)\n\n' + latLines.join('\n') + '\n');

  r.ratios = ratios;
  r.targets = targetResults;
  return md.join('\n');
}

export function writeVsMpiFiles(outDir: string, r: VsMpiResult, md: string): void {
  writeFileSync(path.join(outDir, 'vs-mpi.json'), JSON.stringify(r, null, 2) + '\n');
  writeFileSync(path.join(outDir, 'vs-mpi.md'), md);
  writeFileSync(path.join(outDir, 'vs-mpi.svg'), vsMpiSvg(r, 'shm'));
  if (r.settings.transports.includes('tcp')) writeFileSync(path.join(outDir, 'vs-mpi-tcp.svg'), vsMpiSvg(r, 'tcp'));
}

/** Re-renders vs-mpi.md and the SVGs of a folder from its vs-mpi.json (no measuring). */
export function rerenderVsMpi(dir: string): string {
  const r = JSON.parse(readFileSync(path.join(dir, 'vs-mpi.json'), 'utf8')) as VsMpiResult;
  const md = renderVsMpi(r);
  writeVsMpiFiles(dir, r, md);
  return md;
}

const COLORS: Record<string, string> = {
  ring: '#1f77b4', tree: '#2ca02c', auto: '#d62728', rhd: '#9467bd', 'MPI shm': '#ff7f0e', 'MPI tcp': '#8c564b', ceiling: '#7f7f7f', tcpceil: '#bcbd22',
};

/**
 * The busbw-vs-size plot. `focus` 'shm': ringtree's shm series, ringtree auto over TCP, MPI shm,
 * MPI tcp and the memory-bound ceiling. 'tcp': ringtree's TCP series, MPI tcp and the TCP loopback ceiling.
 */
export function vsMpiSvg(r: VsMpiResult, focus: 'shm' | 'tcp'): string {
  const by = (name: string): Series | undefined => r.series.find((s) => s.name === name);
  const pts = (s: Series | undefined): Array<[number, number]> => (s ? s.points.map((p) => [p.size, p.mean] as [number, number]) : []);
  const series: PlotSeries[] = [];
  for (const a of r.settings.algorithms) {
    const s = by(seriesName('ringtree', focus, a));
    if (s) series.push({ name: s.name, points: pts(s), color: COLORS[a] });
  }
  if (focus === 'shm') {
    const auto = by(seriesName('ringtree', 'tcp', 'auto'));
    if (auto) series.push({ name: auto.name, points: pts(auto), color: '#e377c2' });
  }
  for (const t of focus === 'shm' ? ['shm', 'tcp'] : ['tcp']) {
    const s = by(seriesName('mpi', t, 'default'));
    if (s) series.push({ name: s.name, points: pts(s), color: COLORS[s.name], dashed: true });
  }
  const sizes = r.series.flatMap((s) => s.points.map((p) => p.size));
  const lo = sizes.length ? Math.min(...sizes) : r.settings.minBytes;
  const hi = sizes.length ? Math.max(...sizes) : r.settings.maxBytes;
  if (focus === 'shm' && r.ceilings.allReduceBusbw !== null) {
    series.push({ name: 'memory-bound ceiling', points: [[lo, r.ceilings.allReduceBusbw], [hi, r.ceilings.allReduceBusbw]], color: COLORS.ceiling, dashed: true, noMarkers: true });
  }
  if (focus === 'tcp' && r.ceilings.tcpGBps !== null) {
    // a 2-rank all-reduce moves (p-1)/p of the data each way per rank: busbw <= one stream's throughput
    series.push({ name: 'TCP loopback (1 stream)', points: [[lo, r.ceilings.tcpGBps], [hi, r.ceilings.tcpGBps]], color: COLORS.tcpceil, dashed: true, noMarkers: true });
  }
  return svgLinePlot({
    title: `All-reduce busbw vs message size: ringtree vs Open MPI (${focus === 'shm' ? 'shared memory' : 'TCP loopback'})`,
    subtitle: `${r.settings.np} ranks, float32 sum, out-of-place; mean of ${r.settings.repeats} interleaved run(s); ${r.host.cpuModel} x ${r.host.cpus}; ${r.date.slice(0, 16)}Z`,
    xLabel: 'message size (bytes)',
    yLabel: 'busbw (GB/s)',
    series,
  });
}
