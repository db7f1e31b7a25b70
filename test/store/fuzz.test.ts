// A short run of the store fuzzer (scripts/fuzz-store.ts): malformed frames in-process and attacks
// over real sockets must neither crash nor hang the server, which must still serve afterwards.

import test from 'ava';

import { runFuzz } from '../../scripts/fuzz-store.js';

test('fuzz: 20,000 parser inputs and 28 socket attacks leave the server healthy', async (t) => {
  t.timeout(60_000);
  const lines: string[] = [];
  const report = await runFuzz({ iterations: 20_000, sockets: 28, seed: 0x5eed, watchdogMs: 50_000, print: (l) => lines.push(l) });
  t.log(lines.join('\n'));
  t.deepEqual(report.failures, []);
  t.true(report.ok);
  t.is(report.parser.inputs, 20_000);
  t.true(report.parser.rejected > 0 && report.parser.framesDecoded > 0);
  t.is(report.sockets.connections, 28);
  t.true(report.sockets.serverLogLines > 0);
});
