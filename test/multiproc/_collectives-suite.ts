// The multi-process collectives suite for one transport, shared by collectives-shm.test.ts and
// collectives-tcp.test.ts (two files so ava runs the transports in parallel).
//
// For each world size P = 1..5 ONE job of P rank processes runs the whole case matrix (every op x
// dtype x algorithm, in and out of place, counts 0, 1, 7 and a multi-chunk "big" count per dtype,
// broadcast/reduce at every root, allGather, reduceScatter, barrier, send/recv, split) with small
// shm rings/chunks and TCP staging; the per-kind tests below then assert on that job's report:
// every case correct on every rank (exact check against test/unit/reduce-reference.ts, done in the
// worker) and, where the result must be the same everywhere, bitwise identical on all ranks.
import test, { type ExecutionContext } from 'ava';

import {
  describeRun, runRanks, runViaRingrun, shmResidue, smallBufferEnv, workerPath, type RunRanksResult, type Transport,
} from '../helpers/ranks.js';
import { identicalOnAllRanks, type Kind, type MatrixSpec, type WorkerReport } from './_cases.js';

const worlds = [1, 2, 3, 4, 5];
const kinds: Kind[] = ['allReduce', 'broadcast', 'reduce', 'allGather', 'reduceScatter', 'barrier', 'sendRecv', 'tagsOutOfOrder', 'exchange', 'inexact', 'split'];

/** The main matrix: small counts plus a ~12 KB count per dtype (3x the 4 KB shm ring). */
export const mainSpec: MatrixSpec = { counts: [0, 1, 7], bigBytes: 12_000 };

/** A second, smaller matrix (P=2) with the default (large) buffer sizes and a 600 KB message (> the
 * 256 KB shm chunk and the 512 KB TCP staging buffer; ring blocks of 300 KB), `auto` deciding by the
 * default thresholds. */
export const defaultBuffersSpec: MatrixSpec = {
  kinds: ['allReduce', 'broadcast', 'allGather', 'reduceScatter'],
  counts: [7],
  bigBytes: 600_000,
  dtypes: ['float32', 'bfloat16', 'int8'],
  ops: ['sum', 'avg'],
};

type Run = RunRanksResult<WorkerReport>;

function runMatrix(P: number, transport: Transport, spec: MatrixSpec, env: Record<string, string>): Promise<Run> {
  return runRanks<WorkerReport>(P, workerPath('collectives'), {
    transport,
    env: { RT_SPEC: JSON.stringify(spec), RINGTREE_TIMEOUT_MS: '60000', ...env },
    timeoutMs: 200_000,
  });
}

/** Asserts the job as a whole: every rank finished, reported, exited 0, left no shm behind.
 * `transport` 'mixed': rank r is on simulated host r % 2 (see defineMixedHostTests). */
export function assertJob(t: ExecutionContext, run: Run, P: number, transport: Transport | 'mixed'): void {
  const why = describeRun(run);
  t.false(run.timedOut, `the job timed out\n${why}`);
  for (const r of run.ranks) {
    t.is(r.code, 0, `rank ${r.rank} exit code\n${why}`);
    t.truthy(r.result, `rank ${r.rank} printed no result\n${why}`);
    if (!r.result) continue;
    t.is(r.result.fatal, undefined, `rank ${r.rank}: ${r.result.fatal}`);
    t.is(r.result.size, P);
    t.is(r.result.rank, r.rank);
    if (P > 1) {
      const sameHost = Array.from({ length: P }, (_, q) => q).filter((q) => q !== r.rank && q % 2 === r.rank % 2).length;
      const expected = transport === 'shm' ? `shm:${P - 1},tcp:0` : transport === 'tcp' ? `shm:0,tcp:${P - 1}` : `shm:${sameHost},tcp:${P - 1 - sameHost}`;
      t.is(r.result.transports, expected, `rank ${r.rank} transports`);
    }
  }
  t.deepEqual(shmResidue(run.jobId), [], 'shared-memory segments left in /dev/shm');
}

/** Asserts every case of `kind`: correct on every rank and, where required, identical bytes. */
export function assertKind(t: ExecutionContext, run: Run, kind: Kind): number {
  const reports = run.ranks.map((r) => r.result);
  if (reports.some((r) => !r)) {
    t.fail(`not every rank reported\n${describeRun(run)}`);
    return 0;
  }
  const mine = (id: string): boolean => id.startsWith(kindPrefix[kind]);
  const failures: string[] = [];
  const byId = new Map<string, Array<{ ok: boolean; error?: string; hash?: string }>>();
  for (const rep of reports) for (const c of rep!.results) if (mine(c.id)) byId.set(c.id, [...(byId.get(c.id) ?? []), c]);
  for (const [id, rs] of byId) {
    if (rs.length !== reports.length) failures.push(`${id}: reported by ${rs.length} of ${reports.length} ranks`);
    for (const r of rs) if (!r.ok) failures.push(`${id}: ${r.error}`);
    if (identicalOnAllRanks.has(kind) && rs.every((r) => r.ok) && new Set(rs.map((r) => r.hash)).size !== 1) {
      failures.push(`${id}: result bytes differ between ranks (${rs.map((r) => r.hash?.slice(0, 8)).join(' ')})`);
    }
  }
  t.deepEqual(failures.slice(0, 30), [], `${failures.length} failing case(s)`);
  return byId.size;
}

