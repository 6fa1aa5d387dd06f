// How audible and how improbable are sharded mode's seams? Renders one song in exact mode and in sharded mode at
// several overlaps (through the CLI, float32 WAV and tokens), then measures
//   1. audio: spectral flux and RMS level jump in a short window around each seam (level 0 seams, and level 1 seams
//      mapped to audio), against exact mode's ordinary window boundaries, the exact render at the same positions,
//      and random positions;
//   2. tokens: the NLL of each final token stream under exact mode's windows (teacher-forced, temperature 1),
//      in the first K tokens after each seam against everywhere else and against exact mode's own tokens there.
// The bundled model is a small model trained on synthetic music (docs/tiny-model.md); its renders are not yet music, so
// these numbers measure how a seam differs from the rest of the song under a trained model, not how a seam sounds in music.
// Overlaps are rounded to whole window hops (shared/segments.ts), which for models/tiny leaves 0 and 0.5 of n_ctx;
// overlaps off the hop grid (0.125, 0.25) were measured before that rounding: bench/results/seams-off-grid.json
// (commit b63fd8b).
//
//   node --import tsx bench/seams.ts [--seconds 30] [--seeds 1,2,3] [--segments 8,4] [--overlaps 0,0.5]
//                                    [--renders DIR]   (keep renders there and reuse them on the next run)
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { planSong } from '../shared/plan.js';
import { windowLabels } from '../shared/labels.js';
import { resolveRowLabels } from '../shared/job-spec.js';
import { decodeWav } from '../shared/wav.js';
import type { LevelPlan, Manifest, SongPlan } from '../shared/types.js';
import { LevelGraphs, openSession } from '../worker/onnx-runtime.js';
import { median, saveResult } from './common.js';
import { fftSelfCheck, levelJumpDb, localFlux, mulberry32, spectralFlux, type FluxOptions } from './seams-dsp.js';
import { scoreLevel, type ScoreRow } from './seams-nll.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../bin/jukebox.js', import.meta.url));

const FLUX: FluxOptions = { frame: 512, hop: 128 };
/** Flux frames whose centre lies within ±FLUX_HALF samples of a position (32 ms at 16 kHz). */
const FLUX_HALF = 512;
/** RMS windows on each side of a position for the level jump: 50 ms. */
const JUMP_SECONDS = 0.05;
const RANDOM_POSITIONS = 200;
const NLL_K = [32, 128];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : fallback;
}

const SECONDS = Number(arg('--seconds', '30'));
const SEEDS = arg('--seeds', '1,2,3').split(',').map(Number);
const SEGMENTS = arg('--segments', '8,4').split(',').map(Number);
const OVERLAPS = arg('--overlaps', '0,0.5').split(',').map(Number);
const MODEL_DIR = arg('--model', DEFAULT_MODEL_DIR);
const RENDERS = arg('--renders', '');

type Source = 'exact' | number; // exact mode, or sharded mode at this overlap

interface Render {
  audio: Float32Array;
  /** Final tokens per level (row 0). */
  tokens: number[][];
  renderSeconds: number;
}

function sourceName(s: Source): string {
  return s === 'exact' ? 'exact' : `sharded-${s}`;
}

async function render(dir: string, seed: number, source: Source): Promise<Render> {
  const base = join(dir, `s${SECONDS}-seed${seed}-${sourceName(source)}-seg${SEGMENTS.join('_')}`);
  const wav = `${base}.wav`;
  const json = `${base}.json`;
  let renderSeconds = Number.NaN;
  if (!(existsSync(wav) && existsSync(json))) {
    const mode = source === 'exact' ? ['--mode', 'exact'] : ['--mode', 'sharded', '--segments', SEGMENTS.join(','), '--overlap', String(source)];
    const t0 = performance.now();
    await run(
      process.execPath,
      [BIN, 'render', '--seconds', String(SECONDS), '--seed', String(seed), '--workers', '2', '--model', MODEL_DIR, '--out', wav, '--tokens-out', json, '--wav-format', 'float32', '--quiet', ...mode],
      { timeout: 900_000 },
    );
    renderSeconds = (performance.now() - t0) / 1000;
    process.stderr.write(`rendered seed ${seed} ${sourceName(source)} in ${renderSeconds.toFixed(1)} s\n`);
  }
  const audio = decodeWav(new Uint8Array(await readFile(wav))).samples;
  const parsed = JSON.parse(await readFile(json, 'utf8')) as { levels: Record<string, number[][]> };
  const tokens = Object.keys(parsed.levels)
    .sort((a, b) => Number(a) - Number(b))
    .map((l) => parsed.levels[l][0]);
  return { audio, tokens, renderSeconds };
}

