// Locates and loads the ringtree.node addon relative to this module's own file (never process.cwd()),
// so the package works from any folder and through an `npm link` symlink.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);

/** The package root: dist/lib/native/binding.js -> three levels up. */
export const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let cached: unknown;

/**
 * Loads the addon once. `RINGTREE_ADDON_PATH` overrides the location (development builds in another
 * folder); otherwise build/Release then build/Debug under the package root.
 */
export function loadAddon<T = unknown>(): T {
  if (cached) return cached as T;
  const candidates = process.env.RINGTREE_ADDON_PATH
    ? [path.resolve(process.env.RINGTREE_ADDON_PATH)]
    : [path.join(packageRoot, 'build', 'Release', 'ringtree.node'), path.join(packageRoot, 'build', 'Debug', 'ringtree.node')];
  const errors: string[] = [];
  for (const file of candidates) {
    if (!existsSync(file)) { errors.push(`${file}: not found`); continue; }
    try {
      cached = require(file);
      return cached as T;
    } catch (error) {
      errors.push(`${file}: ${(error as Error).message}`);
    }
  }
  throw new Error(
    'Could not load the ringtree native addon.\n' +
      errors.map((e) => `  - ${e}`).join('\n') +
      '\nPossible solutions:\n' +
      `  - build it: (cd ${packageRoot} && npm run build)\n` +
      '  - make sure cmake, make and a C++17 compiler are installed (Debian: apt-get install cmake g++ make)\n' +
      '  - if ringtree is a dependency, allow its install script to run (npm install-scripts approve ringtree)',
  );
}
