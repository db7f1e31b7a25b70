// Fuzzer for the TCP store: the frame parser in-process, and a live authenticated TcpStoreServer
// over real sockets.
//
//   node dist/scripts/fuzz-store.js [--iterations 1000000] [--seed N] [--sockets 200] [--watchdog-ms 300000]
//
// Phase 1 (in-process, `iterations` inputs): random bytes, truncated frames, out-of-range lengths,
// bad opcodes, bit/byte/length mutations of valid frames of both directions, streams of valid
// frames split at random points, and random HMAC answers. Every input must either decode or throw
// ProtocolError, and these invariants must hold: a decoded frame re-encodes to the same bytes
// (the format is canonical), a truncated frame never yields a frame, an oversized length is refused
// from its 4-byte prefix alone, a valid stream decodes to exactly its messages however it is split,
// and a wrong MAC never verifies.
// Phase 2 (real sockets, `sockets` connections): wrong/replayed/truncated HMAC answers, requests and
// garbage before authentication, slowloris partial frames before and after authentication, and
// malformed frames from authenticated clients. Each must end with the server closing the
// connection (and logging it) within a deadline; unauthenticated writes must never land.
// Finally a valid authenticated client must still get correct answers and no connection may leak.
// Any exception other than ProtocolError, any unhandled rejection, or the watchdog firing fails the
// run. Exit code 0 when everything held, 1 otherwise.

import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

import { TcpStore } from '../lib/rendezvous/tcp-store.js';
import { TcpStoreServer } from '../lib/rendezvous/tcp-store-server.js';
import {
  FrameReader, Opcode, ProtocolError, clientAuthMac, decodeClientMessage, decodeServerMessage,
  encodeAuth, encodeRequest, encodeServerMessage, macBytes, macEquals, maxFrameBytes, maxKeyBytes,
  maxKeysPerRequest, nonceBytes, type Request, type ServerMessage,
} from '../lib/rendezvous/protocol.js';

export interface FuzzOptions {
  /** In-process parser inputs (default 1,000,000). */
  iterations?: number;
  /** PRNG seed (default: time based); printed so a failure can be replayed. */
  seed?: number;
  /** Real-socket attack connections (default 200). */
  sockets?: number;
  /** Whole-run deadline in ms (default 300000). */
  watchdogMs?: number;
  /** Progress/summary sink (default: nothing). */
  print?: (line: string) => void;
}

export interface FuzzReport {
  ok: boolean;
  seed: number;
  elapsedMs: number;
  parser: { inputs: number; framesDecoded: number; rejected: number; byCategory: Record<string, number>; elapsedMs: number };
  sockets: { connections: number; refused: number; closed: number; answered: number; serverLogLines: number; elapsedMs: number };
  /** Invariant violations, crashes, hangs (first few kept). */
  failures: string[];
}

const maxFailuresKept = 20;
const secret = 'fuzz-secret';

// -------------------------------------------------------------------------------------------------
// Deterministic PRNG (xoshiro128**, seeded through a murmur3-style mixer): fast and replayable.

class Rng {
  #s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.#s[i] = (z ^ (z >>> 16)) >>> 0 || 1;
    }
  }

  /** A uniform uint32 (xoshiro128**). */
  u32(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = (s[2]! ^ s[0]!) >>> 0;
    s[3] = (s[3]! ^ s[1]!) >>> 0;
    s[1] = (s[1]! ^ s[2]!) >>> 0;
    s[0] = (s[0]! ^ s[3]!) >>> 0;
    s[2] = (s[2]! ^ t) >>> 0;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, n). */
  int(n: number): number { return n <= 1 ? 0 : this.u32() % n; }
  chance(p: number): boolean { return this.u32() / 0x100000000 < p; }
  pick<T>(items: readonly T[]): T { return items[this.int(items.length)]!; }

  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    let i = 0;
    for (; i + 4 <= n; i += 4) b.writeUInt32LE(this.u32(), i);
    for (; i < n; i++) b[i] = this.u32() & 0xff;
    return b;
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

// -------------------------------------------------------------------------------------------------
// Valid message generators

