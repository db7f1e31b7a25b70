// runRanks(): starts n real rank processes of a worker script with torchrun-style env (RANK,
// WORLD_SIZE, MASTER_ADDR=127.0.0.1, MASTER_PORT=<free port>; rank 0 hosts the store), collects
// each rank's JSON result line from stdout, kills everything on timeout, and returns exit codes,
// signals, stdout and stderr. startRanks() is the same with handles to the live processes (wait for
// a line, send a signal) for the failure tests.
//
// Workers print exactly one result line: `@@RESULT {json}` (see resultLine()). Everything else on
// stdout/stderr is kept for diagnostics.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout root (this file runs from dist/test/helpers/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** The compiled worker path of test/_workers/<name>.ts. */
export function workerPath(name: string): string {
  return path.join(repoRoot, 'dist', 'test', '_workers', name.endsWith('.js') ? name : `${name}.js`);
}

export type Transport = 'shm' | 'tcp';
export const transports: readonly Transport[] = ['shm', 'tcp'];

/** Environment of the small-buffer runs: shm rings, shm chunks and TCP staging small enough that
 * a few KB take many chunks (multi-chunk and ring wrap-around paths) without big counts. */
export const smallBufferEnv: Readonly<Record<string, string>> = {
  RINGTREE_SHM_RING_BYTES: '4096',
  RINGTREE_SHM_CHUNK_BYTES: '1024',
  RINGTREE_TCP_STAGING_BYTES: '4096',
};

export const resultMarker = '@@RESULT ';

export interface RankResult<R = unknown> {
  rank: number;
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The parsed `@@RESULT` line, or undefined when the rank printed none. */
  result: R | undefined;
}

export interface RunRanksResult<R = unknown> {
  ranks: Array<RankResult<R>>;
  /** True when the run hit timeoutMs and every process was killed. */
  timedOut: boolean;
  ms: number;
  jobId: string;
  port: number;
}

export interface RunRanksOptions {
  transport?: Transport;
  /** Extra environment for every rank, or per rank. */
  env?: Record<string, string> | ((rank: number) => Record<string, string>);
  /** Kill every rank after this long (default 120 s). */
  timeoutMs?: number;
  /** Arguments after the worker path. */
  args?: string[];
  /** Node options before the worker path (e.g. --expose-gc). */
  nodeArgs?: string[];
  /** RINGTREE_JOB_ID (default: unique per run); shm segments are /dev/shm/ringtree-<jobId>-*. */
  jobId?: string;
}

export interface RunningRanks<R = unknown> {
  procs: ChildProcess[];
  jobId: string;
  port: number;
  /** Resolves when rank's stdout+stderr so far matches re (rejects if the rank exits first). */
  waitFor(rank: number, re: RegExp, timeoutMs?: number): Promise<void>;
  kill(rank: number, signal?: NodeJS.Signals): void;
  /** Kills every rank still running (SIGKILL). */
  killAll(): void;
  done: Promise<RunRanksResult<R>>;
}

let counter = 0;
const live = new Set<ChildProcess>();

// never leave ranks behind, whatever happens to the test process
process.once('exit', () => {
  for (const p of live) {
    try {
      p.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

/** A TCP port that was free a moment ago (bound then released on 127.0.0.1). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** The environment without launcher variables from an enclosing job (or from ringrun running ava). */
export function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(RINGTREE_|RANK$|WORLD_SIZE$|LOCAL_RANK$|LOCAL_WORLD_SIZE$|MASTER_ADDR$|MASTER_PORT$|OMPI_|PMI_|SLURM_|TORCHELASTIC_)/.test(k)) continue;
    out[k] = v;
  }
  return out;
}

/** A job id unique to this test process and run, short enough to survive shm name truncation. */
export function uniqueJobId(label = 't'): string {
  return `rt${label}${process.pid}x${counter++}`;
}

/**
 * /dev/shm entries of a job. The runtime names them /dev/shm/ringtree-<id>-r<rank>-<pid>, where <id> is
 * "<job id>-<group>" with other characters than [A-Za-z0-9_-] replaced by '_', cut to 40 characters.
 * The '-' after the job id matters: job "x2" must not claim the segments of job "x25".
 */
export function shmResidue(jobId: string): string[] {
  const prefix = `ringtree-${`${jobId.replace(/[^A-Za-z0-9_-]/g, '_')}-`.slice(0, 40)}`;
  try {
    return fs.readdirSync('/dev/shm').filter((f) => f.startsWith(prefix));
  } catch {
    return [];
  }
}

function parseResult<R>(stdout: string): R | undefined {
  const lines = stdout.split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    const at = line.indexOf(resultMarker);
    if (at >= 0) return JSON.parse(line.slice(at + resultMarker.length)) as R;
  }
  return undefined;
}

