// Rank worker of the failure tests (test/multiproc/failure.test.ts). RT_MODE selects the scenario;
// every rank prints one result line (ranks that get killed print none).
//   loop      every rank all-reduces in a loop until an op rejects (the test SIGKILLs one rank
//             meanwhile, or rank RT_EXIT_RANK calls process.exit(0) after 5 ops); records when
//             and how the op rejected, then whether later ops reject too
//   silent    rank 0 all-reduces with timeoutMs 1000 while rank 1 never joins
//   mismatch  on fresh sub-communicators, rank 0 and the others issue different collectives
//             (op, count, dtype, reduce op); records every rank's error
//   abort     rank 0's op is aborted through its AbortSignal; an already aborted signal; sticky
//   sigterm   rank 1 has an op pending when the test sends it SIGTERM: it prints the rejection
//   bystander rank 0 has a recv from rank 2 pending when the test kills rank 1
//   staleprobe  a barrier where rank 1 waits long (stall probes), then a p2p op between 0 and 2
//   resize    rank 0 shrinks a resizable ArrayBuffer while its allReduce is in flight
//   transfer  rank 0 transfers (detaches) its buffer away while its allReduce is in flight, then GCs
//   p2pmismatch  a recv expecting another size than the matching send
//   barrier   the last rank enters a barrier late; records when each rank entered and left it
//   exchange  both ranks issue send then recv of a large message (simultaneous exchange)
import { init, type Communicator } from '../../lib/index.js';
import { emit, errorInfo, say, type ErrorInfo } from './_common.js';

const mode = process.env.RT_MODE ?? 'loop';
const comm = await init();
const { rank, size } = comm;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function outcome(p: Promise<unknown>): Promise<{ ok: true; ms: number } | (ErrorInfo & { ok: false; ms: number; at: number })> {
  const t0 = Date.now();
  try {
    await p;
    return { ok: true, ms: Date.now() - t0 };
  } catch (error) {
    return { ok: false, ms: Date.now() - t0, at: Date.now(), ...errorInfo(error) };
  }
}

