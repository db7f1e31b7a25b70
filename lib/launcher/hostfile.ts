// Hosts and rank placement, mpirun style.
//
// Sources: `-H host1:2,host2:2` (a missing `:N` means 1 slot) and `--hostfile FILE` with one host per
// line as `host slots=N`, `host:N` or just `host` (1 slot); `#` starts a comment, blank lines are
// ignored. Hosts named more than once are merged (their slots add up), keeping the order of first
// appearance; every name for this machine (localhost, 127.x.x.x, ::1, its hostname, its own
// addresses) is merged into one local host.
//
// Placement is by slot (mpirun's default `--map-by slot`): host 1's slots are filled first, then host
// 2's, and so on. More ranks than slots is an error unless oversubscription is allowed, in which case
// the extra ranks go round-robin over the hosts.

import os from 'node:os';
import { LaunchError } from './errors.js';

export interface HostSpec {
  /** Host name as given (or this machine's hostname for every local alias). */
  name: string;
  slots: number;
  /** True if ranks on this host are started directly instead of through the rsh agent. */
  local: boolean;
}

export interface RankPlacement {
  rank: number;
  host: HostSpec;
  localRank: number;
  localSize: number;
}

const hostNamePattern = /^[A-Za-z0-9_.:%\[\]-]+$/;

function parseSlots(text: string, where: string): number {
  if (!/^\d+$/.test(text)) throw new LaunchError(`${where}: slot count must be a positive integer, got "${text}"`);
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new LaunchError(`${where}: slot count must be a positive integer, got "${text}"`);
  return n;
}

function checkHostName(name: string, where: string): string {
  if (name.length === 0) throw new LaunchError(`${where}: empty host name`);
  if (!hostNamePattern.test(name) || name.startsWith('-')) throw new LaunchError(`${where}: invalid host name "${name}"`);
  return name;
}

/** Splits `host:N` (also `[v6addr]:N`); a bare IPv6 address without brackets is taken whole. */
function splitHostSlots(item: string, where: string): { name: string; slots: number; explicit: boolean } {
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(item);
  if (bracketed) {
    const explicit = bracketed[2] !== undefined;
    const slots = explicit ? parseSlots(bracketed[2]!, where) : 1;
    return { name: checkHostName(bracketed[1]!, where), slots, explicit };
  }
  const colons = item.split(':').length - 1;
  if (colons === 1) {
    const at = item.indexOf(':');
    return { name: checkHostName(item.slice(0, at), where), slots: parseSlots(item.slice(at + 1), where), explicit: true };
  }
  return { name: checkHostName(item, where), slots: 1, explicit: false };
}

/** Parses the value of `-H`: `host1:2,host2:2,host3` (repeated -H values are concatenated by the caller). */
export function parseHostList(value: string): Array<{ name: string; slots: number }> {
  const items = value.split(',').map((s) => s.trim());
  if (items.some((s) => s.length === 0)) throw new LaunchError(`-H ${value}: empty host entry`);
  return items.map((item) => {
    const { name, slots } = splitHostSlots(item, `-H ${value}`);
    return { name, slots };
  });
}

/** Parses hostfile text: `host slots=N`, `host:N`, `host`, comments (`#`) and blank lines. */
export function parseHostfile(text: string, fileName = 'hostfile'): Array<{ name: string; slots: number }> {
  const out: Array<{ name: string; slots: number }> = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const where = `${fileName}:${i + 1}`;
    const line = raw.replace(/#.*$/, '').trim();
    if (line.length === 0) return;
    const [first, ...rest] = line.split(/\s+/);
    const parsed = splitHostSlots(first!, where);
    const name = parsed.name;
    let slots = parsed.slots;
    let sawSlots = parsed.explicit;
    for (const word of rest) {
      const kv = /^(slots|max[-_]slots)=(.*)$/.exec(word);
      if (!kv) throw new LaunchError(`${where}: unexpected "${word}" (expected "slots=N")`);
      if (kv[1] !== 'slots') continue; // max_slots (Open MPI) only caps oversubscription; accepted and ignored
      if (sawSlots) throw new LaunchError(`${where}: slot count given twice`);
      slots = parseSlots(kv[2]!, where);
      sawSlots = true;
    }
    out.push({ name, slots });
  });
  return out;
}

/** Names by which this machine refers to itself. */
export function localHostNames(): Set<string> {
  const names = new Set<string>(['localhost', 'localhost.localdomain', '::1', '0.0.0.0']);
  const hostname = os.hostname();
  names.add(hostname);
  names.add(hostname.split('.')[0]!);
  for (const list of Object.values(os.networkInterfaces())) {
    for (const ifc of list ?? []) names.add(ifc.address);
  }
  return names;
}

export function isLocalHost(name: string, locals: Set<string> = localHostNames()): boolean {
  return locals.has(name) || /^127\.\d+\.\d+\.\d+$/.test(name);
}

/**
 * Merges host entries into the job's host list. With no entries at all the job runs on this
 * machine with `defaultSlots` slots.
 */
export function resolveHosts(entries: Array<{ name: string; slots: number }>, defaultSlots: number): HostSpec[] {
  const locals = localHostNames();
  const hostname = os.hostname();
  if (entries.length === 0) return [{ name: hostname, slots: defaultSlots, local: true }];
  const byName = new Map<string, HostSpec>();
  for (const e of entries) {
    const local = isLocalHost(e.name, locals);
    const key = local ? hostname : e.name;
    const existing = byName.get(key);
    if (existing) existing.slots += e.slots;
    else byName.set(key, { name: key, slots: e.slots, local });
  }
  return [...byName.values()];
}

/** Assigns ranks 0..np-1 to hosts by slot; see the file comment. */
export function placeRanks(hosts: HostSpec[], np: number, oversubscribe: boolean): RankPlacement[] {
  const total = hosts.reduce((s, h) => s + h.slots, 0);
  if (np > total && !oversubscribe) {
    throw new LaunchError(
      `${np} ranks requested but the hosts have only ${total} slot${total === 1 ? '' : 's'} ` +
        `(${hosts.map((h) => `${h.name}:${h.slots}`).join(',')}); add slots or pass --oversubscribe`,
    );
  }
  const hostOf: HostSpec[] = [];
  for (const h of hosts) for (let i = 0; i < h.slots && hostOf.length < np; i++) hostOf.push(h);
  for (let i = 0; hostOf.length < np; i++) hostOf.push(hosts[i % hosts.length]!);
  const counts = new Map<HostSpec, number>();
  const localRanks = hostOf.map((h) => {
    const n = counts.get(h) ?? 0;
    counts.set(h, n + 1);
    return n;
  });
  return hostOf.map((host, rank) => ({ rank, host, localRank: localRanks[rank]!, localSize: counts.get(host)! }));
}
