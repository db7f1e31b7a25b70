// Multi-process collectives over TCP (RINGTREE_SHM_DISABLE=1), P = 1..5: see _collectives-suite.ts.
import { defineCollectiveTests } from './_collectives-suite.js';

defineCollectiveTests('tcp');
