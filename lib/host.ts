// Host identity and addresses. Ranks with equal host ids use shared memory with each other.
// The id joins the hostname, the kernel boot id and the network namespace, so "hosts" simulated
// with network namespaces on one machine count as different hosts (as they would be for real).
// RINGTREE_HOST_ID overrides it (ringrun sets it per -H host).
import dgram from 'node:dgram';
import { readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

function readOr(fn: () => string, fallback: string): string {
  try {
    return fn().trim();
  } catch {
    return fallback;
  }
}

export function hostId(env: NodeJS.ProcessEnv = process.env): string {
  if (env.RINGTREE_HOST_ID) return env.RINGTREE_HOST_ID;
  const boot = readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'), 'noboot');
  const netns = readOr(() => readlinkSync('/proc/self/ns/net'), 'nonetns');
  return `${os.hostname()}|${boot}|${netns}`;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/**
 * The address other ranks can reach this process at: RINGTREE_HOST if set, loopback when the
 * store is on loopback (single-host job), else the local address of the route to the store
 * (a connected UDP socket sends nothing but tells which source address the kernel would use).
 */
export async function advertisedHost(storeHost: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.RINGTREE_HOST) return env.RINGTREE_HOST;
  if (!storeHost || isLoopback(storeHost)) return '127.0.0.1';
  return new Promise((resolve) => {
    const family = storeHost.includes(':') ? 'udp6' : 'udp4';
    const sock = dgram.createSocket(family);
    sock.on('error', () => {
      sock.close();
      resolve(os.hostname());
    });
    sock.connect(9, storeHost, () => {
      const addr = sock.address().address;
      sock.close();
      resolve(addr);
    });
  });
}
