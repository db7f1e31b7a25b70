// Command-line parsing for ringrun.
//
// Like mpirun, ringrun's options end at the first word that is not one of its options (or at `--`);
// that word and everything after it is the rank command, passed through verbatim:
//   ringrun -np 2 node x.js -n 5 --csv f    ->  options [-np 2], command [node x.js -n 5 --csv f]
// So the prefix is scanned here against the option table (mpirun spellings such as `-np`, `-host`,
// `-hostfile` and single-dash long names are accepted), normalized to `--name=value` words, and only
// that prefix is given to yargs, which does types, validation and the help text.

import fs from 'node:fs';
import yargs, { type Argv } from 'yargs';
import { LaunchError } from './errors.js';
import { parseHostfile, parseHostList } from './hostfile.js';
import { parseInject } from './inject.js';
import type { EnvForward, LaunchOptions } from './launch.js';
import { splitCommandLine } from './remote.js';

interface OptionSpec {
  /** yargs key (long name). */
  key: string;
  /** Every accepted spelling, with dashes. */
  names: string[];
  value: boolean;
}

const optionTable: OptionSpec[] = [
  { key: 'np', names: ['-np', '--np', '-n', '-c'], value: true },
  { key: 'host', names: ['-H', '--host', '-host'], value: true },
  { key: 'hostfile', names: ['--hostfile', '-hostfile', '--machinefile', '-machinefile'], value: true },
  { key: 'x', names: ['-x'], value: true },
  { key: 'tag-output', names: ['--tag-output', '-tag-output'], value: false },
  { key: 'output-dir', names: ['--output-dir', '-output-dir', '--output-filename', '-output-filename'], value: true },
  { key: 'rsh', names: ['--rsh', '-rsh', '--launch-agent'], value: true },
  { key: 'grace-ms', names: ['--grace-ms', '-grace-ms'], value: true },
  { key: 'timeout', names: ['--timeout', '-timeout'], value: true },
  { key: 'inject', names: ['--inject', '-inject'], value: true },
  { key: 'bind', names: ['--bind', '-bind'], value: true },
  { key: 'store-addr', names: ['--store-addr', '-store-addr'], value: true },
  { key: 'store-port', names: ['--store-port', '-store-port'], value: true },
  { key: 'wdir', names: ['--wdir', '-wdir', '--wd', '-wd'], value: true },
  { key: 'oversubscribe', names: ['--oversubscribe', '-oversubscribe'], value: false },
  { key: 'help', names: ['--help', '-h', '-help'], value: false },
  { key: 'version', names: ['--version', '-V', '-version'], value: false },
];

const byName = new Map<string, OptionSpec>();
for (const spec of optionTable) for (const name of spec.names) byName.set(name, spec);

export interface ScanResult {
  /** ringrun's own options, normalized to `--key=value` / `--key`. */
  options: string[];
  /** The rank command and its arguments, verbatim. */
  command: string[];
}

/** Splits argv into ringrun's options and the rank command (see the file comment). */
export function scanArgs(argv: readonly string[]): ScanResult {
  const options: string[] = [];
  let i = 0;
  while (i < argv.length) {
    const word = argv[i]!;
    if (word === '--') return { options, command: argv.slice(i + 1) };
    if (!word.startsWith('-') || word === '-') break;
    const eq = word.indexOf('=');
    const name = eq > 0 ? word.slice(0, eq) : word;
    const spec = byName.get(name);
    if (!spec) {
      throw new LaunchError(`unknown option "${name}" (ringrun's options come before the command; put -- before a command that starts with "-")`);
    }
    if (!spec.value) {
      if (eq > 0) throw new LaunchError(`option ${name} takes no value`);
      options.push(`--${spec.key}`);
      i += 1;
      continue;
    }
    if (eq > 0) {
      options.push(`--${spec.key}=${word.slice(eq + 1)}`);
      i += 1;
      continue;
    }
    if (i + 1 >= argv.length) throw new LaunchError(`option ${name} needs a value`);
    options.push(`--${spec.key}=${argv[i + 1]}`);
    i += 2;
  }
  return { options, command: argv.slice(i) };
}

