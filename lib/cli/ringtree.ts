#!/usr/bin/env node
// ringtree: the umbrella CLI. `ringtree run` is ringrun (its words after `run` go to the launcher
// untouched, so the rank command is passed through verbatim); `bench`, `train` and `demo` live in
// their own modules and are imported only when invoked, so a missing or broken one never breaks the
// others or `ringtree run`.

import yargs, { type Argv, type CommandModule } from 'yargs';
import { packageVersion, run as runLauncher } from '../launcher/cli.js';

interface LazyCommand {
  name: string;
  describe: string;
  load: () => Promise<Record<string, unknown>>;
  exportName: string;
}

const lazyCommands: LazyCommand[] = [
  {
    name: 'bench',
    describe: 'collective benchmarks (nccl-tests style table); run it under ringrun',
    load: () => import('../bench/command.js' as string) as Promise<Record<string, unknown>>,
    exportName: 'benchCommand',
  },
  {
    name: 'train',
    describe: 'data-parallel training with TensorFlow.js; run it under ringrun',
    load: () => import('../train/command.js' as string) as Promise<Record<string, unknown>>,
    exportName: 'trainCommand',
  },
  {
    name: 'demo',
    describe: 'a short tour of the collectives; run it under ringrun',
    load: () => import('./demo.js' as string) as Promise<Record<string, unknown>>,
    exportName: 'demoCommand',
  },
];

function fail(message: string): never {
  process.stderr.write(`ringtree: ${message}\n`);
  process.exit(1);
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === 'run') {
    runLauncher(argv.slice(1));
    return;
  }
  const invoked = argv.find((a) => !a.startsWith('-'));
  const cli: Argv = yargs(argv)
    .scriptName('ringtree')
    .usage('Usage: ringtree <command> [options]')
    .command('run', 'start a job: ringtree run [ringrun options] <command> [args...] (same as ringrun; see ringtree run --help)');
  for (const c of lazyCommands) {
    if (c.name !== invoked) {
      cli.command(c.name, c.describe);
      continue;
    }
    let mod: Record<string, unknown>;
    try {
      mod = await c.load();
    } catch (err) {
      fail(`the "${c.name}" command is not available in this build: ${(err as Error).message}`);
    }
    const command = mod[c.exportName] as CommandModule | undefined;
    if (!command || typeof command !== 'object') fail(`the "${c.name}" command module does not export ${c.exportName}`);
    cli.command(command);
  }
  await cli
    .demandCommand(1, 'Give a command (see ringtree --help).')
    .strict()
    .help()
    .alias('help', 'h')
    .version(packageVersion())
    .alias('version', 'V')
    .epilogue('Start jobs with ringrun (or ringtree run): ringrun -np 4 ringtree bench allreduce. Docs: docs/launcher.md')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .parseAsync();
}

main(process.argv.slice(2)).catch((err: unknown) => {
  const e = err as { code?: unknown; message?: unknown; stack?: unknown };
  const typed = typeof e?.code === 'string' && e.code.startsWith('ERR_RINGTREE_');
  fail(typed ? `${String(e.code)}: ${String(e.message)}` : String(e?.stack ?? err));
});