const keyAlphabet = ['a', 'b', 'z', '0', '9', '/', '-', '_', '.', ' ', 'é', '数', '🙂', '\u0000', '\uFEFF'];

function randomKey(rng: Rng): string {
  if (rng.chance(0.002)) return 'k'.repeat(maxKeyBytes); // the largest key
  const n = 1 + rng.int(rng.chance(0.9) ? 12 : 200);
  let s = '';
  for (let i = 0; i < n; i++) s += rng.pick(keyAlphabet);
  return Buffer.byteLength(s) > maxKeyBytes ? s.slice(0, 100) : s;
}

function randomRequest(rng: Rng): Request {
  const id = rng.u32();
  const timeouts = [0, 1, 1000, 300_000, 0xffffffff, rng.u32()];
  switch (rng.int(6)) {
    case 0: return { op: 'set', id, key: randomKey(rng), value: rng.bytes(rng.int(40)) };
    case 1: return { op: 'get', id, key: randomKey(rng), timeoutMs: rng.pick(timeouts) };
    case 2: return { op: 'add', id, key: randomKey(rng), delta: BigInt.asIntN(64, BigInt(rng.u32()) << BigInt(rng.int(33))) * (rng.chance(0.5) ? -1n : 1n) };
    case 3: return { op: 'wait', id, keys: Array.from({ length: 1 + rng.int(rng.chance(0.999) ? 4 : maxKeysPerRequest) }, () => randomKey(rng)), timeoutMs: rng.pick(timeouts) };
    case 4: return { op: 'check', id, keys: Array.from({ length: 1 + rng.int(4) }, () => randomKey(rng)) };
    default: return { op: 'deleteKey', id, key: randomKey(rng) };
  }
}

function randomServerMessage(rng: Rng): ServerMessage {
  const id = rng.u32();
  switch (rng.int(9)) {
    case 0: return { op: 'hello', version: rng.int(3), authRequired: rng.chance(0.5), nonce: rng.bytes(nonceBytes) };
    case 1: return { op: 'authOk', mac: rng.bytes(macBytes) };
    case 2: return { op: 'refused', reason: randomKey(rng) };
    case 3: return { op: 'ok', id };
    case 4: return { op: 'value', id, value: rng.bytes(rng.int(40)) };
    case 5: return { op: 'int', id, value: BigInt.asIntN(64, BigInt(rng.u32()) << 31n) };
    case 6: return { op: 'bool', id, value: rng.chance(0.5) };
    case 7: return { op: 'timeout', id };
    default: return { op: 'error', id, message: randomKey(rng) };
  }
}

/** A valid client frame (including AUTH). */
function randomClientFrame(rng: Rng): Buffer {
  return rng.chance(0.1) ? encodeAuth(rng.bytes(macBytes), rng.bytes(nonceBytes)) : encodeRequest(randomRequest(rng));
}

// -------------------------------------------------------------------------------------------------
// Mutations

const boundaryU16 = [0, 1, maxKeyBytes, maxKeyBytes + 1, 0x7fff, 0xffff];
const boundaryU32 = [0, 1, 2, 3, 4, maxKeysPerRequest, maxKeysPerRequest + 1, maxFrameBytes, maxFrameBytes + 1, 0x7fffffff, 0xffffffff];

