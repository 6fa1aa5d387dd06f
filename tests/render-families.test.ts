// The render path on exported random models of every official Jukebox family: tools/export_jukebox.py
// exports tools/configs/small-{5b,5b_lyrics,1b_lyrics}.json (official architecture throughout: top prior,
// both upsamplers and the VQ-VAE decoders, random weights) with labels from official-format id files,
// then `jukebox render` runs it over two gRPC worker processes into a WAV and the token streams. The lyric
// families must also hear the lyrics: other lyrics give other top-level tokens.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readModelFolder } from '../models/model-folder.js';
import { planSong } from '../shared/plan.js';
import type { Manifest } from '../shared/types.js';
import { writeOfficialFiles } from './helpers/official-files.js';
import { requireTorch, runPython } from './helpers/python.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'jukebox.js');
const EXPORTER = join(ROOT, 'tools', 'export_jukebox.py');
const SECONDS = 3;
const LYRICS = 'Hello tiny world,\nsing along with me!';
const OTHER_LYRICS = 'Quite other words (and [other] lines): 1, 2, 3...';

interface Family {
  name: string;
  artist: string;
  genre: string;
  labels: 'v2' | 'v3';
  lyrics: 'none' | 'encoder' | 'prefix';
}

const FAMILIES: Family[] = [
  { name: '5b', artist: 'Frank Sinatra', genre: 'Jazz', labels: 'v2', lyrics: 'none' },
  { name: '5b_lyrics', artist: 'Ella Fitzgerald', genre: 'Blues Rock', labels: 'v2', lyrics: 'encoder' },
  { name: '1b_lyrics', artist: 'Frank Sinatra', genre: 'Hip Hop', labels: 'v3', lyrics: 'prefix' },
];

let work = '';
let idsDir = '';

