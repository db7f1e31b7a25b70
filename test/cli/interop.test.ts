// Ranks started without ringrun join a job the same way (DESIGN.md section 3): torchrun-style env,
// Open MPI's mpirun (skipped if not installed) and a Slurm srun-like env, each with rank 0 hosting
// the store on MASTER_ADDR:MASTER_PORT.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { reapAll, repoRoot, runRingrun, type RunResult } from '../helpers/launcher.js';

test.after.always(reapAll);

const worker = path.join(repoRoot, 'dist/test/cli/_workers/allreduce-loop.js');
const built = ['dist/lib/index.js', 'build/Release/ringtree.node'].every((f) => fs.existsSync(path.join(repoRoot, f)));
const mpirun = spawnSync('mpirun', ['--version'], { encoding: 'utf8' });
const hasOpenMpi = !mpirun.error && mpirun.status === 0 && /Open MPI|OpenRTE/i.test(mpirun.stdout + mpirun.stderr);

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function results(r: RunResult[]): Array<Record<string, unknown>> {
  return r
    .flatMap((x) => x.stdout.split('\n'))
    .filter((l) => l.startsWith('RESULT '))
    .map((l) => JSON.parse(l.slice(7)) as Record<string, unknown>)
    .sort((a, b) => (a.rank as number) - (b.rank as number));
}

/** Starts `size` ranks of the worker directly, with envOf(rank) on top of the test environment. */
async function startDirect(size: number, envOf: (rank: number, port: number) => Record<string, string>): Promise<RunResult[]> {
  const port = await freePort();
  return Promise.all(Array.from({ length: size }, (_, rank) => runRingrun([], { script: worker, env: { OPS: '5', ...envOf(rank, port) } })));
}

function check(t: import('ava').ExecutionContext, runs: RunResult[], size: number): void {
  for (const r of runs) t.is(r.code, 0, r.stderr);
  const ranks = results(runs);
  t.deepEqual(ranks.map((x) => x.rank), Array.from({ length: size }, (_, i) => i));
  for (const x of ranks) t.like(x, { size, localSize: size, localRank: x.rank });
}

const ctest = built ? test.serial : test.skip;

ctest('torchrun-style env (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT)', async (t) => {
  const runs = await startDirect(3, (rank, port) => ({
    RANK: String(rank), WORLD_SIZE: '3', LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: '3', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port),
  }));
  check(t, runs, 3);
});

ctest('Slurm srun-like env (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID)', async (t) => {
  const runs = await startDirect(2, (rank, port) => ({
    SLURM_PROCID: String(rank), SLURM_NTASKS: '2', SLURM_LOCALID: String(rank), SLURM_NTASKS_PER_NODE: '2', MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port),
  }));
  check(t, runs, 2);
});

(built && hasOpenMpi ? test.serial : test.skip)(`Open MPI mpirun${hasOpenMpi ? '' : ' (skipped: Open MPI mpirun is not installed)'}`, async (t) => {
  const port = await freePort();
  const args = ['--oversubscribe', '-np', '2', '-x', 'MASTER_ADDR=127.0.0.1', '-x', `MASTER_PORT=${port}`, '-x', 'OPS=5', process.execPath, worker];
  const r = await runRingrun(args, {
    command: ['mpirun'],
    env: { OMPI_ALLOW_RUN_AS_ROOT: '1', OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: '1', OMPI_MCA_rmaps_base_oversubscribe: '1' },
    timeoutMs: 60_000,
  });
  check(t, [r], 2);
});
