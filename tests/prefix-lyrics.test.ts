// Prefix lyrics (1b_lyrics, docs/model-contract.md "Prefix lyrics") end to end against PyTorch: the worker's
// window sampler (worker/window-sampler.ts over worker/onnx-runtime.ts LevelGraphs, with the KV cache and chunked
// prefill) samples the top level of an exported random small-1b_lyrics model greedily, and
// tests/fixtures/prefix-greedy.py rebuilds the same prior from the same hps and seed and samples greedily with the
// whole-window forward (no cache) over lyric prefix ++ (music + vocabOffset). The tokens must be the same.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readModelFolder } from '../models/model-folder.js';
import { LevelGraphs, openSession } from '../worker/onnx-runtime.js';
import { sampleWindow } from '../worker/window-sampler.js';
import type { LevelManifest, Manifest } from '../shared/types.js';
import { writeOfficialFiles } from './helpers/official-files.js';
import { requireTorch, runPython } from './helpers/python.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const HPS = join(ROOT, 'tools', 'configs', 'small-1b_lyrics.json');
const SEED = 1;
const LYRICS = 'Hello tiny world, sing along!';

interface Case {
  name: string;
  context: number[];
  newTokens: number;
}

/** Music contexts of a few lengths: none, less than a prefill chunk, and across chunk boundaries. */
const CASES: Case[] = [
  { name: 'no context, 40 new tokens', context: [], newTokens: 40 },
  { name: '20 context tokens, 20 new tokens', context: Array.from({ length: 20 }, (_, i) => (i * 37 + 5) % 256), newTokens: 20 },
  { name: '100 context tokens, 12 new tokens', context: Array.from({ length: 100 }, (_, i) => (i * 101 + 17) % 256), newTokens: 12 },
];

interface Reference {
  vocabOffset: number;
  lyricTokens: number;
  cases: { tokens: number[]; raw: number[]; margins: number[] }[];
}

let work = '';
let manifest: Manifest;
let top: LevelManifest;
let graphs: LevelGraphs;
let labels: Int32Array;
let reference: Reference;

before(async () => {
  requireTorch();
  work = mkdtempSync(join(tmpdir(), 'jukebox-prefix-lyrics-'));
  const idsDir = writeOfficialFiles(work);
  const dir = join(work, 'model');
  await runPython(
    [join(ROOT, 'tools', 'export_jukebox.py'), '--hps', HPS, '--random-seed', String(SEED), '--ids', idsDir, '--out', dir],
    'tools/export_jukebox.py for small-1b_lyrics.json',
  );
  const folder = await readModelFolder(dir);
  manifest = folder.manifest;
  top = manifest.levels[manifest.levels.length - 1];
  assert.equal(top.conditioning.lyrics, 'prefix');
  const opts = { provider: 'cpu' as const, intraOpThreads: 1 };
  const cond = await openSession(join(folder.dir, top.graphs.conditioner.file), opts);
  const step = await openSession(join(folder.dir, top.graphs.step.file), opts);
  graphs = new LevelGraphs(top, cond.session, step.session);

  // The label vector as the host builds it: [total, offset, sample length, artist, genres..., lyrics...], the lyric
  // characters (id = vocab index + 1) right-aligned in the last lyricTokens slots, zero-padded on the left.
  const n = top.conditioning.lyricTokens;
  const vocab = manifest.lyrics!.vocab;
  const ids = [...LYRICS].filter((c) => vocab.includes(c)).map((c) => vocab.indexOf(c) + 1).slice(-n);
  labels = new Int32Array(top.labelLength).fill(-1);
  labels.set([manifest.sampleRate * 20, 256 * top.hopLength, top.nCtx * top.hopLength, 5, 7]);
  labels.fill(0, top.labelLength - n);
  labels.set(ids, top.labelLength - ids.length);

  const request = join(work, 'request.json');
  writeFileSync(request, JSON.stringify({ labels: Array.from(labels), cases: CASES.map(({ context, newTokens }) => ({ context, newTokens })) }));
  const { stdout } = await runPython([join(ROOT, 'tests', 'fixtures', 'prefix-greedy.py'), HPS, String(SEED), request], 'tests/fixtures/prefix-greedy.py');
  reference = JSON.parse(stdout) as Reference;
  assert.equal(reference.vocabOffset, top.vocabOffset, 'vocabOffset');
  assert.equal(reference.lyricTokens, n, 'lyricTokens');
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

CASES.forEach((c, k) => {
  test(`small-1b_lyrics top level, ${c.name}: greedy sampleWindow equals the PyTorch whole-window forward`, async (t) => {
    const res = await sampleWindow(graphs, {
      level: top.level,
      start: 64,
      context: c.context.length > 0 ? [Int32Array.from(c.context)] : [],
      newTokens: c.newTokens,
      upper: null,
      labels: [labels],
      seed: 7n,
      sampling: { temperature: 1, topK: 1, topP: 1 },
      sampleIds: [0],
    });
    const got = Array.from(res.rows[0]);
    const ref = reference.cases[k];
    const minMargin = Math.min(...ref.margins);
    const first = got.findIndex((v, i) => v !== ref.tokens[i]);
    assert.deepEqual(got, ref.tokens,
      `first difference at new token ${first} (PyTorch raw id ${ref.raw[first]}, top-1/top-2 margin there ` +
      `${ref.margins[first]?.toExponential(2)}); smallest margin ${minMargin.toExponential(2)}`);
    // Greedy sampled music, not lyric ids clamped to 0, for most positions: the comparison is not vacuous.
    const lyricIds = ref.raw.filter((s) => s < top.vocabOffset).length;
    // (Greedy decoding of random weights soon repeats itself; a few distinct music ids are enough.)
    assert.ok(new Set(got.filter((v) => v > 0)).size >= 2, `varied tokens: ${got.join(' ')}`);
    t.diagnostic(`${got.length} tokens equal (${new Set(got).size} distinct); ${lyricIds} lyric ids sampled (stored as 0); ` +
      `smallest greedy margin ${minMargin.toExponential(2)}`);
  });
});
