// Validates manifest.json against docs/model-contract.md (versions 1 and 2). Everything downstream (planning, label
// vectors, graph feeds) trusts these invariants, so a broken manifest is refused here with the field's path.
import { ManifestError } from './errors.js';
import type {
  AttentionKind,
  DecoderManifest,
  EncoderManifest,
  KvCacheLayout,
  GraphFile,
  ModelFile,
  LabelsManifest,
  LevelConditioning,
  LevelGraphFiles,
  LevelManifest,
  LyricsKind,
  LyricsManifest,
  Manifest,
  Precision,
} from './types.js';

/** The newest contract version this build speaks; it reads every version in CONTRACT_VERSIONS. */
export const CONTRACT_VERSION = 2;
export const CONTRACT_VERSIONS: readonly number[] = [1, 2];
/** Tokens per run of a fused loop graph when the manifest does not say. */
export const DEFAULT_SAMPLING_CHUNK = 64;

type Json = Record<string, unknown>;

function fail(path: string, message: string): never {
  throw new ManifestError(`manifest ${path}: ${message}`, { path });
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function object(value: unknown, path: string): Json {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(path, `must be an object, got ${describe(value)}`);
  return value as Json;
}

function array(value: unknown, path: string): unknown[] {
  if (!Array.isArray(value)) fail(path, `must be an array, got ${describe(value)}`);
  return value;
}

function string(value: unknown, path: string, nonEmpty = true): string {
  if (typeof value !== 'string') fail(path, `must be a string, got ${describe(value)}`);
  if (nonEmpty && value.length === 0) fail(path, 'must not be empty');
  return value;
}

function boolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') fail(path, `must be true or false, got ${describe(value)}`);
  return value;
}

function integer(value: unknown, path: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) fail(path, `must be an integer, got ${describe(value)}`);
  if (value < min || value > max) fail(path, `must be in ${min}..${max}, got ${value}`);
  return value;
}

function finite(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, `must be a finite number, got ${describe(value)}`);
  return value;
}

function modelFile(value: unknown, path: string): ModelFile {
  const o = object(value, path);
  const file = string(o.file, `${path}.file`);
  // Workers join this onto the model folder: keep it inside.
  if (file.startsWith('/') || file.includes('\\') || file.split('/').some((part) => part === '..' || part === '')) {
    fail(`${path}.file`, `must be a relative path inside the model folder, got ${JSON.stringify(file)}`);
  }
  const sha256 = string(o.sha256, `${path}.sha256`);
  if (!/^[0-9a-f]{64}$/.test(sha256)) fail(`${path}.sha256`, `must be 64 lowercase hex digits, got ${JSON.stringify(sha256)}`);
  return { file, sha256 };
}

function graphFile(value: unknown, path: string): GraphFile {
  const graph: GraphFile = modelFile(value, path);
  const external = object(value, path).externalData;
  if (external !== undefined) {
    if (!Array.isArray(external)) fail(`${path}.externalData`, `must be an array of {file, sha256}, got ${describe(external)}`);
    graph.externalData = external.map((e, i) => modelFile(e, `${path}.externalData[${i}]`));
  }
  return graph;
}

function idMap(value: unknown, path: string): Record<string, number> {
  const o = object(value, path);
  // No prototype: a name like "constructor" must not resolve to an inherited member.
  const out = Object.create(null) as Record<string, number>;
  const keys = Object.keys(o);
  if (keys.length === 0) fail(path, 'must name at least one entry');
  for (const key of keys) out[key] = integer(o[key], `${path}[${JSON.stringify(key)}]`, 0);
  return out;
}

function labels(value: unknown, path = 'labels'): LabelsManifest {
  const o = object(value, path);
  if (o.version !== 'v2' && o.version !== 'v3') fail(`${path}.version`, `must be "v2" or "v3", got ${describe(o.version)}`);
  const minDurationSeconds = finite(o.minDurationSeconds, `${path}.minDurationSeconds`);
  if (minDurationSeconds < 0) fail(`${path}.minDurationSeconds`, `must be >= 0, got ${minDurationSeconds}`);
  const maxDurationSeconds = finite(o.maxDurationSeconds, `${path}.maxDurationSeconds`);
  if (maxDurationSeconds <= minDurationSeconds) {
    fail(`${path}.maxDurationSeconds`, `must be greater than minDurationSeconds (${minDurationSeconds}), got ${maxDurationSeconds}`);
  }
  return {
    version: o.version,
    artists: idMap(o.artists, `${path}.artists`),
    genres: idMap(o.genres, `${path}.genres`),
    maxGenreWords: integer(o.maxGenreWords, `${path}.maxGenreWords`, 1),
    minDurationSeconds,
    maxDurationSeconds,
  };
}

