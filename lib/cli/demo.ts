// `ringtree demo` (what `npm start` runs under ringrun): checks that ring, tree and halving-doubling
// all-reduce agree bit for bit on every rank, tours the other collectives, and prints a small
// busbw/latency table. Needs no external data.
import { createHash } from 'node:crypto';

import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';

import type { Communicator } from '../communicator.js';
import { init } from '../init.js';
import type { Algorithm } from '../types.js';

interface DemoArgs {
  maxBytes: number;
}

function digest(buf: ArrayBufferView): Buffer {
  return createHash('sha256').update(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength)).digest();
}

async function agreeEverywhere(comm: Communicator, bytes: Buffer): Promise<boolean> {
  const all = new Uint8Array(32 * comm.size);
  await comm.allGather(new Uint8Array(bytes), all);
  for (let r = 1; r < comm.size; r++) {
    if (Buffer.compare(Buffer.from(all.subarray(0, 32)), Buffer.from(all.subarray(32 * r, 32 * r + 32))) !== 0) return false;
  }
  return true;
}

async function timeAllReduce(comm: Communicator, buf: Float32Array, algorithm: Algorithm): Promise<number> {
  const iters = Math.max(5, Math.min(200, Math.floor((64 << 20) / Math.max(buf.byteLength, 1))));
  for (let i = 0; i < 3; i++) await comm.allReduce(buf, { algorithm });
  await comm.barrier();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++) await comm.allReduce(buf, { algorithm });
  const us = Number(process.hrtime.bigint() - t0) / 1000 / iters;
  const t = new Float64Array([us]);
  await comm.allReduce(t, { op: 'max' });
  return t[0]!;
}

async function demo(args: DemoArgs): Promise<void> {
  const comm = await init();
  const say = (line: string): void => {
    if (comm.rank === 0) process.stdout.write(`${line}\n`);
  };
  say(`ringtree demo: ${comm.size} rank(s), transports ${comm.stats().transports}`);

  // 1. the three all-reduce algorithms give the same, exact answer on every rank
  const n = 1_000_003; // odd and not divisible by the world size
  const value = (rank: number, i: number): number => ((rank * 7 + i) % 13) - 6;
  const results: Buffer[] = [];
  for (const algorithm of ['ring', 'tree', 'rhd'] as const) {
    const buf = new Float32Array(n);
    for (let i = 0; i < n; i++) buf[i] = value(comm.rank, i);
    await comm.allReduce(buf, { algorithm });
    let wrong = 0;
    for (let i = 0; i < n; i++) {
      let expect = 0;
      for (let r = 0; r < comm.size; r++) expect += value(r, i);
      if (buf[i] !== expect) wrong++;
    }
    const d = digest(buf);
    const same = await agreeEverywhere(comm, d);
    results.push(d);
    say(`  allReduce ${algorithm.padEnd(4)} ${n} floats: ${wrong === 0 ? 'exact' : `${wrong} WRONG`}, ${same ? 'bit-identical on all ranks' : 'DIFFERS between ranks'}`);
    if (wrong || !same) process.exitCode = 1;
  }
  const agree = results.every((d) => d.equals(results[0]!));
  say(`  ring, tree and rhd agree: ${agree ? 'yes' : 'NO'}`);
  if (!agree) process.exitCode = 1;

  // 2. the other collectives, briefly
  const b = new Int32Array(4);
  if (comm.rank === 0) b.set([1, 2, 3, 4]);
  await comm.broadcast(b, { root: 0 });
  const g = new Int32Array(comm.size);
  await comm.allGather(new Int32Array([comm.rank * 10]), g);
  const rs = new Float64Array(1);
  await comm.reduceScatter(new Float64Array(comm.size).fill(comm.rank + 1), rs, { op: 'sum' });
  say(`  broadcast -> [${Array.from(b).join(', ')}]; allGather -> [${Array.from(g).join(', ')}]; reduceScatter -> ${rs[0]}`);

  // 3. a small benchmark table
  say('');
  say('  size        ring us   tree us   auto us   auto busbw GB/s');
  const big = new Float32Array(args.maxBytes / 4).fill(1);
  for (let bytes = 8; bytes <= args.maxBytes; bytes *= 16) {
    const buf = big.subarray(0, bytes / 4);
    const ring = await timeAllReduce(comm, buf, 'ring');
    const tree = await timeAllReduce(comm, buf, 'tree');
    const auto = await timeAllReduce(comm, buf, 'auto');
    const busbw = comm.size > 1 ? (bytes / auto / 1e3) * (2 * (comm.size - 1)) / comm.size : 0;
    say(`  ${String(bytes).padStart(9)}  ${ring.toFixed(1).padStart(8)}  ${tree.toFixed(1).padStart(8)}  ${auto.toFixed(1).padStart(8)}   ${busbw.toFixed(2)}`);
  }
  say('\nNext: `npm test`, `ringrun -np 2 ringtree bench allreduce`, and README.md.');
  await comm.destroy();
}

export const demoCommand: CommandModule<object, DemoArgs> = {
  command: 'demo',
  describe: 'a short tour of the collectives: ring/tree/rhd agreement and a small benchmark (run under ringrun)',
  builder: (y: Argv) =>
    y.option('max-bytes', { type: 'number', default: 16 << 20, describe: 'largest message in the benchmark table' }) as unknown as Argv<DemoArgs>,
  handler: async (argv: ArgumentsCamelCase<DemoArgs>) => {
    await demo({ maxBytes: argv.maxBytes });
  },
};
