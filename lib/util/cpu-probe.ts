// CPU availability probe: how much CPU this machine actually gives right now. This VM often hands
// out only about one core's worth of its two vCPUs (other tenants, hypervisor steal), which
// changes what a benchmark can reach; benchmarks print this next to their numbers.
import { readFileSync } from 'node:fs';
import os from 'node:os';

interface CpuTimes {
  busy: number;
  idle: number;
  steal: number;
  total: number;
}

function readStat(): CpuTimes | null {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n').find((l) => l.startsWith('cpu '));
    if (!line) return null;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
    const busy = user + nice + system + irq + softirq;
    return { busy, idle: idle + iowait, steal, total: busy + idle + iowait + steal };
  } catch {
    return null;
  }
}

export interface CpuProbe {
  /** Logical CPUs of the machine. */
  cpus: number;
  /** CPUs' worth left idle by everything else during the probe (0..cpus). */
  idleCpus: number;
  /** Fraction of CPU time taken by the hypervisor (steal) during the probe. */
  stealFraction: number;
  /** Load average over the last minute. */
  load1: number;
  /** One line for reports. */
  summary: string;
}

/** Samples /proc/stat over `ms` milliseconds (default 300) while this process sleeps. */
export async function probeCpu(ms = 300): Promise<CpuProbe> {
  const cpus = os.availableParallelism?.() ?? os.cpus().length;
  const a = readStat();
  await new Promise((r) => setTimeout(r, ms));
  const b = readStat();
  const load1 = os.loadavg()[0] ?? 0;
  if (!a || !b || b.total <= a.total) {
    return { cpus, idleCpus: cpus, stealFraction: 0, load1, summary: `${cpus} CPUs, load ${load1.toFixed(2)}` };
  }
  const total = b.total - a.total;
  const idleCpus = ((b.idle - a.idle) / total) * cpus;
  const stealFraction = (b.steal - a.steal) / total;
  const summary =
    `${cpus} CPUs, ${idleCpus.toFixed(2)} idle during the probe, steal ${(stealFraction * 100).toFixed(1)}%, ` +
    `load ${load1.toFixed(2)}${idleCpus < cpus * 0.6 ? ' (busy machine: expect lower and noisier numbers)' : ''}`;
  return { cpus, idleCpus, stealFraction, load1, summary };
}
