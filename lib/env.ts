// The environment contract (DESIGN.md section 3): which rank this process is, how many ranks the
// job has, where the rendezvous store is and who hosts it, read from the variables a launcher sets.
//
// Sources, first match wins (a source matches when its rank or size variable is set):
//   1. ringrun       RINGTREE_RANK, RINGTREE_WORLD_SIZE, RINGTREE_LOCAL_RANK, RINGTREE_LOCAL_WORLD_SIZE,
//                    RINGTREE_STORE=host:port ([ipv6]:port); ringrun hosts the store.
//   2. torchrun      RANK, WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE
//   3. mpirun        OMPI_COMM_WORLD_RANK, _SIZE, _LOCAL_RANK, _LOCAL_SIZE
//      pmi           PMI_RANK, PMI_SIZE (MPICH/Hydra), local rank/size from MPI_LOCALRANKID/MPI_LOCALNRANKS
//      slurm         SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, local size from SLURM_NTASKS_PER_NODE
//                    or the first number of SLURM_TASKS_PER_NODE (e.g. "4(x2),3" -> 4)
//      For 2 and 3, rank 0 hosts the store on MASTER_ADDR:MASTER_PORT (MASTER_PORT defaults to 29500
//      like torchrun; MASTER_ADDR is required when the job has more than one rank).
//   4. none          a single-rank job without a store.
// Local rank and size default to rank and size (every rank on one host) when absent. RINGTREE_JOB_ID
// and RINGTREE_SECRET apply whatever the source. Every value is validated; a bad one throws
// InvalidArgumentError naming the variable and its value.

import net from 'node:net';

import { InvalidArgumentError } from './errors.js';
import { formatHostPort } from './rendezvous/common.js';

export type JobEnvSource = 'ringrun' | 'torchrun' | 'mpirun' | 'pmi' | 'slurm' | 'none';

export interface JobEnv {
  rank: number;
  size: number;
  localRank: number;
  localSize: number;
  /** Where the rendezvous store listens; null for a single-rank job without one. */
  store: { host: string; port: number } | null;
  /** True when this rank must host the store (torchrun/mpirun/pmi/slurm style, rank 0). */
  hostsStore: boolean;
  /** Identifies the job (shared-memory names, logs); the same on every rank. */
  jobId: string;
  /** The job secret (RINGTREE_SECRET) authenticating store and data connections. */
  secret?: string;
  source: JobEnvSource;
}

/** torchrun's default MASTER_PORT. */
export const defaultMasterPort = 29500;

interface SourceSpec {
  source: Exclude<JobEnvSource, 'none' | 'ringrun'>;
  rank: string;
  size: string;
  localRank: string;
  localSize: readonly string[];
  /** Variables whose presence selects this source. */
  triggers: readonly string[];
}

/** Sources 2 and 3, in precedence order. */
const masterSources: readonly SourceSpec[] = [
  { source: 'torchrun', rank: 'RANK', size: 'WORLD_SIZE', localRank: 'LOCAL_RANK', localSize: ['LOCAL_WORLD_SIZE'], triggers: ['RANK', 'WORLD_SIZE'] },
  {
    source: 'mpirun', rank: 'OMPI_COMM_WORLD_RANK', size: 'OMPI_COMM_WORLD_SIZE',
    localRank: 'OMPI_COMM_WORLD_LOCAL_RANK', localSize: ['OMPI_COMM_WORLD_LOCAL_SIZE'],
    triggers: ['OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE'],
  },
  { source: 'pmi', rank: 'PMI_RANK', size: 'PMI_SIZE', localRank: 'MPI_LOCALRANKID', localSize: ['MPI_LOCALNRANKS'], triggers: ['PMI_RANK', 'PMI_SIZE'] },
  // SLURM_NTASKS alone is set in any allocation (sbatch, salloc): only an srun task has SLURM_PROCID.
  {
    source: 'slurm', rank: 'SLURM_PROCID', size: 'SLURM_NTASKS', localRank: 'SLURM_LOCALID',
    localSize: ['SLURM_NTASKS_PER_NODE', 'SLURM_TASKS_PER_NODE'], triggers: ['SLURM_PROCID'],
  },
];