function lyrics(value: unknown): LyricsManifest {
  const o = object(value, 'lyrics');
  const vocab = string(o.vocab, 'lyrics.vocab');
  const chars = Array.from(vocab);
  if (new Set(chars).size !== chars.length) fail('lyrics.vocab', 'must not repeat a character');
  return { vocab, maxChars: integer(o.maxChars, 'lyrics.maxChars', 1) };
}

const LYRICS_KINDS: readonly LyricsKind[] = ['none', 'encoder', 'prefix'];

function conditioning(value: unknown, path: string): LevelConditioning {
  const o = object(value, path);
  const kind = o.lyrics;
  if (typeof kind !== 'string' || !(LYRICS_KINDS as readonly string[]).includes(kind)) {
    fail(`${path}.lyrics`, `must be one of ${LYRICS_KINDS.map((k) => `"${k}"`).join(', ')}, got ${describe(kind)}`);
  }
  const lyricsKind = kind as LyricsKind;
  const lyricTokens = integer(o.lyricTokens, `${path}.lyricTokens`, 0);
  if (lyricsKind === 'none' && lyricTokens !== 0) fail(`${path}.lyricTokens`, `must be 0 when lyrics is "none", got ${lyricTokens}`);
  if (lyricsKind !== 'none' && lyricTokens === 0) fail(`${path}.lyricTokens`, `must be > 0 when lyrics is "${lyricsKind}"`);
  // get_relevant_lyric_tokens takes n/2 characters on each side of the centre: an odd n cannot be filled.
  if (lyricTokens % 2 !== 0) fail(`${path}.lyricTokens`, `must be even (the lyric window is centred), got ${lyricTokens}`);
  return {
    labels: boolean(o.labels, `${path}.labels`),
    timing: boolean(o.timing, `${path}.timing`),
    lyrics: lyricsKind,
    lyricTokens,
    upper: boolean(o.upper, `${path}.upper`),
  };
}

function level(value: unknown, index: number, songLabels: LabelsManifest, version: number): LevelManifest {
  const path = `levels[${index}]`;
  const o = object(value, path);
  const own = o.labels === undefined ? undefined : labels(o.labels, `${path}.labels`);
  const { maxGenreWords } = own ?? songLabels;
  const lvl = integer(o.level, `${path}.level`, 0);
  if (lvl !== index) fail(`${path}.level`, `must be ${index} (levels are listed bottom first, in order), got ${lvl}`);
  const nCtx = integer(o.nCtx, `${path}.nCtx`, 1);
  const hopFraction = finite(o.hopFraction, `${path}.hopFraction`);
  if (!(hopFraction > 0 && hopFraction <= 1)) fail(`${path}.hopFraction`, `must be in (0, 1], got ${hopFraction}`);
  if (Math.floor(hopFraction * nCtx) < 1) fail(`${path}.hopFraction`, `gives a window hop of 0 tokens with nCtx ${nCtx}`);
  const width = integer(o.width, `${path}.width`, 1);
  const heads = integer(o.heads, `${path}.heads`, 1);
  const cond = conditioning(o.conditioning, `${path}.conditioning`);
  const labelLength = integer(o.labelLength, `${path}.labelLength`, 0);
  const expected = 4 + maxGenreWords + cond.lyricTokens;
  if (labelLength !== expected) {
    fail(`${path}.labelLength`, `must be 4 + maxGenreWords + lyricTokens = ${expected}, got ${labelLength}`);
  }
  const g = object(o.graphs, `${path}.graphs`);
  const graphs: LevelManifest['graphs'] = graphSet(g, `${path}.graphs`, version);
  if (g.fp16 !== undefined) {
    const fp16 = graphSet(g.fp16, `${path}.graphs.fp16`, version);
    // The float16 set holds versions of the float32 graphs, nothing of its own.
    if (fp16.loop && !graphs.loop) fail(`${path}.graphs.fp16.loop`, `needs ${path}.graphs.loop (the float32 loop graph it is converted from)`);
    graphs.fp16 = fp16;
  }
  const samplingChunk = o.samplingChunk === undefined ? undefined : integer(o.samplingChunk, `${path}.samplingChunk`, 1);
  const layers = integer(o.layers, `${path}.layers`, 1);
  const kvCache = o.kvCache === undefined ? undefined : kvCacheLayout(o.kvCache, `${path}.kvCache`, layers);
  return {
    level: lvl,
    hopLength: integer(o.hopLength, `${path}.hopLength`, 1),
    nCtx,
    hopFraction,
    codebookSize: integer(o.codebookSize, `${path}.codebookSize`, 2),
    width,
    layers,
    heads,
    headDim: integer(o.headDim, `${path}.headDim`, 1),
    prefillChunk: integer(o.prefillChunk, `${path}.prefillChunk`, 1),
    conditioning: cond,
    labelLength,
    vocabOffset: integer(o.vocabOffset, `${path}.vocabOffset`, 0),
    graphs,
    ...(samplingChunk !== undefined ? { samplingChunk } : {}),
    ...(kvCache ? { kvCache } : {}),
    ...(own ? { labels: own } : {}),
  };
}