function mutate(rng: Rng, frame: Buffer): Buffer {
  let b = Buffer.from(frame);
  const rounds = 1 + rng.int(3);
  for (let r = 0; r < rounds; r++) {
    switch (rng.int(9)) {
      case 0: { // bit flips
        const flips = 1 + rng.int(3);
        for (let i = 0; i < flips && b.length; i++) { const at = rng.int(b.length); b[at] = b[at]! ^ (1 << rng.int(8)); }
        break;
      }
      case 1: if (b.length) b[rng.int(b.length)] = rng.int(256); break;
      case 2: b = b.subarray(0, rng.int(b.length + 1)); break;
      case 3: b = Buffer.concat([b, rng.bytes(1 + rng.int(16))]); break;
      case 4: { const at = rng.int(b.length + 1); b = Buffer.concat([b.subarray(0, at), rng.bytes(1 + rng.int(8)), b.subarray(at)]); break; }
      case 5: { const at = rng.int(b.length + 1); b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + rng.int(8))]); break; }
      case 6: if (b.length >= 4) b.writeUInt32BE(rng.chance(0.5) ? rng.pick(boundaryU32) : Math.max(0, b.readUInt32BE(0) + rng.int(5) - 2) >>> 0, 0); break;
      case 7: if (b.length >= 7) { const at = 5 + rng.int(b.length - 6); b.writeUInt16BE(rng.pick(boundaryU16), at); } break;
      default: if (b.length >= 9) { const at = 5 + rng.int(b.length - 8); b.writeUInt32BE(rng.pick(boundaryU32), at); } break;
    }
  }
  return b;
}

// -------------------------------------------------------------------------------------------------
// Phase 1: the parser in-process

class Stats {
  inputs = 0;
  frames = 0;
  rejected = 0;
  readonly byCategory: Record<string, number> = {};
  readonly failures: string[] = [];

  fail(what: string, input?: Uint8Array): void {
    if (this.failures.length < maxFailuresKept) {
      const hex = input ? ` input=${Buffer.from(input).subarray(0, 96).toString('hex')}${input.length > 96 ? '...' : ''}` : '';
      this.failures.push(`${what}${hex}`);
    }
  }
}

/** Splits data into 1..4 chunks at random points. */
function chunks(rng: Rng, data: Buffer): Buffer[] {
  const n = 1 + rng.int(4);
  const cuts = Array.from({ length: n - 1 }, () => rng.int(data.length + 1)).sort((a, b) => a - b);
  const out: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, data.length]) { out.push(data.subarray(prev, c)); prev = c; }
  return out;
}

/**
 * Feeds a stream to a fresh reader and decodes every frame in both directions, checking that
 * only ProtocolError escapes and that whatever decodes re-encodes to the same bytes.
 * Returns the frames decoded as client messages, or 'rejected'.
 */
function feed(rng: Rng, stats: Stats, data: Buffer, limit = maxFrameBytes): { frames: Buffer[]; rejected: boolean } {
  const reader = new FrameReader(limit);
  const frames: Buffer[] = [];
  try {
    for (const chunk of chunks(rng, data)) {
      reader.push(chunk);
      for (let body = reader.next(); body !== null; body = reader.next()) {
        frames.push(Buffer.from(body));
        stats.frames++;
        decodeBoth(stats, body);
      }
    }
    return { frames, rejected: false };
  } catch (error) {
    if (error instanceof ProtocolError) return { frames, rejected: true };
    stats.fail(`FrameReader threw ${describe(error)}`, data);
    return { frames, rejected: true };
  }
}

function decodeBoth(stats: Stats, body: Buffer): void {
  const framed = (b: Buffer): Buffer => { const h = Buffer.allocUnsafe(4); h.writeUInt32BE(b.length, 0); return Buffer.concat([h, b]); };
  try {
    const msg = decodeClientMessage(body);
    const again = msg.op === 'auth' ? encodeAuth(msg.mac, msg.clientNonce) : encodeRequest(msg);
    if (!again.equals(framed(body))) stats.fail(`client frame decoded as ${msg.op} but re-encodes differently`, body);
  } catch (error) {
    if (!(error instanceof ProtocolError)) stats.fail(`decodeClientMessage threw ${describe(error)}`, body);
    else stats.rejected++;
  }
  try {
    const msg = decodeServerMessage(body);
    if (!encodeServerMessage(msg).equals(framed(body))) stats.fail(`server frame decoded as ${msg.op} but re-encodes differently`, body);
  } catch (error) {
    if (!(error instanceof ProtocolError)) stats.fail(`decodeServerMessage threw ${describe(error)}`, body);
    else stats.rejected++;
  }
}

