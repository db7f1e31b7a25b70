// Multi-process collectives over shared memory (ranks on one host), P = 1..5: see _collectives-suite.ts.
import { defineCollectiveTests } from './_collectives-suite.js';

defineCollectiveTests('shm');
