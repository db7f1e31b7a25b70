// The data-connection handshake under hostile input (the full 10^6-input run is
// `node dist/scripts/fuzz-handshake.js`; this is a smaller run of the same code in the suite).
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import test from 'ava';

const script = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'fuzz-handshake.js');

test('handshake parser and a live rank survive hostile input; refusals are logged; the real peer still joins', (t) => {
  t.timeout(120_000);
  const connections = 60;
  const r = spawnSync(process.execPath, [script, '--iterations', '30000', '--connections', String(connections)], {
    encoding: 'utf8',
    timeout: 110_000,
    env: { ...process.env, RINGTREE_DEBUG: 'WARN' },
  });
  t.is(r.status, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /0 disagreements with the oracle/);
  t.regex(r.stdout, /legitimate peer joined and reduced correctly/);
  const refusals = r.stderr.split('\n').filter((l) => /refused connection from 127\.0\.0\.1:\d+/.test(l));
  t.true(refusals.length >= connections, `expected >= ${connections} logged refusals, got ${refusals.length}`);
  t.true(refusals.some((l) => /authentication failed/.test(l)), 'a wrong HMAC answer is refused as an authentication failure');
});