/** conditioner, step and (version 2) loop graph of one precision. */
function graphSet(value: unknown, path: string, version: number): LevelGraphFiles {
  const g = object(value, path);
  if (g.loop !== undefined && version < 2) fail(`${path}.loop`, `needs contract version 2, the manifest says ${version}`);
  const loop = g.loop === undefined ? undefined : graphFile(g.loop, `${path}.loop`);
  return {
    conditioner: graphFile(g.conditioner, `${path}.conditioner`),
    step: graphFile(g.step, `${path}.step`),
    ...(loop ? { loop } : {}),
  };
}

/** A level's graph set of the given precision; undefined where the manifest has no fp16 set. */
export function levelGraphFiles(level: Pick<LevelManifest, 'graphs'>, precision: Precision): LevelGraphFiles | undefined {
  if (precision === 'fp16') return level.graphs.fp16;
  const { conditioner, step, loop } = level.graphs;
  return { conditioner, step, ...(loop ? { loop } : {}) };
}

const ATTENTION_KINDS: readonly AttentionKind[] = ['dense', 'row', 'column', 'previous-row', 'cross', 'prime'];

function kvCacheLayout(value: unknown, path: string, layers: number): KvCacheLayout {
  const o = object(value, path);
  if (o.dtype !== 'float32' && o.dtype !== 'float16') fail(`${path}.dtype`, `must be "float32" or "float16", got ${describe(o.dtype)}`);
  const kinds = array(o.layers, `${path}.layers`);
  if (kinds.length !== layers) fail(`${path}.layers`, `must name one attention kind per layer (${layers}), got ${kinds.length}`);
  kinds.forEach((k, i) => {
    if (typeof k !== 'string' || !(ATTENTION_KINDS as readonly string[]).includes(k)) {
      fail(`${path}.layers[${i}]`, `must be one of ${ATTENTION_KINDS.map((x) => `"${x}"`).join(', ')}, got ${describe(k)}`);
    }
  });
  const sparse = kinds.some((k) => k === 'row' || k === 'column' || k === 'previous-row');
  const blockCtx = o.blockCtx === null || o.blockCtx === undefined ? null : integer(o.blockCtx, `${path}.blockCtx`, 1);
  if (sparse && blockCtx === null) fail(`${path}.blockCtx`, 'is needed by row, column and previous-row layers');
  const prime = kinds.includes('prime');
  const primeKeys = o.primeKeys === undefined ? undefined : integer(o.primeKeys, `${path}.primeKeys`, 1);
  if (prime && primeKeys === undefined) fail(`${path}.primeKeys`, 'is needed by prime-attention layers');
  return { dtype: o.dtype as KvCacheLayout['dtype'], blockCtx, layers: kinds as AttentionKind[], ...(primeKeys !== undefined ? { primeKeys } : {}) };
}

function decoder(value: unknown, index: number, levels: LevelManifest[]): DecoderManifest {
  const path = `vqvae.decoders[${index}]`;
  const o = object(value, path);
  const lvl = integer(o.level, `${path}.level`, 0);
  if (lvl !== index) fail(`${path}.level`, `must be ${index} (decoders are listed by level, bottom first), got ${lvl}`);
  if (lvl >= levels.length) fail(`${path}.level`, `names level ${lvl}, but the model has ${levels.length} levels`);
  return { level: lvl, ...graphFile(o, path), marginTokens: integer(o.marginTokens, `${path}.marginTokens`, 0) };
}

function encoder(value: unknown, index: number, levels: LevelManifest[]): EncoderManifest {
  const path = `vqvae.encoders[${index}]`;
  const o = object(value, path);
  const lvl = integer(o.level, `${path}.level`, 0);
  if (lvl !== index) fail(`${path}.level`, `must be ${index} (encoders are listed by level, bottom first), got ${lvl}`);
  if (lvl >= levels.length) fail(`${path}.level`, `names level ${lvl}, but the model has ${levels.length} levels`);
  const hopLength = integer(o.hopLength, `${path}.hopLength`, 1);
  if (hopLength !== levels[lvl].hopLength) fail(`${path}.hopLength`, `must be level ${lvl}'s hopLength ${levels[lvl].hopLength}, got ${hopLength}`);
  return { level: lvl, ...graphFile(o, path), hopLength };
}

