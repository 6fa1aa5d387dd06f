// Sharded mode end to end through the CLI: levels below the top split into segments sampled side by side.
// With explicit --segments the layout does not depend on the worker count, so a seed fixes every token and the
// WAV bytes with 1, 2 or 4 workers; the top level is never split, so it is exactly Jukebox's, while the split
// levels differ from exact mode from the second segment's own part on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readModelFolder, DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { BIN, run, soxi, type RenderReport as Report } from './helpers/cli.js';
import { planSong } from '../shared/plan.js';

const SECONDS = 4;
const SHARDED = ['--mode', 'sharded', '--segments', '4,2', '--overlap', '0.5'];

interface Tokens {
  levels: Record<string, number[][]>;
}


interface PlanSegment {
  start: number;
  end: number;
  ownStart: number;
  ownEnd: number;
  windows: number;
}

interface PlanOutput {
  mode: string;
  totalSamples: number;
  levels: {
    level: number;
    nCtx: number;
    totalTokens: number;
    overlap: number;
    segments: PlanSegment[];
    windows: { segment: number; start: number; end: number; newTokens: number }[];
  }[];
  model: { workers: number; makespan: number; speedup: number };
}


async function plan(args: string[]): Promise<PlanOutput> {
  const { stdout } = await run(process.execPath, [BIN, 'plan', ...args, '--json'], { timeout: 60_000 });
  return JSON.parse(stdout) as PlanOutput;
}

async function render(dir: string, name: string, workers: number, mode: string[]): Promise<{ wav: Buffer; tokens: Tokens; path: string }> {
  const out = join(dir, `${name}.wav`);
  const tokensOut = join(dir, `${name}.json`);
  const { stdout } = await run(
    process.execPath,
    [BIN, 'render', '--seconds', String(SECONDS), '--seed', '4321', '--workers', String(workers), '--out', out, '--tokens-out', tokensOut, '--quiet', '--artist', 'tiny_ensemble', '--genre', 'jazz', '--lyrics', 'split me in four', ...mode],
    { timeout: 300_000 },
  );
  // The last stdout line is the JSON report.
  const last = stdout.trim().split('\n').pop() ?? '';
  let report: Report;
  try {
    report = JSON.parse(last) as Report;
  } catch {
    assert.fail(`render ${name}: no JSON report line on stdout: ${JSON.stringify(stdout)}`);
  }
  assert.match(report.job, /^job-/);
  assert.deepEqual(report.files, [out, tokensOut]);
  assert.equal(report.audioSeconds, SECONDS, `render ${name}: audioSeconds`);
  assert.ok(report.wallSeconds > 0 && report.realTimeFactor > 0, `render ${name}: ${last}`);
  return { wav: await readFile(out), tokens: JSON.parse(await readFile(tokensOut, 'utf8')) as Tokens, path: out };
}