const validClientOpcodes = new Set<number>([Opcode.auth, Opcode.set, Opcode.get, Opcode.add, Opcode.wait, Opcode.check, Opcode.deleteKey]);
const validServerOpcodes = new Set<number>([Opcode.hello, Opcode.authOk, Opcode.refused, Opcode.ok, Opcode.value, Opcode.int, Opcode.bool, Opcode.timeout, Opcode.error]);

/**
 * Valid frames generated once per run: mutating picks from a pool (which is large and varied)
 * keeps the generator from dominating the cost of an iteration.
 */
interface Pools { client: Buffer[]; server: Buffer[] }

function makePools(rng: Rng, size = 8192): Pools {
  return {
    client: Array.from({ length: size }, () => randomClientFrame(rng)),
    server: Array.from({ length: size }, () => encodeServerMessage(randomServerMessage(rng))),
  };
}

type Category = (rng: Rng, stats: Stats, pools: Pools) => void;

const categories: Record<string, Category> = {
  randomBytes(rng, stats) {
    const data = rng.bytes(rng.int(rng.chance(0.9) ? 48 : 512));
    // Plausible length prefixes make the random body reach the decoders more often.
    if (data.length >= 5 && rng.chance(0.7)) data.writeUInt32BE(data.length - 4, 0);
    feed(rng, stats, data);
  },
  truncated(rng, stats, pools) {
    const frame = rng.pick(rng.chance(0.5) ? pools.client : pools.server);
    const cut = frame.subarray(0, rng.int(frame.length));
    const { frames, rejected } = feed(rng, stats, cut);
    if (frames.length !== 0 || rejected) stats.fail('a truncated frame produced a frame or an error', cut);
  },
  oversizedLength(rng, stats) {
    const limit = rng.chance(0.5) ? maxFrameBytes : 1 + rng.int(1024);
    const length = limit + 1 + rng.int(0xffffffff - limit);
    const data = Buffer.concat([Buffer.alloc(4), rng.bytes(rng.int(64))]);
    data.writeUInt32BE(length, 0);
    const { rejected } = feed(rng, stats, data, limit);
    if (!rejected) stats.fail(`length ${length} over limit ${limit} was not refused`, data.subarray(0, 4));
  },
  badOpcode(rng, stats, pools) {
    const frame = Buffer.from(rng.pick(pools.client));
    const op = rng.int(256);
    frame[4] = op;
    const body = frame.subarray(4);
    if (!validClientOpcodes.has(op)) expectReject(stats, 'client', body, () => decodeClientMessage(body));
    if (!validServerOpcodes.has(op)) expectReject(stats, 'server', body, () => decodeServerMessage(body));
  },
  mutatedClientFrame(rng, stats, pools) { feed(rng, stats, mutate(rng, rng.chance(0.05) ? randomClientFrame(rng) : rng.pick(pools.client))); },
  mutatedServerFrame(rng, stats, pools) { feed(rng, stats, mutate(rng, rng.pick(pools.server))); },
  splitStream(rng, stats, pools) {
    const originals = Array.from({ length: 1 + rng.int(5) }, () => rng.pick(pools.client));
    const data = Buffer.concat(originals);
    const { frames, rejected } = feed(rng, stats, data);
    const same = !rejected && frames.length === originals.length && frames.every((f, i) => f.equals(originals[i]!.subarray(4)));
    if (!same) stats.fail('a valid stream did not decode to its frames', data);
  },
  badHmac(rng, stats) {
    const nonce = rng.bytes(nonceBytes);
    const good = clientAuthMac(secret, nonce);
    const bad = rng.pick([
      () => rng.bytes(macBytes),
      () => clientAuthMac(`${secret}x`, nonce),
      () => clientAuthMac(secret, rng.bytes(nonceBytes)),
      () => { const m = Buffer.from(good); m[rng.int(macBytes)] ^= 1 << rng.int(8); return m; },
      () => good.subarray(0, rng.int(macBytes)),
    ])();
    if (macEquals(good, bad)) stats.fail('a wrong HMAC answer verified', bad);
    if (!macEquals(good, clientAuthMac(secret, nonce))) stats.fail('the right HMAC answer did not verify');
  },
};

