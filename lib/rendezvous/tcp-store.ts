// TcpStore: the client of TcpStoreServer (c10d TCPStore's client side). One socket per client;
// requests are pipelined with ids, so concurrent calls from one process share the connection and
// blocking get/wait calls do not hold up others.
//
// connect() retries with exponential backoff until connectTimeoutMs (the server may start after
// the ranks), then performs the handshake of protocol.ts: with a secret it answers the server's
// HMAC challenge and checks the server's own proof; a refusal or a secret mismatch fails at once.
// Failures are sticky: once the connection is lost or the server breaks the protocol, every
// pending and later call rejects with StoreError naming the op, key, address and cause. The socket
// is unref'd whenever no call is pending, so an idle client never keeps the process alive.

import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidArgumentError, StoreError } from '../errors.js';
import {
  checkDelta, checkKey, checkKeys, counterToNumber, defaultStoreTimeoutMs, describeTimeout, formatHostPort,
  maxTimerMs, quoteKey, quoteKeys, resolveTimeout, toValueBytes,
} from './common.js';
import {
  FrameReader, ProtocolError, clientAuthMac, decodeServerMessage, encodeAuth, encodeRequest,
  macEquals, maxFrameBytes, maxMessageBytes, noTimeout, nonceBytes, protocolVersion, serverAuthMac,
  type Request, type Response, type ServerMessage,
} from './protocol.js';
import type { Store } from './store.js';

export interface TcpStoreOptions {
  host: string;
  port: number;
  /** Job secret; required when the server has one, refused when it has none. */
  secret?: string;
  /** Default timeout of every call, in ms (default 300000, like c10d). */
  timeoutMs?: number;
  /** How long connect() keeps retrying (with backoff) before giving up, in ms (default 60000). */
  connectTimeoutMs?: number;
}

/** Extra time the client allows for the server's own timeout reply to a get/wait to arrive. */
const replySlackMs = 2000;
/** Backoff between connection attempts. */
const firstRetryDelayMs = 20;
const maxRetryDelayMs = 1000;

interface Pending {
  /** e.g. `get("rank/0")`, for messages. */
  readonly what: string;
  readonly op: string;
  readonly timeoutMs: number;
  readonly resolve: (msg: Response) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | null;
}

/**
 * A failed connection attempt; `retry` says whether another attempt may succeed, `cutShort` that
 * it only ran out of the remaining connect time (so an earlier failure explains more).
 */
class AttemptFailure {
  constructor(readonly message: string, readonly retry: boolean, readonly cause?: unknown, readonly cutShort = false) {}
}

/**
 * A client of TcpStoreServer implementing Store.
 *
 * @example
 * const store = await TcpStore.connect({ host: '127.0.0.1', port, secret: process.env.RINGTREE_SECRET });
 * const n = await store.add('arrived', 1);
 * await store.wait(['go']);
 * await store.close();
 */
export class TcpStore implements Store {
  readonly host: string;
  readonly port: number;
  readonly timeoutMs: number;
  readonly #addr: string;
  readonly #socket: net.Socket;
  readonly #reader: FrameReader;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #failure: StoreError | null = null;
  #closed: Promise<void> | null = null;
  readonly #socketClosed: Promise<void>;

