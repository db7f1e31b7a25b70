// Multi-process collectives with ranks on two simulated hosts (RINGTREE_HOST_ID), so every job mixes
// shared-memory and TCP pairs: see _collectives-suite.ts.
import { defineMixedHostTests } from './_collectives-suite.js';

defineMixedHostTests();