function expectReject(stats: Stats, side: string, body: Buffer, fn: () => unknown): void {
  try {
    fn();
    stats.fail(`${side} decoder accepted an unknown opcode`, body);
  } catch (error) {
    if (error instanceof ProtocolError) stats.rejected++;
    else stats.fail(`${side} decoder threw ${describe(error)}`, body);
  }
}

/** Runs the in-process phase, yielding to the event loop regularly so the watchdog can fire. */
async function fuzzParser(rng: Rng, iterations: number, stats: Stats, deadline: () => boolean): Promise<void> {
  const pools = makePools(rng, Math.min(8192, Math.max(256, Math.ceil(iterations / 16))));
  const names = Object.keys(categories);
  const weights = names.map((n) => (n === 'badHmac' ? 1 : n.startsWith('mutated') ? 6 : 3));
  const total = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < iterations; i++) {
    let r = rng.int(total);
    let k = 0;
    while (r >= weights[k]!) r -= weights[k++]!;
    const name = names[k]!;
    try {
      categories[name]!(rng, stats, pools);
    } catch (error) {
      stats.fail(`category ${name} threw ${describe(error)}`);
    }
    stats.inputs++;
    stats.byCategory[name] = (stats.byCategory[name] ?? 0) + 1;
    if ((i & 0x3fff) === 0x3fff) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      if (deadline()) return;
    }
  }
}

// -------------------------------------------------------------------------------------------------
// Phase 2: real sockets against a live server