/** Starts n ranks of `workerFile` (a path, see workerPath()). */
export function startRanks<R = unknown>(n: number, workerFile: string, opts: RunRanksOptions & { port: number }): RunningRanks<R> {
  const jobId = opts.jobId ?? uniqueJobId();
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const started = Date.now();
  const base = cleanEnv();
  const procs: ChildProcess[] = [];
  const outs: string[] = [];
  const errs: string[] = [];
  const exits: Array<Promise<{ code: number | null; signal: NodeJS.Signals | null }>> = [];
  const listeners: Array<Set<() => void>> = [];
  for (let r = 0; r < n; r++) {
    const extra = typeof opts.env === 'function' ? opts.env(r) : opts.env ?? {};
    const env: Record<string, string> = {
      ...base,
      RANK: String(r),
      WORLD_SIZE: String(n),
      LOCAL_RANK: String(r),
      LOCAL_WORLD_SIZE: String(n),
      MASTER_ADDR: '127.0.0.1',
      MASTER_PORT: String(opts.port),
      RINGTREE_JOB_ID: jobId,
      RINGTREE_INIT_TIMEOUT_MS: '60000',
      ...(opts.transport === 'tcp' ? { RINGTREE_SHM_DISABLE: '1' } : {}),
      ...extra,
    };
    const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), workerFile, ...(opts.args ?? [])], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    procs.push(child);
    outs.push('');
    errs.push('');
    const ls = new Set<() => void>();
    listeners.push(ls);
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      outs[r] += d;
      for (const l of [...ls]) l();
    });
    child.stderr!.on('data', (d: string) => {
      errs[r] += d;
      for (const l of [...ls]) l();
    });
    exits.push(new Promise((resolve) => {
      child.on('close', (code, signal) => {
        live.delete(child);
        for (const l of [...ls]) l();
        resolve({ code, signal });
      });
    }));
  }
  const killAll = (): void => {
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) {
        try {
          p.kill('SIGKILL');
        } catch {
          // gone
        }
      }
    }
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killAll();
  }, timeoutMs);
  const done = Promise.all(exits).then((ex) => {
    clearTimeout(timer);
    return {
      ranks: ex.map((e, r) => {
        let result: R | undefined;
        try {
          result = parseResult<R>(outs[r]!);
        } catch (error) {
          errs[r] += `\n[ranks.ts] unparseable result line: ${(error as Error).message}`;
        }
        return { rank: r, code: e.code, signal: e.signal, stdout: outs[r]!, stderr: errs[r]!, result };
      }),
      timedOut,
      ms: Date.now() - started,
      jobId,
      port: opts.port,
    };
  });
  const waitFor = (rank: number, re: RegExp, waitMs = timeoutMs): Promise<void> =>
    new Promise((resolve, reject) => {
      const ls = listeners[rank]!;
      const t = setTimeout(() => {
        ls.delete(check);
        reject(new Error(`rank ${rank} did not print ${re} within ${waitMs} ms\nstdout: ${outs[rank]}\nstderr: ${errs[rank]}`));
      }, waitMs);
      function check(): void {
        if (re.test(outs[rank]! + errs[rank]!)) {
          clearTimeout(t);
          ls.delete(check);
          resolve();
        } else if (procs[rank]!.exitCode !== null || procs[rank]!.signalCode !== null) {
          clearTimeout(t);
          ls.delete(check);
          reject(new Error(`rank ${rank} exited before printing ${re}\nstdout: ${outs[rank]}\nstderr: ${errs[rank]}`));
        }
      }
      ls.add(check);
      check();
    });
  return {
    procs,
    jobId,
    port: opts.port,
    waitFor,
    kill: (rank, signal = 'SIGKILL') => {
      procs[rank]!.kill(signal);
    },
    killAll,
    done,
  };
}