const equivalents = `Equivalents:
  mpirun                          torchrun                        ringrun
  -np 4 prog                      --nproc-per-node 4 prog         -np 4 prog  (or -n 4)
  -H a:2,b:2                      --nnodes 2 (started per node)   -H a:2,b:2
  --hostfile F                    -                               --hostfile F
  -x VAR[=value]                  (inherits the environment)      -x VAR[=value]
  --tag-output                    -                               --tag-output
  --output-filename DIR           --log-dir DIR                   --output-dir DIR
  --mca plm_rsh_agent CMD         -                               --rsh CMD
  --timeout S --get-stack-traces  -                               --timeout S
  --oversubscribe                 -                               --oversubscribe
  -wdir DIR                       -                               --wdir DIR
  -                               --master-addr / --master-port   --store-addr / --store-port

Exit code: 0 if every rank exits 0; otherwise the first failing rank's code (128+N if it was killed
by signal N); 124 after --timeout; 1 for a usage error. Docs: docs/launcher.md`;

function build(argv: string[]): Argv {
  return yargs(argv)
    .scriptName('ringrun')
    .usage('Usage: ringrun [options] <command> [args...]\n\nStarts <command> as the ranks of a ringtree job. Options end at the first word that is not one of them (or at --); the rest goes to every rank verbatim.')
    .parserConfiguration({ 'camel-case-expansion': false, 'duplicate-arguments-array': true, 'short-option-groups': false })
    .option('np', { alias: 'n', type: 'number', describe: 'number of ranks (also -np, -c); default: the hosts\' slots, or the CPU count', requiresArg: true })
    .option('host', { alias: 'H', type: 'string', array: true, describe: 'hosts and slots: host1:2,host2:2 (":N" defaults to 1)', requiresArg: true })
    .option('hostfile', { type: 'string', describe: 'file with one "host slots=N" (or host:N) per line; # comments', requiresArg: true })
    .option('x', { type: 'string', array: true, describe: 'forward VAR from this environment, or set VAR=value, for every rank', requiresArg: true })
    .option('tag-output', { type: 'boolean', default: false, describe: 'prefix every output line with [rank]' })
    .option('output-dir', { type: 'string', describe: 'write each rank\'s output to DIR/rank.N.stdout and DIR/rank.N.stderr', requiresArg: true })
    .option('rsh', { type: 'string', default: 'ssh', describe: 'command that runs a command on a remote host: CMD host "command"', requiresArg: true })
    .option('grace-ms', { type: 'number', default: 3000, describe: 'after a rank fails, time the others get before SIGTERM, and again before SIGKILL', requiresArg: true })
    .option('timeout', { type: 'number', describe: 'stop the job after SECONDS, printing each rank\'s flight recorder first (exit 124)', requiresArg: true })
    .option('inject', { type: 'string', array: true, describe: 'fault injection: kill:rank=R:after-ops=N, hang:rank=R:after-ops=N, delay:rank=R:ms=M, drop-conn:rank=R:after-ops=N (";"-separated, repeatable)', requiresArg: true })
    .option('bind', { type: 'string', describe: 'address the store listens on (default 127.0.0.1, or 0.0.0.0 with remote hosts)', requiresArg: true })
    .option('store-addr', { type: 'string', describe: 'address of this host the ranks use to reach the store (default: first non-loopback IPv4 with remote hosts)', requiresArg: true })
    .option('store-port', { type: 'number', default: 0, describe: 'store port (0: any free port)', requiresArg: true })
    .option('wdir', { type: 'string', describe: 'working directory of the ranks (default: the current one)', requiresArg: true })
    .option('oversubscribe', { type: 'boolean', default: false, describe: 'allow more ranks than slots' })
    .help(false)
    .version(false)
    .option('help', { alias: 'h', type: 'boolean', describe: 'show this help' })
    .option('version', { alias: 'V', type: 'boolean', describe: 'show the version' })
    .strict()
    .exitProcess(false)
    .wrap(Math.min(120, process.stdout.columns || 100))
    .fail((message: string | undefined, error: Error | undefined) => {
      throw new LaunchError(message ?? error?.message ?? 'invalid arguments');
    });
}

