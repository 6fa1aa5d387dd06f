// The label vector, as Jukebox's data/labels.py, artist_genre_processor.py and text_processor.py build it.
import type { LabelsManifest, LevelManifest, Manifest } from './types.js';

type LabelsVersion = LabelsManifest['version'];

const NOT_ALNUM = /[^a-z0-9]/g; // Jukebox's `accepted`: ASCII letters and digits (after lowercasing)
const UNDERSCORES = /_+/g;

/** Jukebox's norm(): lowercase, every other character to "_", runs of "_" collapsed, "_" stripped at both ends. */
function normV2(s: string): string {
  return s.toLowerCase().replace(NOT_ALNUM, '_').replace(UNDERSCORES, '_').replace(/^_|_$/g, '');
}

/**
 * The key an artist is looked up by: v2 norm() ("Céline Dion" -> "c_line_dion"), v3 lowercase. An artist that
 * is empty (v3: blank) after that is "unknown", which Jukebox maps to id 0 as well.
 */
export function normaliseArtist(name: string, version: LabelsVersion): string {
  const key = version === 'v2' ? normV2(name) : name.toLowerCase();
  return key.trim() === '' ? 'unknown' : key;
}

/**
 * The genre words looked up, in order. v2: each genre is norm()ed and split into words on "_" (spaces became
 * "_"), so "Blues Rock" gives "blues", "rock". v3: each genre lowercased is one word. No genres at all is
 * ["unknown"]; a genre with nothing left after normalising gives "" (not a known word: callers reject it).
 */
export function normaliseGenres(genres: readonly string[], version: LabelsVersion): string[] {
  if (genres.length === 0) return ['unknown'];
  return version === 'v2' ? genres.flatMap((g) => normV2(g).split('_')) : genres.map((g) => g.toLowerCase());
}

// unidecode maps these to ASCII; NFKD alone leaves them.
const ASCII_STAND_INS: Record<string, string> = {
  '\u2018': "'", '\u2019': "'", '\u201a': "'", '\u201b': "'", '\u2032': "'",
  '\u201c': '"', '\u201d': '"', '\u201e': '"', '\u201f': '"', '\u2033': '"',
  '\u2010': '-', '\u2011': '-', '\u2012': '-', '\u2013': '-', '\u2014': '--', '\u2015': '--', '\u2212': '-',
  '\u00a0': ' ', '\u00ab': '<<', '\u00bb': '>>', '\u00df': 'ss', '\u00e6': 'ae', '\u00c6': 'AE', '\u0153': 'oe',
  '\u0152': 'OE', '\u00f8': 'o', '\u00d8': 'O', '\u0142': 'l', '\u0141': 'L', '\u0111': 'd', '\u0110': 'D',
};
const STAND_IN_RE = new RegExp(`[${Object.keys(ASCII_STAND_INS).join('')}]`, 'g');

const vocabCache = new Map<string, Map<string, number>>();

function vocabIds(vocab: string): Map<string, number> {
  let ids = vocabCache.get(vocab);
  if (ids === undefined) {
    ids = new Map(Array.from(vocab, (ch, i) => [ch, i + 1] as const));
    vocabCache.set(vocab, ids);
  }
  return ids;
}

/**
 * TextProcessor.clean + tokenise: to ASCII (unidecode's stand-in here: NFKD, combining marks dropped, a few
 * punctuation marks mapped), "\\" to newline (as Jukebox does), characters outside the vocabulary dropped;
 * character i of the vocabulary has id i + 1.
 */
export function cleanLyrics(text: string, vocab: string): number[] {
  const ids = vocabIds(vocab);
  const ascii = text
    .replace(STAND_IN_RE, (ch) => ASCII_STAND_INS[ch])
    .normalize('NFKD')
    .replace(/\p{Mn}/gu, '')
    .replaceAll('\\', '\n');
  const out: number[] = [];
  for (const ch of ascii) {
    const id = ids.get(ch);
    if (id !== undefined) out.push(id);
  }
  return out;
}

/**
 * get_relevant_lyric_tokens: the nTokens characters centred on len · (offset + sampleLength/2) / totalLength
 * (clamped to the lyrics), or all of them left-padded with 0 when there are fewer than nTokens. The centre is
 * computed in float32 because that is what runs when Jukebox samples: get_y passes 0-dim int64 tensors, and
 * `duration / 2.0` makes the whole expression a float32 tensor.
 */
export function lyricWindow(lyricIds: readonly number[], nTokens: number, totalLength: number, offset: number, sampleLength: number): number[] {
  if (!Number.isSafeInteger(nTokens) || nTokens < 0 || nTokens % 2 !== 0) {
    throw new RangeError(`lyric window length must be an even integer >= 0, got ${nTokens}`);
  }
  if (nTokens === 0) return [];
  const len = lyricIds.length;
  if (len < nTokens) return [...new Array<number>(nTokens - len).fill(0), ...lyricIds];
  if (!(offset >= 0 && offset < totalLength)) throw new RangeError(`lyric window offset ${offset} must be in [0, ${totalLength})`);
  const f = Math.fround;
  const centre = f(f(len) * f(f(offset) + f(f(sampleLength) / 2)));
  const midpoint = Math.trunc(f(centre / f(totalLength)));
  const half = nTokens / 2;
  const mid = Math.min(Math.max(midpoint, half), len - half);
  return lyricIds.slice(mid - half, mid + half);
}

export interface LabelInputs {
  /** Song length in samples. */
  totalLength: number;
  /** Window start in samples. */
  offset: number;
  /** Window length in samples (nCtx · hopLength). */
  sampleLength: number;
  artistId: number;
  genreIds: readonly number[];
  /** The window's lyric ids, lyricTokens long (empty for levels without lyrics). */
  lyricWindow: readonly number[];
}

/** [total_length, offset, sample_length, artist, genre_1 … genre_G (padded with -1), lyric_1 … lyric_N]. */
export function labelVector(inputs: LabelInputs, maxGenreWords: number): number[] {
  if (inputs.genreIds.length > maxGenreWords) {
    throw new RangeError(`${inputs.genreIds.length} genre words do not fit the ${maxGenreWords} genre slots`);
  }
  const genres = [...inputs.genreIds, ...new Array<number>(maxGenreWords - inputs.genreIds.length).fill(-1)];
  return [inputs.totalLength, inputs.offset, inputs.sampleLength, inputs.artistId, ...genres, ...inputs.lyricWindow];
}

export interface ResolvedLabels {
  artistId: number;
  genreIds: number[];
  /** The whole cleaned lyrics as ids (empty when the model takes none). */
  lyricIds: number[];
}

/** The label vector of one row for the window of `level` starting at token `start` (Jukebox's get_y). */
export function windowLabels(
  manifest: Pick<Manifest, 'labels' | 'levels'>,
  level: number,
  start: number,
  totalSamples: number,
  labels: ResolvedLabels,
): number[] {
  const lm: LevelManifest = manifest.levels[level];
  const offset = start * lm.hopLength;
  const sampleLength = lm.nCtx * lm.hopLength;
  const lyrics = lyricWindow(labels.lyricIds, lm.conditioning.lyricTokens, totalSamples, offset, sampleLength);
  const vector = labelVector(
    { totalLength: totalSamples, offset, sampleLength, artistId: labels.artistId, genreIds: labels.genreIds, lyricWindow: lyrics },
    manifest.labels.maxGenreWords,
  );
  if (vector.length !== lm.labelLength) throw new Error(`level ${level} label vector has ${vector.length} entries, the manifest says ${lm.labelLength}`);
  return vector;
}