/** A raw TCP client that records what the server sends and when it closes. */
class RawClient {
  readonly socket: net.Socket;
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<void>;
  readonly #reader = new FrameReader();
  #notify: (() => void) | null = null;
  protocolError: string | null = null;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.closed = new Promise((resolve) => socket.once('close', () => { resolve(); this.#wake(); }));
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      this.#reader.push(chunk);
      try {
        for (let body = this.#reader.next(); body !== null; body = this.#reader.next()) this.messages.push(decodeServerMessage(body));
      } catch (error) {
        this.protocolError = describe(error);
        socket.destroy();
      }
      this.#wake();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port });
      socket.once('connect', () => { socket.off('error', reject); resolve(new RawClient(socket)); });
      socket.once('error', reject);
    });
  }

  get isClosed(): boolean { return this.socket.destroyed || this.socket.readyState === 'closed'; }

  #wake(): void { const n = this.#notify; this.#notify = null; n?.(); }

  /** Resolves once the predicate holds or the connection closes or timeoutMs passes. */
  async until(pred: () => boolean, timeoutMs: number): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (!pred()) {
      const left = end - Date.now();
      if (left <= 0 || this.isClosed) return pred();
      await Promise.race([new Promise<void>((resolve) => { this.#notify = resolve; }), sleep(Math.min(left, 50))]);
    }
    return true;
  }

  async hello(): Promise<Extract<ServerMessage, { op: 'hello' }> | null> {
    await this.until(() => this.messages.length > 0, 2000);
    const m = this.messages[0];
    return m?.op === 'hello' ? m : null;
  }

  /** Waits for the server to close the connection; false if it did not within timeoutMs. */
  async closedWithin(timeoutMs: number): Promise<boolean> {
    const timer = sleep(timeoutMs).then(() => false);
    return Promise.race([this.closed.then(() => true), timer]);
  }
}

interface SocketStats { connections: number; refused: number; closed: number; answered: number }

async function fuzzSockets(rng: Rng, port: number, count: number, stats: Stats, sstats: SocketStats, timings: { authMs: number; frameMs: number }): Promise<string[]> {
  const unauthKeys: string[] = [];
  const closeDeadline = timings.authMs + 3000;
  type Attack = (c: RawClient, i: number) => Promise<void>;

  const expectRefusedAndClosed = async (c: RawClient, what: string): Promise<void> => {
    if (!await c.closedWithin(closeDeadline)) stats.fail(`server kept a connection open after ${what}`);
    else sstats.closed++;
    if (c.messages.some((m) => m.op === 'refused')) sstats.refused++;
    if (c.messages.some((m) => m.op !== 'hello' && m.op !== 'refused')) stats.fail(`server answered an unauthenticated client after ${what}: ${c.messages.map((m) => m.op).join(',')}`);
  };

  const authenticate = async (c: RawClient): Promise<boolean> => {
    const hello = await c.hello();
    if (!hello) return false;
    c.socket.write(encodeAuth(clientAuthMac(secret, hello.nonce), rng.bytes(nonceBytes)));
    return c.until(() => c.messages.some((m) => m.op === 'authOk'), 2000);
  };

  const attacks: Record<string, Attack> = {
    async wrongMac(c) {
      const hello = await c.hello();
      if (!hello) { stats.fail('no HELLO from server'); return; }
      const good = clientAuthMac(secret, hello.nonce);
      const mac = rng.pick([
        () => rng.bytes(macBytes),
        () => clientAuthMac('not-the-secret', hello.nonce),
        () => clientAuthMac(secret, rng.bytes(nonceBytes)), // replay of another nonce's answer
        () => { const m = Buffer.from(good); m[rng.int(macBytes)] ^= 1; return m; },
      ])();
      c.socket.write(encodeAuth(mac, rng.bytes(nonceBytes)));
      await expectRefusedAndClosed(c, 'a wrong HMAC answer');
    },
    async malformedAuth(c) {
      const hello = await c.hello();
      if (!hello) { stats.fail('no HELLO from server'); return; }
      c.socket.write(mutate(rng, encodeAuth(clientAuthMac(secret, hello.nonce), rng.bytes(nonceBytes))));
      // A mutation can leave a correct AUTH intact; only a refusal or an authOk are acceptable.
      const done = await c.closedWithin(closeDeadline);
      if (done) sstats.closed++;
      else if (!c.messages.some((m) => m.op === 'authOk')) stats.fail('server neither accepted nor closed a mutated AUTH');
      if (c.messages.some((m) => m.op === 'refused')) sstats.refused++;
    },
    async requestBeforeAuth(c, i) {
      await c.hello();
      const key = `fuzz/unauth/${i}`;
      unauthKeys.push(key);
      c.socket.write(encodeRequest({ op: 'set', id: 1, key, value: Buffer.from('pwned') }));
      c.socket.write(encodeRequest({ op: 'add', id: 2, key: `${key}/n`, delta: 1n }));
      unauthKeys.push(`${key}/n`);
      await expectRefusedAndClosed(c, 'a request before authentication');
    },
    async garbageBeforeAuth(c) {
      await c.hello();
      c.socket.write(rng.bytes(1 + rng.int(256)));
      // Garbage may happen to be a partial frame: then the auth deadline closes it.
      await expectRefusedAndClosed(c, 'garbage before authentication');
    },
    async slowlorisBeforeAuth(c) {
      const hello = await c.hello();
      const frame = encodeAuth(clientAuthMac(secret, hello?.nonce ?? Buffer.alloc(nonceBytes)), rng.bytes(nonceBytes));
      c.socket.write(frame.subarray(0, 1 + rng.int(frame.length - 1)));
      await expectRefusedAndClosed(c, 'a partial AUTH frame (slowloris)');
    },
    async garbageAfterAuth(c) {
      if (!await authenticate(c)) { stats.fail('a valid client could not authenticate'); return; }
      const frame = mutate(rng, encodeRequest(randomRequest(rng)));
      c.socket.write(frame);
      // Either the mutation is still a valid request (answered or parked), or the connection is closed.
      const closed = await c.closedWithin(rng.chance(0.1) ? timings.frameMs + 500 : 30);
      if (closed) sstats.closed++;
      if (c.messages.length > 2) sstats.answered++;
      c.socket.destroy();
    },
    async slowlorisAfterAuth(c) {
      if (!await authenticate(c)) { stats.fail('a valid client could not authenticate'); return; }
      const frame = encodeRequest({ op: 'set', id: 7, key: 'fuzz/slow', value: rng.bytes(100) });
      c.socket.write(frame.subarray(0, 1 + rng.int(frame.length - 1)));
      if (!await c.closedWithin(timings.frameMs + 3000)) stats.fail('server kept a stalled partial frame open');
      else sstats.closed++;
    },
  };

  const plan: string[] = [];
  const names = Object.keys(attacks);
  for (let i = 0; i < count; i++) plan.push(names[i % names.length]!);
  // A pool of concurrent attackers working through the plan.
  const concurrency = 16;
  let nextIndex = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, plan.length) }, async () => {
    while (nextIndex < plan.length) {
      const i = nextIndex++;
      const name = plan[i]!;
      let c: RawClient;
      try {
        c = await RawClient.open(port);
      } catch (error) {
        stats.fail(`attack ${name}: cannot connect: ${describe(error)}`);
        continue;
      }
      sstats.connections++;
      try {
        await attacks[name]!(c, i);
        if (c.protocolError) stats.fail(`attack ${name}: server sent a malformed frame: ${c.protocolError}`);
      } catch (error) {
        stats.fail(`attack ${name} threw ${describe(error)}`);
      } finally {
        c.socket.destroy();
      }
    }
  }));
  return unauthKeys;
}

