// Checkpoints: rank 0 writes one file (atomically: temp file + rename); on resume rank 0 reads it and
// broadcasts it to the other ranks through the communicator, so ranks need no shared file system.
//
// File format: 8-byte magic "RTCKPT1\n", uint32 little-endian header length, UTF-8 JSON header, then the
// float32 (little-endian) arrays listed in header.arrays, back to back.

import { existsSync } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import type { CommunicatorLike } from '../types.js';

const MAGIC = 'RTCKPT1\n';

export interface CheckpointHeader {
  version: 1;
  /** Epochs completed. */
  epoch: number;
  /** Global steps completed. */
  step: number;
  model: string;
  worldSize: number;
  arrays: Array<{ name: string; length: number }>;
  /** Anything else the trainer wants back (metrics history, config). */
  meta: Record<string, unknown>;
}

export interface Checkpoint {
  header: CheckpointHeader;
  arrays: Map<string, Float32Array>;
}

export function encodeCheckpoint(header: Omit<CheckpointHeader, 'arrays' | 'version'>, arrays: Map<string, Float32Array>): Uint8Array {
  const full: CheckpointHeader = { version: 1, ...header, arrays: [...arrays].map(([name, a]) => ({ name, length: a.length })) };
  const json = new TextEncoder().encode(JSON.stringify(full));
  let total = 12 + json.length;
  for (const a of arrays.values()) total += a.byteLength;
  const out = new Uint8Array(total);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(8, json.length, true);
  out.set(json, 12);
  let off = 12 + json.length;
  const dv = new DataView(out.buffer);
  for (const a of arrays.values()) {
    for (let i = 0; i < a.length; i++) dv.setFloat32(off + 4 * i, a[i]!, true);
    off += a.byteLength;
  }
  return out;
}

export function decodeCheckpoint(bytes: Uint8Array, file = 'checkpoint'): Checkpoint {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw new Error(`${file}: not a ringtree checkpoint`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = dv.getUint32(8, true);
  if (12 + hlen > bytes.length) throw new Error(`${file}: truncated header`);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + hlen))) as CheckpointHeader;
  if (header.version !== 1) throw new Error(`${file}: unsupported checkpoint version ${String(header.version)}`);
  const arrays = new Map<string, Float32Array>();
  let off = 12 + hlen;
  for (const { name, length } of header.arrays) {
    if (off + 4 * length > bytes.length) throw new Error(`${file}: truncated array ${name}`);
    const a = new Float32Array(length);
    for (let i = 0; i < length; i++) a[i] = dv.getFloat32(off + 4 * i, true);
    arrays.set(name, a);
    off += 4 * length;
  }
  if (off !== bytes.length) throw new Error(`${file}: ${bytes.length - off} unexpected trailing bytes`);
  return { header, arrays };
}

export async function writeCheckpoint(path: string, header: Omit<CheckpointHeader, 'arrays' | 'version'>, arrays: Map<string, Float32Array>): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, encodeCheckpoint(header, arrays));
  await rename(tmp, path);
}

/**
 * Rank 0 reads `path` (if it exists) and every rank receives the same checkpoint (or undefined when
 * there is none). Collective: all ranks must call it.
 */
export async function loadCheckpointCollective(comm: CommunicatorLike, path: string): Promise<Checkpoint | undefined> {
  let bytes: Uint8Array | undefined;
  let error = '';
  if (comm.rank === 0 && existsSync(path)) {
    try {
      bytes = await readFile(path);
      decodeCheckpoint(bytes, path); // validate before sending
    } catch (e) {
      error = String((e as Error).message ?? e);
      bytes = undefined;
    }
  }
  const errBytes = new TextEncoder().encode(error);
  const meta = new Float64Array([bytes ? bytes.length : 0, errBytes.length]);
  await comm.broadcast(meta, { root: 0 });
  if (meta[1]! > 0) {
    const e = comm.rank === 0 ? errBytes : new Uint8Array(meta[1]!);
    await comm.broadcast(e, { root: 0 });
    throw new Error(`cannot resume: ${new TextDecoder().decode(e)}`);
  }
  if (meta[0] === 0) return undefined;
  const buf = comm.rank === 0 ? new Uint8Array(bytes!) : new Uint8Array(meta[0]!);
  await comm.broadcast(buf, { root: 0 });
  return decodeCheckpoint(buf, path);
}
