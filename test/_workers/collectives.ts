// Rank worker of the collectives matrix: joins the job from the environment, builds the case list
// from RT_SPEC (JSON MatrixSpec) exactly as the test does, runs every case in order and prints one
// result line with a per-case report. A rejected op fails the communicator for good (sticky), so
// the worker stops at the first rejection and says so in `fatal`.
import { init } from '../../lib/index.js';
import { buildCases, type CaseResult, type MatrixSpec, type WorkerReport } from '../multiproc/_cases.js';
import { emit } from './_common.js';
import { runCase } from './_run-case.js';

const t0 = Date.now();
const comm = await init();
const spec = JSON.parse(process.env.RT_SPEC ?? '{"counts":[1]}') as MatrixSpec;
const cases = buildCases(comm.size, spec);
const results: CaseResult[] = [];
let fatal: string | undefined;
for (const c of cases) {
  const r = await runCase(comm, c);
  results.push(r);
  if (!r.ok && r.code) {
    fatal = `stopped at case "${c.id}" (${results.length}/${cases.length}): ${r.error}`;
    break;
  }
}
const report: WorkerReport = { rank: comm.rank, jobId: process.env.RINGTREE_JOB_ID, size: comm.size, transports: comm.stats().transports, results, ms: Date.now() - t0 };
if (fatal) report.fatal = fatal;
emit(report);
await comm.destroy();