/** Parses and checks a manifest; throws ManifestError naming the first offending field. Unknown keys are dropped. */
export function parseManifest(json: unknown): Manifest {
  const o = object(json, '(root)');
  if (typeof o.contractVersion !== 'number' || !CONTRACT_VERSIONS.includes(o.contractVersion)) {
    fail('contractVersion', `must be one of ${CONTRACT_VERSIONS.join(', ')} (the contract versions this build speaks), got ${describe(o.contractVersion)}`);
  }
  const version = o.contractVersion;
  const modelId = string(o.modelId, 'modelId');
  const sampleRate = integer(o.sampleRate, 'sampleRate', 1);
  const lab = labels(o.labels);
  const lyr = o.lyrics === undefined ? undefined : lyrics(o.lyrics);

  const rawLevels = array(o.levels, 'levels');
  if (rawLevels.length === 0) fail('levels', 'must list at least one level');
  const levels = rawLevels.map((l, i) => level(l, i, lab, version));
  const top = levels.length - 1;
  levels.forEach((l, i) => {
    const path = `levels[${i}]`;
    if (l.conditioning.lyrics !== 'none' && lyr === undefined) fail(`${path}.conditioning.lyrics`, `is "${l.conditioning.lyrics}" but the manifest has no "lyrics" section`);
    if (l.conditioning.lyrics === 'prefix') {
      // Lyric ids 0..vocab.length must sit below the shifted music ids.
      const min = Array.from(lyr?.vocab ?? '').length + 1;
      if (l.vocabOffset < min) fail(`${path}.vocabOffset`, `must be >= ${min} (the lyric vocabulary with padding) for "prefix" lyrics, got ${l.vocabOffset}`);
    } else if (l.vocabOffset !== 0) {
      fail(`${path}.vocabOffset`, `must be 0 unless lyrics is "prefix", got ${l.vocabOffset}`);
    }
    if (i === top) {
      if (l.conditioning.upper) fail(`${path}.conditioning.upper`, 'must be false at the top level (there is no level above)');
      return;
    }
    const above = levels[i + 1];
    if (above.hopLength <= l.hopLength || above.hopLength % l.hopLength !== 0) {
      fail(`levels[${i + 1}].hopLength`, `must be a multiple of level ${i}'s hopLength ${l.hopLength} and larger, got ${above.hopLength}`);
    }
    const r = above.hopLength / l.hopLength;
    if (l.nCtx % r !== 0) fail(`${path}.nCtx`, `must be divisible by the hop ratio ${r} to level ${i + 1}, got ${l.nCtx}`);
    const hop = Math.floor(l.hopFraction * l.nCtx);
    // Window starts must map onto whole upper tokens (Jukebox asserts start % r == 0).
    if (hop % r !== 0) fail(`${path}.hopFraction`, `gives a hop of ${hop} tokens, which is not divisible by the hop ratio ${r}`);
  });

  const vqvae = object(o.vqvae, 'vqvae');
  const rawDecoders = array(vqvae.decoders, 'vqvae.decoders');
  if (rawDecoders.length === 0) fail('vqvae.decoders', 'must list at least the level-0 decoder');
  const decoders = rawDecoders.map((d, i) => decoder(d, i, levels));

  let encoders: EncoderManifest[] | undefined;
  if (vqvae.encoders !== undefined) {
    encoders = array(vqvae.encoders, 'vqvae.encoders').map((e, i) => encoder(e, i, levels));
    if (encoders.length !== levels.length) fail('vqvae.encoders', `must list one encoder per level (${levels.length}), got ${encoders.length}`);
  }

  const manifest: Manifest = { contractVersion: version, modelId, sampleRate, labels: lab, levels, vqvae: { decoders, ...(encoders ? { encoders } : {}) } };
  if (lyr !== undefined) manifest.lyrics = lyr;
  return manifest;
}

/** hopLength[level + 1] / hopLength[level]: how many of this level's tokens one upper token covers. */
export function levelRatio(manifest: Pick<Manifest, 'levels'>, level: number): number {
  const { levels } = manifest;
  if (!Number.isInteger(level) || level < 0 || level >= levels.length - 1) {
    throw new RangeError(`level ${level} has no level above it (levels 0..${levels.length - 1})`);
  }
  return levels[level + 1].hopLength / levels[level].hopLength;
}
