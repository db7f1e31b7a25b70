// Test helpers for the launcher: run the built ringrun as a subprocess, wait for output, and find or
// kill every process of a test run.
//
// Each run gets a unique tag in RINGTREE_TEST_TAG; ranks and anything they start inherit it, so
// processesWithTag() finds them all through /proc/<pid>/environ (orphan checks), and killTagged() /
// reapAll() (in test.after.always) reap them whatever happened to the test.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout root (this file runs from dist/test/helpers/). */
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const ringrunJs = path.join(repoRoot, 'dist/lib/cli/ringrun.js');
export const ringtreeJs = path.join(repoRoot, 'dist/lib/cli/ringtree.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Wall time from spawn to exit. */
  ms: number;
  /** Date.now() when ringrun exited. */
  endedAt: number;
  /** The run's RINGTREE_TEST_TAG. */
  tag: string;
}

export interface RunOptions {
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Kill everything and fail the run after this long (default 30 s). */
  timeoutMs?: number;
  /** Words put in front of `node ringrun.js` (e.g. ip netns exec NS). */
  wrapper?: string[];
  /** The script to run instead of ringrun.js. */
  script?: string;
  /** A program to run instead of `node <script>` (args are appended). */
  command?: string[];
}

export interface Running {
  child: ChildProcess;
  tag: string;
  result: Promise<RunResult>;
  /** Resolves when the combined output of `stream` matches `re` (rejects if the run ends first). */
  waitFor(stream: 'stdout' | 'stderr', re: RegExp): Promise<void>;
}

/** The environment without any launcher variables from an enclosing job. */
export function cleanEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    if (/^(RINGTREE_|RANK$|WORLD_SIZE$|LOCAL_RANK$|LOCAL_WORLD_SIZE$|MASTER_ADDR$|MASTER_PORT$|OMPI_|PMI_|SLURM_)/.test(k)) continue;
    out[k] = v;
  }
  return out;
}

/** Pids of live (non-zombie) processes whose environment holds RINGTREE_TEST_TAG=tag. */
export function processesWithTag(tag: string): number[] {
  const needle = Buffer.from(`RINGTREE_TEST_TAG=${tag}\0`);
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'latin1');
      if (/^\d+ \(.*\) Z /s.test(stat)) continue;
      if (fs.readFileSync(`/proc/${name}/environ`).includes(needle)) pids.push(Number(name));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

export function killTagged(tag: string): void {
  for (const pid of processesWithTag(tag)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Polls until no process carries the tag; returns the pids still alive after waitMs. */
export async function waitUntilNoneTagged(tag: string, waitMs = 2000): Promise<number[]> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const pids = processesWithTag(tag);
    if (pids.length === 0 || Date.now() >= deadline) return pids;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const startedTags = new Set<string>();

/** Kills every process of every run started by this test file (use in test.after.always). */
export function reapAll(): void {
  for (const tag of startedTags) killTagged(tag);
}

export function startRingrun(args: readonly string[], opts: RunOptions = {}): Running {
  const tag = randomUUID();
  startedTags.add(tag);
  const env = { ...cleanEnv(), ...opts.env, RINGTREE_TEST_TAG: tag };
  const script = opts.script ?? ringrunJs;
  const argv = [...(opts.wrapper ?? []), ...(opts.command ?? [process.execPath, script]), ...args];
  const started = Date.now();
  const child = spawn(argv[0]!, argv.slice(1), { cwd: opts.cwd ?? repoRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  const waiters: Array<{ stream: 'stdout' | 'stderr'; re: RegExp; resolve: () => void; reject: (e: Error) => void }> = [];
  const check = (): void => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.re.test(out[w.stream])) {
        waiters.splice(i, 1);
        w.resolve();
      }
    }
  };
  child.stdout!.on('data', (d: Buffer) => {
    out.stdout += d.toString();
    check();
  });
  child.stderr!.on('data', (d: Buffer) => {
    out.stderr += d.toString();
    check();
  });
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const result = new Promise<RunResult>((resolve, reject) => {
    const timer = setTimeout(() => {
      killTagged(tag);
      reject(new Error(`ringrun ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
    }, timeoutMs);
    let endedAt = 0;
    child.on('exit', () => {
      endedAt = Date.now();
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      for (const w of waiters.splice(0)) w.reject(new Error(`ringrun ended before ${w.stream} matched ${w.re}\nstdout: ${out.stdout}\nstderr: ${out.stderr}`));
      resolve({ code, signal, stdout: out.stdout, stderr: out.stderr, ms: Date.now() - started, endedAt: endedAt || Date.now(), tag });
    });
  });
  return {
    child,
    tag,
    result,
    waitFor: (stream, re) =>
      new Promise<void>((resolve, reject) => {
        waiters.push({ stream, re, resolve, reject });
        check();
      }),
  };
}

/** Runs ringrun to completion. */
export function runRingrun(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return startRingrun(args, opts).result;
}

/** A rank program as `node -e` arguments. */
export function nodeRank(code: string): string[] {
  return [process.execPath, '-e', code];
}

/** The `RESULT {json}` lines rank scripts print, parsed and ordered by rank. */
export function results(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split('\n')
    .filter((l) => l.includes('RESULT '))
    .map((l) => JSON.parse(l.slice(l.indexOf('RESULT ') + 7)) as Record<string, unknown>)
    .sort((a, b) => (a.rank as number) - (b.rank as number));
}
