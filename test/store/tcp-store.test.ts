// TcpStore against a live TcpStoreServer on an ephemeral loopback port: the shared Store suite
// (with and without a secret, and through a PrefixStore), then client behaviour specific to TCP:
// pipelining, connect retries and deadlines, connection loss, client-side timeouts, event-loop refs.

import { spawn } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import test from 'ava';

import { PrefixStore, TcpStore, TcpStoreServer, type Store } from '../../lib/rendezvous/index.js';
import { encodeServerMessage } from '../../lib/rendezvous/protocol.js';
import { storeSuite, type StoreFixture } from './_suite.js';

const text = (bytes: Uint8Array): string => Buffer.from(bytes).toString('utf8');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function tcpFixture(timeoutMs: number, secret?: string, wrap?: (s: Store) => Store): Promise<StoreFixture> {
  const logs: string[] = [];
  const server = await TcpStoreServer.start({ ...(secret ? { secret } : {}), log: (m) => logs.push(m) });
  const clients: Store[] = [];
  return {
    async open() {
      const client = await TcpStore.connect({ host: server.host, port: server.port, ...(secret ? { secret } : {}), timeoutMs, connectTimeoutMs: 5000 });
      clients.push(client);
      return wrap ? wrap(client) : client;
    },
    async dispose() {
      await Promise.all(clients.map((c) => c.close()));
      await server.close();
    },
  };
}

storeSuite('TcpStore', (timeoutMs) => tcpFixture(timeoutMs));
storeSuite('TcpStore+secret', (timeoutMs) => tcpFixture(timeoutMs, 'test-secret'), { addsPerClient: 10 });
storeSuite('PrefixStore(TcpStore)', (timeoutMs) => tcpFixture(timeoutMs, undefined, (s) => new PrefixStore('job7', s)), { closeRejectsPending: false, addsPerClient: 5, maxKeyBytes: 4096 - 'job7/'.length });

/** A started server plus one client, both closed by the returned dispose(). */
async function serverAndClient(opts: { timeoutMs?: number } = {}): Promise<{ server: TcpStoreServer; store: TcpStore; dispose: () => Promise<void> }> {
  const server = await TcpStoreServer.start({ log: () => {} });
  const store = await TcpStore.connect({ host: server.host, port: server.port, timeoutMs: opts.timeoutMs ?? 5000 });
  return { server, store, dispose: async () => { await store.close(); await server.close(); } };
}

test('PrefixStore namespaces keys and does not close the inner store', async (t) => {
  const { store, dispose } = await serverAndClient();
  try {
    const a = new PrefixStore('a', store);
    const b = new PrefixStore('b', store);
    await a.set('k', 'from a');
    await b.set('k', 'from b');
    t.is(text(await store.get('a/k')), 'from a');
    t.is(text(await b.get('k')), 'from b');
    t.is(await a.add('n', 2), 2);
    t.is(text(await store.get('a/n')), '2');
    await a.close();
    await t.throwsAsync(a.get('k'), { code: 'ERR_RINGTREE_STORE' });
    t.true(await store.check(['a/k', 'b/k']), 'inner store still open');
  } finally {
    await dispose();
  }
});

test('requests are pipelined: 200 gets on one connection complete out of order', async (t) => {
  const { server, store, dispose } = await serverAndClient();
  const writer = await TcpStore.connect({ host: server.host, port: server.port });
  try {
    const keys = Array.from({ length: 200 }, (_, i) => `p/${i}`);
    const gets = keys.map((k) => store.get(k, 5000));
    for (const k of [...keys].reverse()) await writer.set(k, k);
    t.deepEqual((await Promise.all(gets)).map(text), keys);
    t.is(await store.add('after', 1), 1, 'connection still healthy');
  } finally {
    await writer.close();
    await dispose();
  }
});

test('large values round-trip', async (t) => {
  const { store, dispose } = await serverAndClient();
  try {
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
    await store.set('big', big);
    t.true(Buffer.from(await store.get('big')).equals(big));
  } finally {
    await dispose();
  }
});

test('connect retries until the server starts', async (t) => {
  // Find a free port, then start the server on it only after the client began connecting.
  const probe = await TcpStoreServer.start({});
  const port = probe.port;
  await probe.close();
  const connecting = TcpStore.connect({ host: '127.0.0.1', port, connectTimeoutMs: 5000 });
  await sleep(300);
  const server = await TcpStoreServer.start({ port });
  try {
    const store = await connecting;
    await store.set('k', 'v');
    t.is(text(await store.get('k')), 'v');
    await store.close();
  } finally {
    await server.close();
  }
});

