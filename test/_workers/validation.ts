// Rank worker: every invalid call of _invalid-calls.ts on a real multi-rank communicator, then a
// valid collective (invalid arguments are rejected before any byte moves, so nothing is sticky).
import { init } from '../../lib/index.js';
import { emit, errorInfo } from './_common.js';
import { invalidCalls } from './_invalid-calls.js';

const comm = await init();
const results = [];
for (const c of invalidCalls(comm)) {
  let sync = false;
  let p: Promise<unknown> | undefined;
  try {
    p = c.call();
  } catch {
    sync = true;
  }
  let info;
  try {
    await p;
    info = { name: 'resolved', message: '' };
  } catch (error) {
    info = errorInfo(error);
  }
  results.push({ what: c.what, op: c.op, sync, ...info, matches: c.message.test(info.message), namesOp: info.message.startsWith(`${c.op}: `) });
}
const buf = Float64Array.from([comm.rank + 1, 10]);
await comm.allReduce(buf, { timeoutMs: 30_000 });
emit({ rank: comm.rank, results, after: [...buf] });
await comm.destroy();
