#!/usr/bin/env node
// Prints the folder holding the running Node's own C++ headers (v8.h, node_version.h) when they
// exist and are of exactly this Node version; prints nothing otherwise. CMake uses it for the one
// binding file that needs the V8 API (native/binding/v8_pin.cc); without it that file builds as a
// stub and the addon is plain Node-API.
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

const candidates = [
  path.resolve(process.execPath, '..', '..', 'include', 'node'),
  process.env.npm_config_nodedir ? path.join(process.env.npm_config_nodedir, 'include', 'node') : null,
  '/usr/include/node',
  '/usr/local/include/node',
];

function versionOf(dir) {
  try {
    const s = readFileSync(path.join(dir, 'node_version.h'), 'utf8');
    const part = (k) => new RegExp(`#define NODE_${k}_VERSION (\\d+)`).exec(s)?.[1];
    return [part('MAJOR'), part('MINOR'), part('PATCH')].join('.');
  } catch {
    return null;
  }
}

const found = candidates.find((d) => d && existsSync(path.join(d, 'v8.h')) && versionOf(d) === process.versions.node);
if (found) process.stdout.write(found);
