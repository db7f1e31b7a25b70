#!/usr/bin/env node
// Turns the output of `npm test` (ava's verbose reporter) into the plain line "N passed, M failed"
// that CI reads, counting the individual test results: "✔" lines passed, "✘" lines failed
// (including known-failure/todo markers only when ava counts them as failures). A run that exited
// non-zero without any failed test line (a crash, a build error, an uncaught exception) counts as
// one failure, so a broken run can never look green.
// Usage: node scripts/ci-summary.mjs LOGFILE EXIT_STATUS
import { readFileSync } from 'node:fs';

const [file, statusText] = process.argv.slice(2);
const status = Number(statusText ?? 1);
const text = readFileSync(file, 'utf8').replace(/\x1b\[[0-9;]*m/g, '');
let passed = 0, failed = 0, skipped = 0;
for (const raw of text.split('\n')) {
  const line = raw.trim();
  if (/^✔/.test(line)) {
    if (/\[expected fail\]/.test(line)) skipped++;
    else passed++;
  } else if (/^✘/.test(line)) {
    failed++;
  } else if (/^- \[skip\]/.test(line) || /^- \[todo\]/.test(line)) {
    skipped++;
  }
}
if (status !== 0 && failed === 0) failed = 1;
if (passed === 0 && failed === 0) failed = 1; // no test ran: not a pass
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(status === 0 && failed === 0 ? 0 : 1);
