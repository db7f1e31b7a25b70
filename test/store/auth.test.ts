// Store authentication: the HMAC challenge, refusals and their log lines, and that no
// unauthenticated connection can ever read or write a key.

import { randomBytes } from 'node:crypto';
import net from 'node:net';

import test from 'ava';

import { TcpStore, TcpStoreServer } from '../../lib/rendezvous/index.js';
import {
  FrameReader, clientAuthMac, decodeServerMessage, encodeAuth, encodeRequest, encodeServerMessage,
  type ServerMessage,
} from '../../lib/rendezvous/protocol.js';

const secret = 'correct horse battery staple';
const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');

async function startServer(extra: { authTimeoutMs?: number } = {}): Promise<{ server: TcpStoreServer; logs: string[] }> {
  const logs: string[] = [];
  const server = await TcpStoreServer.start({ secret, log: (m) => logs.push(m), ...extra });
  return { server, logs };
}

/** A raw socket that decodes what the server sends. */
async function rawConnect(port: number): Promise<{ socket: net.Socket; messages: ServerMessage[]; closed: Promise<void>; next: () => Promise<ServerMessage | null> }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
  const messages: ServerMessage[] = [];
  const reader = new FrameReader();
  let wake: (() => void) | null = null;
  const closed = new Promise<void>((resolve) => socket.once('close', () => { resolve(); wake?.(); }));
  socket.on('data', (chunk: Buffer) => {
    reader.push(chunk);
    for (let b = reader.next(); b; b = reader.next()) messages.push(decodeServerMessage(b));
    wake?.();
  });
  let consumed = 0;
  const next = async (): Promise<ServerMessage | null> => {
    while (consumed >= messages.length) {
      if (socket.destroyed) return null;
      await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
    }
    return messages[consumed++]!;
  };
  return { socket, messages, closed, next };
}

async function waitForLog(logs: string[], pattern: RegExp): Promise<string | undefined> {
  for (let i = 0; i < 100 && !logs.some((l) => pattern.test(l)); i++) await new Promise((r) => setTimeout(r, 20));
  return logs.find((l) => pattern.test(l));
}

test('the right secret works', async (t) => {
  const { server, logs } = await startServer();
  try {
    const store = await TcpStore.connect({ host: server.host, port: server.port, secret });
    await store.set('k', 'v');
    t.is(text(await store.get('k')), 'v');
    await store.close();
    t.deepEqual(logs, []);
  } finally {
    await server.close();
  }
});

