// The production build: `npm run build` compiles the runtime folders to dist/, and a render with the compiled CLI, its
// worker processes and their inference threads runs plain JavaScript, no tsx anywhere, and writes the same bytes as
// the TypeScript sources run through tsx.
//
// The compiled build runs from a scratch tree that holds the build, package.json, bin/, the .proto files, models/ (a
// link) and node_modules/ without tsx: a process or thread of the render that loaded tsx, or a .ts file, would fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, copyFile, mkdir, mkdtemp, readFile, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelFolder, DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { planSong } from '../shared/plan.js';
import { BIN, run, soxi, type RenderReport } from './helpers/cli.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = 2;
const RENDER_ARGS = ['render', '--seconds', String(SECONDS), '--seed', '77', '--artist', 'tiny_ensemble', '--genre', 'jazz', '--quiet'];
/** No NODE_OPTIONS (a --import tsx there would reach every process). */
const PLAIN_ENV = { ...process.env, NODE_OPTIONS: '' };

/** The scratch tree: everything a compiled install needs at run time, except tsx. */
async function makeTree(tree: string): Promise<void> {
  await copyFile(join(ROOT, 'package.json'), join(tree, 'package.json'));
  await mkdir(join(tree, 'bin'));
  await copyFile(join(ROOT, 'bin', 'jukebox.js'), join(tree, 'bin', 'jukebox.js'));
  await cp(join(ROOT, 'proto', 'jukebox'), join(tree, 'proto', 'jukebox'), { recursive: true, filter: (src) => !/\.ts$/.test(src) });
  await symlink(join(ROOT, 'models'), join(tree, 'models'));
  await mkdir(join(tree, 'node_modules'));
  for (const name of await readdir(join(ROOT, 'node_modules'))) {
    if (name === 'tsx' || name.startsWith('.')) continue;
    await symlink(join(ROOT, 'node_modules', name), join(tree, 'node_modules', name));
  }
}

async function render(script: string, workers: number, out: string, env: NodeJS.ProcessEnv, cwd?: string): Promise<Buffer> {
  const { stdout } = await run(process.execPath, [script, ...RENDER_ARGS, '--workers', String(workers), '--out', out], { timeout: 300_000, env, ...(cwd ? { cwd } : {}) });
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as RenderReport;
  assert.deepEqual(report.files, [out]);
  return readFile(out);
}

test('compiled build: npm run build, then a render with no tsx in any process or thread, byte-identical to the sources', async (t) => {
  const tree = await mkdtemp(join(tmpdir(), 'jukebox-build-'));
  try {
    // The real build script, into the scratch tree's dist/ (the checkout's dist/ may be in use by other runs).
    const t0 = Date.now();
    await run('npm', ['run', '--silent', 'build', '--', '--outDir', join(tree, 'dist')], { cwd: ROOT, timeout: 300_000 });
    const buildMs = Date.now() - t0;
    await makeTree(tree);
    for (const f of ['client/cli.js', 'client/local-cluster.js', 'worker/inference-thread.js', 'proto/index.js', 'models/model-folder.js', 'server/log.js']) {
      await readFile(join(tree, 'dist', f)); // throws if the build left it out
    }
    const built = await readdir(join(tree, 'dist'), { recursive: true });
    assert.deepEqual(built.filter((f) => /\.(ts|mjs)$/.test(f)), [], 'the build holds JavaScript only');
    assert.ok(!built.some((f) => f.startsWith('tests') || f.startsWith('bench') || f.startsWith('tools')), 'no tests, bench or tools in dist/');

    // The tree really has no tsx: loading it there fails, and so does the bin when told to run the sources.
    await assert.rejects(run(process.execPath, ['--input-type=module', '-e', "await import('tsx/esm/api')"], { cwd: tree, env: PLAIN_ENV }), /ERR_MODULE_NOT_FOUND|Cannot find package 'tsx'/);
    await assert.rejects(run(process.execPath, [join(tree, 'bin', 'jukebox.js'), 'help'], { env: { ...PLAIN_ENV, JUKEBOX_FROM_SOURCE: '1' } }), /Cannot find package 'tsx'/);
    // The bin picks the build; a TypeScript source newer than the build sends it to the sources (tsx: fails here).
    await run(process.execPath, [join(tree, 'bin', 'jukebox.js'), 'help'], { env: PLAIN_ENV });
    await mkdir(join(tree, 'client'));
    await writeFile(join(tree, 'client', 'edited.ts'), 'export {};\n');
    const later = new Date(Date.now() + 60_000);
    await utimes(join(tree, 'client', 'edited.ts'), later, later);
    await assert.rejects(run(process.execPath, [join(tree, 'bin', 'jukebox.js'), 'help'], { env: PLAIN_ENV }), /Cannot find package 'tsx'/);
    await rm(join(tree, 'client'), { recursive: true });

    // The compiled CLI with plain node: one worker process, its inference thread, all compiled.
    const t1 = Date.now();
    const compiled = await render(join(tree, 'dist', 'client', 'cli.js'), 1, join(tree, 'compiled.wav'), PLAIN_ENV);
    const renderMs = Date.now() - t1;
    const { manifest } = await readModelFolder(DEFAULT_MODEL_DIR);
    assert.deepEqual(await soxi(join(tree, 'compiled.wav')), { rate: manifest.sampleRate, samples: planSong(manifest, SECONDS).totalSamples, channels: 1, bits: 16 });
    // Through the bin, two workers, from another working directory.
    const viaBin = await render(join(tree, 'bin', 'jukebox.js'), 2, join(tree, 'bin.wav'), PLAIN_ENV, tmpdir());
    // The sources through tsx (the checkout's bin, told to run them).
    const source = await render(BIN, 1, join(tree, 'source.wav'), { ...PLAIN_ENV, JUKEBOX_FROM_SOURCE: '1' });
    assert.ok(compiled.equals(source), 'compiled and source renders of one seed are byte-identical');
    assert.ok(viaBin.equals(source), 'the bin (compiled, 2 workers) renders the same bytes');
    t.diagnostic(`build ${(buildMs / 1000).toFixed(1)} s, compiled render ${(renderMs / 1000).toFixed(1)} s`);
  } finally {
    await rm(tree, { recursive: true, force: true });
  }
});
