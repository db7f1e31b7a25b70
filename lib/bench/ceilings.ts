// Machine ceilings the collectives are measured against, measured from Node alone (no compiler):
//   - memory copy bandwidth: Buffer.copy (memmove) of 256 MiB in 1..N worker threads at once;
//     reported as copied bytes/s and as read+write bytes/s (STREAM's memcpy_rw convention);
//   - TCP loopback throughput: two node sockets on 127.0.0.1 (sender on this thread, receiver in a
//     worker thread), 1 GiB in 4 MiB writes;
//   - CPU availability: N threads spin for a fixed wall time; CPU time obtained / wall time is the
//     number of cores the machine actually gives us now (steal and other tenants lower it);
//   - /proc/stat sampling, to report how much CPU other processes took during a run.
// From the copy bandwidth follows the memory-bound all-reduce ceiling: every rank reads its input and
// writes its output at least once, 2·p·S bytes of traffic, so algbw <= BW_rw / (2p) and
// busbw <= BW_rw / (2p) · 2(p-1)/p.
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { Worker } from 'node:worker_threads';

export interface CopyBandwidth {
  threads: number;
  mib: number;
  trials: number;
  /** Best and mean over trials of copied bytes per second summed over threads, GB/s (1e9). */
  copyBest: number;
  copyMean: number;
  /** The same counting read + write (= 2x copy), GB/s. */
  rwBest: number;
  rwMean: number;
}

export interface TcpLoopback {
  bytes: number;
  writeBytes: number;
  reps: number;
  best: number;
  mean: number;
}

export interface CpuProbe {
  threads: number;
  wallMs: number;
  /** CPU seconds obtained per wall second (<= threads). */
  cores: number;
}

export interface Ceilings {
  copy: CopyBandwidth[];
  tcp: TcpLoopback | null;
  cpu: CpuProbe;
  /** Memory-bound all-reduce busbw ceiling for `nranks` (from the best read+write bandwidth with min(nranks, cores) threads). */
  allReduceBusbw: number;
  nranks: number;
  source: string;
}

const now = (): number => performance.timeOrigin + performance.now();

const COPY_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const src = Buffer.alloc(workerData.bytes, 7);
const dst = Buffer.alloc(workerData.bytes);
src.copy(dst);
parentPort.on('message', (m) => {
  if (m === 'exit') { process.exit(0); }
  const t0 = performance.timeOrigin + performance.now();
  src.copy(dst);
  const t1 = performance.timeOrigin + performance.now();
  parentPort.postMessage([t0, t1, dst[dst.length - 1]]);
});
parentPort.postMessage('ready');
`;

function once<T>(w: Worker): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: T): void => { w.off('error', onErr); resolve(m); };
    const onErr = (e: Error): void => { w.off('message', onMsg); reject(e); };
    w.once('message', onMsg);
    w.once('error', onErr);
  });
}

/** Copy bandwidth with `threads` concurrent Buffer.copy calls of `mib` MiB each. */
export async function measureCopyBandwidth(threads: number, mib = 256, trials = 5): Promise<CopyBandwidth> {
  const bytes = mib * 2 ** 20;
  const workers = Array.from({ length: threads }, () => new Worker(COPY_WORKER, { eval: true, workerData: { bytes } }));
  try {
    await Promise.all(workers.map((w) => once<string>(w)));
    const copy: number[] = [];
    for (let t = 0; t < trials + 1; t++) {
      const done = workers.map((w) => once<[number, number]>(w));
      for (const w of workers) w.postMessage('go');
      const spans = await Promise.all(done);
      const start = Math.min(...spans.map((s) => s[0]));
      const end = Math.max(...spans.map((s) => s[1]));
      if (t > 0) copy.push((bytes * threads) / ((end - start) / 1e3) / 1e9); // first trial is warm-up
    }
    const best = Math.max(...copy);
    const mean = copy.reduce((a, b) => a + b, 0) / copy.length;
    return { threads, mib, trials, copyBest: best, copyMean: mean, rwBest: 2 * best, rwMean: 2 * mean };
  } finally {
    for (const w of workers) await w.terminate();
  }
}

const TCP_WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
const net = require('node:net');
const total = workerData.total;
const server = net.createServer((sock) => {
  let got = 0;
  sock.on('data', (d) => {
    got += d.length;
    if (got >= total) {
      parentPort.postMessage(['done', performance.timeOrigin + performance.now()]);
      got -= total;
    }
  });
  sock.on('error', () => {});
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(['port', server.address().port]));
parentPort.on('message', (m) => { if (m === 'exit') server.close(() => process.exit(0)); });
`;

/** TCP loopback throughput between two node sockets (receiver in a worker thread). */
export async function measureTcpLoopback(totalBytes = 2 ** 30, writeBytes = 4 * 2 ** 20, reps = 2): Promise<TcpLoopback> {
  const net = await import('node:net');
  const w = new Worker(TCP_WORKER, { eval: true, workerData: { total: totalBytes } });
  try {
    const [, port] = await once<[string, number]>(w);
    const sock = net.connect(port, '127.0.0.1');
    sock.setNoDelay(true);
    await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
    const chunk = Buffer.alloc(writeBytes, 1);
    const rates: number[] = [];
    for (let r = 0; r < reps; r++) {
      const done = once<[string, number]>(w);
      const t0 = now();
      for (let sent = 0; sent < totalBytes; sent += writeBytes) {
        if (!sock.write(chunk)) await new Promise((resolve) => sock.once('drain', resolve));
      }
      const [, t1] = await done;
      rates.push(totalBytes / ((t1 - t0) / 1e3) / 1e9);
    }
    sock.destroy();
    return { bytes: totalBytes, writeBytes, reps, best: Math.max(...rates), mean: rates.reduce((a, b) => a + b, 0) / rates.length };
  } finally {
    await w.terminate();
  }
}