before(() => {
  requireTorch();
  work = mkdtempSync(join(tmpdir(), 'jukebox-render-families-'));
  idsDir = writeOfficialFiles(work);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

async function exportFamily(name: string): Promise<{ dir: string; seconds: number }> {
  const dir = join(work, `model-${name}`);
  const t0 = performance.now();
  await runPython(
    [EXPORTER, '--hps', join(ROOT, 'tools', 'configs', `small-${name}.json`), '--random-seed', '1', '--ids', idsDir, '--out', dir],
    `tools/export_jukebox.py for small-${name}.json`,
  );
  return { dir, seconds: (performance.now() - t0) / 1000 };
}

interface Rendered {
  wav: string;
  tokens: Record<string, number[][]>;
  wallSeconds: number;
}

async function render(model: string, f: Family, lyrics: string, tag: string): Promise<Rendered> {
  const wav = join(work, `${f.name}-${tag}.wav`);
  const tokensOut = join(work, `${f.name}-${tag}.json`);
  const args = [BIN, 'render', '--model', model, '--seconds', String(SECONDS), '--seed', '3', '--workers', '2', '--out', wav,
    '--tokens-out', tokensOut, '--quiet', '--artist', f.artist, '--genre', f.genre, '--lyrics', lyrics];
  let stdout: string;
  try {
    ({ stdout } = await run(process.execPath, args, { timeout: 180_000, maxBuffer: 16 << 20 }));
  } catch (err) {
    const e = err as Error & { stderr?: string };
    assert.fail(`jukebox render of small-${f.name} failed:\n${e.stderr ?? ''}\n${e.message}`);
  }
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as { wallSeconds: number };
  const tokens = (JSON.parse(readFileSync(tokensOut, 'utf8')) as { levels: Record<string, number[][]> }).levels;
  return { wav, tokens, wallSeconds: report.wallSeconds };
}

async function soxi(path: string): Promise<{ rate: number; samples: number; channels: number }> {
  const q = async (flag: string): Promise<number> => Number((await run('soxi', [flag, path])).stdout.trim());
  return { rate: await q('-r'), samples: await q('-s'), channels: await q('-c') };
}

/** RMS and the fraction of full-scale samples of a 16-bit PCM mono WAV with the canonical 44-byte header. */
function levels(path: string): { rms: number; clipped: number } {
  const b = readFileSync(path);
  let sum = 0;
  let clipped = 0;
  const n = (b.length - 44) / 2;
  for (let i = 0; i < n; i++) {
    const v = b.readInt16LE(44 + 2 * i);
    sum += (v / 32767) ** 2;
    if (Math.abs(v) >= 32767) clipped++;
  }
  return { rms: Math.sqrt(sum / n), clipped: clipped / n };
}

function checkManifest(manifest: Manifest, f: Family): void {
  assert.equal(manifest.labels.version, f.labels);
  assert.equal(manifest.levels.length, 3);
  const top = manifest.levels[2];
  assert.equal(top.conditioning.lyrics, f.lyrics, 'top-level lyrics conditioning');
  assert.equal(top.conditioning.timing, true, 'top-level timing conditioning');
  if (f.lyrics === 'prefix') assert.ok(top.vocabOffset > 0, `prefix lyrics need a vocabOffset, got ${top.vocabOffset}`);
  else assert.equal(top.vocabOffset, 0);
  assert.equal(manifest.lyrics !== undefined, f.lyrics !== 'none', 'manifest lyrics section');
  for (const lm of manifest.levels.slice(0, 2)) {
    assert.equal(lm.conditioning.upper, true, `level ${lm.level} is an upsampler`);
    assert.equal(lm.conditioning.lyrics, 'none');
    // As released, the upsamplers are v2-labelled under every top; only a v3 top needs them to say so.
    if (f.labels === 'v3') assert.equal(lm.labels?.version, 'v2', `level ${lm.level} carries its own v2 labels`);
    else assert.equal(lm.labels, undefined);
  }
  // The official VQ-VAE's decoders: one per level, receptive field widest at the bottom (deepest residual stacks).
  const margins = manifest.vqvae.decoders.map((d) => d.marginTokens);
  assert.equal(margins.length, 3);
  assert.ok(margins.every((m) => m > 0) && margins[0] > margins[1], `decoder margins ${margins.join(', ')}`);
}

for (const f of FAMILIES) {
  test(`small-${f.name}: exported random model renders end to end with 2 workers${f.lyrics === 'none' ? '' : ', and the lyrics matter'}`, async (t) => {
    const { dir, seconds: exportSeconds } = await exportFamily(f.name);
    const { manifest } = await readModelFolder(dir);
    checkManifest(manifest, f);
    const plan = planSong(manifest, SECONDS);

    const one = await render(dir, f, LYRICS, 'a');
    assert.deepEqual(await soxi(one.wav), { rate: manifest.sampleRate, samples: plan.totalSamples, channels: 1 });
    // The random VQ-VAE is scaled to an audio standard deviation of 0.15: neither silent nor clipping.
    const { rms, clipped } = levels(one.wav);
    assert.ok(rms > 0.02 && clipped < 0.001, `audio RMS ${rms.toFixed(3)}, ${(100 * clipped).toFixed(2)} % of samples clipped`);
    for (const lp of plan.levels) {
      const rows = one.tokens[String(lp.level)];
      assert.ok(rows, `level ${lp.level} tokens`);
      assert.equal(rows.length, 1);
      assert.equal(rows[0].length, lp.totalTokens, `level ${lp.level} token count`);
      const bins = manifest.levels[lp.level].codebookSize;
      assert.ok(rows[0].every((v) => Number.isInteger(v) && v >= 0 && v < bins), `level ${lp.level} tokens in [0, ${bins})`);
      const distinct = new Set(rows[0]).size;
      assert.ok(distinct > 20, `level ${lp.level} uses ${distinct} distinct tokens`);
    }
    let note = '';
    if (f.lyrics !== 'none') {
      const other = await render(dir, f, OTHER_LYRICS, 'b');
      const a = one.tokens['2'][0];
      const b = other.tokens['2'][0];
      assert.equal(b.length, a.length);
      const differ = a.filter((v, i) => v !== b[i]).length;
      assert.ok(differ > 0, 'other lyrics gave the same top-level tokens');
      note = `; other lyrics change ${differ}/${a.length} top-level tokens (render ${other.wallSeconds} s)`;
    }
    t.diagnostic(`export ${exportSeconds.toFixed(1)} s, render ${one.wallSeconds} s for ${SECONDS} s of audio` +
      `, audio RMS ${rms.toFixed(3)}${note}`);
  });
}
