// The TCP store wire format: length-prefixed binary frames, shared by TcpStoreServer and TcpStore.
//
// Every frame is `u32 length (big endian) | u8 opcode | fields`, where `length` counts the opcode
// and the fields (never the 4-byte prefix itself). Integers are big endian. Field encodings:
//   key     u16 byte length (1..4096) | UTF-8 bytes (strictly valid UTF-8)
//   value   u32 byte length | raw bytes
//   timeout u32 milliseconds; 0xFFFFFFFF means "no timeout"
//   keys    u32 count (1..4096) | key * count
//   id      u32 request id chosen by the client; responses echo it (requests are pipelined and
//           blocking ones may complete out of order)
//
// Session:
//   server -> client  HELLO    version u8 | flags u8 (bit 0: authentication required) | nonce[32]
//   client -> server  AUTH     mac[32] = HMAC-SHA256(secret, "ringtree-store-v1" || nonce) | clientNonce[32]
//   server -> client  AUTH_OK  mac[32] = HMAC-SHA256(secret, "ringtree-store-v1/server" || nonce || clientNonce)
//                     (mutual: the client also checks it talks to a server that knows the secret)
//   server -> client  REFUSED  reason (u16 length | UTF-8), then the server closes the connection
//   client -> server  SET id key value | GET id key timeout | ADD id key delta(i64) |
//                     WAIT id timeout keys | CHECK id keys | DELETE id key
//   server -> client  OK id | VALUE id value | INT id i64 | BOOL id u8(0|1) | TIMEOUT id |
//                     ERROR id message (u16 length | UTF-8)
//
// The decoders are strict: unknown opcodes, short or trailing bytes, out-of-range lengths or counts,
// invalid UTF-8 and oversized frames all throw ProtocolError, and nothing else. Callers close the
// offending connection; no input can make the parser allocate more than the frame limit.

import { createHmac, timingSafeEqual } from 'node:crypto';

/** Wire protocol version carried in HELLO. */
export const protocolVersion = 1;
/** Largest accepted frame (opcode + fields), in bytes. */
export const maxFrameBytes = 64 * 1024 * 1024;
/** Largest accepted key, in UTF-8 bytes. */
export const maxKeyBytes = 4096;
/** Most keys one WAIT or CHECK may name. */
export const maxKeysPerRequest = 4096;
/** Largest value a SET can carry so that the whole frame stays within maxFrameBytes. */
export const maxValueBytes = maxFrameBytes - (1 + 4 + 2 + maxKeyBytes + 4);
/** Size of the server's challenge and the client's nonce. */
export const nonceBytes = 32;
/** Size of an HMAC-SHA256 tag. */
export const macBytes = 32;
/** Largest frame the server accepts before the client is authenticated (AUTH is 65 bytes). */
export const maxPreAuthFrameBytes = 1 + macBytes + nonceBytes;
/** Longest REFUSED reason or ERROR message carried on the wire, in bytes. */
export const maxMessageBytes = 1024;
/** The timeout value meaning "wait forever". */
export const noTimeout = 0xffffffff;

const clientAuthContext = Buffer.from('ringtree-store-v1', 'utf8');
const serverAuthContext = Buffer.from('ringtree-store-v1/server', 'utf8');
const int64Min = -(1n << 63n);
const int64Max = (1n << 63n) - 1n;

/** Frame opcodes. Client-to-server below 0x80, server-to-client from 0x80. */
export const Opcode = {
  auth: 0x01,
  set: 0x10,
  get: 0x11,
  add: 0x12,
  wait: 0x13,
  check: 0x14,
  deleteKey: 0x15,
  hello: 0x80,
  authOk: 0x81,
  refused: 0x82,
  ok: 0x90,
  value: 0x91,
  int: 0x92,
  bool: 0x93,
  timeout: 0x94,
  error: 0x95,
} as const;

/**
 * A malformed frame. The message says what was wrong; the connection must be closed.
 * It carries no stack trace: it describes the peer's bytes, not our code, and capturing one would
 * make rejecting garbage far costlier than parsing valid frames.
 */