const SPIN_WORKER = `
const { workerData } = require('node:worker_threads');
const end = Date.now() + workerData.ms;
let x = 0;
while (Date.now() < end) { for (let i = 0; i < 10000; i++) x = (x * 1103515245 + 12345) | 0; }
require('node:worker_threads').parentPort.postMessage(x);
`;

/** Spins `threads` threads for `ms` of wall time; returns the cores actually obtained. */
export async function probeCpu(threads = os.availableParallelism(), ms = 300): Promise<CpuProbe> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const workers = Array.from({ length: threads }, () => new Worker(SPIN_WORKER, { eval: true, workerData: { ms } }));
  await Promise.all(workers.map((w) => once<number>(w)));
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  await Promise.all(workers.map((w) => w.terminate()));
  return { threads, wallMs: wall, cores: (c.user + c.system) / 1e3 / wall };
}

// ------------------------------------------------------------------------------------ /proc/stat

export interface ProcStat {
  /** Seconds (all CPUs) spent busy (not idle/iowait). */
  busy: number;
  total: number;
  steal: number;
}

const USER_HZ = 100;

export function readProcStat(): ProcStat | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    if (!line) return null;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: (total - idle) / USER_HZ, total: total / USER_HZ, steal: (v[7] ?? 0) / USER_HZ };
  } catch {
    return null;
  }
}

/** CPU seconds other processes used between two samples, given our own CPU seconds in between. */
export function noiseBetween(a: ProcStat | null, b: ProcStat | null, ownCpuS: number, wallS: number):
  { othersCpuS: number; othersCores: number; stealPct: number } | null {
  if (!a || !b) return null;
  const busy = b.busy - a.busy;
  const total = b.total - a.total;
  const others = Math.max(0, busy - ownCpuS);
  return { othersCpuS: others, othersCores: wallS > 0 ? others / wallS : 0, stealPct: total > 0 ? (100 * (b.steal - a.steal)) / total : 0 };
}

// ------------------------------------------------------------------------------------ all together

/** The memory-bound all-reduce busbw ceiling from a read+write bandwidth (GB/s). */
export function allReduceMemoryCeiling(rwGBps: number, nranks: number): number {
  if (nranks < 2) return rwGBps / 2;
  return (rwGBps / (2 * nranks)) * ((2 * (nranks - 1)) / nranks);
}

export interface CeilingOptions {
  nranks: number;
  /** Skip the 1 GiB TCP loopback measurement. */
  noTcp?: boolean;
  mib?: number;
}

export async function measureCeilings(opts: CeilingOptions): Promise<Ceilings> {
  const cores = os.availableParallelism();
  const cpu = await probeCpu(cores, 300);
  const threadCounts = [...new Set([1, Math.min(Math.max(opts.nranks, 1), cores)])];
  const copy: CopyBandwidth[] = [];
  for (const t of threadCounts) copy.push(await measureCopyBandwidth(t, opts.mib ?? 256));
  const tcp = opts.noTcp ? null : await measureTcpLoopback();
  const best = copy[copy.length - 1]!;
  return { copy, tcp, cpu, allReduceBusbw: allReduceMemoryCeiling(best.rwBest, opts.nranks), nranks: opts.nranks, source: 'node' };
}

export function formatCeilings(c: Ceilings): string[] {
  const lines: string[] = [];
  lines.push(`# ceilings (measured now, ${c.source}):`);
  lines.push(`#   CPU available: ${c.cpu.cores.toFixed(2)} of ${c.cpu.threads} cores (${c.cpu.threads} threads spinning ${c.cpu.wallMs.toFixed(0)} ms)`);
  for (const b of c.copy) {
    lines.push(`#   memory copy, ${b.threads} thread(s), ${b.mib} MiB each: ${b.copyBest.toFixed(2)} GB/s copied (best; mean ${b.copyMean.toFixed(2)}), ` +
      `${b.rwBest.toFixed(2)} GB/s read+write`);
  }
  if (c.tcp) {
    lines.push(`#   TCP loopback (node sockets, ${(c.tcp.bytes / 2 ** 30).toFixed(0)} GiB in ${c.tcp.writeBytes / 2 ** 20} MiB writes): ` +
      `${c.tcp.best.toFixed(2)} GB/s best, ${c.tcp.mean.toFixed(2)} mean of ${c.tcp.reps}`);
  }
  lines.push(`#   memory-bound all-reduce busbw for ${c.nranks} ranks: <= ${c.allReduceBusbw.toFixed(2)} GB/s ` +
    '(2·p·S bytes of read+write traffic; cache-resident sizes can exceed it)');
  return lines;
}