test('a wrong secret is refused and logged', async (t) => {
  const { server, logs } = await startServer();
  try {
    const error = await t.throwsAsync(TcpStore.connect({ host: server.host, port: server.port, secret: 'guess', connectTimeoutMs: 5000 }), { code: 'ERR_RINGTREE_STORE' });
    t.regex(error!.message, /refused the connection: authentication failed/);
    t.regex(error!.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`));
    t.truthy(await waitForLog(logs, /^refused connection from 127\.0\.0\.1:\d+: authentication failed \(wrong secret\)$/));
  } finally {
    await server.close();
  }
});

test('no secret is refused by a server that has one', async (t) => {
  const { server, logs } = await startServer();
  try {
    await t.throwsAsync(TcpStore.connect({ host: server.host, port: server.port }), { code: 'ERR_RINGTREE_STORE', message: /requires authentication but no secret was given/ });
    t.truthy(await waitForLog(logs, /^refused connection from 127\.0\.0\.1:\d+: disconnected before authenticating$/));
  } finally {
    await server.close();
  }
});

test('a client with a secret refuses a server without one', async (t) => {
  const server = await TcpStoreServer.start({});
  try {
    await t.throwsAsync(TcpStore.connect({ host: server.host, port: server.port, secret }), { code: 'ERR_RINGTREE_STORE', message: /does not authenticate clients/ });
  } finally {
    await server.close();
  }
});

test('an unauthenticated socket cannot set or read a key', async (t) => {
  const { server, logs } = await startServer();
  try {
    const admin = await TcpStore.connect({ host: server.host, port: server.port, secret });
    await admin.set('secret/value', 'hidden');

    const raw = await rawConnect(server.port);
    const hello = await raw.next();
    t.is(hello?.op, 'hello');
    raw.socket.write(encodeRequest({ op: 'set', id: 1, key: 'intruder', value: Buffer.from('x') }));
    raw.socket.write(encodeRequest({ op: 'get', id: 2, key: 'secret/value', timeoutMs: 0 }));
    await raw.closed;
    t.deepEqual(raw.messages.map((m) => m.op), ['hello', 'refused']);
    t.false(await admin.check(['intruder']));
    t.truthy(await waitForLog(logs, /^refused connection from 127\.0\.0\.1:\d+: sent a set request before authenticating$/));

    // A wrong answer followed by a request: still nothing lands.
    const raw2 = await rawConnect(server.port);
    await raw2.next();
    raw2.socket.write(encodeAuth(randomBytes(32), randomBytes(32)));
    raw2.socket.write(encodeRequest({ op: 'set', id: 1, key: 'intruder2', value: Buffer.from('x') }));
    await raw2.closed;
    t.deepEqual(raw2.messages.map((m) => m.op), ['hello', 'refused']);
    t.false(await admin.check(['intruder2']));

    // Replaying an answer computed for another nonce fails too.
    const raw3 = await rawConnect(server.port);
    await raw3.next();
    raw3.socket.write(encodeAuth(clientAuthMac(secret, randomBytes(32)), randomBytes(32)));
    await raw3.closed;
    t.is(raw3.messages.at(-1)?.op, 'refused');
    await admin.close();
  } finally {
    await server.close();
  }
});

test('a client that never authenticates is dropped after the deadline', async (t) => {
  const { server, logs } = await startServer({ authTimeoutMs: 150 });
  try {
    const raw = await rawConnect(server.port);
    const start = Date.now();
    await raw.closed;
    t.true(Date.now() - start >= 50, 'not dropped at once');
    t.truthy(await waitForLog(logs, /^refused connection from 127\.0\.0\.1:\d+: no authentication within 150 ms$/));
    t.is(server.connectionCount, 0);
  } finally {
    await server.close();
  }
});

test('oversized frames before authentication are refused from the length prefix', async (t) => {
  const { server, logs } = await startServer();
  try {
    const raw = await rawConnect(server.port);
    await raw.next();
    const header = Buffer.alloc(4);
    header.writeUInt32BE(1000, 0);
    raw.socket.write(header);
    await raw.closed;
    t.truthy(await waitForLog(logs, /refused connection from .*: malformed frame: frame length 1000 exceeds the limit of 65 bytes/));
  } finally {
    await server.close();
  }
});

test.serial('the default log goes to console.error with the [ringtree store] prefix', async (t) => {
  const server = await TcpStoreServer.start({ secret });
  const original = console.error;
  const lines: string[] = [];
  console.error = (...args: unknown[]) => { lines.push(args.join(' ')); };
  try {
    await t.throwsAsync(TcpStore.connect({ host: server.host, port: server.port, secret: 'nope' }));
    for (let i = 0; i < 50 && lines.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  } finally {
    console.error = original;
    await server.close();
  }
  t.regex(lines[0] ?? '', /^\[ringtree store\] refused connection from 127\.0\.0\.1:\d+: authentication failed/);
});

test('the client rejects a server that cannot prove it knows the secret', async (t) => {
  // An impostor: asks for authentication, accepts anything, answers with a made-up proof.
  const sockets = new Set<net.Socket>();
  const impostor = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write(encodeServerMessage({ op: 'hello', version: 1, authRequired: true, nonce: randomBytes(32) }));
    socket.once('data', () => socket.write(encodeServerMessage({ op: 'authOk', mac: randomBytes(32) })));
  });
  await new Promise<void>((r) => impostor.listen(0, '127.0.0.1', r));
  try {
    const port = (impostor.address() as net.AddressInfo).port;
    await t.throwsAsync(TcpStore.connect({ host: '127.0.0.1', port, secret }), { code: 'ERR_RINGTREE_STORE', message: /could not prove it knows the secret/ });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => impostor.close(r));
  }
});