/** Where kept parts meet: ownStart of every segment after the first, in level tokens. */
function seams(lp: LevelPlan): number[] {
  return lp.segments.slice(1).map((s) => s.ownStart);
}

/** Where a window's new tokens begin, for every window primed by an earlier one of its chain (not a seam). */
function ordinaryBoundaries(lp: LevelPlan): number[] {
  const out: number[] = [];
  for (const sg of lp.segments) {
    for (const w of sg.windows) {
      const b = w.start + w.contextTokens;
      if (w.contextTokens > 0 && b > sg.ownStart && b < sg.ownEnd) out.push(b);
    }
  }
  return out;
}

function mean(xs: ArrayLike<number>): number {
  let s = 0;
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    if (Number.isFinite(xs[i])) {
      s += xs[i];
      n++;
    }
  }
  return n > 0 ? s / n : Number.NaN;
}

const round = (x: number, d = 4): number => (Number.isFinite(x) ? Number(x.toFixed(d)) : x);

interface Spread {
  median: number;
  min: number;
  max: number;
  perSeed: number[];
}

function spread(xs: number[]): Spread {
  return { median: round(median(xs)), min: round(Math.min(...xs)), max: round(Math.max(...xs)), perSeed: xs.map((x) => round(x)) };
}

/** Audio measures at a set of sample positions. */
function atPositions(audio: Float32Array, flux: Float64Array, positions: number[], jumpSpan: number): { flux: number; jumpDb: number; n: number } {
  const ok = positions.filter((p) => p - jumpSpan >= 0 && p + jumpSpan <= audio.length);
  return { flux: mean(ok.map((p) => localFlux(flux, p, FLUX, FLUX_HALF))), jumpDb: mean(ok.map((p) => levelJumpDb(audio, p, jumpSpan))), n: ok.length };
}

interface AudioLevel {
  seams: number;
  /** Sharded render at its seams. */
  fluxSeam: number;
  /** Exact render at its ordinary window boundaries of this level. */
  fluxExactOrdinary: number;
  /** Exact render at the sharded seams' positions (paired control). */
  fluxExactAtSeams: number;
  /** Sharded render at its own ordinary (non-seam) window boundaries. */
  fluxShardedOrdinary: number;
  fluxRandom: number;
  jumpSeamDb: number;
  jumpExactOrdinaryDb: number;
  jumpExactAtSeamsDb: number;
  jumpRandomDb: number;
}

interface NllWindow {
  n: number;
  sharded: number;
  exact: number;
}

interface NllLevel {
  near: Record<string, NllWindow>;
  /** Everything else past the song's first window: not within the largest K after a seam. */
  elsewhere: NllWindow;
  /** Segments after the first, their kept part beyond the largest K after the seam: a segment's steady state. */
  laterSegmentsAway: NllWindow;
  /** The first segment's kept part past the song's first window (sampled on exact mode's window grid). */
  firstSegment: NllWindow;
  /** Every token past the song's first window: what the seams and the window frame cost the whole level. */
  wholeLevel: NllWindow;
}

function region(sharded: Float64Array, exact: Float64Array, keep: (i: number) => boolean): NllWindow {
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < sharded.length; i++) {
    if (keep(i)) {
      a.push(sharded[i]);
      b.push(exact[i]);
    }
  }
  return { n: a.length, sharded: mean(a), exact: mean(b) };
}

function nllLevel(lp: LevelPlan, nCtx: number, sharded: Float64Array, exact: Float64Array): NllLevel {
  const T = lp.totalTokens;
  const near: Record<string, NllWindow> = {};
  for (const K of NLL_K) {
    const mask = new Uint8Array(T);
    for (const s of seams(lp)) for (let i = s; i < Math.min(T, s + K); i++) mask[i] = 1;
    near[`K${K}`] = region(sharded, exact, (i) => mask[i] === 1);
  }
  const far = new Uint8Array(T);
  const Kmax = Math.max(...NLL_K);
  for (const s of seams(lp)) for (let i = s; i < Math.min(T, s + Kmax); i++) far[i] = 1;
  const firstEnd = lp.segments[0].ownEnd;
  return {
    near,
    elsewhere: region(sharded, exact, (i) => i >= nCtx && far[i] === 0),
    laterSegmentsAway: region(sharded, exact, (i) => i >= firstEnd && far[i] === 0),
    firstSegment: region(sharded, exact, (i) => i >= nCtx && i < firstEnd),
    wholeLevel: region(sharded, exact, (i) => i >= nCtx),
  };
}

