// init(): joins the job the environment describes (DESIGN.md section 3) and returns a Communicator.
//
//   1. resolve rank/size/store from ringrun, torchrun-style, mpirun/PMI/Slurm variables (lib/env.ts);
//   2. rank 0 hosts the TCP store itself when the launcher does not (torchrun style);
//   3. every rank listens for data connections, publishes {host, port, hostId} in the store and
//      reads everyone else's; ranks with the same host id use shared memory, others TCP;
//   4. the native communicator connects (HMAC-authenticated with the job secret) and is ready.
import { parseInject } from './launcher/inject.js';
import { Communicator, defaultTimeoutMs } from './communicator.js';
import type { RankFaults } from './communicator.js';
import { resolveJobEnv } from './env.js';
import { InvalidArgumentError, RingtreeError, StoreError, toRingtreeError } from './errors.js';
import { advertisedHost, hostId as localHostId, isLoopback } from './host.js';
import type { Addon } from './native/codes.js';
import { loadAddon } from './native/binding.js';
import type { Store } from './rendezvous/store.js';
import { TcpStore } from './rendezvous/tcp-store.js';
import { TcpStoreServer } from './rendezvous/tcp-store-server.js';

export interface InitOptions {
  /** Default timeout of every op in ms (RINGTREE_TIMEOUT_MS, else 300000). */
  timeoutMs?: number;
  /** How long joining may take in ms (RINGTREE_INIT_TIMEOUT_MS, else 120000). */
  initTimeoutMs?: number;
  /** Environment to read instead of process.env. */
  env?: NodeJS.ProcessEnv;
  /** Use this store for the rendezvous instead of the one the environment names (rank/size from env). */
  store?: Store;
}

