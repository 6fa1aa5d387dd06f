// The package's root folder (the one whose package.json names jukebox-dist), found by walking up from a module's own
// location: the TypeScript sources (client/cli.ts) and the compiled build (dist/client/cli.js) sit at different depths
// but both read data files, models/ and proto/, from the root, which the build does not copy.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_NAME = 'jukebox-dist';

export function findPackageRoot(moduleUrl: string): string {
  const start = dirname(fileURLToPath(moduleUrl));
  for (let dir = start; ; ) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      try {
        if ((JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === PACKAGE_NAME) return dir;
      } catch {
        // Not our package.json (or not JSON): keep walking.
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`no package.json named "${PACKAGE_NAME}" in ${start} or any folder above it`);
    dir = up;
  }
}

export const PACKAGE_ROOT = findPackageRoot(import.meta.url);
