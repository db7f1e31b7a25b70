// FileStore: the shared Store suite over a temporary directory (16 clients = 16 FileStore objects
// on the same folder, as separate processes would have), plus lock-file behaviour.

import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import test from 'ava';

import { FileStore, type Store } from '../../lib/rendezvous/index.js';
import { storeSuite } from './_suite.js';

async function tempDir(): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), 'ringtree-filestore-'));
}

storeSuite('FileStore', async (timeoutMs) => {
  const dir = await tempDir();
  const clients: Store[] = [];
  return {
    async open() {
      const store = new FileStore(dir, { timeoutMs });
      clients.push(store);
      return store;
    },
    async dispose() {
      await Promise.all(clients.map((c) => c.close()));
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
}, { addsPerClient: 8 });

test('FileStore writes are atomic renames and leave no temporary files', async (t) => {
  const dir = await tempDir();
  const store = new FileStore(dir);
  try {
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set('same', `value ${i}`)));
    t.regex(Buffer.from(await store.get('same')).toString(), /^value \d+$/);
    await store.add('n', 1);
    const names = await fs.readdir(dir);
    t.deepEqual(names.filter((n) => n.startsWith('.tmp.') || n.endsWith('.lock')), []);
    t.is(path.basename(store.fileOf('same')), `k.${Buffer.from('same').toString('base64url')}`);
    t.regex(path.basename(store.fileOf('x'.repeat(1000))), /^h\.[0-9a-f]{64}$/);
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('FileStore add waits for a held lock and times out naming it', async (t) => {
  const dir = await tempDir();
  const store = new FileStore(dir, { timeoutMs: 150 });
  try {
    const lock = `${store.fileOf('held')}.lock`;
    await fs.writeFile(lock, '');
    await t.throwsAsync(store.add('held', 1), { code: 'ERR_RINGTREE_STORE', message: /waiting for lock/ });
    await fs.rm(lock);
    t.is(await store.add('held', 1), 1);
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('FileStore breaks a stale lock left by a crashed process', async (t) => {
  const dir = await tempDir();
  const store = new FileStore(dir, { timeoutMs: 2000, staleLockMs: 1000 });
  try {
    const lock = `${store.fileOf('stale')}.lock`;
    await fs.writeFile(lock, '');
    const old = new Date(Date.now() - 60_000);
    await fs.utimes(lock, old, old);
    t.is(await store.add('stale', 5), 5);
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('FileStore reports filesystem errors as StoreError', async (t) => {
  const dir = await tempDir();
  const store = new FileStore(dir);
  try {
    // Replace the directory by a file: every operation now fails with ENOTDIR.
    await fs.rm(dir, { recursive: true });
    await fs.writeFile(dir, '');
    await t.throwsAsync(store.set('k', 'v'), { code: 'ERR_RINGTREE_STORE', message: /FileStore set\("k"\)/ });
  } finally {
    await store.close();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
