// Network namespaces as "hosts" for multi-host launcher tests.
//
// createTopology(n) makes one launcher namespace L with a bridge (10.77.0.1/24) and n host namespaces
// H1..Hn, each joined to the bridge by a veth pair (10.77.0.2, 10.77.0.3, ...). Nothing is added to
// the namespace the tests run in, and all traffic stays on these private interfaces. Names carry a
// random suffix so parallel runs never collide; destroy() kills whatever still runs inside them and
// deletes them (also registered for process exit, so a crashed test does not leave them behind).
//
// Hosts are reached with test/helpers/netns-rsh.sh as ringrun's --rsh agent.

import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { repoRoot } from './launcher.js';

export const netnsRsh = path.join(repoRoot, 'test/helpers/netns-rsh.sh');

export interface Topology {
  launcher: string;
  hosts: string[];
  /** Address of each namespace (launcher and hosts). */
  addr: Record<string, string>;
  /** Words that run a command inside namespace `ns`. */
  wrap(ns: string): string[];
  destroy(): void;
}

function ip(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim() || `exit ${r.status}`}`);
}

function killInside(ns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', timeout: 10_000 });
  for (const pid of (r.stdout ?? '').split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // gone
    }
  }
}

/** Why namespaces cannot be used here, or undefined if they can. */
export function netnsUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'creating network namespaces needs root';
  const r = spawnSync('ip', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'the "ip" command (iproute2) is not installed';
  return undefined;
}

export function createTopology(nHosts: number): Topology {
  const suffix = randomBytes(3).toString('hex');
  const launcher = `rtl-${suffix}`;
  const hosts = Array.from({ length: nHosts }, (_, i) => `rth${i + 1}-${suffix}`);
  const created: string[] = [];
  const destroy = (): void => {
    for (const ns of created.splice(0).reverse()) {
      killInside(ns);
      spawnSync('ip', ['netns', 'del', ns], { timeout: 10_000 });
    }
    process.off('exit', destroy);
  };
  process.on('exit', destroy);
  try {
    for (const ns of [launcher, ...hosts]) {
      ip(['netns', 'add', ns]);
      created.push(ns);
      ip(['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const addr: Record<string, string> = { [launcher]: '10.77.0.1' };
    ip(['-n', launcher, 'link', 'add', 'br0', 'type', 'bridge']);
    ip(['-n', launcher, 'addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
    ip(['-n', launcher, 'link', 'set', 'br0', 'up']);
    hosts.forEach((ns, i) => {
      const veth = `v${i + 1}-${suffix}`;
      addr[ns] = `10.77.0.${i + 2}`;
      ip(['-n', launcher, 'link', 'add', veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      ip(['-n', launcher, 'link', 'set', veth, 'master', 'br0', 'up']);
      ip(['-n', ns, 'addr', 'add', `${addr[ns]}/24`, 'dev', 'eth0']);
      ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    });
    return { launcher, hosts, addr, wrap: (ns) => ['ip', 'netns', 'exec', ns], destroy };
  } catch (err) {
    destroy();
    throw err;
  }
}

/** Pids of the processes running in a namespace. */
export function pidsInside(ns: string): number[] {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  return (r.stdout ?? '').split(/\s+/).filter(Boolean).map(Number);
}