/** Did rank 0 fail to host the store because the port was taken meanwhile? */
function lostPortRace(res: RunRanksResult): boolean {
  return res.ranks.some((r) => /could not host the store|EADDRINUSE/.test(r.stderr));
}

/**
 * Runs n ranks of a worker to completion (or timeout) on a fresh free port, retrying with another
 * port if one was taken between choosing and binding it.
 */
export async function runRanks<R = unknown>(n: number, workerFile: string, opts: RunRanksOptions = {}): Promise<RunRanksResult<R>> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const res = await startRanks<R>(n, workerFile, { ...opts, port }).done;
    if (attempt < 2 && lostPortRace(res)) continue;
    return res;
  }
}

/**
 * Runs n ranks of a worker through the real launcher (ringrun, RINGTREE_* env, launcher-hosted
 * store), each rank's output in its own file (--output-dir). Same result shape as runRanks().
 */
export async function runViaRingrun<R = unknown>(n: number, workerFile: string, opts: RunRanksOptions = {}): Promise<RunRanksResult<R>> {
  const jobId = opts.jobId ?? uniqueJobId('r');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ringtree-ranks-'));
  const started = Date.now();
  const extra = typeof opts.env === 'function' ? opts.env(0) : opts.env ?? {};
  const env: Record<string, string> = {
    ...cleanEnv(),
    RINGTREE_JOB_ID: jobId,
    ...(opts.transport === 'tcp' ? { RINGTREE_SHM_DISABLE: '1' } : {}),
    ...extra,
  };
  const ringrun = path.join(repoRoot, 'dist', 'lib', 'cli', 'ringrun.js');
  const child = spawn(process.execPath, [ringrun, '-np', String(n), '--oversubscribe', '--output-dir', dir, process.execPath, ...(opts.nodeArgs ?? []), workerFile, ...(opts.args ?? [])], {
    env, stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 120_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('close', (c, s) => resolve({ code: c, signal: s }));
  });
  clearTimeout(timer);
  live.delete(child);
  const read = (f: string): string => {
    try {
      return fs.readFileSync(path.join(dir, f), 'utf8');
    } catch {
      return '';
    }
  };
  const ranks: Array<RankResult<R>> = [];
  for (let r = 0; r < n; r++) {
    const stdout = read(`rank.${r}.stdout`);
    let result: R | undefined;
    try {
      result = parseResult<R>(stdout);
    } catch {
      result = undefined;
    }
    // ringrun reports the job's status; per-rank exit codes are not visible from here
    ranks.push({ rank: r, code, signal, stdout, stderr: read(`rank.${r}.stderr`) + (r === 0 ? `\n[ringrun] ${out}` : ''), result });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  // ringrun picks the job id itself (RINGTREE_JOB_ID is part of its contract): workers that report
  // theirs make shmResidue() checks meaningful
  const reported = (ranks[0]?.result as { jobId?: unknown } | undefined)?.jobId;
  return { ranks, timedOut, ms: Date.now() - started, jobId: typeof reported === 'string' ? reported : jobId, port: 0 };
}

/** A readable summary of a run for assertion messages. */
export function describeRun(res: RunRanksResult): string {
  const parts = [`job ${res.jobId} port ${res.port}, ${res.ms} ms${res.timedOut ? ', TIMED OUT (killed)' : ''}`];
  for (const r of res.ranks) {
    parts.push(`--- rank ${r.rank}: exit ${r.code ?? r.signal}`);
    const tail = (s: string): string => (s.length > 3000 ? `...${s.slice(-3000)}` : s);
    if (r.stderr.trim()) parts.push(`stderr: ${tail(r.stderr.trim())}`);
    const out = r.stdout.split('\n').filter((l) => !l.includes(resultMarker)).join('\n').trim();
    if (out) parts.push(`stdout: ${tail(out)}`);
  }
  return parts.join('\n');
}

/** Serialises heavy multi-rank runs within one test file (ava runs a file's tests concurrently). */
export function limiter(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= max) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