/** Do all windows of the level start on exact mode's grid (multiples of the hop)? Their new tokens then begin where exact mode's do. */
function onExactGrid(lp: LevelPlan): boolean {
  return lp.windows.every((w) => w.start % lp.hop === 0 || w.start + lp.nCtx === lp.segments[w.segment].end);
}

async function loadLevel(manifest: Manifest, level: number): Promise<LevelGraphs> {
  const lm = manifest.levels[level];
  const opts = { provider: 'cpu' as const, intraOpThreads: 1 };
  const cond = await openSession(join(MODEL_DIR, lm.graphs.conditioner.file), opts);
  const step = await openSession(join(MODEL_DIR, lm.graphs.step.file), opts);
  return new LevelGraphs(lm, cond.session, step.session);
}

async function main(): Promise<void> {
  const fftErr = fftSelfCheck(64);
  if (!(fftErr < 1e-9)) throw new Error(`FFT self-check failed: max error ${fftErr}`);
  const { manifest } = await readModelFolder(MODEL_DIR);
  const sr = manifest.sampleRate;
  const top = manifest.levels.length - 1;
  const split = manifest.levels.map((_, l) => l).filter((l) => l < top); // the levels sharded mode splits
  const exactPlan = planSong(manifest, SECONDS);
  const layoutSegments = manifest.levels.map((_, l) => (l === top ? 1 : (SEGMENTS[l] ?? SEGMENTS[SEGMENTS.length - 1])));
  const plans = new Map<number, SongPlan>(OVERLAPS.map((F) => [F, planSong(manifest, SECONDS, { segments: layoutSegments, overlap: F })]));
  const sources: Source[] = ['exact', ...OVERLAPS];

  const dir = RENDERS !== '' ? RENDERS : await mkdtemp(join(tmpdir(), 'jukebox-seams-'));
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  try {
    // 1. Renders.
    const renders = new Map<number, Map<Source, Render>>();
    const renderSeconds: Record<string, number[]> = {};
    for (const seed of SEEDS) {
      const bySource = new Map<Source, Render>();
      for (const src of sources) {
        const r = await render(dir, seed, src);
        bySource.set(src, r);
        (renderSeconds[sourceName(src)] ??= []).push(round(r.renderSeconds, 1)); // NaN: reused from --renders
      }
      renders.set(seed, bySource);
    }
    const renderWall = (performance.now() - t0) / 1000;

    // Sanity: the top level is never split, so every source of a seed shares it; sharded tokens differ from exact's.
    const checks: Record<string, unknown>[] = [];
    for (const seed of SEEDS) {
      const ex = renders.get(seed)!.get('exact')!;
      for (const F of OVERLAPS) {
        const sh = renders.get(seed)!.get(F)!;
        const sameTop = sh.tokens[top].every((t, i) => t === ex.tokens[top][i]);
        if (!sameTop) throw new Error(`seed ${seed} overlap ${F}: the top level differs from exact mode's`);
        const equal = split.map((l) => round(sh.tokens[l].filter((t, i) => t === ex.tokens[l][i]).length / sh.tokens[l].length, 3));
        checks.push({ seed, overlap: F, topLevelEqualsExact: sameTop, fractionOfTokensEqualToExact: Object.fromEntries(split.map((l, i) => [String(l), equal[i]])) });
      }
    }

    // 2. Audio.
    const jumpSpan = Math.round(JUMP_SECONDS * sr);
    const audioPerSeed = new Map<number, Map<Source, Record<number, AudioLevel>>>();
    const exactRef: { level: number; fluxOrdinary: number; fluxRandom: number; jumpOrdinaryDb: number; jumpRandomDb: number }[][] = [];
    for (const seed of SEEDS) {
      const ex = renders.get(seed)!.get('exact')!;
      const exFlux = spectralFlux(ex.audio, FLUX);
      const rand = mulberry32(seed * 7919 + 17);
      const margin = 2 * jumpSpan;
      const randomPositions = Array.from({ length: RANDOM_POSITIONS }, () => margin + Math.floor(rand() * (ex.audio.length - 2 * margin)));
      const exRandom = atPositions(ex.audio, exFlux, randomPositions, jumpSpan);
      exactRef.push(
        split.map((l) => {
          const o = atPositions(ex.audio, exFlux, ordinaryBoundaries(exactPlan.levels[l]).map((b) => b * exactPlan.levels[l].hopLength), jumpSpan);
          return { level: l, fluxOrdinary: o.flux, fluxRandom: exRandom.flux, jumpOrdinaryDb: o.jumpDb, jumpRandomDb: exRandom.jumpDb };
        }),
      );
      const bySource = new Map<Source, Record<number, AudioLevel>>();
      for (const F of OVERLAPS) {
        const sh = renders.get(seed)!.get(F)!;
        const shFlux = spectralFlux(sh.audio, FLUX);
        const plan = plans.get(F)!;
        const perLevel: Record<number, AudioLevel> = {};
        for (const l of split) {
          const hopLength = plan.levels[l].hopLength;
          const seamPos = seams(plan.levels[l]).map((s) => s * hopLength);
          const atSeam = atPositions(sh.audio, shFlux, seamPos, jumpSpan);
          const exAtSeam = atPositions(ex.audio, exFlux, seamPos, jumpSpan);
          const exOrd = atPositions(ex.audio, exFlux, ordinaryBoundaries(exactPlan.levels[l]).map((b) => b * hopLength), jumpSpan);
          const shOrd = atPositions(sh.audio, shFlux, ordinaryBoundaries(plan.levels[l]).map((b) => b * hopLength), jumpSpan);
          const shRandom = atPositions(sh.audio, shFlux, randomPositions, jumpSpan);
          perLevel[l] = {
            seams: atSeam.n,
            fluxSeam: atSeam.flux,
            fluxExactOrdinary: exOrd.flux,
            fluxExactAtSeams: exAtSeam.flux,
            fluxShardedOrdinary: shOrd.flux,
            fluxRandom: shRandom.flux,
            jumpSeamDb: atSeam.jumpDb,
            jumpExactOrdinaryDb: exOrd.jumpDb,
            jumpExactAtSeamsDb: exAtSeam.jumpDb,
            jumpRandomDb: shRandom.jumpDb,
          };
        }
        bySource.set(F, perLevel);
      }
      audioPerSeed.set(seed, bySource);
    }

    // 3. Token NLL under exact windows: every exact window of each split level, all seeds and sources as rows.
    const tScore = performance.now();
    const labels = resolveRowLabels({ artist: 'unknown', genres: [], lyrics: '' }, manifest);
    const totalLength = Math.floor(SECONDS * sr);
    const rowKeys: { seed: number; src: Source }[] = SEEDS.flatMap((seed) => sources.map((src) => ({ seed, src })));
    const nll = new Map<number, Float64Array[]>(); // level -> per row key
    const scoreTiming: Record<string, { windows: number; rows: number; tokens: number; seconds: number }> = {};
    for (const l of [...split].reverse()) {
      const graphs = await loadLevel(manifest, l);
      const lp = exactPlan.levels[l];
      const rows: ScoreRow[] = rowKeys.map(({ seed, src }) => {
        const r = renders.get(seed)!.get(src)!;
        return { tokens: r.tokens[l], upper: manifest.levels[l].conditioning.upper ? r.tokens[l + 1] : null };
      });
      const cache = new Map<number, Int32Array>();
      const res = await scoreLevel(
        graphs,
        lp.windows,
        rows,
        (w) => {
          let v = cache.get(w.start);
          if (!v) cache.set(w.start, (v = Int32Array.from(windowLabels(manifest, l, w.start, totalLength, labels[l]))));
          return v;
        },
        (done) => {
          if (done % 100 === 0) process.stderr.write(`level ${l}: scored ${done}/${lp.windows.length} windows\n`);
        },
      );
      nll.set(l, res.nll);
      scoreTiming[String(l)] = { windows: res.windows, rows: rows.length, tokens: lp.totalTokens * rows.length, seconds: round(res.seconds, 1) };
    }
    const scoreWall = (performance.now() - tScore) / 1000;
    const rowOf = (seed: number, src: Source): number => rowKeys.findIndex((k) => k.seed === seed && k.src === src);

    // 4. Per overlap, across seeds.
    const perOverlap = OVERLAPS.map((F) => {
      const plan = plans.get(F)!;
      const levels: Record<string, unknown> = {};
      for (const l of split) {
        const a = SEEDS.map((seed) => audioPerSeed.get(seed)!.get(F)![l]);
        const n = SEEDS.map((seed) => nllLevel(plan.levels[l], manifest.levels[l].nCtx, nll.get(l)![rowOf(seed, F)], nll.get(l)![rowOf(seed, 'exact')]));
        const nearOut: Record<string, unknown> = {};
        for (const K of NLL_K) {
          const key = `K${K}`;
          nearOut[key] = {
            tokensPerSeed: n[0].near[key].n,
            sharded: spread(n.map((x) => x.near[key].sharded)),
            exactSamePositions: spread(n.map((x) => x.near[key].exact)),
            shardedMinusElsewhere: spread(n.map((x) => x.near[key].sharded - x.elsewhere.sharded)),
            shardedMinusLaterSegmentsAway: spread(n.map((x) => x.near[key].sharded - x.laterSegmentsAway.sharded)),
            shardedMinusExactSamePositions: spread(n.map((x) => x.near[key].sharded - x.near[key].exact)),
            // What the seam adds beyond the segment's steady-state difference from exact mode (e.g. an off-grid window frame).
            seamExcessBeyondSteadyState: spread(n.map((x) => x.near[key].sharded - x.near[key].exact - (x.laterSegmentsAway.sharded - x.laterSegmentsAway.exact))),
          };
        }
        const regionOut = (pick: (x: NllLevel) => NllWindow): Record<string, unknown> => ({
          tokensPerSeed: pick(n[0]).n,
          sharded: spread(n.map((x) => pick(x).sharded)),
          exactSamePositions: spread(n.map((x) => pick(x).exact)),
          shardedMinusExactSamePositions: spread(n.map((x) => pick(x).sharded - pick(x).exact)),
        });
        levels[String(l)] = {
          seams: seams(plan.levels[l]),
          // Same uniforms, same window frame: an on-grid segment falls back onto exact mode's tokens once its context agrees.
          fractionOfTokensEqualToExact: spread(
            SEEDS.map((seed) => {
              const a = renders.get(seed)!.get(F)!.tokens[l];
              const b = renders.get(seed)!.get('exact')!.tokens[l];
              return a.filter((t, i) => t === b[i]).length / a.length;
            }),
          ),
          seamSamples: seams(plan.levels[l]).map((s) => s * plan.levels[l].hopLength),
          audio: {
            seamsMeasuredPerSeed: a[0].seams,
            fluxRatioSeamOverExactOrdinary: spread(a.map((x) => x.fluxSeam / x.fluxExactOrdinary)),
            fluxRatioSeamOverRandom: spread(a.map((x) => x.fluxSeam / x.fluxRandom)),
            fluxRatioSeamOverExactAtSamePositions: spread(a.map((x) => x.fluxSeam / x.fluxExactAtSeams)),
            fluxRatioShardedOrdinaryOverExactOrdinary: spread(a.map((x) => x.fluxShardedOrdinary / x.fluxExactOrdinary)),
            fluxRatioExactAtSeamPositionsOverExactOrdinary: spread(a.map((x) => x.fluxExactAtSeams / x.fluxExactOrdinary)),
            fluxSeam: spread(a.map((x) => x.fluxSeam)),
            jumpSeamDb: spread(a.map((x) => x.jumpSeamDb)),
            jumpExactOrdinaryDb: spread(a.map((x) => x.jumpExactOrdinaryDb)),
            jumpExactAtSeamPositionsDb: spread(a.map((x) => x.jumpExactAtSeamsDb)),
            jumpRandomDb: spread(a.map((x) => x.jumpRandomDb)),
            jumpSeamMinusExactOrdinaryDb: spread(a.map((x) => x.jumpSeamDb - x.jumpExactOrdinaryDb)),
          },
          windowsOnExactGrid: onExactGrid(plan.levels[l]),
          nll: {
            near: nearOut,
            elsewhere: regionOut((x) => x.elsewhere),
            laterSegmentsAway: regionOut((x) => x.laterSegmentsAway),
            firstSegment: regionOut((x) => x.firstSegment),
            wholeLevel: regionOut((x) => x.wholeLevel),
          },
        };
      }
      const cost = Object.fromEntries(
        split.map((l) => {
          const lp = plan.levels[l];
          const warm = lp.segments.slice(1).reduce((s, sg) => s + (sg.ownStart - sg.start), 0);
          return [String(l), { overlapTokens: lp.overlap, warmupTokens: warm, warmupFractionOfLevel: round(warm / lp.totalTokens, 5) }];
        }),
      );
      return { overlap: F, segments: split.map((l) => plan.levels[l].segments.length), cost, levels };
    });

    const exactReference = {
      audio: Object.fromEntries(
        split.map((l, i) => [
          String(l),
          {
            fluxOrdinaryOverRandom: spread(exactRef.map((r) => r[i].fluxOrdinary / r[i].fluxRandom)),
            jumpOrdinaryDb: spread(exactRef.map((r) => r[i].jumpOrdinaryDb)),
            jumpRandomDb: spread(exactRef.map((r) => r[i].jumpRandomDb)),
          },
        ]),
      ),
      nllMean: Object.fromEntries(
        split.map((l) => [String(l), spread(SEEDS.map((seed) => mean(nll.get(l)![rowOf(seed, 'exact')].subarray(manifest.levels[l].nCtx))))]),
      ),
    };

    const summary = summarise(perOverlap, split);
    await saveResult('seams', {
      model: manifest.modelId,
      note:
        'models/tiny is a small model trained on synthetic music (docs/tiny-model.md) whose renders are not yet music: these ' +
        'numbers measure how the seam differs from the rest of the song under a trained model, not how a seam sounds in music.',
      song: { seconds: SECONDS, seeds: SEEDS, segments: SEGMENTS, overlaps: OVERLAPS, artist: 'unknown', genres: [], sampling: 'defaults (temperature 0.99)' },
      method: {
        audio:
          `float32 WAV from bin/jukebox.js render. Spectral flux: Hann frames of ${FLUX.frame}, hop ${FLUX.hop}, magnitude spectra, ` +
          `positive flux summed over bins, normalised by the render's mean flux; a position's flux is the mean over frames whose ` +
          `centre lies within ±${FLUX_HALF} samples (${(FLUX_HALF / sr) * 1000} ms). Level jump: |dB| of RMS over ${JUMP_SECONDS * 1000} ms ` +
          `after vs before. Seams: ownStart of segments after the first (level 1 seams × 32 = samples). Ordinary boundaries: ` +
          `start + contextTokens of exact mode's windows after the first. Random: ${RANDOM_POSITIONS} positions per seed, same in every render. ` +
          `Each value is the mean over positions of one seed; spreads are median/min/max over seeds.`,
        nll:
          `Every exact-mode window of levels ${split.join(' and ')} (planSong without layout; all windows scored, no subsampling): labels as ` +
          `the dispatcher builds them (windowLabels, artist unknown, no genres), upper tokens from the same render's final stream ` +
          `of the level above, context prefilled, new tokens teacher-forced one step at a time; NLL = -log softmax(logits)[token] ` +
          `at temperature 1, in nats. Near K: the first K tokens from each seam; elsewhere: neither within ${Math.max(...NLL_K)} tokens ` +
          `after a seam nor in the song's first window. exactSamePositions: exact mode's own tokens scored the same way at the same positions.`,
      },
      summary,
      caveats: [
        'The NLL is taken under exact mode\'s window frame. Sharded tokens sampled in a shifted frame (overlap not a multiple of the ' +
          'hop) are valid Jukebox-semantics samples of that frame, but their tokens never re-converge to exact mode\'s.',
        `Few seams: ${split.map((l) => `${plans.get(OVERLAPS[0])!.levels[l].segments.length - 1} at level ${l}`).join(', ')} per seed, ${SEEDS.length} seeds; spreads are over seeds.`,
        'Level 1 seams reach the audio only through level 0\'s upper conditioning (level 0 is sampled across them).',
      ],
      perOverlap,
      exactReference,
      checks,
      timing: { renderWallSeconds: round(renderWall, 1), renderSeconds, scoreWallSeconds: round(scoreWall, 1), score: scoreTiming, rendersReusedFromEarlierRun: Object.values(renderSeconds).flat().filter((x) => !Number.isFinite(x)).length },
    });
  } finally {
    if (RENDERS === '') await rm(dir, { recursive: true, force: true });
  }
}

