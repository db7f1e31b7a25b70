// The job supervisor behind `ringrun`: hosts the rendezvous store, starts every rank with the env
// contract (DESIGN.md section 3), routes their output, and ends the job per DESIGN.md section 4.
//
// Lifecycle of a job:
//   1. place ranks on hosts, start the TCP store (127.0.0.1 for single-host jobs, 0.0.0.0 when some
//      host is remote), make a random job id and secret;
//   2. spawn every rank in its own process group (local) or through the rsh agent (remote);
//   3. supervise:
//      - a rank fails (non-zero exit or signal): print one line, give the others --grace-ms to exit on
//        their own, then SIGTERM, then SIGKILL after a second grace period;
//      - ringrun gets SIGINT/SIGTERM/SIGHUP: forward it to every rank, then SIGTERM/SIGKILL with the
//        same grace periods; a second signal kills the job at once;
//      - --timeout expires: SIGUSR2 to every rank (each prints its flight recorder), ~1 s for the
//        dumps, then SIGTERM/SIGKILL; the job exits 124 like timeout(1);
//   4. when every rank has exited: kill what is left of each rank's process group on every host (no
//      orphans), close the store, remove the job's /dev/shm segments on every host (one rsh call per
//      remote host does both), return the exit code: 0 iff every
//      rank exited 0, else the first failing rank's code (128+N for signal N), 124 on timeout.

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import type { Writable } from 'node:stream';
import { TcpStoreServer } from '../rendezvous/tcp-store-server.js';
import { LaunchError } from './errors.js';
import { placeRanks, resolveHosts, type RankPlacement } from './hostfile.js';
import { injectEnvValue, parseInject } from './inject.js';
import { IdleClock, OutputRouter } from './output.js';
import { buildRemoteCommand, parseRemotePidLine, remoteCleanup, remoteKill, rshArgv } from './remote.js';

export interface EnvForward {
  name: string;
  /** undefined: forward ringrun's own value of `name`. */
  value?: string | undefined;
}

export interface LaunchOptions {
  /** The rank command and its arguments, passed through verbatim. */
  command: string[];
  /** Number of ranks; undefined: the hosts' total slots (or this machine's CPU count). */
  np?: number | undefined;
  /** Host entries from -H and --hostfile, in order; empty: this machine only. */
  hosts: Array<{ name: string; slots: number }>;
  oversubscribe: boolean;
  /** -x forwarding. */
  env: EnvForward[];
  tagOutput: boolean;
  outputDir?: string | undefined;
  /** The rsh agent, already split into words. */
  rsh: string[];
  graceMs: number;
  timeoutSec?: number | undefined;
  /** Fault-injection specs (validated again here against the world size). */
  inject: string[];
  /** Address the store listens on. */
  bind?: string | undefined;
  /** Address of this host the ranks use to reach the store (multi-host jobs). */
  storeAddr?: string | undefined;
  storePort: number;
  /** Working directory of the ranks (default: ringrun's). */
  wdir?: string | undefined;
}

export interface LaunchIO {
  stdout: Writable;
  stderr: Writable;
}

/** Names of the env contract; -x may not override them. */
export const contractVariables = [
  'RINGTREE_RANK',
  'RINGTREE_WORLD_SIZE',
  'RINGTREE_LOCAL_RANK',
  'RINGTREE_LOCAL_WORLD_SIZE',
  'RINGTREE_STORE',
  'RINGTREE_JOB_ID',
  'RINGTREE_SECRET',
  'RINGTREE_HOST_ID',
  'RINGTREE_INJECT',
  'RANK',
  'WORLD_SIZE',
  'LOCAL_RANK',
  'LOCAL_WORLD_SIZE',
  'MASTER_ADDR',
  'MASTER_PORT',
] as const;

/** How long ranks get to print their flight recorder after SIGUSR2 on --timeout. */
const dumpWaitMs = 1000;
/** How long output pipes may stay idle after every rank exited before they are closed. */
const drainWaitMs = 2000;
const remoteCommandTimeoutMs = 5000;

