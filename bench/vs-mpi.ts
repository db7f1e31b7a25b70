// ringtree vs Open MPI all-reduce, in the same run (issue 5). The same as `ringtree bench --vs-mpi`:
//   node dist/bench/vs-mpi.js [--np 2] [-b 8] [-e 256M] [-T 0.3] [--repeats 2] [--out DIR] [--peers DIR]
//                             [--algorithm ring,tree,auto] [--transport shm|tcp] [--no-ceilings]
// Needs Open MPI (Debian: apt-get install -y openmpi-bin libopenmpi-dev) and a built ringtree.
import yargs from 'yargs';
import { benchCommand } from '../lib/bench/command.js';

await yargs(['bench', '--vs-mpi', ...process.argv.slice(2)])
  .scriptName('node dist/bench/vs-mpi.js')
  .command(benchCommand)
  .strict()
  .help()
  .fail((msg, err) => {
    process.stderr.write(`vs-mpi: ${err?.message ?? msg}\n`);
    process.exit(1);
  })
  .parseAsync();
