#!/usr/bin/env node
// ringrun: the mpirun-like launcher (docs/launcher.md). `ringrun -np 4 node train.js args...`
import { run } from '../launcher/cli.js';

run(process.argv.slice(2));