interface RankProcess {
  placement: RankPlacement;
  child: ChildProcess;
  pid: number | undefined;
  /** The rank's pid on its remote host, once reported. */
  remotePid: number | undefined;
  exited: boolean;
  exitCode: number | undefined;
  output: Promise<void>;
}

export interface StoreEndpoint {
  bind: string;
  advertise: string;
}

function isWildcard(addr: string): boolean {
  return addr === '0.0.0.0' || addr === '::' || addr === '[::]';
}

function isLoopback(addr: string): boolean {
  return /^127\./.test(addr) || addr === '::1' || addr === 'localhost';
}

/** First non-internal IPv4 address of this machine, or undefined. */
export function firstNonLoopbackIPv4(): string | undefined {
  for (const list of Object.values(os.networkInterfaces())) {
    for (const ifc of list ?? []) {
      const family = ifc.family as string | number;
      if ((family === 'IPv4' || family === 4) && !ifc.internal) return ifc.address;
    }
  }
  return undefined;
}

/** Where the store listens and the address ranks are given for it. */
export function storeEndpoint(opts: Pick<LaunchOptions, 'bind' | 'storeAddr'>, anyRemote: boolean): StoreEndpoint {
  const bind = opts.bind ?? (anyRemote ? '0.0.0.0' : '127.0.0.1');
  let advertise = opts.storeAddr;
  if (advertise === undefined) {
    if (!isWildcard(bind)) advertise = bind;
    else if (!anyRemote) advertise = '127.0.0.1';
    else {
      advertise = firstNonLoopbackIPv4();
      if (advertise === undefined) {
        throw new LaunchError('no non-loopback IPv4 address found for the store; pass --store-addr with an address the remote hosts can reach');
      }
    }
  }
  if (anyRemote && isLoopback(advertise)) {
    throw new LaunchError(`the store address ${advertise} is a loopback address, which remote hosts cannot reach; pass --store-addr (and --bind)`);
  }
  return { bind, advertise };
}

function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}

function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const n = signal ? os.constants.signals[signal] : undefined;
  return n === undefined ? 1 : 128 + n;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs one job to completion and returns ringrun's exit code. */
export async function launch(opts: LaunchOptions, io: LaunchIO = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  return new Job(opts, io).run();
}

type StopReason = 'failure' | 'signal' | 'timeout';

/** "rank 2 (pid 4711)", or "rank 2 (pid 4711 on node2)" for a remote rank. */
function rankLabel(rp: RankProcess): string {
  const where = rp.placement.host.local ? '' : ` on ${rp.placement.host.name}`;
  return `rank ${rp.placement.rank}${rp.pid === undefined ? '' : ` (pid ${rp.remotePid ?? rp.pid}${where})`}`;
}

