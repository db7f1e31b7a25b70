// TcpStoreServer: the rendezvous key-value store served over TCP (c10d TCPStore's server side),
// hosted by the launcher or by rank 0. Pure node:net; one KvState shared by every connection.
//
// Per connection: the server sends HELLO (protocol.ts) with a fresh 32-byte nonce. With a secret,
// the client must answer with a correct HMAC within authTimeoutMs (default 5 s); until then its
// frames are capped at the AUTH size and any other frame, a wrong answer or the deadline closes the
// connection with `refused connection from ADDR: <reason>` logged. Authenticated (or, without a
// secret, all) clients may pipeline requests; each gets exactly one response echoing its id.
// Blocking get/wait park on the KvState and are answered when the keys appear or their timeout
// expires; they are dropped when their connection closes. A malformed frame, or a frame left
// incomplete for frameTimeoutMs, closes only that connection (logged); nothing a peer sends can
// throw out of a socket callback. Responses are written as produced; when a client stops reading,
// the server stops reading its requests until the socket drains.

import { randomBytes } from 'node:crypto';
import net from 'node:net';

import { InvalidArgumentError, StoreError } from '../errors.js';
import { KvError, KvState } from './hash-store.js';
import {
  FrameReader, ProtocolError, clientAuthMac, decodeClientMessage, encodeServerMessage, macEquals,
  maxFrameBytes, maxPreAuthFrameBytes, noTimeout, nonceBytes, protocolVersion, serverAuthMac,
  type Request, type ServerMessage,
} from './protocol.js';
import { formatHostPort, maxTimerMs } from './common.js';

export interface TcpStoreServerOptions {
  /** Address to bind; default 127.0.0.1 (loopback). Use 0.0.0.0 / :: only when the job spans hosts. */
  host?: string;
  /** Port to bind; 0 (the default) picks an ephemeral port, readable from `.port`. */
  port?: number;
  /** Job secret; when set every client must pass the HMAC challenge before anything else. */
  secret?: string;
  /** Sink for connection-level events (refusals, protocol errors); default console.error with a `[ringtree store]` prefix. */
  log?: (msg: string) => void;
  /** Time a client has to authenticate, in ms (default 5000). */
  authTimeoutMs?: number;
  /** Longest time one frame may take to arrive once started, in ms (default 60000): stops slowloris clients. */
  frameTimeoutMs?: number;
}

const defaultLog = (msg: string): void => { console.error(`[ringtree store] ${msg}`); };

/** Per-connection state. */
class Connection {
  readonly reader: FrameReader;
  readonly nonce = randomBytes(nonceBytes);
  readonly cancels = new Map<number, () => void>();
  authenticated: boolean;
  closed = false;
  authTimer: NodeJS.Timeout | null = null;
  frameTimer: NodeJS.Timeout | null = null;

  constructor(readonly socket: net.Socket, readonly addr: string, authRequired: boolean) {
    this.authenticated = !authRequired;
    this.reader = new FrameReader(authRequired ? maxPreAuthFrameBytes : maxFrameBytes);
  }
}

/**
 * A TCP rendezvous store server.
 *
 * @example
 * const server = await TcpStoreServer.start({ secret });
 * const store = await TcpStore.connect({ host: server.host, port: server.port, secret });
 * await store.set('addr/0', bytes);
 * await store.close();
 * await server.close();
 */
export class TcpStoreServer {
  readonly host: string;
  readonly port: number;
  readonly #server: net.Server;
  readonly #state = new KvState();
  readonly #connections = new Set<Connection>();
  /** Every socket not yet closed, including ones finishing a graceful close. */
  readonly #sockets = new Set<net.Socket>();
  readonly #secret: string | undefined;
  readonly #log: (msg: string) => void;
  readonly #authTimeoutMs: number;
  readonly #frameTimeoutMs: number;
  #closing: Promise<void> | null = null;

  private constructor(server: net.Server, host: string, port: number, opts: TcpStoreServerOptions) {
    this.#server = server;
    this.host = host;
    this.port = port;
    this.#secret = opts.secret;
    this.#log = opts.log ?? defaultLog;
    this.#authTimeoutMs = opts.authTimeoutMs ?? 5000;
    this.#frameTimeoutMs = opts.frameTimeoutMs ?? 60_000;
  }

