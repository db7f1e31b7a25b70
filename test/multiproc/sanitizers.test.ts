// Runs scripts/run-sanitizers.sh (the native threads-as-ranks tests under AddressSanitizer and
// ThreadSanitizer, and the tfjs kernel tests against an ASan addon) when RINGTREE_SANITIZER_TESTS=1;
// skipped otherwise, because the sanitizer builds take minutes.
import { spawn } from 'node:child_process';
import path from 'node:path';

import test from 'ava';

import { repoRoot } from '../helpers/ranks.js';

const enabled = process.env.RINGTREE_SANITIZER_TESTS === '1';
const title = 'native threads-as-ranks tests (ASan, TSan) and tfjs kernel tests (ASan addon) are clean (scripts/run-sanitizers.sh)';

if (!enabled) {
  test.skip(`${title} [skipped: set RINGTREE_SANITIZER_TESTS=1 to build and run them, it takes minutes]`, () => {});
} else {
  test(title, async (t) => {
    t.timeout(40 * 60_000);
    const script = path.join(repoRoot, 'scripts', 'run-sanitizers.sh');
    const child = spawn('bash', [script], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
    for (const line of out.split('\n').filter((l) => /^===|tests, |KNOWN BUG|run-sanitizers/.test(l))) t.log(line);
    t.is(code, 0, out.slice(-8000));
    t.regex(out, /run-sanitizers: all clean/);
  });
}
