#!/usr/bin/env node
// Builds ringtree: the native addon with cmake-js (C++17, -O3) and the TypeScript with tsc.
// Run by `npm install` (the package's own install script) and by `npm test`.
//   --force   rebuild from a clean native build folder
//   --quiet   print only on failure
//   --no-ts   skip the TypeScript step
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const require = createRequire(path.join(root, 'package.json'));

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function fail(message) {
  console.error(`\nringtree: build failed: ${message}\n`);
  process.exit(1);
}

const missing = [];
if (!which('cmake')) missing.push('cmake (>= 3.18)');
if (!which('c++') && !which('g++') && !which('clang++')) missing.push('a C++17 compiler (g++ or clang++)');
if (!which('make') && !which('ninja')) missing.push('make or ninja');
if (missing.length) {
  fail(`missing build tools: ${missing.join(', ')}.\n` +
    'On Debian/Ubuntu: apt-get install -y cmake g++ make\n' +
    'On Fedora/RHEL:   dnf install -y cmake gcc-c++ make');
}

function run(cmd, argv, what) {
  const r = spawnSync(cmd, argv, { cwd: root, encoding: 'utf8', stdio: quiet ? 'pipe' : 'inherit' });
  if (r.status !== 0) {
    if (quiet) process.stderr.write((r.stdout ?? '') + (r.stderr ?? ''));
    fail(`${what} exited with ${r.status ?? r.signal}`);
  }
}

const buildDir = path.join(root, 'build');
if (args.has('--force') && existsSync(buildDir)) rmSync(buildDir, { recursive: true, force: true });

let cmakeJs;
try {
  cmakeJs = require.resolve('cmake-js/bin/cmake-js');
} catch {
  fail('cmake-js is not installed; run `npm install` in the package folder first');
}
const jobs = process.env.RINGTREE_BUILD_JOBS ?? '2';
run(process.execPath, [cmakeJs, 'compile', '--out', 'build', '--parallel', jobs, ...(quiet ? ['--log-level', 'error'] : [])], 'cmake-js compile');

if (!args.has('--no-ts')) {
  let tsc = null;
  try { tsc = require.resolve('typescript/bin/tsc'); } catch { /* installed as a dependency: dist/ ships prebuilt */ }
  if (tsc) run(process.execPath, [tsc, '-p', 'tsconfig.json'], 'tsc');
  else if (!existsSync(path.join(root, 'dist', 'lib', 'index.js'))) fail('typescript is not installed and dist/ is missing');
}
if (!quiet) console.log('ringtree: build complete');
