// The exporter's checkpoint path (tools/export_jukebox.py --hps FILE --checkpoints DIR), without the real weights:
// tests/fixtures/make-small-checkpoints.py saves the small random 5b_lyrics-like model of
// tools/configs/small-5b_lyrics.json (the tensors `--random-seed 1` exports) as official-format `*.pth.tar` files in
// the release layout (5b/prior_level_{0,1}.pth.tar, 5b/vqvae.pth.tar, 5b_lyrics/prior_level_2.pth.tar; the top's
// Conv1D weights fp16 as released). The export from those files must be usable (models check, a render), give the
// graphs of the random export (byte for byte where the weights are the same fp32 values), keep the fp16 weights
// fp16, and a checkpoint that does not match must fail naming the tensor and both shapes, or the missing key.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readModelFolder } from '../models/model-folder.js';
import { planSong } from '../shared/plan.js';
import type { Manifest } from '../shared/types.js';
import { manifestStructure as structure, writeOfficialFiles } from './helpers/official-files.js';
import { PYTHON, requireTorch, runPython } from './helpers/python.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'jukebox.js');
const EXPORTER = join(ROOT, 'tools', 'export_jukebox.py');
const MAKE_CHECKPOINTS = join(ROOT, 'tests', 'fixtures', 'make-small-checkpoints.py');
const HPS = join(ROOT, 'tools', 'configs', 'small-5b_lyrics.json');
const SEED = '1';

let work = '';
let idsDir = '';

