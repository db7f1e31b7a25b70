// Routing of the ranks' stdout/stderr.
//
// Each rank stream is cut into lines (on the byte '\n', so multi-byte characters are never split) and
// only whole lines are written, one write per batch of lines: output of different ranks never
// interleaves mid-line. With tagging every line gets a `[rank] ` prefix. A rank's last line without
// '\n' is flushed at end of stream (with '\n' added when tagging; untagged it is written as is and a
// '\n' is put in front of the next line anyone writes to that destination). A line longer than
// maxLineBytes is written in pieces rather than buffered without bound.
//
// With an output directory each rank writes `rank.N.stdout` / `rank.N.stderr` there instead.
// Backpressure: when a destination's buffer is full the source streams feeding it are paused until
// it drains, so a slow consumer slows the ranks instead of growing ringrun's memory. A destination
// that fails (EPIPE) drops further output instead of taking ringrun down.

import fs from 'node:fs';
import path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { LaunchError } from './errors.js';

const newline = 0x0a;
const maxLineBytes = 1 << 20;

class Destination {
  readonly #stream: Writable;
  readonly #paused = new Set<Readable>();
  #waiting = false;
  /** The last write ended without '\n' (only for untagged terminal output). */
  dangling = false;

  /** The stream failed (EPIPE: whoever read ringrun's output went away); output is dropped. */
  #broken = false;