/**
 * Reads the job layout from the environment (DESIGN.md section 3).
 *
 * @example
 * const job = resolveJobEnv();
 * if (job.hostsStore) server = await TcpStoreServer.start({ host: '0.0.0.0', port: job.store!.port, secret: job.secret });
 * const store = job.store && await TcpStore.connect({ ...job.store, secret: job.secret });
 */
export function resolveJobEnv(env: NodeJS.ProcessEnv = process.env): JobEnv {
  const get = (name: string): string | undefined => {
    const v = env[name];
    if (v === undefined) return undefined;
    const t = v.trim();
    return t === '' ? undefined : t;
  };
  const secret = get('RINGTREE_SECRET');

  let layout: Omit<JobEnv, 'jobId' | 'secret'>;
  if (get('RINGTREE_RANK') !== undefined || get('RINGTREE_WORLD_SIZE') !== undefined) {
    const ranks = readRanks(get, 'RINGTREE_RANK', 'RINGTREE_WORLD_SIZE', 'RINGTREE_LOCAL_RANK', ['RINGTREE_LOCAL_WORLD_SIZE']);
    const storeText = get('RINGTREE_STORE');
    if (storeText === undefined && ranks.size > 1) {
      throw new InvalidArgumentError(`RINGTREE_STORE is not set but RINGTREE_WORLD_SIZE=${ranks.size}: a multi-rank ringrun job needs the store address (host:port)`);
    }
    const store = storeText === undefined ? null : parseHostPort(storeText, 'RINGTREE_STORE');
    layout = { ...ranks, store, hostsStore: false, source: 'ringrun' };
  } else {
    const spec = masterSources.find((s) => s.triggers.some((name) => get(name) !== undefined));
    if (spec) {
      const ranks = readRanks(get, spec.rank, spec.size, spec.localRank, spec.localSize);
      let store: JobEnv['store'] = null;
      if (ranks.size > 1) {
        const host = get('MASTER_ADDR');
        if (host === undefined) {
          throw new InvalidArgumentError(
            `MASTER_ADDR is not set: with ${spec.rank}/${spec.size} (${spec.source}) and ${spec.size}=${ranks.size}, ` +
            `rank 0 hosts the store on MASTER_ADDR:MASTER_PORT (MASTER_PORT defaults to ${defaultMasterPort})`);
        }
        store = { host: parseHost(host, 'MASTER_ADDR'), port: readMasterPort(get) };
      }
      layout = { ...ranks, store, hostsStore: store !== null && ranks.rank === 0, source: spec.source };
    } else {
      layout = { rank: 0, size: 1, localRank: 0, localSize: 1, store: null, hostsStore: false, source: 'none' };
    }
  }

  const job: JobEnv = { ...layout, jobId: resolveJobId(get, layout.store) };
  if (secret !== undefined) job.secret = secret;
  return job;
}

/**
 * Parses `host:port` or `[ipv6]:port`. `name` (the variable it came from) appears in errors.
 */
export function parseHostPort(text: string, name: string): { host: string; port: number } {
  const bad = (why: string): InvalidArgumentError => new InvalidArgumentError(`${name}=${JSON.stringify(text)} is not a valid host:port address: ${why}`);
  const value = text.trim();
  let host: string;
  let portText: string;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close === -1) throw bad('missing "]" after the IPv6 address');
    host = value.slice(1, close);
    if (!net.isIPv6(host)) throw bad(`${JSON.stringify(host)} is not an IPv6 address`);
    if (value[close + 1] !== ':') throw bad('expected ":port" after "]"');
    portText = value.slice(close + 2);
  } else {
    const colon = value.lastIndexOf(':');
    if (colon === -1) throw bad('missing ":port"');
    host = value.slice(0, colon);
    portText = value.slice(colon + 1);
    if (host.includes(':')) throw bad('write IPv6 addresses in brackets, e.g. [::1]:29500');
    if (host === '') throw bad('empty host');
  }
  return { host, port: parsePort(portText, name, text) };
}

// -------------------------------------------------------------------------------------------------

type Getter = (name: string) => string | undefined;