const kindPrefix: Record<Kind, string> = {
  allReduce: 'allReduce ',
  broadcast: 'broadcast ',
  reduce: 'reduce ',
  allGather: 'allGather ',
  reduceScatter: 'reduceScatter ',
  barrier: 'barrier',
  sendRecv: 'sendRecv ',
  tagsOutOfOrder: 'send/recv tags out of order',
  exchange: 'exchange: ',
  inexact: 'inexact ',
  split: 'split(',
};

export function defineCollectiveTests(transport: Transport): void {
  // one job per world size, started by its first test; the tests run serially so at most one job
  // of this file runs at a time (the other transport's file runs beside it)
  const runs = new Map<number, Promise<Run>>();
  const jobFor = (P: number): Promise<Run> => {
    let r = runs.get(P);
    if (!r) {
      r = runMatrix(P, transport, mainSpec, { ...smallBufferEnv, RINGTREE_TREE_THRESHOLD_BYTES: '4096' });
      runs.set(P, r);
    }
    return r;
  };

  for (const P of worlds) {
    test.serial(`${transport} P=${P}: the matrix job completes on every rank (exit 0, no shm residue)`, async (t) => {
      t.timeout(240_000);
      const run = await jobFor(P);
      assertJob(t, run, P, transport);
      const n = run.ranks[0]?.result?.results.length ?? 0;
      t.log(`${n} cases per rank in ${run.ms} ms`);
    });
    for (const kind of kinds) {
      if (P === 1 && (kind === 'sendRecv' || kind === 'tagsOutOfOrder' || kind === 'exchange')) continue;
      test.serial(`${transport} P=${P}: ${kind} cases exact and${identicalOnAllRanks.has(kind) ? ' bitwise identical on all ranks' : ' correct on every rank'}`, async (t) => {
        t.timeout(240_000);
        const run = await jobFor(P);
        const n = assertKind(t, run, kind);
        t.true(n > 0, `no ${kind} case ran`);
      });
    }
  }

  test.serial(`${transport} P=4 launched by ringrun (RINGTREE_* env, launcher-hosted store), RINGTREE_ALGO=allreduce:rhd,broadcast:ring: allReduce, broadcast, allGather, reduceScatter, split`, async (t) => {
    t.timeout(240_000);
    const spec: MatrixSpec = {
      kinds: ['allReduce', 'broadcast', 'allGather', 'reduceScatter', 'split'], counts: [1, 7], bigBytes: 12_000,
      ops: ['sum', 'avg', 'max'], dtypes: ['float32', 'int8', 'bfloat16', 'int64'],
    };
    const run = await runViaRingrun<WorkerReport>(4, workerPath('collectives'), {
      transport,
      env: { RT_SPEC: JSON.stringify(spec), RINGTREE_TIMEOUT_MS: '60000', RINGTREE_ALGO: 'allreduce:rhd,broadcast:ring', ...smallBufferEnv },
      timeoutMs: 200_000,
    });
    assertJob(t, run, 4, transport);
    t.regex(run.jobId, /^[0-9a-f]{12}$/, 'the job id ringrun chose (reported by the ranks)');
    let n = 0;
    for (const kind of spec.kinds!) n += assertKind(t, run, kind);
    t.log(`${n} cases in ${run.ms} ms`);
  });

  test.serial(`${transport} P=2 default buffer sizes: 600 KB allReduce (every algorithm), broadcast, allGather, reduceScatter`, async (t) => {
    t.timeout(240_000);
    const run = await runMatrix(2, transport, defaultBuffersSpec, {});
    assertJob(t, run, 2, transport);
    let n = 0;
    for (const kind of defaultBuffersSpec.kinds!) n += assertKind(t, run, kind);
    t.log(`${n} cases in ${run.ms} ms`);
  });
}

/**
 * Ranks on two simulated hosts (RINGTREE_HOST_ID = r % 2, interleaved): every job mixes shared
 * memory (same host) and TCP (other host) pairs, so rings and trees cross both transports.
 */
export function defineMixedHostTests(): void {
  for (const P of [3, 4, 5]) {
    test.serial(`mixed shm+tcp (2 simulated hosts, interleaved ranks) P=${P}: the whole matrix exact and identical`, async (t) => {
      t.timeout(240_000);
      const run = await runRanks<WorkerReport>(P, workerPath('collectives'), {
        env: (r) => ({
          RT_SPEC: JSON.stringify(mainSpec), RINGTREE_TIMEOUT_MS: '60000', ...smallBufferEnv,
          RINGTREE_TREE_THRESHOLD_BYTES: '4096', RINGTREE_HOST_ID: `simhost${r % 2}`,
        }),
        timeoutMs: 200_000,
      });
      assertJob(t, run, P, 'mixed');
      let n = 0;
      for (const kind of kinds) n += assertKind(t, run, kind);
      t.log(`${n} cases in ${run.ms} ms`);
    });
  }
}
