// Fuzzes the data-connection handshake (native/core/handshake.h):
//   1. the parser of untrusted Hello bytes, in process: random bytes, mutated valid hellos, extreme
//      field values; every verdict is checked against an independent oracle;
//   2. a live rank in its connect phase: garbage connections (random hellos, valid hellos with a
//      wrong or missing HMAC answer, connections closed at every byte offset) must all be refused
//      and logged, without a crash or hang, and the legitimate peer must still join and reduce.
// Usage: node dist/scripts/fuzz-handshake.js [--iterations 1000000] [--connections 500]
import { randomBytes, randomInt } from 'node:crypto';
import net from 'node:net';

import type { Addon } from '../lib/native/codes.js';
import { loadAddon } from '../lib/native/binding.js';

interface FuzzAddon extends Addon {
  _checkHello(bytes: Uint8Array, jobId: string, rank: number, size: number): string;
  _jobHash(jobId: string): bigint;
}

const helloMagic = 0x31485452;

function makeHello(jobHash: bigint, from: number, to: number, channel: number, size: number): Buffer {
  const b = Buffer.alloc(64);
  b.writeUInt32LE(helloMagic, 0);
  b.writeUInt32LE(1, 4);
  b.writeBigUInt64LE(jobHash, 8);
  b.writeInt32LE(from, 16);
  b.writeInt32LE(to, 20);
  b.writeInt32LE(channel, 24);
  b.writeInt32LE(size, 28);
  randomBytes(32).copy(b, 32);
  return b;
}

/** What the parser must say, computed independently from the bytes. */
function oracleAccepts(b: Buffer, jobHash: bigint, me: number, size: number): boolean {
  if (b.length < 64) return false;
  const from = b.readInt32LE(16), to = b.readInt32LE(20), channel = b.readInt32LE(24), ws = b.readInt32LE(28);
  return b.readUInt32LE(0) === helloMagic && b.readUInt32LE(4) === 1 && b.readBigUInt64LE(8) === jobHash &&
    ws === size && to === me && from > me && from < size && channel >= 0 && channel < 3;
}

export interface FuzzResult {
  iterations: number;
  accepted: number;
  refused: number;
  disagreements: number;
  connections: number;
  joined: boolean;
  seconds: number;
}

export function fuzzParser(addon: FuzzAddon, iterations: number): Omit<FuzzResult, 'connections' | 'joined' | 'seconds'> {
  const jobId = 'fuzz-job';
  const jobHash = addon._jobHash(jobId);
  let accepted = 0, refused = 0, disagreements = 0;
  const extremes = [0, 1, -1, 2, 3, 0x7fffffff, -0x80000000, 64, 255];
  for (let i = 0; i < iterations; i++) {
    const me = i % 3, size = 2 + (i % 4);
    let b: Buffer;
    const kind = i % 5;
    if (kind === 0) {
      b = randomBytes(64);
    } else if (kind === 1) {
      b = randomBytes(randomInt(0, 64)); // short
    } else {
      b = makeHello(jobHash, me + 1 + (i % 2), me, i % 2, size);
      if (kind === 2) {
        for (let k = randomInt(1, 4); k > 0; k--) b[randomInt(0, 32)] ^= 1 << randomInt(0, 8);
      } else if (kind === 3) {
        b.writeInt32LE(extremes[randomInt(0, extremes.length)]!, 16 + 4 * randomInt(0, 4));
      } // kind 4: unmodified (valid when from < size)
    }
    const verdict = addon._checkHello(b, jobId, me, size);
    const ok = verdict === '';
    if (ok) accepted++;
    else refused++;
    if (ok !== oracleAccepts(b, jobHash, me, size)) disagreements++;
  }
  return { iterations, accepted, refused, disagreements };
}

function attack(port: number, payload: (s: net.Socket) => void): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const done = (): void => { s.destroy(); resolve(); };
    s.setTimeout(10_000, done);
    s.on('error', done);
    s.on('close', done);
    s.on('connect', () => payload(s));
  });
}

export async function fuzzSockets(addon: FuzzAddon, connections: number): Promise<{ connections: number; joined: boolean }> {
  const secret = randomBytes(16).toString('hex');
  const jobId = 'fuzz-sockets';
  const jobHash = addon._jobHash(jobId);
  const opts = { size: 2, bindHost: '127.0.0.1', secret, jobId };
  const r0 = new addon.NativeCommunicator({ ...opts, rank: 0 });
  const r1 = new addon.NativeCommunicator({ ...opts, rank: 1 });
  const peers = [
    { host: '127.0.0.1', port: r0.port(), hostId: 'fuzz-a' },
    { host: '127.0.0.1', port: r1.port(), hostId: 'fuzz-b' }, // different host ids: TCP data path
  ];
  const joined0 = r0.connect(peers, 120_000);
  const port = r0.port();
  const valid = makeHello(jobHash, 1, 0, 0, 2);
  for (let i = 0; i < connections; i++) {
    const kind = i % 5;
    await attack(port, (s) => {
      if (kind === 0) s.end(randomBytes(64));                          // random hello
      else if (kind === 1) s.end(valid.subarray(0, i % 64));            // closed at every offset
      else if (kind === 2) {                                            // valid hello, wrong HMAC answer
        s.write(makeHello(jobHash, 1, 0, i % 2, 2));
        s.once('data', () => s.end(randomBytes(32)));
      } else if (kind === 3) {                                          // valid hello, then silence: EOF
        s.write(makeHello(jobHash, 1, 0, i % 2, 2));
        s.once('data', () => s.end());
      } else s.end(randomBytes(randomInt(65, 4096)));                   // oversized garbage
    });
  }
  // the real peer joins after all that, and the two reduce correctly
  const joined1 = r1.connect(peers, 120_000);
  await Promise.all([joined0, joined1]);
  const a = new Float32Array([1, 2, 3]), b = new Float32Array([10, 20, 30]);
  await Promise.all([r0.submit(0, 0, 0, 1, 0, -1, 0, 3, a, a, 30_000), r1.submit(0, 0, 0, 1, 0, -1, 0, 3, b, b, 30_000)]);
  const joined = a[2] === 33 && b[0] === 11;
  r0.close();
  r1.close();
  return { connections, joined };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const arg = (name: string, d: number): number => {
    const i = args.indexOf(name);
    return i >= 0 ? Number(args[i + 1]) : d;
  };
  const addon = loadAddon<FuzzAddon>();
  const t0 = Date.now();
  const p = fuzzParser(addon, arg('--iterations', 1_000_000));
  const s = await fuzzSockets(addon, arg('--connections', 500));
  const seconds = (Date.now() - t0) / 1000;
  console.log(`handshake parser: ${p.iterations} inputs (${p.accepted} accepted, ${p.refused} refused), ` +
    `${p.disagreements} disagreements with the oracle`);
  console.log(`live rank: ${s.connections} hostile connections refused, legitimate peer ${s.joined ? 'joined and reduced correctly' : 'FAILED'}`);
  console.log(`${seconds.toFixed(1)} s, no crash, no hang`);
  process.exit(p.disagreements === 0 && s.joined ? 0 : 1);
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const watchdog = setTimeout(() => { console.error('fuzz-handshake: HANG (watchdog)'); process.exit(2); }, 600_000);
  watchdog.unref();
  await main();
}