  /** Binds and starts serving. Rejects with StoreError when the address cannot be bound. */
  static async start(opts: TcpStoreServerOptions = {}): Promise<TcpStoreServer> {
    const host = opts.host ?? '127.0.0.1';
    const port = opts.port ?? 0;
    if (typeof host !== 'string' || host === '') throw new InvalidArgumentError(`TcpStoreServer: host must be a non-empty string`);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError(`TcpStoreServer: port must be an integer in 0..65535, got ${port}`);
    if (opts.secret !== undefined && (typeof opts.secret !== 'string' || opts.secret === '')) {
      throw new InvalidArgumentError('TcpStoreServer: secret must be a non-empty string when given');
    }
    for (const name of ['authTimeoutMs', 'frameTimeoutMs'] as const) {
      const v = opts[name];
      if (v !== undefined && (!Number.isInteger(v) || v <= 0 || v > maxTimerMs)) {
        throw new InvalidArgumentError(`TcpStoreServer: ${name} must be a positive integer of ms, got ${v}`);
      }
    }

    const server = net.createServer({ noDelay: true });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        reject(new StoreError(`TcpStoreServer: cannot listen on ${formatHostPort(host, port)}: ${error.message}`, { op: 'store.listen', cause: error }));
      };
      server.once('error', onError);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', onError);
        resolve();
      });
    });
    const bound = (server.address() as net.AddressInfo).port;
    const self = new TcpStoreServer(server, host, bound, opts);
    server.on('connection', (socket) => self.#accept(socket));
    // A listening socket error after startup (rare: e.g. EMFILE on accept) must not crash the host.
    server.on('error', (error) => self.#log(`listener error on ${formatHostPort(host, bound)}: ${error.message}`));
    return self;
  }

  /** Number of open client connections. */
  get connectionCount(): number { return this.#connections.size; }

  /** Stops listening, drops every connection and pending wait. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const conn of [...this.#connections]) this.#drop(conn);
      for (const socket of this.#sockets) socket.destroy();
      this.#state.cancelAll();
    });
    return this.#closing;
  }

  // -------------------------------------------------------------------------------------------

  #accept(socket: net.Socket): void {
    const addr = formatHostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    if (this.#closing) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    const authRequired = this.#secret !== undefined;
    const conn = new Connection(socket, addr, authRequired);
    this.#connections.add(conn);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk));
    socket.on('drain', () => { if (!conn.closed) socket.resume(); });
    socket.on('error', () => { /* reported through 'close'; resets from clients are normal */ });
    socket.on('close', () => {
      if (!conn.closed && !conn.authenticated) this.#log(`refused connection from ${addr}: disconnected before authenticating`);
      this.#drop(conn);
    });
    if (authRequired) {
      conn.authTimer = setTimeout(() => this.#refuse(conn, `no authentication within ${this.#authTimeoutMs} ms`), this.#authTimeoutMs);
    }
    this.#send(conn, { op: 'hello', version: protocolVersion, authRequired, nonce: conn.nonce });
  }

  #onData(conn: Connection, chunk: Buffer): void {
    if (conn.closed) return;
    conn.reader.push(chunk);
    let completed = 0;
    try {
      for (let body = conn.reader.next(); body !== null && !conn.closed; body = conn.reader.next()) {
        completed++;
        const msg = decodeClientMessage(body);
        if (!conn.authenticated) {
          if (msg.op !== 'auth') {
            this.#refuse(conn, `sent a ${msg.op} request before authenticating`);
            return;
          }
          if (!this.#authenticate(conn, msg.mac, msg.clientNonce)) return;
          continue;
        }
        if (msg.op === 'auth') throw new ProtocolError('unexpected AUTH frame');
        this.#handle(conn, msg);
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) {
        // Not reachable by design; still never let a peer's bytes crash the process.
        this.#close(conn, `internal error while handling a request: ${(error as Error)?.stack ?? String(error)}`, 'internal server error');
        return;
      }
      if (conn.authenticated) this.#close(conn, `malformed frame: ${error.message}`);
      else this.#refuse(conn, `malformed frame: ${error.message}`);
      return;
    }
    this.#armFrameTimer(conn, completed > 0);
  }

  /**
   * Times the frame in progress: stops the timer when no bytes are pending, (re)starts it when a
   * new frame began (the previous ones completed), and otherwise leaves it running, so a frame
   * that trickles in never gets more than frameTimeoutMs however its bytes are spaced.
   */
  #armFrameTimer(conn: Connection, newFrame: boolean): void {
    if (conn.closed) return;
    if (conn.frameTimer && (newFrame || conn.reader.bufferedBytes === 0)) {
      clearTimeout(conn.frameTimer);
      conn.frameTimer = null;
    }
    if (conn.reader.bufferedBytes > 0 && !conn.frameTimer) {
      conn.frameTimer = setTimeout(() => {
        conn.frameTimer = null;
        const why = `frame incomplete after ${this.#frameTimeoutMs} ms (${conn.reader.bufferedBytes} bytes buffered)`;
        if (conn.authenticated) this.#close(conn, why);
        else this.#refuse(conn, why);
      }, this.#frameTimeoutMs);
    }
  }

  #authenticate(conn: Connection, mac: Buffer, clientNonce: Buffer): boolean {
    const secret = this.#secret!;
    if (!macEquals(clientAuthMac(secret, conn.nonce), mac)) {
      this.#refuse(conn, 'authentication failed (wrong secret)');
      return false;
    }
    conn.authenticated = true;
    conn.reader.limit = maxFrameBytes;
    if (conn.authTimer) clearTimeout(conn.authTimer);
    conn.authTimer = null;
    this.#send(conn, { op: 'authOk', mac: serverAuthMac(secret, conn.nonce, clientNonce) });
    return true;
  }

  #handle(conn: Connection, req: Request): void {
    const { id } = req;
    if (conn.cancels.has(id)) throw new ProtocolError(`request id ${id} is already in use`);
    switch (req.op) {
      case 'set':
        this.#state.set(req.key, Buffer.from(req.value));
        this.#send(conn, { op: 'ok', id });
        return;
      case 'add': {
        let value: bigint;
        try {
          value = this.#state.add(req.key, req.delta);
        } catch (error) {
          if (!(error instanceof KvError)) throw error;
          this.#send(conn, { op: 'error', id, message: error.message });
          return;
        }
        this.#send(conn, { op: 'int', id, value });
        return;
      }
      case 'check':
        this.#send(conn, { op: 'bool', id, value: this.#state.check(req.keys) });
        return;
      case 'deleteKey':
        this.#send(conn, { op: 'bool', id, value: this.#state.delete(req.key) });
        return;
      case 'get':
      case 'wait': {
        const keys = req.op === 'get' ? [req.key] : req.keys;
        const timeoutMs = req.timeoutMs === noTimeout || req.timeoutMs > maxTimerMs ? Infinity : req.timeoutMs;
        let completed = false;
        const cancel = this.#state.waitFor(keys, timeoutMs, (ok) => {
          completed = true;
          conn.cancels.delete(id);
          if (!ok) this.#send(conn, { op: 'timeout', id });
          else if (req.op === 'wait') this.#send(conn, { op: 'ok', id });
          else this.#send(conn, { op: 'value', id, value: this.#state.get(req.key)! });
        });
        if (!completed) conn.cancels.set(id, cancel);
        return;
      }
    }
  }

  #send(conn: Connection, msg: ServerMessage): void {
    if (conn.closed) return;
    const ok = conn.socket.write(encodeServerMessage(msg));
    // Backpressure: a client that does not read its responses stops being read from.
    if (!ok) conn.socket.pause();
  }

  /** Refuses an unauthenticated connection: logs, tells the peer why, and closes. */
  #refuse(conn: Connection, reason: string): void {
    if (conn.closed) return;
    this.#log(`refused connection from ${conn.addr}: ${reason}`);
    this.#send(conn, { op: 'refused', reason });
    this.#drop(conn, true);
  }

  /** Closes an authenticated connection because of what it sent (peerReason: what the peer is told). */
  #close(conn: Connection, reason: string, peerReason = reason): void {
    if (conn.closed) return;
    this.#log(`closed connection from ${conn.addr}: ${reason}`);
    this.#send(conn, { op: 'refused', reason: peerReason });
    this.#drop(conn, true);
  }

  /** Releases everything a connection holds. graceful: flush what was written, then close. */
  #drop(conn: Connection, graceful = false): void {
    if (conn.closed) return;
    conn.closed = true;
    this.#connections.delete(conn);
    if (conn.authTimer) clearTimeout(conn.authTimer);
    if (conn.frameTimer) clearTimeout(conn.frameTimer);
    conn.authTimer = conn.frameTimer = null;
    for (const cancel of conn.cancels.values()) cancel();
    conn.cancels.clear();
    const { socket } = conn;
    socket.pause();
    if (graceful && !socket.destroyed) {
      socket.end();
      // Do not wait on a peer that never reads: the final frame is best-effort.
      setTimeout(() => socket.destroy(), 1000).unref();
    } else {
      socket.destroy();
    }
  }
}