class Job {
  readonly #opts: LaunchOptions;
  readonly #io: LaunchIO;
  readonly #jobId = randomBytes(6).toString('hex');
  readonly #secret = randomBytes(32).toString('hex');
  readonly #ranks: RankProcess[] = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #background: Array<Promise<unknown>> = [];
  #stopReason: StopReason | undefined;
  readonly #exitBatch: Array<{ rp: RankProcess; signal: NodeJS.Signals | null; spawnFailed: boolean }> = [];
  #firstFailure: number | undefined;
  /** The first failure was a rank killed by a signal (not an exit code of its own). */
  #firstFailureSignaled = false;
  /** ringrun has signalled the ranks (forwarding, SIGUSR2 dumps, SIGTERM/SIGKILL escalation). */
  #signalsSent = false;
  #signalsReceived = 0;
  #timedOut = false;
  #router: OutputRouter | undefined;
  #allExited!: () => void;
  readonly #done = new Promise<void>((resolve) => {
    this.#allExited = resolve;
  });

  constructor(opts: LaunchOptions, io: LaunchIO) {
    this.#opts = opts;
    this.#io = io;
  }

  #log(message: string): void {
    if (this.#router) this.#router.message(`ringrun: ${message}`);
    else this.#io.stderr.write(`ringrun: ${message}\n`);
  }

  async run(): Promise<number> {
    const opts = this.#opts;
    if (opts.command.length === 0) throw new LaunchError('no command given (usage: ringrun [options] <command> [args...])');
    const totalSlots = opts.hosts.reduce((s, h) => s + h.slots, 0);
    const hosts = resolveHosts(opts.hosts, opts.np ?? os.availableParallelism());
    const np = opts.np ?? (totalSlots > 0 ? totalSlots : hosts[0]!.slots);
    if (!Number.isSafeInteger(np) || np < 1) throw new LaunchError(`-np must be a positive integer, got ${np}`);
    const placements = placeRanks(hosts, np, opts.oversubscribe || opts.hosts.length === 0);
    parseInject(opts.inject, np);
    const anyRemote = placements.some((p) => !p.host.local);
    const endpoint = storeEndpoint(opts, anyRemote);
    const cwd = opts.wdir ?? process.cwd();
    if (opts.wdir !== undefined && !anyRemote && !fs.existsSync(opts.wdir)) throw new LaunchError(`--wdir ${opts.wdir}: no such directory`);
    const forwarded = this.#forwardedEnv();

    const router = new OutputRouter({ tag: opts.tagOutput, outputDir: opts.outputDir, stdout: this.#io.stdout, stderr: this.#io.stderr });
    this.#router = router;
    let store: TcpStoreServer;
    try {
      store = await TcpStoreServer.start({
        host: endpoint.bind,
        port: opts.storePort,
        secret: this.#secret,
        log: (m) => this.#log(`store: ${m}`),
      });
    } catch (err) {
      throw new LaunchError(`cannot start the store on ${hostPort(endpoint.bind, opts.storePort)}: ${(err as Error).message}`);
    }
    const onSignal = (signal: NodeJS.Signals): void => this.#onSignal(signal);
    const handled: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
    for (const s of handled) process.on(s, onSignal);
    try {
      const contract = {
        store: hostPort(endpoint.advertise, store.port),
        masterAddr: endpoint.advertise,
        masterPort: store.port,
        inject: opts.inject.length > 0 ? injectEnvValue(opts.inject) : undefined,
      };
      for (const placement of placements) {
        const env = this.#contractEnv(placement, np, contract);
        try {
          this.#ranks.push(
            placement.host.local ? this.#spawnLocal(placement, env, forwarded, cwd, router) : this.#spawnRemote(placement, env, forwarded, cwd, router),
          );
        } catch (err) {
          // spawn() throws synchronously only for unusable arguments; stop what was started.
          this.#log(`rank ${placement.rank}: cannot start: ${(err as Error).message}`);
          if (this.#firstFailure === undefined) this.#firstFailure = 127;
          this.#stop('failure');
          this.#escalate('SIGKILL', 'the job could not be started');
          break;
        }
      }
      if (opts.timeoutSec !== undefined) this.#after(opts.timeoutSec * 1000, () => this.#onTimeout());
      this.#checkAllExited();
      await this.#done;
    } finally {
      for (const s of handled) process.off(s, onSignal);
      for (const t of this.#timers) clearTimeout(t);
      this.#timers.clear();
      await this.#cleanup(router, store);
    }
    if (this.#timedOut) return 124;
    return this.#firstFailure ?? 0;
  }

  /** -x values: explicit ones, and ringrun's own value for bare names (skipped with a note if unset). */
  #forwardedEnv(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const { name, value } of this.#opts.env) {
      if ((contractVariables as readonly string[]).includes(name)) {
        throw new LaunchError(`-x ${name}: ${name} is set by ringrun for every rank and cannot be overridden`);
      }
      if (value !== undefined) out[name] = value;
      else if (process.env[name] !== undefined) out[name] = process.env[name]!;
      else this.#log(`-x ${name}: not set in ringrun's environment; not forwarded`);
    }
    return out;
  }

  #contractEnv(
    p: RankPlacement,
    np: number,
    c: { store: string; masterAddr: string; masterPort: number; inject: string | undefined },
  ): Record<string, string> {
    const env: Record<string, string> = {
      RINGTREE_RANK: String(p.rank),
      RINGTREE_WORLD_SIZE: String(np),
      RINGTREE_LOCAL_RANK: String(p.localRank),
      RINGTREE_LOCAL_WORLD_SIZE: String(p.localSize),
      RINGTREE_STORE: c.store,
      RINGTREE_JOB_ID: this.#jobId,
      RINGTREE_HOST_ID: p.host.name,
      RANK: String(p.rank),
      WORLD_SIZE: String(np),
      LOCAL_RANK: String(p.localRank),
      LOCAL_WORLD_SIZE: String(p.localSize),
      MASTER_ADDR: c.masterAddr,
      MASTER_PORT: String(c.masterPort),
    };
    if (c.inject !== undefined) env.RINGTREE_INJECT = c.inject;
    return env;
  }

  #spawnLocal(placement: RankPlacement, contract: Record<string, string>, forwarded: Record<string, string>, cwd: string, router: OutputRouter): RankProcess {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.RINGTREE_INJECT; // never inherit faults from an enclosing job
    Object.assign(env, forwarded, contract, { RINGTREE_SECRET: this.#secret });
    const [file, ...args] = this.#opts.command;
    const child = spawn(file!, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    return this.#track(placement, child, router, false);
  }

  #spawnRemote(placement: RankPlacement, contract: Record<string, string>, forwarded: Record<string, string>, cwd: string, router: OutputRouter): RankProcess {
    const script = buildRemoteCommand({ cwd, env: { ...forwarded, ...contract }, command: this.#opts.command });
    const { file, args } = rshArgv(this.#opts.rsh, placement.host.name, script);
    const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    child.stdin!.on('error', () => {
      // the agent exited before reading the secret; its exit is reported through 'exit'
    });
    child.stdin!.end(`${this.#secret}\n`);
    return this.#track(placement, child, router, true);
  }

  #track(placement: RankPlacement, child: ChildProcess, router: OutputRouter, remote: boolean): RankProcess {
    const rp: RankProcess = {
      placement,
      child,
      pid: child.pid,
      remotePid: undefined,
      exited: false,
      exitCode: undefined,
      output: Promise.resolve(),
    };
    const filter = remote
      ? (line: Buffer): boolean => {
          if (rp.remotePid !== undefined) return false;
          const pid = parseRemotePidLine(line.toString('latin1'));
          if (pid === undefined) return false;
          rp.remotePid = pid;
          return true;
        }
      : undefined;
    rp.output = Promise.all([router.attach(placement.rank, 'stdout', child.stdout!), router.attach(placement.rank, 'stderr', child.stderr!, filter)]).then(() => undefined);
    child.on('error', (err) => {
      if (rp.pid === undefined && !rp.exited) {
        this.#log(`rank ${placement.rank}: cannot start "${remote ? this.#opts.rsh[0] : this.#opts.command[0]}": ${err.message}`);
        this.#onExit(rp, 127, null, true);
      }
    });
    child.on('exit', (code, signal) => this.#onExit(rp, code, signal, false));
    return rp;
  }

  #onExit(rp: RankProcess, code: number | null, signal: NodeJS.Signals | null, spawnFailed: boolean): void {
    if (rp.exited) return;
    rp.exited = true;
    rp.exitCode = exitCodeOf(code, signal);
    // Whatever the rank left behind in its process group goes with it.
    if (rp.placement.host.local && rp.pid !== undefined) this.#signalGroup(rp.pid, 'SIGTERM');
    // libuv reaps every child that has exited by the time it handles SIGCHLD and reports them in
    // spawn order, not in the order they died: a crashed rank and a peer that exited because of the
    // crash can arrive in one batch. Collect the batch and judge it as a whole (setImmediate runs
    // after all exit callbacks of this loop turn).
    this.#exitBatch.push({ rp, signal, spawnFailed });
    if (this.#exitBatch.length === 1) setImmediate(() => this.#judgeExits());
  }

  /**
   * Handles the ranks that exited in one loop turn. The first failure of the job is the one that
   * decides its exit code; within a batch a rank killed by a signal is taken as the cause (ranks
   * that notice a dead peer exit with a code of their own), then the lowest rank.
   */
  #judgeExits(): void {
    const batch = this.#exitBatch.splice(0);
    const failures = batch
      .filter((e) => e.rp.exitCode !== 0)
      .sort((x, y) => Number(y.signal !== null) - Number(x.signal !== null) || x.rp.placement.rank - y.rp.placement.rank);
    const first = failures[0];
    // A rank killed by a signal that ringrun did not send is the root cause even when a peer that
    // noticed its death was reaped in an earlier loop turn: the kernel closes a dying process's
    // sockets (which the peer sees at once) before it has torn down all its threads and its parent
    // is told. That peer's own exit code would otherwise hide the crash.
    const crash = failures.find((e) => e.signal !== null && !e.spawnFailed);
    if (crash && this.#firstFailure !== undefined && !this.#firstFailureSignaled && !this.#signalsSent &&
        this.#stopReason === 'failure') {
      const { rp, signal } = crash;
      this.#firstFailure = rp.exitCode;
      this.#firstFailureSignaled = true;
      this.#log(`${rankLabel(rp)} was killed by signal ${signal} (exit code ${rp.exitCode}): the job's exit code`);
    }
    if (first && this.#firstFailure === undefined) {
      const { rp, signal, spawnFailed } = first;
      this.#firstFailure = rp.exitCode;
      this.#firstFailureSignaled = signal !== null && !spawnFailed;
      if (this.#stopReason === undefined) {
        const alive = this.#alive().length;
        const how = spawnFailed
          ? 'could not be started'
          : signal
            ? `was killed by signal ${signal} (exit code ${rp.exitCode})`
            : `exited with code ${rp.exitCode}`;
        this.#log(`${rankLabel(rp)} ${how}${alive > 0 ? '; stopping the job' : ''}`);
        this.#stop('failure');
      }
    }
    this.#checkAllExited();
  }


  #alive(): RankProcess[] {
    return this.#ranks.filter((r) => !r.exited);
  }

  #checkAllExited(): void {
    // Exit events arrive on later ticks, so this cannot fire while ranks are still being spawned.
    if (this.#alive().length === 0) this.#allExited();
  }

  #after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.#timers.delete(t);
      fn();
    }, ms);
    this.#timers.add(t);
  }

  #clearTimers(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  /** Starts (or restarts, for a stronger reason) the escalation towards an empty job. */
  #stop(reason: StopReason, forwarded?: NodeJS.Signals): void {
    this.#stopReason = reason;
    this.#clearTimers();
    const grace = this.#opts.graceMs;
    const kill = (): void => this.#escalate('SIGKILL', `still running ${grace} ms after SIGTERM`);
    const term = (why: string): void => {
      this.#escalate('SIGTERM', why);
      this.#after(grace, kill);
    };
    switch (reason) {
      case 'failure':
        this.#after(grace, () => term(`still running after the ${grace} ms grace period`));
        break;
      case 'signal':
        this.#sendAll(forwarded!);
        if (forwarded === 'SIGTERM') this.#after(grace, kill);
        else this.#after(grace, () => term(`still running ${grace} ms after ${forwarded}`));
        break;
      case 'timeout':
        this.#sendAll('SIGUSR2');
        this.#after(dumpWaitMs, () => term('stopping the timed-out job'));
        break;
    }
  }

  #escalate(signal: NodeJS.Signals, why: string): void {
    const alive = this.#alive();
    if (alive.length === 0) return;
    this.#log(`sending ${signal} to ${alive.length === 1 ? 'rank' : 'ranks'} ${alive.map((r) => r.placement.rank).join(',')} (${why})`);
    this.#sendAll(signal);
  }

  #onSignal(signal: NodeJS.Signals): void {
    this.#signalsReceived++;
    if (this.#signalsReceived === 1) {
      this.#log(`received ${signal}; forwarding it to ${plural(this.#alive().length, 'rank')}`);
      this.#stop('signal', signal);
    } else {
      this.#log(`received ${signal} again; killing the job`);
      this.#clearTimers();
      this.#sendAll('SIGKILL');
    }
  }

  #onTimeout(): void {
    if (this.#stopReason !== undefined) return;
    this.#timedOut = true;
    this.#log(
      `job timed out after ${this.#opts.timeoutSec} s; asking ${plural(this.#alive().length, 'rank')} for their flight recorders (SIGUSR2), then stopping the job`,
    );
    this.#stop('timeout');
  }

  #sendAll(signal: NodeJS.Signals): void {
    if (this.#alive().length > 0) this.#signalsSent = true;
    for (const rp of this.#alive()) this.#send(rp, signal);
  }

  #send(rp: RankProcess, signal: NodeJS.Signals): void {
    if (rp.pid === undefined) return;
    if (rp.placement.host.local) {
      this.#signalGroup(rp.pid, signal);
      return;
    }
    if (rp.remotePid !== undefined) {
      this.#background.push(remoteKill(this.#opts.rsh, rp.placement.host.name, rp.remotePid, signal, remoteCommandTimeoutMs));
    }
    // The local agent process: only for SIGKILL (ending the agent ends the session) or when the
    // rank's remote pid is not known yet. SIGUSR2 is never sent to an agent (it would kill ssh).
    if (signal === 'SIGKILL' || (rp.remotePid === undefined && signal !== 'SIGUSR2')) this.#signalGroup(rp.pid, signal);
  }

  /**
   * Signals a process group. Every rank (and every rsh agent) leads its own group, so this reaches its
   * children too; the bare pid is never signalled, as it may have been reused after the rank exited.
   */
  #signalGroup(pid: number, signal: NodeJS.Signals): void {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is gone
    }
  }

  async #cleanup(router: OutputRouter, store: TcpStoreServer): Promise<void> {
    // No orphans: kill whatever is left in the ranks' process groups.
    for (const rp of this.#ranks) {
      if (rp.pid !== undefined && (rp.placement.host.local || !rp.exited)) this.#signalGroup(rp.pid, 'SIGKILL');
    }
    // Read the pipes to the end. Something outside the ranks' groups (a daemon that called setsid,
    // a stuck rsh agent) could hold one open forever: give up on a pipe idle for drainWaitMs.
    let drained = false;
    const outputs = Promise.all(this.#ranks.map((r) => r.output)).then(() => {
      drained = true;
    });
    const idle = new IdleClock();
    while (!drained) {
      await Promise.race([outputs, sleep(100)]);
      if (!drained && idle.observe(router.lastActivity, Date.now()) > drainWaitMs) {
        for (const rp of this.#ranks) {
          rp.child.stdout?.destroy();
          rp.child.stderr?.destroy();
        }
        await outputs;
      }
    }
    await router.close();
    await store.close();
    this.#removeLocalShm();
    await Promise.all(this.#background);
    const groupsByHost = new Map<string, number[]>();
    for (const rp of this.#ranks) {
      if (rp.placement.host.local) continue;
      const groups = groupsByHost.get(rp.placement.host.name) ?? [];
      if (rp.remotePid !== undefined) groups.push(rp.remotePid);
      groupsByHost.set(rp.placement.host.name, groups);
    }
    await Promise.all([...groupsByHost].map(([host, groups]) => remoteCleanup(this.#opts.rsh, host, this.#jobId, groups, remoteCommandTimeoutMs)));
  }

  #removeLocalShm(): void {
    const prefix = `ringtree-${this.#jobId}-`;
    let names: string[];
    try {
      names = fs.readdirSync('/dev/shm');
    } catch {
      return;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      try {
        fs.unlinkSync(`/dev/shm/${name}`);
      } catch {
        // removed concurrently
      }
    }
  }
}