/** ringrun's help text. */
export async function helpText(): Promise<string> {
  return `${await build([]).getHelp()}\n\n${equivalents}`;
}

export type ParsedArgs = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: LaunchOptions };

function last<T>(v: T | T[] | undefined): T | undefined {
  return Array.isArray(v) ? v[v.length - 1] : v;
}

function list(v: unknown): string[] {
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).map(String);
}

function parseEnvForward(item: string): EnvForward {
  const eq = item.indexOf('=');
  const name = eq < 0 ? item : item.slice(0, eq);
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw new LaunchError(`-x ${item}: "${name}" is not a valid environment variable name`);
  return eq < 0 ? { name } : { name, value: item.slice(eq + 1) };
}

function integerOption(value: unknown, name: string, min: number): number | undefined {
  const v = last(value as number | number[] | undefined);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
    throw new LaunchError(`${name} must be an integer >= ${min}`);
  }
  return v;
}

/** Parses ringrun's argv (without `node ringrun.js`). */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const { options, command } = scanArgs(argv);
  const a = build(options).parseSync() as Record<string, unknown>;
  if (a.help) return { kind: 'help' };
  if (a.version) return { kind: 'version' };
  if (command.length === 0) throw new LaunchError('no command given (usage: ringrun [options] <command> [args...]; see --help)');

  const np = integerOption(a.np, '-np', 1);
  const hosts: Array<{ name: string; slots: number }> = [];
  for (const value of list(a.host)) hosts.push(...parseHostList(value));
  const hostfile = last(a.hostfile as string | string[] | undefined);
  if (hostfile !== undefined) {
    let text: string;
    try {
      text = fs.readFileSync(hostfile, 'utf8');
    } catch (err) {
      throw new LaunchError(`--hostfile ${hostfile}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
    }
    const entries = parseHostfile(text, hostfile);
    if (entries.length === 0) throw new LaunchError(`--hostfile ${hostfile}: no hosts in the file`);
    hosts.push(...entries);
  }

  const graceMs = integerOption(a['grace-ms'], '--grace-ms', 0)!;
  const timeoutRaw = last(a.timeout as number | number[] | undefined);
  if (timeoutRaw !== undefined && !(typeof timeoutRaw === 'number' && Number.isFinite(timeoutRaw) && timeoutRaw > 0)) {
    throw new LaunchError('--timeout must be a positive number of seconds');
  }
  const inject = list(a.inject);
  parseInject(inject, np);
  const rsh = splitCommandLine(last(a.rsh as string | string[]) ?? 'ssh');
  if (rsh.length === 0) throw new LaunchError('--rsh must not be empty');
  const storePort = integerOption(a['store-port'], '--store-port', 0)!;
  if (storePort > 65535) throw new LaunchError('--store-port must be at most 65535');

  return {
    kind: 'run',
    options: {
      command,
      np,
      hosts,
      oversubscribe: a.oversubscribe === true,
      env: list(a.x).map(parseEnvForward),
      tagOutput: a['tag-output'] === true,
      outputDir: last(a['output-dir'] as string | string[] | undefined),
      rsh,
      graceMs,
      timeoutSec: timeoutRaw,
      inject,
      bind: last(a.bind as string | string[] | undefined),
      storeAddr: last(a['store-addr'] as string | string[] | undefined),
      storePort,
      wdir: last(a.wdir as string | string[] | undefined),
    },
  };
}