test('connect gives up after connectTimeoutMs with a clear error', async (t) => {
  const probe = await TcpStoreServer.start({});
  const port = probe.port;
  await probe.close();
  const start = Date.now();
  const error = await t.throwsAsync(TcpStore.connect({ host: '127.0.0.1', port, connectTimeoutMs: 250 }), { code: 'ERR_RINGTREE_STORE' });
  t.true(Date.now() - start >= 240);
  t.regex(error!.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
  t.regex(error!.message, /gave up after .* ECONNREFUSED/);
});

test('connect validates its options', async (t) => {
  const invalid = { code: 'ERR_RINGTREE_INVALID_ARGUMENT' };
  await t.throwsAsync(TcpStore.connect({ host: '', port: 1 }), invalid);
  await t.throwsAsync(TcpStore.connect({ host: '127.0.0.1', port: 0 }), invalid);
  await t.throwsAsync(TcpStore.connect({ host: '127.0.0.1', port: 70000 }), invalid);
  await t.throwsAsync(TcpStore.connect({ host: '127.0.0.1', port: 1, secret: '' }), invalid);
  await t.throwsAsync(TcpStoreServer.start({ port: -1 }), invalid);
});

test('a server that goes away fails pending and later calls', async (t) => {
  const { server, store, dispose } = await serverAndClient();
  try {
    const pending = store.get('never', 10_000);
    await sleep(30);
    await server.close();
    await t.throwsAsync(pending, { code: 'ERR_RINGTREE_STORE', message: /get\("never"\) on 127\.0\.0\.1:\d+: connection to 127\.0\.0\.1:\d+ (was closed by the server|lost)/ });
    await t.throwsAsync(store.set('k', 'v'), { code: 'ERR_RINGTREE_STORE', message: /set\("k"\)/ });
  } finally {
    await dispose();
  }
});

test('the client times out by itself when the server never answers', async (t) => {
  // A mute server: greets without authentication, then ignores every request.
  const sockets = new Set<net.Socket>();
  const mute = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.write(encodeServerMessage({ op: 'hello', version: 1, authRequired: false, nonce: Buffer.alloc(32) }));
  });
  await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
  const port = (mute.address() as net.AddressInfo).port;
  try {
    const store = await TcpStore.connect({ host: '127.0.0.1', port, timeoutMs: 150 });
    await t.throwsAsync(store.set('k', 'v'), { code: 'ERR_RINGTREE_STORE', message: /set\("k"\) on 127\.0\.0\.1:\d+: timed out after 150 ms \(no reply from the server\)/ });
    await store.close();
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => mute.close(r));
  }
});

test('a client that is not a ringtree store server is reported', async (t) => {
  const sockets = new Set<net.Socket>();
  const http = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    socket.end('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const port = (http.address() as net.AddressInfo).port;
  try {
    await t.throwsAsync(TcpStore.connect({ host: '127.0.0.1', port, connectTimeoutMs: 2000 }), { code: 'ERR_RINGTREE_STORE', message: /protocol error during the handshake/ });
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => http.close(r));
  }
});

test('an idle client does not keep the process alive; a pending call does', async (t) => {
  t.timeout(20_000);
  const server = await TcpStoreServer.start({ log: () => {} });
  const admin = await TcpStore.connect({ host: server.host, port: server.port });
  try {
    const moduleUrl = new URL('../../lib/rendezvous/tcp-store.js', import.meta.url).href;
    // The child never closes its store: it must exit once its calls are done, and not before.
    const child = spawn(process.execPath, ['--input-type=module', '-e', `
      const { TcpStore } = await import(${JSON.stringify(moduleUrl)});
      const store = await TcpStore.connect({ host: '127.0.0.1', port: ${server.port} });
      await store.set('child/ready', '1');
      const value = await store.get('child/go', 10000);
      console.log('got ' + Buffer.from(value).toString());
    `], { stdio: ['ignore', 'pipe', 'pipe'], cwd: path.dirname(fileURLToPath(import.meta.url)) });
    let out = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await admin.get('child/ready', 10_000);
    await sleep(300);
    t.is(child.exitCode, null, 'still running while get() is pending');
    await admin.set('child/go', 'go');
    const deadline = sleep(8000).then(() => 'timeout' as const);
    const code = await Promise.race([exited, deadline]);
    if (code === 'timeout') child.kill('SIGKILL');
    t.is(code, 0, `child exited by itself (output: ${out})`);
    t.regex(out, /got go/);
  } finally {
    await admin.close();
    await server.close();
  }
});