interface OverlapResult {
  overlap: number;
  cost: Record<string, { overlapTokens: number; warmupFractionOfLevel: number }>;
  levels: Record<string, unknown>;
}

/** A short verdict from the numbers: which overlap leaves the least trace at the seams and in the song, and at what cost. */
function summarise(perOverlap: OverlapResult[], split: number[]): string {
  type L = {
    windowsOnExactGrid: boolean;
    fractionOfTokensEqualToExact: Spread;
    audio: { fluxRatioSeamOverExactOrdinary: Spread; fluxRatioExactAtSeamPositionsOverExactOrdinary: Spread; jumpSeamMinusExactOrdinaryDb: Spread };
    nll: {
      near: Record<string, { shardedMinusExactSamePositions: Spread }>;
      laterSegmentsAway: { shardedMinusExactSamePositions: Spread };
      wholeLevel: { shardedMinusExactSamePositions: Spread };
    };
  };
  const lv = (o: OverlapResult, l: number): L => o.levels[String(l)] as L;
  const at = (o: OverlapResult, f: (x: L) => number): string => split.map((l) => sign(f(lv(o, l)), 3)).join('/');
  const avg = (o: OverlapResult, f: (x: L) => number): number => mean(split.map((l) => f(lv(o, l))));
  const sign = (x: number, d: number): string => `${x >= 0 ? '+' : ''}${x.toFixed(d)}`;
  const near32 = (x: L): number => x.nll.near.K32.shardedMinusExactSamePositions.median;
  const whole = (x: L): number => x.nll.wholeLevel.shardedMinusExactSamePositions.median;
  // First what the overlap costs the whole song (seams and window frame), then what is left at the seams.
  const minWhole = Math.min(...perOverlap.map((o) => avg(o, whole)));
  const eligible = perOverlap.filter((o) => avg(o, whole) <= minWhole + 0.01);
  const best = [...eligible].sort((a, b) => avg(a, near32) - avg(b, near32))[0];
  const parts = perOverlap.map((o) => {
    const f0 = lv(o, 0).audio.fluxRatioSeamOverExactOrdinary;
    const grid = split.every((l) => lv(o, l).windowsOnExactGrid);
    return (
      `F=${o.overlap} (${o.cost['0'].overlapTokens ?? ''} tokens, warm-up ${(100 * o.cost['0'].warmupFractionOfLevel).toFixed(2)}% of level 0's tokens; windows ${grid ? 'on' : 'OFF'} exact mode's grid): ` +
      `NLL excess over exact mode's tokens at the same positions (nats/token, level ${split.join('/')}): first 32 after a seam ${at(o, near32)}, ` +
      `first 128 ${at(o, (x) => x.nll.near.K128.shardedMinusExactSamePositions.median)}, later segments away from seams ` +
      `${at(o, (x) => x.nll.laterSegmentsAway.shardedMinusExactSamePositions.median)}, whole level ${at(o, whole)}; tokens equal to exact mode's ` +
      `${split.map((l) => lv(o, l).fractionOfTokensEqualToExact.median.toFixed(2)).join('/')}; level-0 seam flux ${f0.median.toFixed(2)}x ordinary ` +
      `(seeds ${f0.min.toFixed(2)}-${f0.max.toFixed(2)}; exact render at the same positions ${lv(o, 0).audio.fluxRatioExactAtSeamPositionsOverExactOrdinary.median.toFixed(2)}x), ` +
      `level jump ${sign(lv(o, 0).audio.jumpSeamMinusExactOrdinaryDb.median, 2)} dB vs ordinary`
    );
  });
  const offGrid = perOverlap.filter((o) => !split.every((l) => lv(o, l).windowsOnExactGrid)).map((o) => o.overlap);
  return (
    `Best overlap: ${best.overlap} (least NLL excess over the whole song, within 0.01 nats/token, then least at the seams). ` +
    (offGrid.length > 0
      ? `Overlaps ${offGrid.join(', ')} are not multiples of the window hop (n_ctx·hop_fraction), so every window of a later segment is ` +
        `shifted off exact mode's grid: that costs NLL throughout those segments, not only at the seam, and their tokens never fall back ` +
        `onto exact mode's. `
      : '') +
    `${parts.join('. ')}. Audio: seam flux and level jumps are within the spread of the exact render at the same positions and of ` +
    `ordinary boundaries, i.e. the seams are not audible in these measures at this model; the token NLL is the sensitive measure. ` +
    `Bundled model: trained on synthetic music, but its renders are not yet music (docs/tiny-model.md).`
  );
}

await main();
