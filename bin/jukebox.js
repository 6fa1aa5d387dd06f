#!/usr/bin/env node
// The `jukebox` command. Runs the compiled build, dist/client/cli.js (npm ci builds it through `prepare`; npm run build
// rebuilds it), with plain node: its workers and inference threads then run compiled JavaScript too. For a developer,
// when there is no build or a TypeScript source is newer than it, runs the sources through tsx instead (a note on a
// terminal's stderr says so; none when stderr is a pipe, so scripts and tests see the same output either way).
// JUKEBOX_FROM_SOURCE=1 always runs the sources.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const COMPILED_CLI = join(ROOT, 'dist', 'client', 'cli.js');
/** The folders tsconfig.build.json compiles. */
const SOURCE_DIRS = ['shared', 'proto', 'coordinator', 'worker', 'client', 'server', 'models'];

/** The newest modification time of a .ts file under dir, or 0 when there is none (an install without sources). */
function newestSource(dir) {
  let newest = 0;
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/** Why the sources run instead of the build, or undefined to run the build. */
function fromSourceReason() {
  if (process.env.JUKEBOX_FROM_SOURCE === '1') return 'JUKEBOX_FROM_SOURCE=1';
  if (!existsSync(COMPILED_CLI)) return 'no compiled build in dist/';
  const built = statSync(COMPILED_CLI).mtimeMs;
  if (SOURCE_DIRS.some((d) => newestSource(join(ROOT, d)) > built)) return 'a TypeScript source is newer than dist/';
  return undefined;
}

const reason = fromSourceReason();
if (reason === undefined) {
  await import('../dist/client/cli.js');
} else {
  if (process.stderr.isTTY && !process.env.JUKEBOX_FROM_SOURCE) {
    process.stderr.write(`jukebox: ${reason}: running the TypeScript sources through tsx (npm run build compiles them)\n`);
  }
  const { register } = await import('tsx/esm/api');
  register();
  await import('../client/cli.ts');
}
