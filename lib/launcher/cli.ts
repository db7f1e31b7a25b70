// ringrun's command-line entry (also `ringtree run`): parse, then hand over to launch(). Kept thin on
// purpose: spawning and supervision live in launch.ts. A LaunchError prints its message only and
// exits 1; anything else is a bug and prints its stack.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { helpText, parseArgs } from './args.js';
import { LaunchError } from './errors.js';
import { launch } from './launch.js';

/** The package version, from the package.json above this module (works through symlinks and any cwd). */
export function packageVersion(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      try {
        const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
        if (pkg.name === 'ringtree' && typeof pkg.version === 'string') return pkg.version;
      } catch {
        // not ours; keep looking
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}

/** Runs ringrun with `argv` (the words after `ringrun`); resolves with the process exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  try {
    const parsed = parseArgs(argv);
    if (parsed.kind === 'help') {
      process.stdout.write(`${await helpText()}\n`);
      return 0;
    }
    if (parsed.kind === 'version') {
      process.stdout.write(`ringrun (ringtree) ${packageVersion()}\n`);
      return 0;
    }
    return await launch(parsed.options);
  } catch (err) {
    if (err instanceof LaunchError) {
      process.stderr.write(`ringrun: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`ringrun: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
    return 1;
  }
}

/**
 * Resolves once everything written to `stream` so far has been handed to the OS (or the stream
 * failed, e.g. EPIPE), or after `timeoutMs`. process.stdout/stderr are asynchronous when they are
 * pipes, so process.exit() right after the ranks' last lines were routed would drop whatever a slow
 * reader had not taken yet.
 */
export function flushed(stream: NodeJS.WritableStream, timeoutMs = 30_000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, timeoutMs);
    timer.unref();
    try {
      stream.write('', () => {
        clearTimeout(timer);
        resolve();
      });
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/** Runs main(), lets stdout and stderr drain, and exits the process with its code. */
export function run(argv: readonly string[]): void {
  void main(argv).then(async (code) => {
    await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
    process.exit(code);
  });
}
