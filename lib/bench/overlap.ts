// `ringtree bench overlap`: how much of an all-reduce's time a compute loop on the JS thread hides
// (the OSU non-blocking collective benchmarks' overlap %).
//
//   comm    = mean time of the all-reduce alone (issue, await);
//   compute = mean time of a pure-ALU loop on the JS thread, calibrated on each rank to take ~comm;
//   both    = mean time of: issue the all-reduce, run the compute loop, await the all-reduce;
//   overlap = (comm + compute - both) / min(comm, compute), in %: 100 when the communication is
//             fully hidden behind the computation, 0 when they run one after the other.
// Each timed iteration starts right after a barrier (not timed); times are averaged over ranks.
import type { Communicator } from '../communicator.js';
import type { Algorithm } from '../types.js';
import { probeCpu, type CpuProbe } from './ceilings.js';
import { writeFileMkdir } from './report.js';

export interface OverlapOptions {
  /** Bytes of the all-reduce (float32), default 64 MiB. */
  bytes: number;
  iters: number;
  warmup: number;
  algorithm: Algorithm;
  json?: string;
  print: boolean;
  /** Probe the CPU cores available first (default true). */
  probe: boolean;
}

export interface OverlapResult {
  tool: string;
  nranks: number;
  transport: string;
  bytes: number;
  algorithm: Algorithm;
  iters: number;
  comm_ms: number;
  compute_ms: number;
  both_ms: number;
  /** (comm + compute - both) / min(comm, compute) x 100, clamped to 0..100. */
  overlap_pct: number;
  /** The same, unclamped (noise can push it slightly outside 0..100). */
  overlap_raw_pct: number;
  cpu: CpuProbe | null;
  date: string;
}

/** Pure-ALU work (no memory traffic): `units` x 1000 steps of an LCG. */
let sink = 0;
export function computeUnits(units: number): number {
  let x = sink | 1;
  for (let u = 0; u < units; u++) {
    for (let i = 0; i < 1000; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
  }
  sink = x;
  return x;
}

/** Units of computeUnits that take about `ms` on this thread now. */
export function calibrateCompute(ms: number): number {
  let units = 64;
  for (;;) {
    const t = performance.now();
    computeUnits(units);
    const dt = performance.now() - t;
    if (dt > 20 || units > 1e9) return Math.max(1, Math.round((units * ms) / dt));
    units *= 4;
  }
}

export function overlapPercent(comm: number, compute: number, both: number): number {
  const m = Math.min(comm, compute);
  return m > 0 ? ((comm + compute - both) / m) * 100 : 0;
}

export async function runOverlapBench(comm: Communicator, transport: string, o: OverlapOptions): Promise<OverlapResult> {
  const lead = comm.rank === 0;
  const out = (s: string): void => { if (lead && o.print) process.stdout.write(s + '\n'); };
  const n = Math.max(1, Math.floor(o.bytes / 4));
  const buf = new Float32Array(n).fill(1);
  const opts = { op: 'sum' as const, algorithm: o.algorithm };
  const avg = async (v: number): Promise<number> => {
    const b = new Float64Array([v]);
    if (comm.size > 1) await comm.allReduce(b, { op: 'sum' });
    return b[0]! / comm.size;
  };

  let cpu: CpuProbe | null = null;
  if (o.probe) {
    if (lead) cpu = await probeCpu();
    await comm.barrier();
  }
  out(`# ringtree bench overlap: nranks ${comm.size}, transport ${transport}, allreduce of ${o.bytes} B float32 sum (algorithm ${o.algorithm}), ` +
    `${o.iters} iterations after ${o.warmup} warm-up; compute = a pure-ALU loop on the JS thread`);
  if (cpu) out(`# CPU available: ${cpu.cores.toFixed(2)} of ${cpu.threads} cores (each rank also has a progress thread; overlap needs a free core for it)`);

  for (let i = 0; i < o.warmup; i++) await comm.allReduce(buf, opts);

  // communication alone
  let commMs = 0;
  for (let i = 0; i < o.iters; i++) {
    await comm.barrier();
    const t = performance.now();
    await comm.allReduce(buf, opts);
    commMs += performance.now() - t;
  }
  commMs /= o.iters;

  // computation alone, calibrated to ~commMs on this rank
  const units = calibrateCompute(commMs);
  let computeMs = 0;
  for (let i = 0; i < o.iters; i++) {
    await comm.barrier();
    const t = performance.now();
    computeUnits(units);
    computeMs += performance.now() - t;
  }
  computeMs /= o.iters;

  // both: issue, compute, await
  let bothMs = 0;
  for (let i = 0; i < o.iters; i++) {
    await comm.barrier();
    const t = performance.now();
    const p = comm.allReduce(buf, opts);
    computeUnits(units);
    await p;
    bothMs += performance.now() - t;
  }
  bothMs /= o.iters;

  const c = await avg(commMs);
  const k = await avg(computeMs);
  const b = await avg(bothMs);
  const raw = overlapPercent(c, k, b);
  const pct = Math.max(0, Math.min(100, raw));
  out(`# times are means per iteration, averaged over ranks`);
  out(`${'comm alone (ms)'.padStart(18)} ${'compute alone (ms)'.padStart(20)} ${'both (ms)'.padStart(12)} ${'overlap (%)'.padStart(12)}`);
  out(`${c.toFixed(2).padStart(18)} ${k.toFixed(2).padStart(20)} ${b.toFixed(2).padStart(12)} ${pct.toFixed(1).padStart(12)}`);
  out(`# overlap = (comm + compute - both) / min(comm, compute) = ${raw.toFixed(1)}% unclamped; 100% = communication fully hidden`);
  const result: OverlapResult = {
    tool: 'ringtree bench overlap', nranks: comm.size, transport, bytes: o.bytes, algorithm: o.algorithm, iters: o.iters,
    comm_ms: c, compute_ms: k, both_ms: b, overlap_pct: pct, overlap_raw_pct: raw, cpu, date: new Date().toISOString(),
  };
  if (lead && o.json) { writeFileMkdir(o.json, JSON.stringify(result, null, 2) + '\n'); out(`# JSON: ${o.json}`); }
  return result;
}
