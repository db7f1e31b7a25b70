// Argument checks and small helpers shared by every Store implementation, so that TcpStore,
// FileStore and HashStore accept exactly the same keys, values, deltas and timeouts and word their
// errors the same way.

import net from 'node:net';

import { InvalidArgumentError } from '../errors.js';
import { maxKeyBytes, maxKeysPerRequest, maxValueBytes } from './protocol.js';

/** c10d's kDefaultTimeout: 300 s. */
export const defaultStoreTimeoutMs = 300_000;

/** setTimeout's largest delay; longer timeouts (and Infinity) mean "wait forever". */
export const maxTimerMs = 0x7fffffff;

/** host:port, with IPv6 literals in brackets. */
export function formatHostPort(host: string, port: number): string {
  return net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** A key quoted for an error message (JSON-escaped, long keys shortened). */
export function quoteKey(key: string): string {
  const q = JSON.stringify(key);
  return q.length > 120 ? `${q.slice(0, 100)}..." (${Buffer.byteLength(key)} bytes)` : q;
}

/** Quotes a key list for an error message, naming at most a few keys. */
export function quoteKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, 4).map(quoteKey).join(', ');
  return keys.length > 4 ? `[${shown}, ... ${keys.length} keys]` : `[${shown}]`;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Checks a key: a non-empty string of at most 4096 UTF-8 bytes. */
export function checkKey(key: unknown, who: string): string {
  if (typeof key !== 'string') throw new InvalidArgumentError(`${who}: key must be a string, got ${typeof key}`);
  const n = Buffer.byteLength(key, 'utf8');
  if (n === 0 || n > maxKeyBytes) {
    throw new InvalidArgumentError(`${who}: key must be 1..${maxKeyBytes} UTF-8 bytes, got ${n}`);
  }
  // Lone surrogates do not survive a UTF-8 round trip and would silently become U+FFFD.
  if (loneSurrogate.test(key)) throw new InvalidArgumentError(`${who}: key ${quoteKey(key)} contains a lone surrogate`);
  return key;
}

/** Checks a key list for wait/check: 1..4096 valid keys. */
export function checkKeys(keys: unknown, who: string): string[] {
  if (!Array.isArray(keys)) throw new InvalidArgumentError(`${who}: keys must be an array of strings`);
  if (keys.length === 0 || keys.length > maxKeysPerRequest) {
    throw new InvalidArgumentError(`${who}: expected 1..${maxKeysPerRequest} keys, got ${keys.length}`);
  }
  return keys.map((k) => checkKey(k, who));
}

/** Converts a value to bytes (strings as UTF-8) and checks its size. */
export function toValueBytes(value: unknown, who: string): Uint8Array {
  let bytes: Uint8Array;
  if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
  else if (value instanceof Uint8Array) bytes = value;
  else throw new InvalidArgumentError(`${who}: value must be a Uint8Array or a string`);
  if (bytes.length > maxValueBytes) {
    throw new InvalidArgumentError(`${who}: value of ${bytes.length} bytes exceeds the limit of ${maxValueBytes} bytes`);
  }
  return bytes;
}

/** Checks an add() delta: a safe integer. */
export function checkDelta(delta: unknown, who: string): bigint {
  if (typeof delta !== 'number' || !Number.isSafeInteger(delta)) {
    throw new InvalidArgumentError(`${who}: delta must be a safe integer, got ${String(delta)}`);
  }
  return BigInt(delta);
}

/**
 * Resolves a per-call timeout: undefined takes the store default; otherwise a non-negative number of
 * milliseconds (fractions round up). Infinity, or anything beyond setTimeout's range, means no timeout
 * and is returned as Infinity.
 */
export function resolveTimeout(timeoutMs: unknown, fallback: number, who: string): number {
  const t = timeoutMs === undefined ? fallback : timeoutMs;
  if (typeof t !== 'number' || Number.isNaN(t) || t < 0) {
    throw new InvalidArgumentError(`${who}: timeoutMs must be a non-negative number, got ${String(t)}`);
  }
  return t > maxTimerMs ? Infinity : Math.ceil(t);
}

/** Describes a timeout for messages. */
export function describeTimeout(timeoutMs: number): string {
  return Number.isFinite(timeoutMs) ? `${timeoutMs} ms` : 'no timeout';
}

/** Converts a counter to a JS number, or null when it is outside the safe-integer range. */
export function counterToNumber(value: bigint): number | null {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : null;
}