before(() => {
  requireTorch();
  work = mkdtempSync(join(tmpdir(), 'jukebox-exporter-checkpoints-'));
  // Official-format id files (ids below the small config's y_bins [12, 20]) and a stand-in text_processor.py.
  idsDir = writeOfficialFiles(work);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

interface CheckpointReport {
  files: Record<string, string>;
  fp16Tensors: number;
  corrupt?: { file: string; tensor: string; checkpointShape: number[]; modelShape: number[] };
  dropped?: { file: string; tensor: string };
}

async function makeCheckpoints(name: string, extra: string[] = []): Promise<{ dir: string; report: CheckpointReport }> {
  const dir = join(work, `ckpt-${name}`);
  const { stdout } = await runPython([MAKE_CHECKPOINTS, '--hps', HPS, '--random-seed', SEED, '--out', dir, ...extra],
    `make-small-checkpoints.py ${extra.join(' ')}`);
  return { dir, report: JSON.parse(stdout.trim().split('\n').pop()!) as CheckpointReport };
}

function exportArgs(source: string[], out: string): string[] {
  return [EXPORTER, '--hps', HPS, ...source, '--ids', idsDir, '--out', out];
}

/** Runs the exporter expecting it to fail; returns its exit code and stderr. */
async function exportFails(ckpt: string, out: string): Promise<{ code: number; stderr: string }> {
  try {
    await run(PYTHON, exportArgs(['--checkpoints', ckpt], out), { timeout: 120_000, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as Error & { code?: number; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? '' };
  }
  assert.fail(`the exporter accepted the checkpoints under ${ckpt}`);
}

/** "(64, 97)" / "(5,)": a shape as the Python messages print it. */
function pyShape(dims: number[]): string {
  return `(${dims.join(', ')}${dims.length === 1 ? ',' : ''})`;
}

function fileSize(dir: string, file: string): number {
  return statSync(join(dir, file)).size;
}


test('small-5b_lyrics from official-format checkpoints: usable, the random export\'s graphs, fp16 top weights kept', async (t) => {
  const t0 = performance.now();
  const { dir: ckpt, report } = await makeCheckpoints('good');
  for (const rel of ['5b/prior_level_0.pth.tar', '5b/prior_level_1.pth.tar', '5b/vqvae.pth.tar', '5b_lyrics/prior_level_2.pth.tar']) {
    assert.ok(existsSync(join(ckpt, rel)), `release layout: ${rel}`);
  }
  assert.ok(report.fp16Tensors > 0, 'the top prior checkpoint holds fp16 weights');
  const tMake = performance.now();

  const fromCkpt = join(work, 'model-ckpt');
  const { stderr: exportLog } = await runPython(exportArgs(['--checkpoints', ckpt], fromCkpt), 'export from checkpoints');
  for (const rel of ['5b/prior_level_0.pth.tar', '5b/prior_level_1.pth.tar', '5b_lyrics/prior_level_2.pth.tar', '5b/vqvae.pth.tar']) {
    assert.ok(exportLog.includes(join(ckpt, rel)), `the exporter loaded ${rel}:\n${exportLog}`);
  }
  assert.doesNotMatch(exportLog, /random/i, 'nothing random in a checkpoint export');
  const tExport = performance.now();
  const random = join(work, 'model-random');
  await runPython(exportArgs(['--random-seed', SEED], random), 'random export');
  const tRandom = performance.now();

  // A usable folder: `jukebox models check` verifies the manifest, every graph file and its sha256.
  try {
    const { stdout } = await run(process.execPath, [BIN, 'models', 'check', fromCkpt], { timeout: 60_000 });
    assert.match(stdout, /: OK \(contract version/);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    assert.fail(`jukebox models check ${fromCkpt} failed:\n${e.stderr ?? ''}\n${e.message}`);
  }

  // The graphs of the random export, same count and kinds; the upsamplers and VQ-VAE decoders (fp32 in the
  // checkpoints) byte for byte, so the checkpoint tensors are the random export's.
  const ck = (await readModelFolder(fromCkpt)).manifest;
  const rnd = (await readModelFolder(random)).manifest;
  assert.equal(ck.levels.length, 3);
  assert.equal(ck.vqvae.decoders.length, 3);
  assert.deepEqual(ck.levels.map((l) => Object.keys(l.graphs).sort()), rnd.levels.map((l) => Object.keys(l.graphs).sort()));
  assert.deepEqual(structure(ck, [2]), structure(rnd, [2]), 'manifests equal but for the top level graph hashes');

  // The top prior's Conv1D weights stay fp16: its graphs are smaller than the random (fp32) export's.
  let ckTop = 0;
  let rndTop = 0;
  for (const kind of ['conditioner', 'step'] as const) {
    const a = fileSize(fromCkpt, ck.levels[2].graphs[kind].file);
    const b = fileSize(random, rnd.levels[2].graphs[kind].file);
    assert.ok(a < b, `level2.${kind}: ${a} bytes from fp16 checkpoints, ${b} bytes fp32`);
    ckTop += a;
    rndTop += b;
  }
  assert.ok(ckTop < 0.85 * rndTop, `top graphs ${ckTop} bytes vs ${rndTop} fp32`);
  assert.match(exportLog, /level 2 step: [1-9]\d* fp16 weight tensors kept in fp16/);

  // A short render over one worker.
  const wav = join(work, 'ckpt.wav');
  let renderOut: string;
  try {
    ({ stdout: renderOut } = await run(process.execPath, [BIN, 'render', '--model', fromCkpt, '--seconds', '2', '--workers', '1',
      '--quiet', '--seed', '5', '--out', wav, '--artist', 'Ella Fitzgerald', '--genre', 'Blues', '--lyrics', 'Hello tiny world'],
    { timeout: 120_000, maxBuffer: 16 << 20 }));
  } catch (err) {
    const e = err as Error & { stderr?: string };
    assert.fail(`jukebox render from the checkpoint export failed:\n${e.stderr ?? ''}\n${e.message}`);
  }
  const plan = planSong(ck, 2);
  const data = readFileSync(wav);
  assert.equal(data.toString('ascii', 0, 4), 'RIFF');
  assert.equal((data.length - 44) / 2, plan.totalSamples, 'pcm16 mono samples');
  const wallSeconds = (JSON.parse(renderOut.trim().split('\n').pop()!) as { wallSeconds: number }).wallSeconds;
  t.diagnostic(`checkpoints ${((tMake - t0) / 1000).toFixed(1)} s, export from them ${((tExport - tMake) / 1000).toFixed(1)} s, ` +
    `random export ${((tRandom - tExport) / 1000).toFixed(1)} s, render ${wallSeconds} s; top graphs ${ckTop} B (fp16) vs ${rndTop} B (fp32)`);
});

test('a checkpoint tensor of the wrong shape: the exporter fails naming the tensor and both shapes', async () => {
  for (const target of ['prior_level_2:prior.transformer._attn_mods.3.attn.c_attn.w', 'vqvae:decoders.1.out.weight']) {
    const tag = target.split(':')[0];
    const { dir, report } = await makeCheckpoints(`corrupt-${tag}`, ['--corrupt', target]);
    const c = report.corrupt!;
    assert.ok(c, 'the helper reports the corruption');
    const out = join(work, `model-corrupt-${tag}`);
    const { code, stderr } = await exportFails(dir, out);
    assert.notEqual(code, 0);
    const message = stderr.trim().split('\n').pop()!;
    assert.ok(message.includes(c.tensor), `names ${c.tensor}: ${message}`);
    assert.ok(message.includes(pyShape(c.checkpointShape)), `names the checkpoint shape ${pyShape(c.checkpointShape)}: ${message}`);
    assert.ok(message.includes(pyShape(c.modelShape)), `names the model shape ${pyShape(c.modelShape)}: ${message}`);
    assert.ok(message.includes(report.files[c.file]), `names the file ${report.files[c.file]}: ${message}`);
    assert.doesNotMatch(stderr, /Traceback/, 'a message, not a traceback');
    assert.ok(!existsSync(join(out, 'manifest.json')), 'no model folder written');
  }
});

test('a checkpoint missing a tensor: the exporter fails naming the missing key', async () => {
  const { dir, report } = await makeCheckpoints('missing', ['--drop', 'prior_level_1:prior.transformer._attn_mods.1.mlp.c_fc.b']);
  const d = report.dropped!;
  const { code, stderr } = await exportFails(dir, join(work, 'model-missing'));
  assert.notEqual(code, 0);
  const message = stderr.trim().split('\n').pop()!;
  assert.match(message, /missing keys/);
  assert.ok(message.includes(`'${d.tensor}'`), `names ${d.tensor}: ${message}`);
  assert.ok(message.includes(report.files[d.file]), `names the file ${report.files[d.file]}: ${message}`);
  assert.doesNotMatch(stderr, /Traceback/);
});