export class ProtocolError extends Error {
  constructor(message: string) {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      super(message);
    } finally {
      Error.stackTraceLimit = limit;
    }
    this.name = 'ProtocolError';
  }
}

// ---------------------------------------------------------------------------------------------
// Messages

export type Request =
  | { op: 'set'; id: number; key: string; value: Uint8Array }
  | { op: 'get'; id: number; key: string; timeoutMs: number }
  | { op: 'add'; id: number; key: string; delta: bigint }
  | { op: 'wait'; id: number; keys: string[]; timeoutMs: number }
  | { op: 'check'; id: number; keys: string[] }
  | { op: 'deleteKey'; id: number; key: string };

/** Everything a client may send. */
export type ClientMessage = { op: 'auth'; mac: Buffer; clientNonce: Buffer } | Request;

export type Response =
  | { op: 'ok'; id: number }
  | { op: 'value'; id: number; value: Buffer }
  | { op: 'int'; id: number; value: bigint }
  | { op: 'bool'; id: number; value: boolean }
  | { op: 'timeout'; id: number }
  | { op: 'error'; id: number; message: string };

/** Everything a server may send. */
export type ServerMessage =
  | { op: 'hello'; version: number; authRequired: boolean; nonce: Buffer }
  | { op: 'authOk'; mac: Buffer }
  | { op: 'refused'; reason: string }
  | Response;

// ---------------------------------------------------------------------------------------------
// Framing

/**
 * Reassembles frames from a byte stream. push() appends a chunk; next() returns the next complete
 * frame body (opcode + fields) or null when more bytes are needed, and throws ProtocolError as soon
 * as a length prefix is out of range, without waiting for (or buffering) the announced bytes.
 * After an error the reader stays failed and drops whatever it receives.
 *
 * Bytes are gathered in one contiguous buffer that grows geometrically and is compacted only when
 * the consumed prefix is at least as large as the live data, so every byte is copied O(1) times
 * amortized however the stream is split (a slowloris sending one byte per packet costs no more
 * than a bulk sender). A returned body is a view into that buffer: it is valid until the next
 * push(), so callers decode it (the decoders copy what they keep) before feeding more data.
 */
export class FrameReader {
  static readonly #initialBytes = 1024;
  static readonly #retainBytes = 1024 * 1024;

  #buf: Buffer = Buffer.alloc(0);
  #start = 0;
  #end = 0;
  #limit: number;
  #failed: ProtocolError | null = null;

  constructor(limit = maxFrameBytes) {
    this.#limit = limit;
  }

