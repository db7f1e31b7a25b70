// Rank program for launcher tests: joins the job's store with the env contract ringrun sets, shows
// that every rank can read every other rank's host id through it, and (rank 0, on request) that a
// client without the job secret is refused. Prints one `RESULT {...}` line.

import { TcpStore } from '../../../lib/rendezvous/tcp-store.js';

const env = process.env;
const rank = Number(env.RINGTREE_RANK);
const size = Number(env.RINGTREE_WORLD_SIZE);
const storeAddr = env.RINGTREE_STORE ?? '';
const colon = storeAddr.lastIndexOf(':');
const host = storeAddr.slice(0, colon).replace(/^\[|\]$/g, '');
const port = Number(storeAddr.slice(colon + 1));

const store = await TcpStore.connect({ host, port, secret: env.RINGTREE_SECRET, connectTimeoutMs: 10_000, timeoutMs: 15_000 });
await store.set(`host/${rank}`, env.RINGTREE_HOST_ID ?? '');
const keys = Array.from({ length: size }, (_, r) => `host/${r}`);
await store.wait(keys);
const hosts = await Promise.all(keys.map(async (k) => Buffer.from(await store.get(k)).toString()));
let stranger: string | undefined;
if (rank === 0 && env.TRY_STRANGER === '1') {
  try {
    const s = await TcpStore.connect({ host, port, connectTimeoutMs: 3000, timeoutMs: 3000 });
    await s.set('intruder', 'x');
    stranger = 'accepted';
    await s.close();
  } catch (err) {
    stranger = `refused ${(err as { code?: string }).code ?? ''}`;
  }
  stranger += (await store.check(['intruder'])) ? ' wrote' : ' nothing written';
}
// Nobody leaves before everyone has read everything.
await store.add('done', 1);
const deadline = Date.now() + 15_000;
while ((await store.add('done', 0)) < size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
await store.close();
console.log(`RESULT ${JSON.stringify({ rank, hosts, stranger })}`);
