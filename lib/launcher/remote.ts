// Starting and signalling ranks on other hosts through an rsh agent (`--rsh`, default `ssh`), the way
// mpirun's plm_rsh_agent does.
//
// A remote rank is started as `<rsh words...> <host> "exec sh -c '<script>'"`, where the script is:
//
//   IFS= read -r RINGTREE_SECRET || { echo '<no secret>' >&2; exit 126; }; export RINGTREE_SECRET;
//   printf '__RINGTREE_PID__=%s\n' $$ >&2; cd '<dir>' || exit 126;
//   exec env VAR='value' ... '<cmd>' '<arg>' ...
//
// - The job secret travels over the agent's stdin (one line, then EOF), never on a command line, so
//   it does not show up in `ps` on either host.
// - The shell reports its pid on stderr before exec'ing the rank, so the pid is the rank's own; the
//   launcher strips that line from the output and later signals the rank with
//   `<rsh> <host> kill -SIG -PID || kill -SIG PID` (the process group first: under sshd the rank is a
//   session leader, and its children die with it). After the job one call per host kills what is
//   left in those groups and removes the job's /dev/shm segments.
// - Everything is quoted with single quotes, so arguments reach the rank byte for byte.
// - Failures before the rank runs exit 126 with a message (no secret on stdin, no such directory),
//   or 127 from exec when the command is not found there.

import { spawn } from 'node:child_process';
import { LaunchError } from './errors.js';

const safeWord = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one word for POSIX sh. */
export function shellQuote(word: string): string {
  if (word.length > 0 && safeWord.test(word)) return word;
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * Splits a command line such as `ssh -p 2222 -o "ProxyJump=a b"` into words: whitespace separates,
 * single and double quotes group, backslash escapes outside single quotes. No expansions.
 */
export function splitCommandLine(text: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote === "'") {
      if (c === "'") quote = null;
      else cur += c;
    } else if (quote === '"') {
      if (c === '"') quote = null;
      else if (c === '\\' && i + 1 < text.length && '"\\$`'.includes(text[i + 1]!)) cur += text[++i];
      else cur += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < text.length) {
      cur += text[++i];
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) throw new LaunchError(`unterminated ${quote} quote in "${text}"`);
  if (inWord) words.push(cur);
  return words;
}

export const remotePidMarker = '__RINGTREE_PID__=';

const noSecretMessage = 'ringrun: the job secret did not arrive on stdin (the --rsh agent must pass stdin through)';

/** Matches the pid line the remote shell prints on stderr; returns the pid or undefined. */
export function parseRemotePidLine(line: string): number | undefined {
  if (!line.startsWith(remotePidMarker)) return undefined;
  const text = line.slice(remotePidMarker.length).trim();
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

export interface RemoteCommandOptions {
  /** Working directory on the remote host. */
  cwd: string;
  /** Variables for the rank (the secret is excluded: it is read from stdin). */
  env: Record<string, string>;
  /** The rank command and its arguments. */
  command: readonly string[];
}

/** Builds the sh command string run on the remote host (see the file comment). */
export function buildRemoteCommand(opts: RemoteCommandOptions): string {
  const assignments = Object.entries(opts.env).map(([k, v]) => {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) throw new LaunchError(`invalid environment variable name "${k}"`);
    return `${k}=${shellQuote(v)}`;
  });
  return asShCommand([
    `IFS= read -r RINGTREE_SECRET || { echo ${shellQuote(noSecretMessage)} >&2; exit 126; };`,
    'export RINGTREE_SECRET;',
    `printf '${remotePidMarker}%s\\n' $$ >&2;`,
    `cd ${shellQuote(opts.cwd)} || exit 126;`,
    'exec env',
    ...assignments,
    ...opts.command.map(shellQuote),
  ].join(' '));
}

/**
 * Wraps a POSIX sh script so that it runs under sh whatever the remote login shell is (ssh hands the
 * string to the user's shell); `exec` keeps the pid, so `$$` inside is the remote process itself.
 */
export function asShCommand(script: string): string {
  return `exec sh -c ${shellQuote(script)}`;
}

/** argv for running `script` on `host` through the agent. */
export function rshArgv(rsh: readonly string[], host: string, script: string): { file: string; args: string[] } {
  if (rsh.length === 0) throw new LaunchError('--rsh must not be empty');
  return { file: rsh[0]!, args: [...rsh.slice(1), host, script] };
}

/**
 * Runs a short command on a remote host through the agent, best effort: resolves with the exit code
 * (or null on a spawn error / timeout) and never rejects.
 */
export function runRemote(rsh: readonly string[], host: string, script: string, timeoutMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    const { file, args } = rshArgv(rsh, host, script);
    let done = false;
    const finish = (code: number | null): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(code);
    };
    const child = spawn(file, args, { stdio: 'ignore', detached: true });
    const timer = setTimeout(() => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
      finish(null);
    }, timeoutMs);
    child.on('error', () => finish(null));
    child.on('exit', (code) => finish(code));
  });
}

/** Sends `signal` to a remote rank's process group (or the pid alone if it leads no group). */
export function remoteKill(rsh: readonly string[], host: string, pid: number, signal: NodeJS.Signals, timeoutMs = 5000): Promise<number | null> {
  const sig = signalName(signal);
  // `kill -SIG -PGID`: dash's kill does not take `--`, and every sh takes this form.
  return runRemote(rsh, host, asShCommand(`kill -${sig} -${pid} 2>/dev/null || kill -${sig} ${pid} 2>/dev/null`), timeoutMs);
}

/**
 * End-of-job sweep on a remote host: SIGKILL whatever is left in the ranks' process groups (by group
 * only: a bare pid may have been reused once the rank exited) and remove the job's shared-memory
 * segments. One agent call per host.
 */
export function remoteCleanup(rsh: readonly string[], host: string, jobId: string, groups: readonly number[], timeoutMs = 5000): Promise<number | null> {
  if (!/^[A-Za-z0-9_-]+$/.test(jobId)) throw new LaunchError(`invalid job id "${jobId}"`);
  const kills = groups.length > 0 ? `for g in ${groups.map((g) => String(Math.trunc(g))).join(' ')}; do kill -KILL -$g 2>/dev/null; done; ` : '';
  return runRemote(rsh, host, asShCommand(`${kills}rm -f /dev/shm/ringtree-${jobId}-*`), timeoutMs);
}

function signalName(signal: NodeJS.Signals): string {
  if (!/^SIG[A-Z0-9]+$/.test(signal)) throw new LaunchError(`invalid signal ${signal}`);
  return signal.slice(3);
}