/** A valid client must still be served correctly, and no write from an unauthenticated one landed. */
async function checkServerHealthy(server: TcpStoreServer, unauthKeys: string[], stats: Stats): Promise<void> {
  const store = await TcpStore.connect({ host: server.host, port: server.port, secret, timeoutMs: 5000, connectTimeoutMs: 5000 });
  try {
    await store.set('fuzz/health', 'ok');
    const value = Buffer.from(await store.get('fuzz/health', 2000)).toString();
    if (value !== 'ok') stats.fail(`health check: get returned ${JSON.stringify(value)}`);
    await store.deleteKey('fuzz/health-counter');
    const counts = await Promise.all(Array.from({ length: 10 }, () => store.add('fuzz/health-counter', 1)));
    if (Math.max(...counts) !== 10) stats.fail(`health check: add counted to ${Math.max(...counts)}, expected 10`);
    const waiting = store.wait(['fuzz/health-late'], 2000);
    await store.set('fuzz/health-late', '1');
    await waiting;
    for (const key of unauthKeys) {
      if (await store.check([key])) stats.fail(`unauthenticated write landed: key ${key} exists`);
    }
    // Every attack connection must have been released (only this client remains).
    const drained = await waitFor(() => server.connectionCount === 1, 3000);
    if (!drained) stats.fail(`server still holds ${server.connectionCount - 1} attack connection(s)`);
  } finally {
    await store.close();
  }
}

async function waitFor(pred: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!pred() && Date.now() < end) await sleep(20);
  return pred();
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

// -------------------------------------------------------------------------------------------------

