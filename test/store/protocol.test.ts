// The wire format: round trips, stream reassembly, and strict rejection of malformed frames;
// a live server closes (and logs) a connection that sends one, and keeps serving the others.

import net from 'node:net';

import test from 'ava';

import { TcpStore, TcpStoreServer } from '../../lib/rendezvous/index.js';
import {
  FrameReader, Opcode, ProtocolError, decodeClientMessage, decodeServerMessage, encodeAuth,
  encodeRequest, encodeServerMessage, maxFrameBytes, parseCounter, type Request, type ServerMessage,
} from '../../lib/rendezvous/protocol.js';

/** The frame body (what FrameReader.next returns) of an encoded frame. */
const body = (frame: Buffer): Buffer => frame.subarray(4);

/** Builds a raw frame: u32 length then the given body bytes. */
function frame(...parts: Array<number[] | Buffer>): Buffer {
  const b = Buffer.concat(parts.map((p) => Buffer.isBuffer(p) ? p : Buffer.from(p)));
  const h = Buffer.alloc(4);
  h.writeUInt32BE(b.length, 0);
  return Buffer.concat([h, b]);
}
const u16 = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const u32 = (n: number): number[] => [(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];

const requests: Request[] = [
  { op: 'set', id: 1, key: 'a', value: Buffer.from([0, 1, 2, 255]) },
  { op: 'set', id: 2, key: '\uFEFFbom-first', value: Buffer.alloc(0) },
  { op: 'get', id: 0xffffffff, key: 'ключ', timeoutMs: 0xffffffff },
  { op: 'add', id: 4, key: 'n', delta: -(1n << 63n) },
  { op: 'wait', id: 5, keys: ['x', 'y', '🙂'], timeoutMs: 1000 },
  { op: 'check', id: 6, keys: ['x'] },
  { op: 'deleteKey', id: 7, key: 'k'.repeat(4096) },
];

const serverMessages: ServerMessage[] = [
  { op: 'hello', version: 1, authRequired: true, nonce: Buffer.alloc(32, 7) },
  { op: 'authOk', mac: Buffer.alloc(32, 9) },
  { op: 'refused', reason: 'authentication failed' },
  { op: 'ok', id: 1 },
  { op: 'value', id: 2, value: Buffer.from('v') },
  { op: 'int', id: 3, value: (1n << 63n) - 1n },
  { op: 'bool', id: 4, value: true },
  { op: 'timeout', id: 5 },
  { op: 'error', id: 6, message: 'not an int64 counter' },
];

test('requests and server messages round-trip', (t) => {
  for (const req of requests) t.deepEqual(decodeClientMessage(body(encodeRequest(req))), { ...req, ...('value' in req ? { value: Buffer.from(req.value) } : {}) });
  const auth = decodeClientMessage(body(encodeAuth(Buffer.alloc(32, 1), Buffer.alloc(32, 2))));
  t.deepEqual(auth, { op: 'auth', mac: Buffer.alloc(32, 1), clientNonce: Buffer.alloc(32, 2) });
  for (const msg of serverMessages) t.deepEqual(decodeServerMessage(body(encodeServerMessage(msg))), msg);
});

test('FrameReader reassembles frames split at every byte', (t) => {
  const stream = Buffer.concat(requests.map(encodeRequest));
  const reader = new FrameReader();
  const out: Request[] = [];
  for (const byte of stream) {
    reader.push(Buffer.from([byte]));
    for (let b = reader.next(); b; b = reader.next()) out.push(decodeClientMessage(b) as Request);
  }
  t.deepEqual(out.map((r) => r.id), requests.map((r) => r.id));
  t.is(reader.bufferedBytes, 0);
});

test('FrameReader refuses an oversized or empty length from the prefix alone', (t) => {
  const big = new FrameReader();
  big.push(Buffer.from(u32(maxFrameBytes + 1)));
  t.throws(() => big.next(), { instanceOf: ProtocolError, message: /exceeds the limit/ });
  t.throws(() => big.next(), { instanceOf: ProtocolError }, 'stays failed');

  const small = new FrameReader(65);
  small.push(Buffer.from(u32(66)));
  t.throws(() => small.next(), { instanceOf: ProtocolError, message: /66 exceeds the limit of 65/ });

  const empty = new FrameReader();
  empty.push(Buffer.from(u32(0)));
  t.throws(() => empty.next(), { instanceOf: ProtocolError, message: /empty frame/ });

  const partial = new FrameReader();
  partial.push(Buffer.from(u32(100)));
  partial.push(Buffer.alloc(50));
  t.is(partial.next(), null, 'a partial frame waits for more bytes');
  t.is(partial.bufferedBytes, 54);
});

test('malformed client frames are rejected with ProtocolError', (t) => {
  const key = (s: string): number[] => [...u16(Buffer.byteLength(s)), ...Buffer.from(s)];
  const bad: Array<[string, Buffer, RegExp]> = [
    ['unknown opcode', frame([0x7f, ...u32(1)]), /unknown client opcode 0x7f/],
    ['server opcode from a client', frame([Opcode.ok, ...u32(1)]), /unknown client opcode/],
    ['truncated id', frame([Opcode.get, 0, 0]), /truncated request id/],
    ['truncated key', frame([Opcode.get, ...u32(1), ...u16(10), 0x61]), /truncated key/],
    ['empty key', frame([Opcode.deleteKey, ...u32(1), ...u16(0)]), /key length 0/],
    ['key too long', frame([Opcode.deleteKey, ...u32(1), ...u16(4097), ...Buffer.alloc(4097, 0x61)]), /key length 4097/],
    ['invalid UTF-8 key', frame([Opcode.deleteKey, ...u32(1), ...u16(2), 0xc3, 0x28]), /not valid UTF-8/],
    ['value length past the end', frame([Opcode.set, ...u32(1), ...key('k'), ...u32(1000), 1, 2]), /truncated value/],
    ['trailing bytes', frame([Opcode.deleteKey, ...u32(1), ...key('k'), 0]), /1 trailing bytes/],
    ['zero keys', frame([Opcode.check, ...u32(1), ...u32(0)]), /key count 0/],
    ['too many keys', frame([Opcode.wait, ...u32(1), ...u32(10), ...u32(4097)]), /key count 4097/],
    ['key count beyond the frame', frame([Opcode.check, ...u32(1), ...u32(4000), ...key('k')]), /truncated key list/],
    ['short AUTH', frame([Opcode.auth, ...Buffer.alloc(40)]), /truncated client nonce/],
    ['truncated delta', frame([Opcode.add, ...u32(1), ...key('k'), 0, 0, 0]), /truncated delta/],
  ];
  for (const [what, f, message] of bad) {
    const reader = new FrameReader();
    reader.push(f);
    const b = reader.next()!;
    t.throws(() => decodeClientMessage(b), { instanceOf: ProtocolError, message }, what);
  }
});

test('malformed server frames are rejected with ProtocolError', (t) => {
  const bad: Array<[string, Buffer, RegExp]> = [
    ['bool not 0/1', frame([Opcode.bool, ...u32(1), 2]), /not 0 or 1/],
    ['hello with unknown flags', frame([Opcode.hello, 1, 2, ...Buffer.alloc(32)]), /unknown flags/],
    ['client opcode from a server', frame([Opcode.set, ...u32(1)]), /unknown server opcode/],
    ['oversized error text', frame([Opcode.error, ...u32(1), ...u16(2000), ...Buffer.alloc(2000, 0x61)]), /exceeds 1024/],
  ];
  for (const [what, f, message] of bad) t.throws(() => decodeServerMessage(f.subarray(4)), { instanceOf: ProtocolError, message }, what);
});

test('encoders refuse what the decoders would reject', (t) => {
  t.throws(() => encodeRequest({ op: 'get', id: 1, key: '', timeoutMs: 0 }), { instanceOf: RangeError });
  t.throws(() => encodeRequest({ op: 'wait', id: 1, keys: [], timeoutMs: 0 }), { instanceOf: RangeError });
  t.throws(() => encodeRequest({ op: 'get', id: 1, key: 'k', timeoutMs: -1 }), { instanceOf: RangeError });
  const long = decodeServerMessage(encodeServerMessage({ op: 'error', id: 1, message: 'é'.repeat(2000) }).subarray(4));
  t.true(long.op === 'error' && Buffer.byteLength(long.message) <= 1024, 'long messages are cut on a character boundary');
});

test('parseCounter accepts exactly the decimal int64 range', (t) => {
  t.is(parseCounter(Buffer.from('0')), 0n);
  t.is(parseCounter(Buffer.from('-42')), -42n);
  t.is(parseCounter(Buffer.from('9223372036854775807')), (1n << 63n) - 1n);
  t.is(parseCounter(Buffer.from('-9223372036854775808')), -(1n << 63n));
  for (const bad of ['', '9223372036854775808', ' 1', '1.0', '0x10', '+1', '-', 'abc']) t.is(parseCounter(Buffer.from(bad)), null, bad);
});

test('a live server closes a connection that sends a malformed frame, logs why, and keeps serving', async (t) => {
  const logs: string[] = [];
  const server = await TcpStoreServer.start({ log: (m) => logs.push(m) });
  const store = await TcpStore.connect({ host: server.host, port: server.port });
  try {
    const socket = net.connect({ host: '127.0.0.1', port: server.port });
    socket.on('error', () => {});
    socket.resume(); // read (and drop) the server's frames so its close is seen
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.once('connect', () => socket.write(frame([0x7f, 1, 2, 3])));
    await closed;
    for (let i = 0; i < 50 && logs.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    t.regex(logs[0] ?? '', /^closed connection from 127\.0\.0\.1:\d+: malformed frame: unknown client opcode 0x7f$/);
    await store.set('still', 'up');
    t.is(Buffer.from(await store.get('still')).toString(), 'up');

    // An incomplete frame left hanging is closed after frameTimeoutMs.
    const slowServer = await TcpStoreServer.start({ frameTimeoutMs: 100, log: (m) => logs.push(m) });
    const slow = net.connect({ host: '127.0.0.1', port: slowServer.port });
    slow.on('error', () => {});
    slow.resume();
    const slowClosed = new Promise<void>((r) => slow.once('close', () => r()));
    slow.once('connect', () => slow.write(Buffer.from([0, 0, 0, 50, Opcode.set])));
    await slowClosed;
    t.true(logs.some((l) => /frame incomplete after 100 ms \(5 bytes buffered\)/.test(l)));
    await slowServer.close();
  } finally {
    await store.close();
    await server.close();
  }
});

test('a steady stream whose chunks end mid-frame is not mistaken for a stalled frame', async (t) => {
  const logs: string[] = [];
  const server = await TcpStoreServer.start({ frameTimeoutMs: 400, log: (m) => logs.push(m) });
  const socket = net.connect({ host: '127.0.0.1', port: server.port });
  socket.on('error', () => {});
  const reader = new FrameReader();
  const replies: string[] = [];
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let b = reader.next(); b; b = reader.next()) replies.push(decodeServerMessage(b).op);
  });
  try {
    await new Promise<void>((r) => socket.once('connect', () => r()));
    // 20 requests over ~1.2 s (3x the frame timeout); every write carries the end of one frame
    // and the start of the next, so bytes are always pending between writes.
    const stream = Buffer.concat(Array.from({ length: 20 }, (_, i) => encodeRequest({ op: 'set', id: i + 1, key: `s/${i}`, value: Buffer.alloc(20) })));
    const step = Math.ceil(stream.length / 20);
    for (let off = 0; off < stream.length; off += step) {
      socket.write(stream.subarray(off, off + step));
      await new Promise((r) => setTimeout(r, 60));
    }
    await new Promise((r) => setTimeout(r, 100));
    t.false(socket.destroyed);
    t.deepEqual(replies, ['hello', ...Array<string>(20).fill('ok')]);
    t.deepEqual(logs, []);
  } finally {
    socket.destroy();
    await server.close();
  }
});