function numberFrom(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number of milliseconds, got "${v}"`);
  return n;
}

function faultsFor(rank: number, env: NodeJS.ProcessEnv): { faults: RankFaults; delayMs: number } {
  const faults: RankFaults = {};
  let delayMs = 0;
  const spec = env.RINGTREE_INJECT;
  if (!spec) return { faults, delayMs };
  let parsed;
  try {
    parsed = parseInject([spec]);
  } catch (error) {
    throw new InvalidArgumentError(`RINGTREE_INJECT: ${(error as Error).message}`);
  }
  for (const f of parsed) {
    if (f.rank !== rank) continue;
    if (f.kind === 'kill') faults.killAfterOps = f.afterOps;
    else if (f.kind === 'hang') faults.hangAfterOps = f.afterOps;
    else if (f.kind === 'drop-conn') faults.dropAfterOps = f.afterOps;
    else if (f.kind === 'delay') delayMs = f.ms ?? 0;
  }
  return { faults, delayMs };
}

interface Job {
  addon: Addon;
  store: Store | null;
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  jobId: string;
  secret?: string;
  bindHost: string;
  host: string;
  hostId: string;
  timeoutMs: number;
  initTimeoutMs: number;
  faults: RankFaults;
  delayMs: number;
}

/** Creates and connects one native communicator among `size` ranks rendezvousing under `prefix`. */
async function connectGroup(
  job: Job, prefix: string, rank: number, size: number, owned: (() => Promise<void>) | undefined, top: boolean,
): Promise<Communicator> {
  const native = new job.addon.NativeCommunicator({
    rank, size, bindHost: job.bindHost, secret: job.secret, jobId: `${job.jobId}-${prefix}`, injectDelayMs: job.delayMs,
  });
  let localRank = job.localRank, localSize = job.localSize;
  try {
    if (size > 1) {
      const store = job.store!;
      const me = { host: job.host, port: native.port(), hostId: job.hostId, pid: process.pid };
      await store.set(`${prefix}/addr/${rank}`, JSON.stringify(me));
      const keys = Array.from({ length: size }, (_, r) => `${prefix}/addr/${r}`);
      await store.wait(keys, job.initTimeoutMs);
      const peers = await Promise.all(keys.map(async (k) => JSON.parse(Buffer.from(await store.get(k, job.initTimeoutMs)).toString('utf8')) as typeof me));
      await native.connect(peers.map((p) => ({ host: p.host, port: p.port, hostId: p.hostId })), job.initTimeoutMs);
      if (!top) {
        const same = peers.map((p, r) => ({ r, same: p.hostId === job.hostId })).filter((x) => x.same);
        localSize = same.length;
        localRank = same.findIndex((x) => x.r === rank);
      }
    } else {
      await native.connect([{ host: job.host, port: 0, hostId: job.hostId }], job.initTimeoutMs);
      if (!top) {
        localRank = 0;
        localSize = 1;
      }
    }
  } catch (error) {
    native.abort('ERR_RINGTREE_ABORTED', 'init failed');
    native.close();
    if (owned) await owned();
    throw error;
  }
  const comm: Communicator = new Communicator({
    addon: job.addon,
    native,
    rank,
    size,
    localRank,
    localSize,
    timeoutMs: job.timeoutMs,
    store: job.store,
    onDestroy: owned,
    spawn: (p, r, s) => connectGroup(job, p, r, s, undefined, false),
    prefix,
    faults: top ? job.faults : {},
  });
  return comm;
}

let generation = 0;

/** Aborts every live communicator of this process and exits (the launcher died). */
function onLauncherLost(): void {
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM'); // the SIGTERM handler rejects pending ops, then exits
  setTimeout(() => process.exit(1), 1000).unref();
}

/**
 * Joins the job described by the environment and returns a connected Communicator. With no
 * launcher variables set it returns a single-rank communicator, so scripts run unchanged.
 */
export async function init(options: InitOptions = {}): Promise<Communicator> {
  const stack = new Error();
  try {
    return await initInner(options);
  } catch (error) {
    if (error instanceof RingtreeError) throw toRingtreeError(error, stack, { op: 'init' });
    throw error;
  }
}

async function initInner(options: InitOptions): Promise<Communicator> {
  const env = options.env ?? process.env;
  const addon = loadAddon<Addon>();
  const je = resolveJobEnv(env);
  const timeoutMs = options.timeoutMs ?? numberFrom(env, 'RINGTREE_TIMEOUT_MS', defaultTimeoutMs);
  const initTimeoutMs = options.initTimeoutMs ?? numberFrom(env, 'RINGTREE_INIT_TIMEOUT_MS', 120_000);
  const { faults, delayMs } = faultsFor(je.rank, env);

  let store: Store | null = options.store ?? null;
  let server: TcpStoreServer | null = null;
  let client: TcpStore | null = null;
  if (!store && je.size > 1) {
    if (!je.store) throw new InvalidArgumentError('init: the environment names no rendezvous store for a multi-rank job');
    if (je.hostsStore) {
      try {
        server = await TcpStoreServer.start({ host: je.store.host, port: je.store.port, secret: je.secret });
      } catch (error) {
        throw new StoreError(
          `init: rank 0 could not host the store on ${je.store.host}:${je.store.port} (MASTER_ADDR/MASTER_PORT): ${(error as Error).message}`,
          { op: 'init', rank: je.rank, cause: error });
      }
    }
    client = await TcpStore.connect({
      host: je.store.host, port: je.store.port, secret: je.secret, timeoutMs: initTimeoutMs, connectTimeoutMs: initTimeoutMs,
    });
    store = client;
    if (je.source === 'ringrun' && env.RINGTREE_ORPHAN_EXIT !== '0') {
      // ringrun hosts the store for the whole job: losing it means the launcher is gone (killed),
      // and like mpirun's ranks when orted dies, this rank must not live on as an orphan.
      const lost = client;
      lost.onLost = (why) => {
        process.stderr.write(`ringtree: rank ${je.rank}: lost the launcher (ringrun's store: ${why}); aborting and exiting\n`);
        onLauncherLost();
      };
    }
  }
  const storeHost = je.store?.host;
  const multiHost = !!storeHost && !isLoopback(storeHost);
  const job: Job = {
    addon,
    store,
    rank: je.rank,
    size: je.size,
    localRank: je.localRank,
    localSize: je.localSize,
    jobId: je.jobId,
    secret: je.secret,
    bindHost: env.RINGTREE_BIND_ADDR ?? (multiHost ? '0.0.0.0' : '127.0.0.1'),
    host: await advertisedHost(storeHost, env),
    hostId: localHostId(env),
    timeoutMs,
    initTimeoutMs,
    faults,
    delayMs,
  };
  // every init() in a process is a new generation of the job's rendezvous keys
  const gen = generation++;
  const owned = async (): Promise<void> => {
    if (client) await client.close();
    if (server) {
      // the other ranks may still be reading addresses: let them finish first
      await new Promise((r) => setTimeout(r, 200));
      await server.close();
    }
  };
  const prefix = `ringtree/g${gen}`;
  const comm = await connectGroup(job, prefix, je.rank, je.size, owned, true)
    .catch(async (error) => {
      await owned().catch(() => {});
      throw error;
    });
  return comm;
}