/** Runs both phases and reports; never throws for what the fuzzed code does. */
export async function runFuzz(opts: FuzzOptions = {}): Promise<FuzzReport> {
  const iterations = opts.iterations ?? 1_000_000;
  const seed = (opts.seed ?? (Date.now() ^ (process.pid << 16))) >>> 0;
  const socketCount = opts.sockets ?? 200;
  const watchdogMs = opts.watchdogMs ?? 300_000;
  const print = opts.print ?? (() => {});
  const rng = new Rng(seed);
  const stats = new Stats();
  const sstats: SocketStats = { connections: 0, refused: 0, closed: 0, answered: 0 };
  let logLines = 0;
  const started = Date.now();

  // Anything escaping to the process level is a failure of the code under test.
  const onUnhandled = (reason: unknown): void => stats.fail(`unhandled rejection: ${describe(reason)}`);
  const onUncaught = (error: unknown): void => stats.fail(`uncaught exception: ${describe(error)}`);
  process.on('unhandledRejection', onUnhandled);
  process.on('uncaughtException', onUncaught);

  let timedOut = false;
  let watchdog: NodeJS.Timeout | undefined;
  const hang = new Promise<'hang'>((resolve) => { watchdog = setTimeout(() => { timedOut = true; resolve('hang'); }, watchdogMs); });

  print(`fuzz-store: seed ${seed}, ${iterations} parser inputs, ${socketCount} socket attacks, watchdog ${watchdogMs} ms`);
  const parserStarted = Date.now();
  let parserMs = 0;
  let socketMs = 0;
  let server: TcpStoreServer | null = null;
  const work = (async (): Promise<void> => {
    await fuzzParser(rng, iterations, stats, () => timedOut);
    parserMs = Date.now() - parserStarted;
    print(`parser: ${stats.inputs} inputs in ${parserMs} ms, ${stats.frames} frames decoded, ${stats.rejected} rejected`);
    if (timedOut) return;
    const timings = { authMs: 400, frameMs: 400 };
    server = await TcpStoreServer.start({ secret, authTimeoutMs: timings.authMs, frameTimeoutMs: timings.frameMs, log: () => { logLines++; } });
    const socketsStarted = Date.now();
    const unauthKeys = await fuzzSockets(rng, server.port, socketCount, stats, sstats, timings);
    await checkServerHealthy(server, unauthKeys, stats);
    socketMs = Date.now() - socketsStarted;
    print(`sockets: ${sstats.connections} connections in ${socketMs} ms: ${sstats.refused} refused, ${sstats.closed} closed by the server, ${sstats.answered} answered; ${logLines} server log lines`);
    if (sstats.connections > 0 && logLines === 0) stats.fail('the server logged no refusal');
  })().catch((error: unknown) => { stats.fail(`fuzz driver failed: ${describe(error)}`); });

  const outcome = await Promise.race([work.then(() => 'done' as const), hang]);
  if (outcome === 'hang') stats.fail(`watchdog: the run did not finish within ${watchdogMs} ms (hang)`);
  clearTimeout(watchdog);
  await (server as TcpStoreServer | null)?.close();
  // Let late rejections surface before the listeners go.
  await new Promise<void>((resolve) => setImmediate(resolve));
  process.off('unhandledRejection', onUnhandled);
  process.off('uncaughtException', onUncaught);

  const report: FuzzReport = {
    ok: stats.failures.length === 0,
    seed,
    elapsedMs: Date.now() - started,
    parser: { inputs: stats.inputs, framesDecoded: stats.frames, rejected: stats.rejected, byCategory: stats.byCategory, elapsedMs: parserMs },
    sockets: { ...sstats, serverLogLines: logLines, elapsedMs: socketMs },
    failures: stats.failures,
  };
  for (const f of report.failures) print(`FAIL ${f}`);
  print(`${report.ok ? 'OK' : 'FAILED'}: ${report.failures.length} failure(s) in ${report.elapsedMs} ms (seed ${seed})`);
  return report;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iterations: { type: 'string' },
      seed: { type: 'string' },
      sockets: { type: 'string' },
      'watchdog-ms': { type: 'string' },
      json: { type: 'boolean' },
    },
  });
  const num = (name: string, text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const n = Number(text);
    if (!Number.isSafeInteger(n) || n < 0) {
      console.error(`fuzz-store: --${name} must be a non-negative integer, got ${JSON.stringify(text)}`);
      process.exit(2);
    }
    return n;
  };
  const opts: FuzzOptions = { print: (line) => console.log(line) };
  const iterations = num('iterations', values.iterations);
  const seed = num('seed', values.seed);
  const sockets = num('sockets', values.sockets);
  const watchdogMs = num('watchdog-ms', values['watchdog-ms']);
  if (iterations !== undefined) opts.iterations = iterations;
  if (seed !== undefined) opts.seed = seed;
  if (sockets !== undefined) opts.sockets = sockets;
  if (watchdogMs !== undefined) opts.watchdogMs = watchdogMs;
  // Hard stop, independent of the event loop state of the run itself.
  const hardStop = setTimeout(() => {
    console.error('fuzz-store: hard watchdog fired: the process did not finish');
    process.exit(1);
  }, (watchdogMs ?? 300_000) + 30_000);
  const report = await runFuzz(opts);
  clearTimeout(hardStop);
  if (values.json) console.log(JSON.stringify(report));
  process.exitCode = report.ok ? 0 : 1;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(`fuzz-store: ${describe(error)}`);
    process.exit(1);
  });
}