function readRanks(get: Getter, rankVar: string, sizeVar: string, localRankVar: string, localSizeVars: readonly string[]): Pick<JobEnv, 'rank' | 'size' | 'localRank' | 'localSize'> {
  const rankText = get(rankVar);
  const sizeText = get(sizeVar);
  if (rankText === undefined) throw new InvalidArgumentError(`${rankVar} is not set but ${sizeVar}=${sizeText} is: both are required`);
  if (sizeText === undefined) throw new InvalidArgumentError(`${sizeVar} is not set but ${rankVar}=${rankText} is: both are required`);
  const rank = parseCount(rankText, rankVar, 0);
  const size = parseCount(sizeText, sizeVar, 1);
  if (rank >= size) throw new InvalidArgumentError(`${rankVar}=${rank} is out of range: must be less than ${sizeVar}=${size}`);

  let localSize = size;
  let localSizeVar = `${sizeVar} (no local size set)`;
  for (const name of localSizeVars) {
    const text = get(name);
    if (text === undefined) continue;
    localSize = name === 'SLURM_TASKS_PER_NODE' ? parseTasksPerNode(text, name) : parseCount(text, name, 1);
    localSizeVar = name;
    break;
  }
  if (localSize > size) throw new InvalidArgumentError(`${localSizeVar}=${localSize} is out of range: must not exceed ${sizeVar}=${size}`);

  const localRankText = get(localRankVar);
  const localRank = localRankText === undefined ? rank : parseCount(localRankText, localRankVar, 0);
  if (localRank >= localSize) {
    const what = localRankText === undefined ? `${localRankVar} (not set, defaults to ${rankVar}=${rank})` : `${localRankVar}=${localRank}`;
    throw new InvalidArgumentError(`${what} is out of range: must be less than ${localSizeVar}=${localSize}`);
  }
  return { rank, size, localRank, localSize };
}

/** A decimal integer >= min, written with digits only. */
function parseCount(text: string, name: string, min: number): number {
  const n = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min) {
    throw new InvalidArgumentError(`${name}=${JSON.stringify(text)} is invalid: expected an integer >= ${min}`);
  }
  return n;
}

/** SLURM_TASKS_PER_NODE, e.g. "4", "4(x2)" or "4(x2),3": the first node's count. */
function parseTasksPerNode(text: string, name: string): number {
  const m = /^([0-9]+)(\(x[0-9]+\))?(,|$)/.exec(text);
  if (!m) throw new InvalidArgumentError(`${name}=${JSON.stringify(text)} is invalid: expected a task count such as "4" or "4(x2),3"`);
  return parseCount(m[1]!, name, 1);
}

function parsePort(text: string, name: string, whole: string): number {
  const port = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError(`${name}=${JSON.stringify(whole)} is invalid: the port must be an integer in 1..65535`);
  }
  return port;
}

/** A host name or address; IPv6 literals may come bracketed. */
function parseHost(text: string, name: string): string {
  const host = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (host === '' || /\s/.test(host) || (host.includes(':') && !net.isIPv6(host))) {
    throw new InvalidArgumentError(`${name}=${JSON.stringify(text)} is not a valid host name or address`);
  }
  return host;
}

function readMasterPort(get: Getter): number {
  const text = get('MASTER_PORT');
  return text === undefined ? defaultMasterPort : parsePort(text, 'MASTER_PORT', text);
}

function resolveJobId(get: Getter, store: JobEnv['store']): string {
  // torchrun's --rdzv-id defaults to "none": not a job identity, so it does not count.
  const runId = get('TORCHELASTIC_RUN_ID');
  const explicit = get('RINGTREE_JOB_ID') ?? (runId === 'none' ? undefined : runId) ?? get('SLURM_JOB_ID') ?? get('OMPI_MCA_ess_base_jobid');
  if (explicit !== undefined) return explicit;
  if (store) return formatHostPort(store.host, store.port);
  const masterAddr = get('MASTER_ADDR');
  if (masterAddr !== undefined) {
    try {
      return formatHostPort(parseHost(masterAddr, 'MASTER_ADDR'), readMasterPort(get));
    } catch {
      // A size-1 job does not use MASTER_ADDR/MASTER_PORT: a malformed pair is not an error here.
    }
  }
  return 'local';
}