  private constructor(socket: net.Socket, reader: FrameReader, host: string, port: number, timeoutMs: number) {
    this.host = host;
    this.port = port;
    this.timeoutMs = timeoutMs;
    this.#addr = formatHostPort(host, port);
    this.#socket = socket;
    this.#reader = reader;
    this.#socketClosed = new Promise((resolve) => {
      if (socket.destroyed) resolve();
      else socket.once('close', () => resolve());
    });
    socket.on('data', (chunk: Buffer) => {
      reader.push(chunk);
      this.#drain();
    });
    socket.on('error', (error) => this.#fail(`connection to ${this.#addr} lost: ${error.message}`, error));
    socket.on('close', () => this.#fail(`connection to ${this.#addr} was closed by the server`));
    socket.setKeepAlive(true, 30_000);
    socket.unref();
    socket.resume();
    // Frames that arrived together with the end of the handshake.
    this.#drain();
  }

  /** Connects (retrying until connectTimeoutMs) and authenticates. Rejects with StoreError. */
  static async connect(opts: TcpStoreOptions): Promise<TcpStore> {
    if (opts === null || typeof opts !== 'object') throw new InvalidArgumentError('TcpStore.connect: options object required');
    const { host, port, secret } = opts;
    if (typeof host !== 'string' || host === '') throw new InvalidArgumentError(`TcpStore.connect: host must be a non-empty string, got ${String(host)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(`TcpStore.connect: port must be an integer in 1..65535, got ${String(port)}`);
    if (secret !== undefined && (typeof secret !== 'string' || secret === '')) {
      throw new InvalidArgumentError('TcpStore.connect: secret must be a non-empty string when given');
    }
    const timeoutMs = resolveTimeout(opts.timeoutMs, defaultStoreTimeoutMs, 'TcpStore.connect');
    const connectTimeoutMs = resolveTimeout(opts.connectTimeoutMs, 60_000, 'TcpStore.connect (connectTimeoutMs)');
    const addr = formatHostPort(host, port);

    const started = Date.now();
    const deadline = started + connectTimeoutMs;
    let delay = firstRetryDelayMs;
    let explanation: AttemptFailure | null = null;
    for (let attempt = 1; ; attempt++) {
      const remaining = deadline - Date.now();
      try {
        const { socket, reader } = await attemptConnect(host, port, secret, Math.max(remaining, 1));
        return new TcpStore(socket, reader, host, port, timeoutMs);
      } catch (error) {
        const failure = error instanceof AttemptFailure ? error : new AttemptFailure(String(error), false, error);
        if (!failure.cutShort || !explanation) explanation = failure;
        const left = deadline - Date.now();
        if (!failure.retry) {
          throw new StoreError(`TcpStore connect to ${addr}: ${failure.message}`, { op: 'store.connect', cause: failure.cause });
        }
        if (left <= 0) {
          throw new StoreError(
            `TcpStore connect to ${addr}: gave up after ${Date.now() - started} ms and ${attempt} attempt(s) ` +
            `(connectTimeoutMs ${describeTimeout(connectTimeoutMs)}); last error: ${explanation.message}`,
            { op: 'store.connect', cause: explanation.cause });
        }
        // Jittered exponential backoff, never past the deadline.
        await sleep(Math.min(left, delay * (0.75 + Math.random() * 0.5)));
        delay = Math.min(delay * 2, maxRetryDelayMs);
      }
    }
  }

  async set(key: string, value: Uint8Array | string): Promise<void> {
    checkKey(key, 'TcpStore.set');
    const bytes = toValueBytes(value, 'TcpStore.set');
    const what = `set(${quoteKey(key)})`;
    const res = await this.#request('set', what, this.timeoutMs, (id) => ({ op: 'set', id, key, value: bytes }));
    this.#expect(res, 'ok', what);
  }

  async get(key: string, timeoutMs?: number): Promise<Uint8Array> {
    checkKey(key, 'TcpStore.get');
    const t = resolveTimeout(timeoutMs, this.timeoutMs, 'TcpStore.get');
    const what = `get(${quoteKey(key)})`;
    const res = await this.#request('get', what, t, (id) => ({ op: 'get', id, key, timeoutMs: toWireTimeout(t) }), true);
    if (res.op === 'timeout') throw this.#timeoutError('get', what, t, 'waiting for the key');
    return this.#expect(res, 'value', what).value;
  }

  async add(key: string, delta: number): Promise<number> {
    checkKey(key, 'TcpStore.add');
    const d = checkDelta(delta, 'TcpStore.add');
    const what = `add(${quoteKey(key)}, ${delta})`;
    const res = await this.#request('add', what, this.timeoutMs, (id) => ({ op: 'add', id, key, delta: d }));
    if (res.op === 'error') throw new StoreError(`TcpStore ${what} on ${this.#addr}: ${res.message}`, { op: 'store.add' });
    const value = this.#expect(res, 'int', what).value;
    const n = counterToNumber(value);
    if (n === null) throw new StoreError(`TcpStore ${what} on ${this.#addr}: result ${value} is not a safe integer`, { op: 'store.add' });
    return n;
  }

  async wait(keys: string[], timeoutMs?: number): Promise<void> {
    const ks = checkKeys(keys, 'TcpStore.wait');
    const t = resolveTimeout(timeoutMs, this.timeoutMs, 'TcpStore.wait');
    const what = `wait(${quoteKeys(ks)})`;
    const res = await this.#request('wait', what, t, (id) => ({ op: 'wait', id, keys: ks, timeoutMs: toWireTimeout(t) }), true);
    if (res.op === 'timeout') throw this.#timeoutError('wait', what, t, 'waiting for the keys');
    this.#expect(res, 'ok', what);
  }

  async check(keys: string[]): Promise<boolean> {
    const ks = checkKeys(keys, 'TcpStore.check');
    const what = `check(${quoteKeys(ks)})`;
    const res = await this.#request('check', what, this.timeoutMs, (id) => ({ op: 'check', id, keys: ks }));
    return this.#expect(res, 'bool', what).value;
  }

  async deleteKey(key: string): Promise<boolean> {
    checkKey(key, 'TcpStore.deleteKey');
    const what = `deleteKey(${quoteKey(key)})`;
    const res = await this.#request('deleteKey', what, this.timeoutMs, (id) => ({ op: 'deleteKey', id, key }));
    return this.#expect(res, 'bool', what).value;
  }

  /** Closes the connection; pending calls reject. Idempotent. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#fail(`store closed by the caller`, undefined, true);
      this.#socket.destroy();
      this.#closed = this.#socketClosed;
    }
    return this.#closed;
  }

  // -------------------------------------------------------------------------------------------

  /**
   * Sends one request and resolves with its response. The client-side timer is a backstop: for
   * blocking ops the server answers TIMEOUT itself, so the client waits a little longer.
   */
  #request(op: string, what: string, timeoutMs: number, build: (id: number) => Request, blocking = false): Promise<Response> {
    if (this.#failure) {
      return Promise.reject(new StoreError(`TcpStore ${what} on ${this.#addr}: ${this.#failure.message}`, { op: `store.${op}`, cause: this.#failure }));
    }
    const id = this.#allocateId();
    const frame = encodeRequest(build(id));
    return new Promise<Response>((resolve, reject) => {
      const pending: Pending = { what, op, timeoutMs, resolve, reject, timer: null };
      const backstop = blocking ? timeoutMs + replySlackMs : timeoutMs;
      if (backstop <= maxTimerMs) {
        pending.timer = setTimeout(() => {
          pending.timer = null;
          this.#settle(id);
          reject(this.#timeoutError(op, what, timeoutMs, 'no reply from the server'));
        }, backstop);
      }
      this.#pending.set(id, pending);
      if (this.#pending.size === 1) this.#socket.ref();
      this.#socket.write(frame);
    });
  }

  #allocateId(): number {
    do {
      this.#nextId = this.#nextId >= 0xffffffff ? 1 : this.#nextId + 1;
    } while (this.#pending.has(this.#nextId));
    return this.#nextId;
  }

  /** Removes a pending entry (and its timer); unrefs the socket when nothing is pending. */
  #settle(id: number): Pending | undefined {
    const pending = this.#pending.get(id);
    if (!pending) return undefined;
    this.#pending.delete(id);
    if (pending.timer) clearTimeout(pending.timer);
    pending.timer = null;
    if (this.#pending.size === 0) this.#socket.unref();
    return pending;
  }

  #drain(): void {
    try {
      for (let body = this.#reader.next(); body !== null && !this.#failure; body = this.#reader.next()) {
        const msg = decodeServerMessage(body);
        this.#dispatch(msg);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#fail(`protocol error from ${this.#addr}: ${error.message}`, error);
    }
  }

  #dispatch(msg: ServerMessage): void {
    switch (msg.op) {
      case 'refused':
        this.#fail(`server ${this.#addr} closed the connection: ${msg.reason}`);
        return;
      case 'hello':
      case 'authOk':
        throw new ProtocolError(`unexpected ${msg.op} frame after the handshake`);
      default: {
        // A reply whose call already timed out on the client side is dropped.
        const pending = this.#settle(msg.id);
        pending?.resolve(msg);
      }
    }
  }

  /** Narrows a response to the expected kind; anything else is a server protocol violation. */
  #expect<K extends Response['op']>(res: Response, kind: K, what: string): Extract<Response, { op: K }> {
    if (res.op === kind) return res as Extract<Response, { op: K }>;
    const why = `protocol error from ${this.#addr}: ${what} got a ${res.op} reply, expected ${kind}`;
    this.#fail(why);
    throw new StoreError(`TcpStore ${what} on ${this.#addr}: ${why}`, { op: 'store' });
  }

  #timeoutError(op: string, what: string, timeoutMs: number, detail: string): StoreError {
    return new StoreError(`TcpStore ${what} on ${this.#addr}: timed out after ${describeTimeout(timeoutMs)} (${detail})`, { op: `store.${op}` });
  }

  /**
   * Called once if the connection is lost (not when close() is called): a launcher-hosted store
   * going away means the launcher died, which ranks use to stop instead of living on as orphans.
   */
  onLost: ((why: string) => void) | null = null;

  /** Makes the failure sticky, rejects every pending call and drops the socket. */
  #fail(message: string, cause?: unknown, closedByCaller = false): void {
    if (this.#failure) return;
    this.#failure = new StoreError(message, { op: 'store', cause });
    if (!closedByCaller && this.onLost) {
      const cb = this.onLost;
      queueMicrotask(() => cb(message));
    }
    const pending = [...this.#pending.keys()].map((id) => this.#settle(id)!);
    for (const p of pending) {
      const text = closedByCaller ? `TcpStore ${p.what} on ${this.#addr}: store closed while the call was pending` : `TcpStore ${p.what} on ${this.#addr}: ${message}`;
      p.reject(new StoreError(text, { op: `store.${p.op}`, cause }));
    }
    this.#socket.unref();
    if (!this.#socket.destroyed) this.#socket.destroy();
  }
}

function toWireTimeout(timeoutMs: number): number {
  return Number.isFinite(timeoutMs) ? timeoutMs : noTimeout;
}

/**
 * One connection attempt: TCP connect, HELLO, and the HMAC exchange when the server asks for it.
 * Resolves with the socket and its reader (which may already hold the first responses); rejects
 * with AttemptFailure.
 */
function attemptConnect(host: string, port: number, secret: string | undefined, timeoutMs: number): Promise<{ socket: net.Socket; reader: FrameReader }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.setNoDelay(true);
    // Handshake frames are small; the limit rises to maxFrameBytes once it is done.
    const reader = new FrameReader(16 + maxMessageBytes);
    let stage: 'connecting' | 'hello' | 'auth' | 'done' = 'connecting';
    let clientNonce: Buffer | null = null;
    let helloNonce: Buffer | null = null;

    const finish = (failure: AttemptFailure | null): void => {
      if (stage === 'done') return;
      stage = 'done';
      clearTimeout(timer);
      socket.off('connect', onConnect);
      socket.off('data', onData);
      socket.off('error', onError);
      socket.off('close', onClose);
      if (failure) {
        socket.on('error', () => {});
        socket.destroy();
        reject(failure);
      } else {
        // Hold further bytes until the TcpStore has attached its own listener.
        socket.pause();
        reader.limit = maxFrameBytes;
        resolve({ socket, reader });
      }
    };
    const onConnect = (): void => { stage = 'hello'; };
    const onError = (error: NodeJS.ErrnoException): void => {
      finish(new AttemptFailure(`${error.code ?? 'error'}: ${error.message}`, stage !== 'auth', error));
    };
    const onClose = (): void => {
      finish(stage === 'auth'
        ? new AttemptFailure('the server closed the connection during authentication', false)
        : new AttemptFailure('the server closed the connection before greeting', true));
    };
    const onData = (chunk: Buffer): void => {
      reader.push(chunk);
      try {
        for (let body = reader.next(); body !== null && stage !== 'done'; body = reader.next()) {
          handle(decodeServerMessage(body));
        }
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        finish(new AttemptFailure(`protocol error during the handshake: ${error.message} (is this a ringtree store?)`, false, error));
      }
    };
    const handle = (msg: ServerMessage): void => {
      if (msg.op === 'refused') {
        finish(new AttemptFailure(`the server refused the connection: ${msg.reason}`, false));
        return;
      }
      if (stage === 'hello') {
        if (msg.op !== 'hello') throw new ProtocolError(`expected hello, got ${msg.op}`);
        if (msg.version !== protocolVersion) {
          finish(new AttemptFailure(`server speaks store protocol v${msg.version}, this client v${protocolVersion}`, false));
          return;
        }
        if (msg.authRequired && secret === undefined) {
          finish(new AttemptFailure('the server requires authentication but no secret was given (set RINGTREE_SECRET or pass secret)', false));
          return;
        }
        if (!msg.authRequired && secret !== undefined) {
          finish(new AttemptFailure('a secret was given but the server does not authenticate clients; refusing an unauthenticated store', false));
          return;
        }
        if (!msg.authRequired) {
          finish(null);
          return;
        }
        helloNonce = msg.nonce;
        clientNonce = randomBytes(nonceBytes);
        socket.write(encodeAuth(clientAuthMac(secret!, msg.nonce), clientNonce));
        stage = 'auth';
        return;
      }
      if (stage === 'auth') {
        if (msg.op !== 'authOk') throw new ProtocolError(`expected authOk, got ${msg.op}`);
        if (!macEquals(serverAuthMac(secret!, helloNonce!, clientNonce!), msg.mac)) {
          finish(new AttemptFailure('the server could not prove it knows the secret (wrong secret or not the job\'s store)', false));
          return;
        }
        finish(null);
      }
    };

    const timer = setTimeout(() => {
      finish(new AttemptFailure(stage === 'connecting'
        ? `TCP connect did not complete within ${timeoutMs} ms`
        : `no ${stage === 'hello' ? 'greeting' : 'authentication reply'} from the server within ${timeoutMs} ms`, stage === 'connecting', undefined, true));
    }, Math.min(timeoutMs, maxTimerMs));
    socket.on('connect', onConnect);
    socket.on('data', onData);
    socket.on('error', onError);
    socket.on('close', onClose);
  });
}
