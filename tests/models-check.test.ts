// `jukebox models check DIR` as a user runs it: a child process, its stdout/stderr and exit code.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseManifest } from '../shared/manifest.js';
import { levelGraphList } from '../models/model-folder.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const TINY = join(ROOT, 'models', 'tiny');
const BIN = join(ROOT, 'bin', 'jukebox.js');

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

function jukebox(...args: string[]): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { cwd: ROOT, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'jukebox-models-check-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('models check on models/tiny succeeds and prints its levels, vocabularies and decoders', async () => {
  const manifest = parseManifest(JSON.parse(await readFile(join(TINY, 'manifest.json'), 'utf8')));
  const r = await jukebox('models', 'check', TINY);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, new RegExp(`model ${manifest.modelId}: OK \\(contract version ${manifest.contractVersion}, ${manifest.sampleRate} Hz\\)`));
  // Per level the float32 and the float16 set (conditioner, step, loop each), then the decoders and encoders.
  const encoders = manifest.vqvae.encoders?.length ?? 0;
  assert.equal(encoders, manifest.levels.length, 'the exporter writes an encoder per level');
  const graphs = manifest.levels.reduce((n, l) => n + levelGraphList(l).length, 0) + manifest.vqvae.decoders.length + encoders;
  assert.equal(graphs, 6 * manifest.levels.length + manifest.vqvae.decoders.length + encoders);
  assert.match(r.stdout, /encoders: vqvae\.encoder0\.onnx, vqvae\.encoder1\.onnx, vqvae\.encoder2\.onnx/);
  assert.match(r.stdout, new RegExp(`files: ${graphs} graphs present, sha256 matches the manifest`));
  for (const l of manifest.levels) {
    const hop = Math.floor(l.hopFraction * l.nCtx);
    assert.match(r.stdout, new RegExp(`level ${l.level}: hop length ${l.hopLength}, n_ctx ${l.nCtx} .*hop ${hop} tokens .*codebook ${l.codebookSize}`));
    assert.match(r.stdout, new RegExp(`width ${l.width}, ${l.layers} layers, ${l.heads} heads x headDim ${l.headDim}`));
    assert.match(r.stdout, new RegExp(`fp16 graphs: level${l.level}\\.conditioner\\.fp16\\.onnx, level${l.level}\\.step\\.fp16\\.onnx, level${l.level}\\.loop\\.fp16\\.onnx`));
  }
  const top = manifest.levels[manifest.levels.length - 1];
  assert.match(r.stdout, new RegExp(`conditioning: artist/genre, timing, lyrics ${top.conditioning.lyrics} \\(${top.conditioning.lyricTokens} chars/window\\)`));
  assert.match(r.stdout, new RegExp(`labels v2: ${Object.keys(manifest.labels.artists).length} artist names`));
  assert.match(r.stdout, new RegExp(`lyrics: ${Array.from(manifest.lyrics?.vocab ?? '').length} characters`));
  for (const d of manifest.vqvae.decoders) {
    assert.match(r.stdout, new RegExp(`level ${d.level}: vqvae\\.decoder${d.level}\\.onnx, margin ${d.marginTokens} tokens`));
  }
});

test('models check fails naming a corrupted graph file', async () => {
  const copy = join(dir, 'corrupt');
  await cp(TINY, copy, { recursive: true });
  const graph = join(copy, 'level1.step.onnx');
  const bytes = await readFile(graph);
  bytes[bytes.length >> 1] ^= 0xff;
  await writeFile(graph, bytes);
  const r = await jukebox('models', 'check', copy);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /level1\.step\.onnx has sha256 [0-9a-f]{64}, the manifest says/);
  assert.equal(r.stdout, '');
});

test('models check fails naming a missing graph file', async () => {
  const copy = join(dir, 'missing');
  await cp(TINY, copy, { recursive: true });
  await rm(join(copy, 'vqvae.decoder0.onnx'));
  const r = await jukebox('models', 'check', copy);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /vqvae\.decoder0\.onnx is missing/);
});

test('models check fails naming contractVersion on a manifest of another version', async () => {
  const copy = join(dir, 'v99');
  await cp(TINY, copy, { recursive: true });
  const manifest = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  manifest.contractVersion = 99;
  await writeFile(join(copy, 'manifest.json'), JSON.stringify(manifest));
  const r = await jukebox('models', 'check', copy);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /contractVersion: must be one of 1, 2 .*got 99/);
});

test('models check fails on a folder without a manifest', async () => {
  const r = await jukebox('models', 'check', join(dir, 'nothing-here'));
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot read .*manifest\.json/);
});

test('models check verifies external weight files the exporter lists as externalData', async () => {
  const copy = join(dir, 'external');
  await cp(TINY, copy, { recursive: true });
  const data = Buffer.from('pretend weights');
  await writeFile(join(copy, 'level2.step.onnx.data'), data);
  const manifest = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8')) as { levels: { graphs: { step: Record<string, unknown> } }[] };
  manifest.levels[2].graphs.step.externalData = [{ file: 'level2.step.onnx.data', sha256: createHash('sha256').update(data).digest('hex') }];
  await writeFile(join(copy, 'manifest.json'), JSON.stringify(manifest));
  const ok = await jukebox('models', 'check', copy);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /graphs and 1 external weight files present/);
  await writeFile(join(copy, 'level2.step.onnx.data'), 'other weights');
  const bad = await jukebox('models', 'check', copy);
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /level2\.step\.onnx\.data has sha256/);
});