function firstDifference(a: number[], b: number[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

test('plan --mode sharded --segments 4,2: 4 segments at level 0, 2 at level 1, the top whole; own parts tile each level; modelled speedup > 1', async () => {
  const p = await plan(['--mode', 'sharded', '--segments', '4,2', '--seconds', '6']);
  assert.equal(p.mode, 'sharded');
  const { manifest } = await readModelFolder(DEFAULT_MODEL_DIR);
  const exact = planSong(manifest, 6);
  assert.equal(p.totalSamples, exact.totalSamples);
  assert.deepEqual(p.levels.map((l) => l.segments.length), [4, 2, 1], 'segments per level (level 0 first)');
  for (const l of p.levels) {
    assert.equal(l.totalTokens, exact.levels[l.level].totalTokens, `level ${l.level}: totalTokens as in exact mode`);
    // The own parts [ownStart, ownEnd) are consecutive, from 0 to the level's end, none empty.
    let at = 0;
    l.segments.forEach((s, i) => {
      assert.equal(s.ownStart, at, `level ${l.level} segment ${i} ownStart`);
      assert.ok(s.ownEnd > s.ownStart, `level ${l.level} segment ${i} owns no tokens: ${JSON.stringify(s)}`);
      // A segment starts at or before its own part (its warm-up), and ends where its own part ends.
      assert.ok(s.start <= s.ownStart && s.start >= 0, `level ${l.level} segment ${i} start ${s.start}`);
      assert.equal(s.end, s.ownEnd, `level ${l.level} segment ${i} end`);
      if (i === 0) assert.equal(s.start, 0, `level ${l.level}: the first segment has no warm-up`);
      assert.equal(s.windows, l.windows.filter((w) => w.segment === i).length, `level ${l.level} segment ${i} windows`);
      at = s.ownEnd;
    });
    assert.equal(at, l.totalTokens, `level ${l.level}: the own parts end at totalTokens`);
  }
  const top = p.levels[p.levels.length - 1];
  assert.deepEqual(top.segments.map((s) => [s.start, s.end, s.ownStart, s.ownEnd]), [[0, top.totalTokens, 0, top.totalTokens]], 'the top level is never split');
  assert.deepEqual(
    top.windows.map((w) => [w.start, w.end, w.newTokens]),
    exact.levels[top.level].windows.map((w) => [w.start, w.end, w.newTokens]),
    'the top level keeps Jukebox\'s windows',
  );
  assert.ok(p.model.speedup > 1, `modelled speedup ${p.model.speedup}`);
});

test('sharded render: --segments 4,2 gives byte-identical WAV and tokens with 1, 2 and 4 workers; differs from exact mode below the top only', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'jukebox-sharded-'));
  try {
    const { manifest } = await readModelFolder(DEFAULT_MODEL_DIR);
    const p = await plan(['--seconds', String(SECONDS), ...SHARDED]);
    assert.deepEqual(p.levels.map((l) => l.segments.length), [4, 2, 1]);

    const one = await render(dir, 'sharded-w1', 1, SHARDED);
    assert.deepEqual(await soxi(one.path), { rate: manifest.sampleRate, samples: p.totalSamples, channels: 1, bits: 16 });
    assert.equal(one.wav.length, 44 + p.totalSamples * 2, 'WAV size: header and 16-bit mono samples');
    assert.deepEqual(Object.keys(one.tokens.levels).sort(), p.levels.map((l) => String(l.level)).sort());
    for (const l of p.levels) {
      const rows = one.tokens.levels[String(l.level)];
      assert.equal(rows.length, 1, `level ${l.level}: one sample row`);
      assert.equal(rows[0].length, l.totalTokens, `level ${l.level}: token count equals the plan's totalTokens`);
      assert.ok(rows[0].every((t) => Number.isInteger(t) && t >= 0 && t < manifest.levels[l.level].codebookSize), `level ${l.level}: tokens in the codebook`);
      assert.ok(new Set(rows[0]).size > 20, `level ${l.level} uses ${new Set(rows[0]).size} distinct tokens`);
    }

    for (const w of [2, 4]) {
      const other = await render(dir, `sharded-w${w}`, w, SHARDED);
      assert.deepEqual(other.tokens, one.tokens, `tokens with ${w} workers`);
      assert.ok(other.wav.equals(one.wav), `WAV bytes with ${w} workers`);
    }

    const exact = await render(dir, 'exact-w2', 2, ['--mode', 'exact']);
    assert.ok(!exact.wav.equals(one.wav), 'sharded and exact mode give different audio');
    const top = p.levels[p.levels.length - 1].level;
    assert.deepEqual(one.tokens.levels[String(top)], exact.tokens.levels[String(top)], 'the top level (never split) is identical to exact mode');
    for (const l of p.levels.filter((x) => x.level !== top)) {
      const s = one.tokens.levels[String(l.level)][0];
      const e = exact.tokens.levels[String(l.level)][0];
      const diff = firstDifference(s, e);
      assert.notEqual(diff, -1, `level ${l.level}: sharded tokens differ from exact mode`);
      // The split levels differ only where a later segment's own part (sampled after its warm-up) is spliced in.
      assert.ok(diff >= l.segments[1].ownStart, `level ${l.level}: first difference at ${diff}, before the second segment's own part (${l.segments[1].ownStart})`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