switch (mode) {
  case 'loop': {
    const buf = new Float32Array(1 << 16);
    let iterations = 0;
    let first: Awaited<ReturnType<typeof outcome>> | undefined;
    const stopAt = Date.now() + 60_000;
    while (Date.now() < stopAt) {
      buf.fill(rank + 1);
      const r = await outcome(comm.allReduce(buf, { timeoutMs: 30_000 }));
      if (!r.ok) {
        first = r;
        break;
      }
      iterations++;
      if (iterations === 3) say(`LOOPING ${rank}`);
      if (rank === Number(process.env.RT_EXIT_RANK ?? -1) && iterations === 5) {
        // leave the job abruptly but cleanly (no destroy) while the others are in their next op
        say(`EXITING ${Date.now()}`);
        process.exit(0);
      }
    }
    const later = await outcome(comm.barrier({ timeoutMs: 30_000 }));
    const later2 = await outcome(comm.allReduce(new Float64Array(3), { timeoutMs: 30_000 }));
    emit({ rank, iterations, first, later, later2 });
    break;
  }
  case 'silent': {
    if (rank === 0) {
      const r = await outcome(comm.allReduce(new Float32Array(1000), { timeoutMs: 1000 }));
      const later = await outcome(comm.barrier({ timeoutMs: 5000 }));
      emit({ rank, first: r, later });
    } else {
      // stay silent until rank 0 has given up, then leave without issuing anything
      await sleep(4000);
      emit({ rank });
    }
    break;
  }
  case 'mismatch': {
    const variants = ['op', 'count', 'dtype', 'redop'] as const;
    const results: Record<string, unknown> = {};
    for (const v of variants) {
      const sub = (await comm.split(0)) as Communicator;
      const b = new Float32Array(13).fill(1);
      const o = { timeoutMs: 8000 };
      let p: Promise<unknown>;
      if (v === 'op') p = rank === 0 ? sub.allReduce(b, o) : sub.broadcast(b, o);
      else if (v === 'count') p = sub.allReduce(rank === 0 ? b : new Float32Array(14), o);
      else if (v === 'dtype') p = sub.allReduce(rank === 0 ? b : new Int32Array(13), o);
      else p = sub.allReduce(b, { ...o, op: rank === 0 ? 'sum' : 'max' });
      results[v] = await outcome(p);
      await sub.destroy();
      await comm.barrier({ timeoutMs: 30_000 }); // the parent is unaffected
    }
    emit({ rank, results });
    break;
  }
  case 'abort': {
    if (rank === 0) {
      const pre = new AbortController();
      pre.abort(new Error('cancelled before the op started'));
      const ac = new AbortController();
      setTimeout(() => ac.abort(new Error('user gave up')), 300);
      const first = await outcome(comm.allReduce(new Float32Array(1000), { signal: ac.signal }));
      const later = await outcome(comm.barrier());
      // an op with an already aborted signal (the communicator is aborted by now anyway)
      const preAborted = await outcome(comm.broadcast(new Uint8Array(4), { signal: pre.signal }));
      emit({ rank, first, later, preAborted });
    } else {
      // joins rank 0's op only after rank 0 aborted it: fails because rank 0 is gone
      await sleep(1500);
      const later = await outcome(comm.allReduce(new Float32Array(1000), { timeoutMs: 10_000 }));
      emit({ rank, later });
    }
    break;
  }
  case 'sigterm': {
    if (rank === 1) {
      comm.allReduce(new Float32Array(1000)).then(
        () => say('RESOLVED'),
        (error: unknown) => {
          const e = errorInfo(error);
          say(`REJECTED ${e.code} ${e.message}`);
        },
      );
      say('PENDING');
      await sleep(60_000); // the test sends SIGTERM
      emit({ rank, note: 'not terminated' });
    } else {
      // rank 0 joins the op only after rank 1 is gone: it may still complete (rank 1's contribution
      // was already in flight when it aborted) or fail, but must not hang; the next op fails
      await sleep(2000);
      const later = await outcome(comm.allReduce(new Float32Array(1000), { timeoutMs: 20_000 }));
      const later2 = await outcome(comm.barrier({ timeoutMs: 20_000 }));
      emit({ rank, later, later2 });
    }
    break;
  }
  case 'bystander': {
    // rank 0 waits for a message from rank 2 (pending, not involving rank 1) while rank 2 is busy
    // elsewhere (a legitimate wait, no deadlock); the test SIGKILLs rank 1: rank 0's pending op must
    // fail (sticky failure), not wait for its timeout. No collective first: its stall probes would
    // mix into this scenario (see 'staleprobe').
    if (rank === 1) {
      say('READY 1');
      await sleep(60_000);
      break;
    }
    if (rank === 0) {
      const p = comm.recv(new Float32Array(4), 2, { timeoutMs: 8000 });
      say('READY 0');
      const first = await outcome(p);
      emit({ rank, first });
    } else {
      say('READY 2');
      await sleep(7000); // "computing": stays alive until rank 0 has given up on rank 1 (or timed out)
      emit({ rank });
    }
    break;
  }
  case 'staleprobe': {
    // A correct program: rank 1 waits in a barrier > 200 ms for ranks 0 and 2 (so it sends stall
    // probes), then rank 0 receives from rank 2, which sends after 1 s.
    if (rank !== 1) await sleep(1000);
    await comm.barrier({ timeoutMs: 20_000 });
    let first;
    if (rank === 0) first = await outcome(comm.recv(new Float32Array(4), 2, { timeoutMs: 20_000 }));
    else if (rank === 2) {
      await sleep(1000);
      first = await outcome(comm.send(new Float32Array(4), 0, { timeoutMs: 20_000 }));
    } else first = { ok: true, ms: 0 };
    emit({ rank, first });
    break;
  }
  case 'resize': {
    // rank 0 issues an allReduce on a length-tracking view of a resizable ArrayBuffer and shrinks
    // the buffer to 0 while the op waits for rank 1 (misuse: buffers are pinned while in flight);
    // the runtime must reject (up front or when it notices), not crash the process
    const n = 1 << 20;
    if (rank === 0) {
      type Resizable = ArrayBuffer & { resize(bytes: number): void };
      const ResizableBuffer = ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => Resizable;
      const ab = new ResizableBuffer(n * 4, { maxByteLength: n * 4 });
      const a = new Float32Array(ab).fill(1);
      const p = comm.allReduce(a, { timeoutMs: 10_000 });
      ab.resize(0);
      const first = await outcome(p);
      emit({ rank, first });
    } else {
      await sleep(500);
      const first = await outcome(comm.allReduce(new Float32Array(n).fill(2), { timeoutMs: 10_000 }));
      emit({ rank, first });
    }
    break;
  }
  case 'transfer': {
    // rank 0 detaches its buffer (transfers it to a clone it drops) while its allReduce waits for
    // rank 1, then collects garbage (run with --expose-gc); the runtime must not use freed memory
    const n = 1 << 20;
    if (rank === 0) {
      const a = new Float32Array(n).fill(1);
      const p = comm.allReduce(a, { timeoutMs: 10_000 });
      structuredClone(a.buffer, { transfer: [a.buffer] });
      const gc = (globalThis as { gc?: () => void }).gc;
      for (let i = 0; i < 20; i++) {
        gc?.();
        const junk: Float32Array[] = [];
        for (let k = 0; k < 50; k++) junk.push(new Float32Array(n).fill(k));
      }
      const first = await outcome(p);
      emit({ rank, first });
    } else {
      await sleep(1500);
      const b = new Float32Array(n).fill(2);
      const first = await outcome(comm.allReduce(b, { timeoutMs: 10_000 }));
      emit({ rank, first, b0: b[0] });
    }
    break;
  }
  case 'p2pmismatch': {
    // rank 0 sends 13 floats with tag 5, rank 1 receives 14 with tag 5
    const o = { tag: 5, timeoutMs: 8000 };
    const first = await outcome(rank === 0 ? comm.send(new Float32Array(13), 1, o) : comm.recv(new Float32Array(14), 0, o));
    emit({ rank, first });
    break;
  }
  case 'barrier': {
    // the last rank enters the barrier 1.5 s late; nobody may leave before it entered
    await comm.barrier();
    if (rank === size - 1) await sleep(1500);
    const entered = Date.now();
    await comm.barrier({ timeoutMs: 30_000 });
    emit({ rank, entered, left: Date.now() });
    break;
  }
  case 'exchange': {
    const n = Number(process.env.RT_COUNT ?? 5003);
    const peer = rank ^ 1;
    if (peer < size) {
      const out = new Float64Array(n).fill(rank + 1);
      const inb = new Float64Array(n);
      const r = await outcome(Promise.all([comm.send(out, peer, { timeoutMs: 5000 }), comm.recv(inb, peer, { timeoutMs: 5000 })]));
      emit({ rank, r, correct: r.ok && inb.every((x) => x === peer + 1) });
    } else {
      emit({ rank });
    }
    break;
  }
  default:
    throw new Error(`unknown RT_MODE ${mode}`);
}
await comm.destroy().catch(() => {});
process.exit(0);
