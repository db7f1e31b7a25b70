// Every invalid argument the Communicator API must reject with ERR_RINGTREE_INVALID_ARGUMENT before
// any byte moves, with a message naming the op and what is wrong. Shared by the single-process unit
// test (test/unit/communicator-validation.test.ts, size 1) and the 2-rank worker
// (test/_workers/validation.ts), so both sizes check the same list.
import type { Communicator } from '../../lib/index.js';

export interface InvalidCall {
  /** What is wrong, for test titles. */
  what: string;
  /** The op the message must start with. */
  op: string;
  /** The message must match. */
  message: RegExp;
  call: () => Promise<unknown>;
  /** Only meaningful when another rank exists (checks that come after the peer check). */
  needsPeer?: boolean;
}

/** A typed array on a resizable ArrayBuffer (ES2024; typed by hand for the ES2023 lib). */
export function resizableView(): Float32Array {
  const Resizable = ArrayBuffer as unknown as new (bytes: number, o: { maxByteLength: number }) => ArrayBuffer;
  return new Float32Array(new Resizable(16, { maxByteLength: 64 }));
}

/** A typed array whose ArrayBuffer has been transferred away (detached). */
export function detached(): Float32Array {
  const a = new Float32Array(4);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a;
}

export function invalidCalls(comm: Communicator): InvalidCall[] {
  const S = comm.size;
  const me = comm.rank;
  const f4 = (): Float32Array => new Float32Array(4);
  const any = (x: unknown): never => x as never;
  const rankRange = new RegExp(`must be an integer rank in 0\\.\\.${S - 1}`);
  const calls: InvalidCall[] = [
    // roots
    { what: 'broadcast root = size', op: 'broadcast', message: new RegExp(`root ${rankRange.source}, got ${S}`), call: () => comm.broadcast(f4(), { root: S }) },
    { what: 'broadcast root -1', op: 'broadcast', message: /root must be an integer rank.*got -1/, call: () => comm.broadcast(f4(), { root: -1 }) },
    { what: 'broadcast root 0.5', op: 'broadcast', message: /root must be an integer rank.*got 0\.5/, call: () => comm.broadcast(f4(), { root: 0.5 }) },
    { what: 'broadcast root "0" (string)', op: 'broadcast', message: /root must be an integer rank/, call: () => comm.broadcast(f4(), { root: any('0') }) },
    { what: 'reduce root = size + 3', op: 'reduce', message: new RegExp(`root ${rankRange.source}, got ${S + 3}`), call: () => comm.reduce(f4(), { root: S + 3 }) },
    { what: 'reduce root NaN', op: 'reduce', message: /root must be an integer rank.*got NaN/, call: () => comm.reduce(f4(), { root: NaN }) },
    // lengths
    { what: 'allGather recv too long', op: 'allGather', message: new RegExp(`recv has ${S * 4 + 1} elements but must have size x send.length = ${S} x 4 = ${S * 4}`), call: () => comm.allGather(f4(), new Float32Array(S * 4 + 1)) },
    { what: 'allGather recv too short', op: 'allGather', message: /recv has 3 elements but must have size x send.length/, call: () => comm.allGather(f4(), new Float32Array(3)) },
    { what: 'reduceScatter send too short', op: 'reduceScatter', message: new RegExp(`send has ${S * 2 - 1} elements but must have size x recv.length = ${S} x 2 = ${S * 2}`), call: () => comm.reduceScatter(new Float32Array(S * 2 - 1), new Float32Array(2)) },
    { what: 'reduceScatter send too long', op: 'reduceScatter', message: /send has .* elements but must have size x recv.length/, call: () => comm.reduceScatter(new Float32Array(S * 2 + 2), new Float32Array(2)) },
    // types
    { what: 'allReduce plain array', op: 'allReduce', message: /buffer must be a Float32Array.*got Array/, call: () => comm.allReduce(any([1, 2, 3])) },
    { what: 'allReduce Uint16Array without dtype', op: 'allReduce', message: /Uint16Array.*dtype: 'float16'.*'bfloat16'/, call: () => comm.allReduce(new Uint16Array(4)) },
    { what: 'allReduce Uint16Array with dtype int16', op: 'allReduce', message: /Uint16Array.*dtype/, call: () => comm.allReduce(new Uint16Array(4), { dtype: any('int16') }) },
    { what: 'allReduce DataView', op: 'allReduce', message: /got DataView/, call: () => comm.allReduce(any(new DataView(new ArrayBuffer(8)))) },
    { what: 'allReduce ArrayBuffer', op: 'allReduce', message: /got ArrayBuffer/, call: () => comm.allReduce(any(new ArrayBuffer(8))) },
    { what: 'allReduce Int16Array (unsupported type)', op: 'allReduce', message: /got Int16Array/, call: () => comm.allReduce(any(new Int16Array(4))) },
    { what: 'allReduce Uint8ClampedArray (unsupported type)', op: 'allReduce', message: /got Uint8ClampedArray/, call: () => comm.allReduce(any(new Uint8ClampedArray(4))) },
    { what: 'allReduce null', op: 'allReduce', message: /buffer must be a .*got null/, call: () => comm.allReduce(any(null)) },
    { what: 'allReduce Float32Array with dtype float16', op: 'allReduce', message: /dtype 'float16' does not match buffer \(float32\)/, call: () => comm.allReduce(f4(), { dtype: 'float16' }) },
    { what: 'broadcast plain array', op: 'broadcast', message: /buffer must be a .*got Array/, call: () => comm.broadcast(any([0])) },
    { what: 'send Uint16Array without dtype', op: 'send', message: /Uint16Array/, call: () => comm.send(new Uint16Array(2), (me + 1) % Math.max(S, 2)) },
    { what: 'allGather send/recv types differ', op: 'allGather', message: /recv must be float32 like send, got int32/, call: () => comm.allGather(f4(), any(new Int32Array(S * 4))) },
    { what: 'reduceScatter send/recv types differ', op: 'reduceScatter', message: /recv must be float64 like send, got float32/, call: () => comm.reduceScatter(new Float64Array(S * 2), any(new Float32Array(2))) },
    // out
    { what: 'allReduce out of another type', op: 'allReduce', message: /out must be the same type as the input \(float32\), got int32/, call: () => comm.allReduce(f4(), { out: any(new Int32Array(4)) }) },
    { what: 'allReduce out of another length', op: 'allReduce', message: /out has 3 elements but the input has 4/, call: () => comm.allReduce(f4(), { out: new Float32Array(3) }) },
    {
      what: 'allReduce out partially overlapping the input', op: 'allReduce', message: /out partially overlaps the input/,
      call: () => {
        const whole = new Float32Array(8);
        return comm.allReduce(whole.subarray(0, 4), { out: whole.subarray(2, 6) });
      },
    },
    {
      what: 'allReduce out overlapping by one element', op: 'allReduce', message: /partially overlaps/,
      call: () => {
        const whole = new Float64Array(7);
        return comm.allReduce(whole.subarray(0, 4), { out: whole.subarray(3, 7) });
      },
    },
    {
      what: 'reduceScatter send and recv overlap', op: 'reduceScatter', message: /send and recv overlap/,
      call: () => {
        const whole = new Int32Array(S * 2 + 2);
        return comm.reduceScatter(whole.subarray(0, S * 2), whole.subarray(S * 2 - 1, S * 2 + 1));
      },
    },
    // detached buffers
    { what: 'allReduce detached buffer', op: 'allReduce', message: /input buffer is detached/, call: () => comm.allReduce(detached()) },
    { what: 'allReduce detached out', op: 'allReduce', message: /detached|out has 0 elements/, call: () => comm.allReduce(new Float32Array(0), { out: detached() }) },
    { what: 'broadcast detached buffer', op: 'broadcast', message: /detached/, call: () => comm.broadcast(detached()) },
    { needsPeer: true, what: 'recv detached buffer', op: 'recv', message: /detached/, call: () => comm.recv(detached(), (me + 1) % Math.max(S, 2)) },
    // resizable buffers (could shrink while the op is in flight)
    { what: 'allReduce view of a resizable ArrayBuffer', op: 'allReduce', message: /resizable ArrayBuffers are not accepted/, call: () => comm.allReduce(resizableView()) },
    { what: 'allReduce out on a resizable ArrayBuffer', op: 'allReduce', message: /resizable/, call: () => comm.allReduce(f4(), { out: resizableView() }) },
    // names
    { what: "allReduce op 'mean'", op: 'allReduce', message: /op must be one of sum, avg, prod, min, max, got mean/, call: () => comm.allReduce(f4(), { op: any('mean') }) },
    { what: "reduce op 'SUM'", op: 'reduce', message: /op must be one of .*got SUM/, call: () => comm.reduce(f4(), { op: any('SUM') }) },
    { what: "reduceScatter op 'xor'", op: 'reduceScatter', message: /op must be one of .*got xor/, call: () => comm.reduceScatter(new Float32Array(S), new Float32Array(1), { op: any('xor') }) },
    { what: "allReduce algorithm 'butterfly'", op: 'allReduce', message: /algorithm must be one of auto, ring, tree, rhd, got butterfly/, call: () => comm.allReduce(f4(), { algorithm: any('butterfly') }) },
    { what: "broadcast algorithm 'chain'", op: 'broadcast', message: /algorithm must be one of .*got chain/, call: () => comm.broadcast(f4(), { algorithm: any('chain') }) },
    { what: "reduce algorithm 'fast'", op: 'reduce', message: /algorithm must be one of .*got fast/, call: () => comm.reduce(f4(), { algorithm: any('fast') }) },
    // timeouts
    { what: 'timeoutMs 0', op: 'allReduce', message: /timeoutMs must be a positive number of milliseconds, got 0/, call: () => comm.allReduce(f4(), { timeoutMs: 0 }) },
    { what: 'timeoutMs -5', op: 'barrier', message: /timeoutMs must be a positive number.*got -5/, call: () => comm.barrier({ timeoutMs: -5 }) },
    { what: 'timeoutMs NaN', op: 'broadcast', message: /timeoutMs must be a positive number.*got NaN/, call: () => comm.broadcast(f4(), { timeoutMs: NaN }) },
    { what: "timeoutMs '100' (string)", op: 'allGather', message: /timeoutMs must be a positive number.*got 100/, call: () => comm.allGather(f4(), new Float32Array(S * 4), { timeoutMs: any('100') }) },
    // peers and tags
    { what: 'send to self', op: 'send', message: new RegExp(`peer must be another rank than this one \\(${me}\\)`), call: () => comm.send(f4(), me) },
    { what: 'recv from self', op: 'recv', message: /peer must be another rank/, call: () => comm.recv(f4(), me) },
    { what: 'send to peer = size', op: 'send', message: new RegExp(`peer ${rankRange.source}, got ${S}`), call: () => comm.send(f4(), S) },
    { what: 'recv from peer -1', op: 'recv', message: /peer must be an integer rank.*got -1/, call: () => comm.recv(f4(), -1) },
    { what: 'send to peer 0.5', op: 'send', message: /peer must be an integer rank.*got 0\.5/, call: () => comm.send(f4(), 0.5) },
    { needsPeer: true, what: 'send tag -1', op: 'send', message: /tag must be an integer in 0\.\.4294967295, got -1/, call: () => comm.send(f4(), (me + 1) % Math.max(S, 2), { tag: -1 }) },
    { needsPeer: true, what: 'recv tag 2^32', op: 'recv', message: /tag must be an integer in 0\.\.4294967295, got 4294967296/, call: () => comm.recv(f4(), (me + 1) % Math.max(S, 2), { tag: 2 ** 32 }) },
    { needsPeer: true, what: 'send tag 1.5', op: 'send', message: /tag must be an integer.*got 1\.5/, call: () => comm.send(f4(), (me + 1) % Math.max(S, 2), { tag: 1.5 }) },
    // signal and options
    { what: 'signal {} (not an AbortSignal)', op: 'allReduce', message: /signal must be an AbortSignal/, call: () => comm.allReduce(f4(), { signal: any({ aborted: false }) }) },
    { what: 'signal AbortController (not its signal)', op: 'barrier', message: /signal must be an AbortSignal/, call: () => comm.barrier({ signal: any(new AbortController()) }) },
    { what: 'options null', op: 'allReduce', message: /options must be an object, got null/, call: () => comm.allReduce(f4(), any(null)) },
    { what: 'options a number', op: 'broadcast', message: /options must be an object, got number/, call: () => comm.broadcast(f4(), any(3)) },
    // split
    { what: 'split color 1.5', op: 'split', message: /split: color must be an integer, got 1\.5/, call: () => comm.split(1.5) },
    { what: 'split key NaN', op: 'split', message: /split: key must be an integer, got NaN/, call: () => comm.split(0, NaN) },
  ];
  return calls.filter((c) => S > 1 || !c.needsPeer);
}