  /** The largest frame body accepted from now on (the server lowers it before authentication). */
  get limit(): number { return this.#limit; }
  set limit(value: number) { this.#limit = value; }

  /** Bytes received but not yet returned as frames (non-zero means a frame is in progress). */
  get bufferedBytes(): number { return this.#end - this.#start; }

  push(chunk: Uint8Array): void {
    const n = chunk.length;
    if (n === 0 || this.#failed) return;
    if (this.#end + n > this.#buf.length) this.#makeRoom(n);
    this.#buf.set(chunk, this.#end);
    this.#end += n;
  }

  next(): Buffer | null {
    if (this.#failed) throw this.#failed;
    const available = this.#end - this.#start;
    if (available < 4) return null;
    const length = this.#buf.readUInt32BE(this.#start);
    if (length === 0 || length > this.#limit) {
      this.#failed = new ProtocolError(length === 0
        ? 'empty frame (length 0)'
        : `frame length ${length} exceeds the limit of ${this.#limit} bytes`);
      this.#buf = Buffer.alloc(0);
      this.#start = this.#end = 0;
      throw this.#failed;
    }
    if (available < 4 + length) return null;
    const body = this.#buf.subarray(this.#start + 4, this.#start + 4 + length);
    this.#start += 4 + length;
    if (this.#start === this.#end) {
      this.#start = this.#end = 0;
      // Do not keep a huge buffer alive after a large frame (the returned view keeps its own).
      if (this.#buf.length > FrameReader.#retainBytes) this.#buf = Buffer.alloc(0);
    }
    return body;
  }

  #makeRoom(n: number): void {
    const used = this.#end - this.#start;
    const need = used + n;
    if (need <= this.#buf.length && this.#start >= used) {
      // Enough consumed space at the front: slide the live bytes down (cost <= bytes consumed).
      this.#buf.copyWithin(0, this.#start, this.#end);
    } else {
      // Grow to twice what is needed (so the copy is paid for by the bytes that fill the new
      // space), but no further than the end of the frame in progress plus one socket read.
      let capacity = Math.max(FrameReader.#initialBytes, 2 * need);
      if (used >= 4) {
        const frameEnd = 4 + this.#buf.readUInt32BE(this.#start);
        capacity = Math.max(need, Math.min(capacity, frameEnd + 64 * 1024));
      }
      const grown = Buffer.allocUnsafe(capacity);
      this.#buf.copy(grown, 0, this.#start, this.#end);
      this.#buf = grown;
    }
    this.#start = 0;
    this.#end = used;
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Byte writer for one frame: computes the size first, then fills a single buffer. */
class FrameWriter {
  readonly buf: Buffer;
  #pos = 4;

  constructor(bodyBytes: number, opcode: number) {
    this.buf = Buffer.allocUnsafe(4 + bodyBytes);
    this.buf.writeUInt32BE(bodyBytes, 0);
    this.u8(opcode);
  }

  u8(v: number): this { this.buf.writeUInt8(v, this.#pos); this.#pos += 1; return this; }
  u16(v: number): this { this.buf.writeUInt16BE(v, this.#pos); this.#pos += 2; return this; }
  u32(v: number): this { this.buf.writeUInt32BE(v, this.#pos); this.#pos += 4; return this; }
  i64(v: bigint): this { this.buf.writeBigInt64BE(v, this.#pos); this.#pos += 8; return this; }
  bytes(v: Uint8Array): this { this.buf.set(v, this.#pos); this.#pos += v.length; return this; }

  done(): Buffer {
    if (this.#pos !== this.buf.length) throw new Error(`internal: frame size mismatch (${this.#pos} != ${this.buf.length})`);
    return this.buf;
  }
}

const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

function checkKeyBytes(key: Buffer): Buffer {
  if (key.length === 0 || key.length > maxKeyBytes) {
    throw new RangeError(`key must be 1..${maxKeyBytes} UTF-8 bytes, got ${key.length}`);
  }
  return key;
}

function checkTimeout(timeoutMs: number): number {
  if (!Number.isInteger(timeoutMs) || timeoutMs < 0 || timeoutMs > noTimeout) {
    throw new RangeError(`timeout must be an integer in 0..${noTimeout} ms, got ${timeoutMs}`);
  }
  return timeoutMs;
}

function truncateUtf8(message: string): Buffer {
  const bytes = utf8(message);
  if (bytes.length <= maxMessageBytes) return bytes;
  // Cut on a character boundary so the receiver's strict UTF-8 check passes.
  let end = maxMessageBytes;
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

/** Encodes a client request (the whole frame, length prefix included). Throws RangeError on bad input. */
export function encodeRequest(req: Request): Buffer {
  switch (req.op) {
    case 'set': {
      const key = checkKeyBytes(utf8(req.key));
      if (req.value.length > maxValueBytes) throw new RangeError(`value of ${req.value.length} bytes exceeds the limit of ${maxValueBytes} bytes`);
      return new FrameWriter(1 + 4 + 2 + key.length + 4 + req.value.length, Opcode.set)
        .u32(req.id).u16(key.length).bytes(key).u32(req.value.length).bytes(req.value).done();
    }
    case 'get': {
      const key = checkKeyBytes(utf8(req.key));
      return new FrameWriter(1 + 4 + 2 + key.length + 4, Opcode.get)
        .u32(req.id).u16(key.length).bytes(key).u32(checkTimeout(req.timeoutMs)).done();
    }
    case 'add': {
      const key = checkKeyBytes(utf8(req.key));
      if (req.delta < int64Min || req.delta > int64Max) throw new RangeError('delta does not fit in int64');
      return new FrameWriter(1 + 4 + 2 + key.length + 8, Opcode.add)
        .u32(req.id).u16(key.length).bytes(key).i64(req.delta).done();
    }
    case 'deleteKey': {
      const key = checkKeyBytes(utf8(req.key));
      return new FrameWriter(1 + 4 + 2 + key.length, Opcode.deleteKey).u32(req.id).u16(key.length).bytes(key).done();
    }
    case 'wait':
    case 'check': {
      if (req.keys.length === 0 || req.keys.length > maxKeysPerRequest) {
        throw new RangeError(`a ${req.op} names 1..${maxKeysPerRequest} keys, got ${req.keys.length}`);
      }
      const keys = req.keys.map((k) => checkKeyBytes(utf8(k)));
      const keyBytes = keys.reduce((sum, k) => sum + 2 + k.length, 0);
      const w = req.op === 'wait'
        ? new FrameWriter(1 + 4 + 4 + 4 + keyBytes, Opcode.wait).u32(req.id).u32(checkTimeout(req.timeoutMs))
        : new FrameWriter(1 + 4 + 4 + keyBytes, Opcode.check).u32(req.id);
      w.u32(keys.length);
      for (const k of keys) w.u16(k.length).bytes(k);
      return w.done();
    }
  }
}

/** Encodes the client's AUTH answer. */
export function encodeAuth(mac: Uint8Array, clientNonce: Uint8Array): Buffer {
  if (mac.length !== macBytes || clientNonce.length !== nonceBytes) throw new RangeError('bad AUTH field size');
  return new FrameWriter(1 + macBytes + nonceBytes, Opcode.auth).bytes(mac).bytes(clientNonce).done();
}

/** Encodes a server message (the whole frame, length prefix included). */
export function encodeServerMessage(msg: ServerMessage): Buffer {
  switch (msg.op) {
    case 'hello':
      if (msg.nonce.length !== nonceBytes) throw new RangeError('bad nonce size');
      return new FrameWriter(1 + 1 + 1 + nonceBytes, Opcode.hello)
        .u8(msg.version).u8(msg.authRequired ? 1 : 0).bytes(msg.nonce).done();
    case 'authOk':
      if (msg.mac.length !== macBytes) throw new RangeError('bad mac size');
      return new FrameWriter(1 + macBytes, Opcode.authOk).bytes(msg.mac).done();
    case 'refused': {
      const reason = truncateUtf8(msg.reason);
      return new FrameWriter(1 + 2 + reason.length, Opcode.refused).u16(reason.length).bytes(reason).done();
    }
    case 'ok':
      return new FrameWriter(1 + 4, Opcode.ok).u32(msg.id).done();
    case 'timeout':
      return new FrameWriter(1 + 4, Opcode.timeout).u32(msg.id).done();
    case 'value':
      return new FrameWriter(1 + 4 + 4 + msg.value.length, Opcode.value).u32(msg.id).u32(msg.value.length).bytes(msg.value).done();
    case 'int':
      return new FrameWriter(1 + 4 + 8, Opcode.int).u32(msg.id).i64(msg.value).done();
    case 'bool':
      return new FrameWriter(1 + 4 + 1, Opcode.bool).u32(msg.id).u8(msg.value ? 1 : 0).done();
    case 'error': {
      const text = truncateUtf8(msg.message);
      return new FrameWriter(1 + 4 + 2 + text.length, Opcode.error).u32(msg.id).u16(text.length).bytes(text).done();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Decoding

// fatal: invalid UTF-8 is an error; ignoreBOM: a leading U+FEFF is part of the key, not dropped.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bounds-checked cursor over one frame body; every failure is a ProtocolError. */
class FrameCursor {
  #pos = 1; // past the opcode
  constructor(readonly body: Buffer) {}

  /** Names the frame in error messages. */
  get what(): string { return `${opcodeName(this.body[0]!)} frame`; }

  #need(n: number, field: string): void {
    if (this.body.length - this.#pos < n) {
      throw new ProtocolError(`${this.what}: truncated ${field} (need ${n} bytes at offset ${this.#pos}, frame has ${this.body.length})`);
    }
  }

  u8(field: string): number { this.#need(1, field); return this.body.readUInt8(this.#pos++); }
  u16(field: string): number { this.#need(2, field); const v = this.body.readUInt16BE(this.#pos); this.#pos += 2; return v; }
  u32(field: string): number { this.#need(4, field); const v = this.body.readUInt32BE(this.#pos); this.#pos += 4; return v; }
  i64(field: string): bigint { this.#need(8, field); const v = this.body.readBigInt64BE(this.#pos); this.#pos += 8; return v; }

  /** A view of the next n bytes. */
  view(n: number, field: string): Buffer {
    this.#need(n, field);
    const v = this.body.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    return v;
  }

  /** A copy of the next n bytes (for data that outlives the receive buffer). */
  copy(n: number, field: string): Buffer { return Buffer.from(this.view(n, field)); }

  text(n: number, field: string): string {
    const bytes = this.view(n, field);
    // Fast path: pure ASCII (the usual key) needs no validation.
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return bytes.toString('latin1');
    try {
      return strictUtf8.decode(bytes);
    } catch {
      throw new ProtocolError(`${this.what}: ${field} is not valid UTF-8`);
    }
  }

  key(): string {
    const n = this.u16('key length');
    if (n === 0 || n > maxKeyBytes) throw new ProtocolError(`${this.what}: key length ${n} is outside 1..${maxKeyBytes}`);
    return this.text(n, 'key');
  }

  keys(): string[] {
    const count = this.u32('key count');
    if (count === 0 || count > maxKeysPerRequest) {
      throw new ProtocolError(`${this.what}: key count ${count} is outside 1..${maxKeysPerRequest}`);
    }
    // Each key takes at least 3 bytes: reject impossible counts before looping.
    if (count * 3 > this.body.length - this.#pos) throw new ProtocolError(`${this.what}: truncated key list (${count} keys announced)`);
    const keys = new Array<string>(count);
    for (let i = 0; i < count; i++) keys[i] = this.key();
    return keys;
  }

  end(): void {
    if (this.#pos !== this.body.length) {
      throw new ProtocolError(`${this.what}: ${this.body.length - this.#pos} trailing bytes`);
    }
  }
}

const opcodeNames = new Map<number, string>(Object.entries(Opcode).map(([name, value]) => [value, name]));

function opcodeName(opcode: number): string {
  return opcodeNames.get(opcode) ?? `0x${opcode.toString(16).padStart(2, '0')}`;
}

/** Decodes one frame body (as returned by FrameReader.next) sent by a client. */
export function decodeClientMessage(body: Buffer): ClientMessage {
  if (body.length === 0) throw new ProtocolError('empty frame');
  const opcode = body[0]!;
  const c = new FrameCursor(body);
  let msg: ClientMessage;
  switch (opcode) {
    case Opcode.auth:
      msg = { op: 'auth', mac: c.copy(macBytes, 'mac'), clientNonce: c.copy(nonceBytes, 'client nonce') };
      break;
    case Opcode.set: {
      const id = c.u32('request id');
      const key = c.key();
      const n = c.u32('value length');
      msg = { op: 'set', id, key, value: c.copy(n, 'value') };
      break;
    }
    case Opcode.get: {
      const id = c.u32('request id');
      msg = { op: 'get', id, key: c.key(), timeoutMs: c.u32('timeout') };
      break;
    }
    case Opcode.add: {
      const id = c.u32('request id');
      msg = { op: 'add', id, key: c.key(), delta: c.i64('delta') };
      break;
    }
    case Opcode.wait: {
      const id = c.u32('request id');
      const timeoutMs = c.u32('timeout');
      msg = { op: 'wait', id, timeoutMs, keys: c.keys() };
      break;
    }
    case Opcode.check: {
      const id = c.u32('request id');
      msg = { op: 'check', id, keys: c.keys() };
      break;
    }
    case Opcode.deleteKey: {
      const id = c.u32('request id');
      msg = { op: 'deleteKey', id, key: c.key() };
      break;
    }
    default:
      throw new ProtocolError(`unknown client opcode ${opcodeName(opcode)}`);
  }
  c.end();
  return msg;
}

/** Decodes one frame body sent by a server. */
export function decodeServerMessage(body: Buffer): ServerMessage {
  if (body.length === 0) throw new ProtocolError('empty frame');
  const opcode = body[0]!;
  const c = new FrameCursor(body);
  let msg: ServerMessage;
  switch (opcode) {
    case Opcode.hello: {
      const version = c.u8('version');
      const flags = c.u8('flags');
      if ((flags & ~1) !== 0) throw new ProtocolError(`hello frame: unknown flags 0x${flags.toString(16)}`);
      msg = { op: 'hello', version, authRequired: (flags & 1) === 1, nonce: c.copy(nonceBytes, 'nonce') };
      break;
    }
    case Opcode.authOk:
      msg = { op: 'authOk', mac: c.copy(macBytes, 'mac') };
      break;
    case Opcode.refused: {
      const n = c.u16('reason length');
      if (n > maxMessageBytes) throw new ProtocolError(`refused frame: reason of ${n} bytes exceeds ${maxMessageBytes}`);
      msg = { op: 'refused', reason: c.text(n, 'reason') };
      break;
    }
    case Opcode.ok:
      msg = { op: 'ok', id: c.u32('request id') };
      break;
    case Opcode.timeout:
      msg = { op: 'timeout', id: c.u32('request id') };
      break;
    case Opcode.value: {
      const id = c.u32('request id');
      const n = c.u32('value length');
      msg = { op: 'value', id, value: c.copy(n, 'value') };
      break;
    }
    case Opcode.int:
      msg = { op: 'int', id: c.u32('request id'), value: c.i64('value') };
      break;
    case Opcode.bool: {
      const id = c.u32('request id');
      const v = c.u8('value');
      if (v > 1) throw new ProtocolError(`bool frame: value ${v} is not 0 or 1`);
      msg = { op: 'bool', id, value: v === 1 };
      break;
    }
    case Opcode.error: {
      const id = c.u32('request id');
      const n = c.u16('message length');
      if (n > maxMessageBytes) throw new ProtocolError(`error frame: message of ${n} bytes exceeds ${maxMessageBytes}`);
      msg = { op: 'error', id, message: c.text(n, 'message') };
      break;
    }
    default:
      throw new ProtocolError(`unknown server opcode ${opcodeName(opcode)}`);
  }
  c.end();
  return msg;
}

// ---------------------------------------------------------------------------------------------
// Authentication

/** The client's answer to the server's challenge: HMAC-SHA256(secret, "ringtree-store-v1" || nonce). */
export function clientAuthMac(secret: string, nonce: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(clientAuthContext).update(nonce).digest();
}

/** The server's proof back to the client: HMAC-SHA256(secret, "ringtree-store-v1/server" || nonce || clientNonce). */
export function serverAuthMac(secret: string, nonce: Uint8Array, clientNonce: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(serverAuthContext).update(nonce).update(clientNonce).digest();
}

/** Constant-time comparison of a received tag with the expected one. */
export function macEquals(expected: Buffer, received: Uint8Array): boolean {
  return received.length === expected.length && timingSafeEqual(expected, received);
}

// ---------------------------------------------------------------------------------------------
// Counters

/**
 * Parses a counter value as stored by add(): the decimal text of an int64 (as c10d stores it).
 * Returns null when the bytes are not such an integer.
 */
export function parseCounter(value: Uint8Array): bigint | null {
  if (value.length === 0 || value.length > 20) return null;
  const text = Buffer.from(value.buffer, value.byteOffset, value.length).toString('latin1');
  if (!/^-?[0-9]+$/.test(text)) return null;
  const n = BigInt(text);
  return n < int64Min || n > int64Max ? null : n;
}

/** Adds delta to a counter, or returns null on int64 overflow. */
export function addCounter(current: bigint, delta: bigint): bigint | null {
  const n = current + delta;
  return n < int64Min || n > int64Max ? null : n;
}