  constructor(stream: Writable) {
    this.#stream = stream;
    // Without a listener an EPIPE would crash ringrun and orphan the ranks.
    stream.on('error', () => {
      this.#broken = true;
      for (const s of this.#paused) s.resume();
      this.#paused.clear();
    });
  }

  /** Writes data; when the stream's buffer is full, `source` (if any) is paused until it drains. */
  write(data: Buffer, source?: Readable): void {
    if (data.length === 0 || this.#broken) return;
    if (this.dangling) {
      data = Buffer.concat([Buffer.from('\n'), data]);
      this.dangling = false;
    }
    if (this.#stream.write(data) || !source) return;
    this.#paused.add(source);
    source.pause();
    if (this.#waiting) return;
    this.#waiting = true;
    this.#stream.once('drain', () => {
      this.#waiting = false;
      const sources = [...this.#paused];
      this.#paused.clear();
      for (const s of sources) s.resume();
    });
  }

  /** True while a source is paused waiting for this destination to drain (a slow reader). */
  get backlogged(): boolean {
    return this.#waiting;
  }

  forget(source: Readable): void {
    this.#paused.delete(source);
  }

  end(): Promise<void> {
    if (this.#broken) return Promise.resolve();
    return new Promise((resolve) => {
      this.#stream.end(() => resolve());
    });
  }
}

export interface OutputOptions {
  tag: boolean;
  outputDir?: string | undefined;
  stdout: Writable;
  stderr: Writable;
}

export type StreamName = 'stdout' | 'stderr';

/**
 * Called for each complete line (without its '\n') before it is written; returning true drops the
 * line. Used to strip the remote-pid line.
 */
export type LineFilter = (line: Buffer) => boolean;

export class OutputRouter {
  readonly #opts: OutputOptions;
  readonly #terminal: Record<StreamName, Destination>;
  readonly #files: Destination[] = [];
  #lastActivity = Date.now();

  constructor(opts: OutputOptions) {
    this.#opts = opts;
    this.#terminal = { stdout: new Destination(opts.stdout), stderr: new Destination(opts.stderr) };
    if (opts.outputDir !== undefined) {
      try {
        fs.mkdirSync(opts.outputDir, { recursive: true });
        fs.accessSync(opts.outputDir, fs.constants.W_OK);
      } catch (err) {
        throw new LaunchError(`--output-dir ${opts.outputDir}: ${(err as Error).message}`);
      }
    }
  }

  /**
   * When a rank stream last delivered data (ms since the epoch), taken after it was written out.
   * While a destination is backlogged (its reader is slow, sources are paused) the pipes are not
   * idle, only waiting: that counts as activity now.
   */
  get lastActivity(): number {
    const all = [this.#terminal.stdout, this.#terminal.stderr, ...this.#files];
    if (all.some((d) => d.backlogged)) this.#lastActivity = Date.now();
    return this.#lastActivity;
  }

  /** Writes one line of ringrun's own to the terminal's stderr, never glued to a rank's partial line. */
  message(line: string): void {
    this.#terminal.stderr.write(Buffer.from(`${line}\n`));
  }

  /** Path of a rank's output file under --output-dir. */
  static fileName(dir: string, rank: number, which: StreamName): string {
    return path.join(dir, `rank.${rank}.${which}`);
  }

  /** Routes one rank stream; resolves once the stream has ended and its last line was written. */
  attach(rank: number, which: StreamName, source: Readable, filter?: LineFilter): Promise<void> {
    let dest: Destination;
    let prefix: Buffer | null = null;
    let fileMode = false;
    if (this.#opts.outputDir !== undefined) {
      dest = new Destination(fs.createWriteStream(OutputRouter.fileName(this.#opts.outputDir, rank, which)));
      this.#files.push(dest);
      fileMode = true;
    } else {
      dest = this.#terminal[which];
      if (this.#opts.tag) prefix = Buffer.from(`[${rank}] `);
    }
    let pending: Buffer[] = [];
    let pendingBytes = 0;

    const emit = (lines: Buffer[]): void => {
      const parts: Buffer[] = [];
      for (const line of lines) {
        // line includes its '\n' (except a final piece flushed at end of stream)
        const body = line[line.length - 1] === newline ? line.subarray(0, line.length - 1) : line;
        if (filter && filter(body)) continue;
        if (prefix) parts.push(prefix);
        parts.push(line);
      }
      if (parts.length > 0) dest.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts), source);
    };

    const takePending = (tail: Buffer): Buffer => {
      if (pending.length === 0) return tail;
      const out = Buffer.concat([...pending, tail]);
      pending = [];
      pendingBytes = 0;
      return out;
    };

    source.on('data', (chunk: Buffer) => {
      const lines: Buffer[] = [];
      let start = 0;
      for (;;) {
        const nl = chunk.indexOf(newline, start);
        if (nl < 0) break;
        lines.push(takePending(chunk.subarray(start, nl + 1)));
        start = nl + 1;
      }
      if (start < chunk.length) {
        const rest = chunk.subarray(start);
        pending.push(Buffer.from(rest)); // copy: the chunk's memory may be reused
        pendingBytes += rest.length;
        if (pendingBytes >= maxLineBytes) lines.push(Buffer.concat([takePending(Buffer.alloc(0)), Buffer.from('\n')]));
      }
      emit(lines);
      this.#lastActivity = Date.now();
    });

    return new Promise((resolve) => {
      let finished = false;
      const finish = (): void => {
        if (finished) return;
        finished = true;
        if (pendingBytes > 0) {
          const last = takePending(Buffer.alloc(0));
          if (!(filter && filter(last))) {
            if (prefix) dest.write(Buffer.concat([prefix, last, Buffer.from('\n')]), source);
            else {
              dest.write(last, source);
              if (!fileMode) dest.dangling = true;
            }
          }
        }
        dest.forget(source);
        resolve();
      };
      source.on('end', finish);
      source.on('close', finish);
      source.on('error', finish);
    });
  }

  /** Closes the per-rank files (terminal streams are left open). */
  async close(): Promise<void> {
    await Promise.all(this.#files.map((d) => d.end()));
  }
}

/**
 * How long the rank pipes have really been idle. Idle time only accrues between consecutive checks,
 * at most `maxStepMs` per check: when ringrun itself was not scheduled for a while (a loaded host),
 * the first timer after the stall fires before the poll phase that would read the data waiting in
 * the pipes, so the time of the stall must not count as the pipes' idleness.
 */
export class IdleClock {
  #idleMs = 0;
  #lastActivity: number | undefined;
  #lastCheck: number | undefined;

  constructor(private readonly maxStepMs = 150) {}

  /** Records a check at `now` with the router's `lastActivity`; returns the accrued idle ms. */
  observe(lastActivity: number, now: number): number {
    if (lastActivity !== this.#lastActivity) {
      this.#lastActivity = lastActivity;
      this.#idleMs = 0;
    } else if (this.#lastCheck !== undefined) {
      this.#idleMs += Math.max(0, Math.min(now - this.#lastCheck, this.maxStepMs));
    }
    this.#lastCheck = now;
    return this.#idleMs;
  }
}
