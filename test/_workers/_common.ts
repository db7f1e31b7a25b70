// Shared bits of the rank workers: the result line, error rendering, hashing.
import { createHash } from 'node:crypto';

export const resultMarker = '@@RESULT ';

/** Prints this rank's one JSON result line (test/helpers/ranks.ts parses it). */
export function emit(result: unknown): void {
  process.stdout.write(`${resultMarker}${JSON.stringify(result)}\n`);
}

/** Prints a progress line other processes (the test) can wait for. */
export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export interface ErrorInfo {
  name: string;
  code?: string;
  message: string;
  op?: string;
  seq?: number;
  rank?: number;
  peer?: number;
}

export function errorInfo(error: unknown): ErrorInfo {
  const e = error as { name?: string; code?: string; message?: string; op?: string; seq?: number; rank?: number; peer?: number };
  const out: ErrorInfo = { name: String(e?.name ?? typeof error), message: String(e?.message ?? error) };
  if (e?.code !== undefined) out.code = e.code;
  for (const k of ['op', 'seq', 'rank', 'peer'] as const) if (e?.[k] !== undefined) (out as unknown as Record<string, unknown>)[k] = e[k];
  return out;
}

export function sha1(view: ArrayBufferView): string {
  return createHash('sha1').update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)).digest('hex');
}
