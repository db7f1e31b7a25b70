// Rank program for launcher tests that use the real communicator: OPS all-reduces of a small
// Float64Array, checked exactly. With CRASH_RANK set, that rank prints `CRASH <ms>` and kills itself
// (SIGKILL) before op CRASH_AT; the others then fail with a typed error, print it and exit 3.
// On success each rank prints one `RESULT {...}` line (layout and transports).

import { init } from '../../../lib/index.js';

const comm = await init();
const ops = Number(process.env.OPS ?? '10');
const crashRank = process.env.CRASH_RANK === undefined ? -1 : Number(process.env.CRASH_RANK);
const crashAt = Number(process.env.CRASH_AT ?? '0');
const buf = new Float64Array(4096);
const expected = (comm.size * (comm.size + 1)) / 2;
try {
  for (let i = 0; i < ops; i++) {
    if (comm.rank === crashRank && i === crashAt) {
      console.log(`CRASH ${Date.now()} ${process.env.RINGTREE_JOB_ID}`);
      process.kill(process.pid, 'SIGKILL');
    }
    buf.fill(comm.rank + 1);
    await comm.allReduce(buf);
    if (buf.some((v) => v !== expected)) throw new Error(`op ${i}: wrong sum ${buf[0]}, expected ${expected}`);
  }
  const { rank, size, localRank, localSize, hostname } = comm;
  console.log(`RESULT ${JSON.stringify({ rank, size, localRank, localSize, hostname, transports: comm.stats().transports })}`);
  await comm.destroy();
} catch (err) {
  const e = err as { code?: string; message?: string };
  console.error(`rank ${comm.rank} caught ${e.code}: ${e.message}`);
  process.exitCode = 3;
  await comm.destroy().catch(() => {});
}
