// The label vector, as Jukebox's data/labels.py, artist_genre_processor.py and text_processor.py build it.
// tests/unit/official-labels.test.ts holds every function here against the official code's outputs
// (tests/fixtures/official-labels.json, written by tools/official_labels_fixture.py).
import type { LabelsManifest, LevelManifest, Manifest } from './types.js';

type LabelsVersion = LabelsManifest['version'];

const NOT_ALNUM = /[^a-z0-9]/g; // Jukebox's `accepted`: ASCII letters and digits (after lowercasing)
const UNDERSCORES = /_+/g;

/**
 * Jukebox's norm() (v2 names): lowercase, every other character to "_", runs of "_" collapsed, "_" stripped at
 * both ends. ("Céline Dion" -> "c_line_dion"). The regex runs on UTF-16 units, Python on code points: an astral
 * character gives "__" here and "_" there, which the collapse makes equal.
 */
export function normV2(s: string): string {
  return s.toLowerCase().replace(NOT_ALNUM, '_').replace(UNDERSCORES, '_').replace(/^_|_$/g, '');
}

/** The key ArtistGenreProcessor.get_artist_id looks an artist up by: v2 norm(), v3 lowercase. */
export function officialArtistKey(name: string, version: LabelsVersion): string {
  return version === 'v2' ? normV2(name) : name.toLowerCase();
}

/** The words ArtistGenreProcessor.get_genre_ids looks one genre string up by: v2 norm() split on "_", v3 lowercase. */
export function officialGenreWords(genre: string, version: LabelsVersion): string[] {
  return version === 'v2' ? normV2(genre).split('_') : [genre.toLowerCase()];
}

/** get_artist_id: the artist's id, or 0 (Jukebox's "unknown") when the id file does not name it. */
export function officialArtistId(name: string, version: LabelsVersion, artists: Readonly<Record<string, number>>): number {
  const key = officialArtistKey(name, version);
  return Object.hasOwn(artists, key) ? artists[key] : 0;
}

/** get_genre_ids for one genre string: an id per word, 0 for each word the id file does not name. */
export function officialGenreIds(genre: string, version: LabelsVersion, genres: Readonly<Record<string, number>>): number[] {
  return officialGenreWords(genre, version).map((w) => (Object.hasOwn(genres, w) ? genres[w] : 0));
}

// Python's str.isspace() characters: what str.strip() removes.
const PY_SPACE = '\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000';

function pyStrip(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && PY_SPACE.includes(s[a])) a++;
  while (b > a && PY_SPACE.includes(s[b - 1])) b--;
  return s.slice(a, b);
}

/**
 * An official id file (jukebox/data/ids/v{2,3}_{artist,genre}_ids.txt) as ArtistGenreProcessor loads it: one
 * "name;id" a line, the name lowercased, a later line winning over an earlier one with the same name. Several names
 * may share an id (v2: "unknown", "various" and "" are all 0). Throws on a line that is not "name;id", as Python does.
 */
export function parseOfficialIdFile(text: string): Record<string, number> {
  const out = Object.create(null) as Record<string, number>;
  const lines = text.split(/\r\n|\r|\n/); // Python's universal newlines
  if (lines[lines.length - 1] === '') lines.pop();
  lines.forEach((line, i) => {
    const parts = pyStrip(line).split(';');
    const id = parts.length === 2 ? pyStrip(parts[1]) : '';
    if (!/^[+-]?[0-9](_?[0-9])*$/.test(id)) throw new SyntaxError(`id file line ${i + 1}: expected "name;id", got ${JSON.stringify(line)}`);
    out[parts[0].toLowerCase()] = Number(id.replaceAll('_', ''));
  });
  return out;
}

/**
 * The key an artist is looked up by in a manifest: officialArtistKey, except that a name with nothing left
 * (v3: blank) is "unknown". Jukebox maps such names to id 0, and so does "unknown" in both id sets.
 */
export function normaliseArtist(name: string, version: LabelsVersion): string {
  const key = officialArtistKey(name, version);
  return key.trim() === '' ? 'unknown' : key;
}

/**
 * The genre words looked up, in order: officialGenreWords of each genre (v2: "Blues Rock" gives "blues",
 * "rock"; v3: "blues rock"). No genres at all is ["unknown"]; a v2 genre with nothing left after normalising gives
 * "" (not a known word: callers reject it, where Jukebox would use id 0).
 */
export function normaliseGenres(genres: readonly string[], version: LabelsVersion): string[] {
  if (genres.length === 0) return ['unknown'];
  return genres.flatMap((g) => officialGenreWords(g, version));
}

/**
 * unidecode's output for the characters it maps differently from "NFKD, then drop combining marks", in the blocks
 * where toAscii claims to equal it (unidecode 1.3.6): Latin-1 Supplement, Latin Extended-A, Combining Diacritical
 * Marks, Latin Extended Additional, General Punctuation, and €, №, ™, −. Generated from the differences, quirks
 * included (unidecode writes ŋ as "NG" and Ŋ as "ng").
 */
const UNIDECODE: Record<string, string> = {
  '\u00a1': "!", '\u00a2': "C/", '\u00a3': "PS", '\u00a4': "$?", '\u00a5': "Y=", '\u00a6': "|", '\u00a7': "SS",
  '\u00a8': "\"", '\u00a9': "(c)", '\u00ab': "<<", '\u00ac': "!", '\u00ad': "", '\u00ae': "(r)", '\u00af': "-",
  '\u00b0': "deg", '\u00b1': "+-", '\u00b4': "'", '\u00b5': "u", '\u00b6': "P", '\u00b7': "*", '\u00b8': ",",
  '\u00bb': ">>", '\u00bc': " 1/4", '\u00bd': " 1/2", '\u00be': " 3/4", '\u00bf': "?", '\u00c6': "AE", '\u00d0':
  "D", '\u00d7': "x", '\u00d8': "O", '\u00de': "Th", '\u00df': "ss", '\u00e6': "ae", '\u00f0': "d", '\u00f7': "/",
  '\u00f8': "o", '\u00fe': "th", '\u0110': "D", '\u0111': "d", '\u0126': "H", '\u0127': "h", '\u0131': "i",
  '\u0138': "k", '\u013f': "L", '\u0140': "l", '\u0141': "L", '\u0142': "l", '\u0149': "'n", '\u014a': "ng",
  '\u014b': "NG", '\u0152': "OE", '\u0153': "oe", '\u0166': "T", '\u0167': "t", '\u0363': "a", '\u0364': "e",
  '\u0365': "i", '\u0366': "o", '\u0367': "u", '\u0368': "c", '\u0369': "d", '\u036a': "h", '\u036b': "m", '\u036c':
  "r", '\u036d': "t", '\u036e': "v", '\u036f': "x", '\u1e9a': "a", '\u1e9b': "S", '\u1e9c': "", '\u1e9d': "",
  '\u1e9e': "Ss", '\u1e9f': "", '\u1efa': "", '\u1efb': "", '\u1efc': "", '\u1efd': "", '\u1efe': "", '\u1eff': "",
  '\u200b': " ", '\u200c': "", '\u200d': "", '\u200e': "", '\u200f': "", '\u2010': "-", '\u2011': "-", '\u2012':
  "-", '\u2013': "-", '\u2014': "--", '\u2015': "--", '\u2016': "||", '\u2017': "_", '\u2018': "'", '\u2019': "'",
  '\u201a': ",", '\u201b': "'", '\u201c': "\"", '\u201d': "\"", '\u201e': ",,", '\u201f': "\"", '\u2020': "+",
  '\u2021': "++", '\u2022': "*", '\u2023': "*>", '\u2027': ".", '\u2028': "\n", '\u2029': "\n\n", '\u202a': "",
  '\u202b': "", '\u202c': "", '\u202d': "", '\u202e': "", '\u2030': "%0", '\u2031': "%00", '\u2032': "'", '\u2033':
  "''", '\u2034': "'''", '\u2035': "`", '\u2036': "``", '\u2037': "```", '\u2038': "^", '\u2039': "<", '\u203a':
  ">", '\u203b': "*", '\u203d': "!?", '\u203e': "-", '\u203f': "_", '\u2040': "-", '\u2041': "^", '\u2042': "***",
  '\u2043': "--", '\u2044': "/", '\u2045': "-[", '\u2046': "]-", '\u204a': "&", '\u204b': "PP", '\u204c': "(]",
  '\u204d': "[)", '\u204e': "*", '\u204f': "", '\u2050': "", '\u2051': "", '\u2052': "%", '\u2053': "~", '\u2054':
  "", '\u2055': "", '\u2056': "", '\u2057': "''''", '\u2058': "", '\u2059': "", '\u205a': "", '\u205b': "",
  '\u205c': "", '\u205d': "", '\u205e': "", '\u2060': "", '\u2061': "", '\u2062': "", '\u2063': "", '\u2064': "",
  '\u2066': "", '\u2067': "", '\u2068': "", '\u2069': "", '\u206a': "", '\u206b': "", '\u206c': "", '\u206d': "",
  '\u206e': "", '\u206f': "", '\u20ac': "EUR", '\u2116': "No. ", '\u2122': "(tm)", '\u2212': "-"
};
const UNIDECODE_RE = new RegExp(`[${Object.keys(UNIDECODE).join('')}]`, 'g');

/**
 * unidecode() for Latin-script text: the table above, then NFKD with combining marks (\p{Mn}) dropped. Equal to
 * unidecode 1.3.6 on every character of the blocks the table names (tested one by one). Elsewhere it differs:
 * unidecode transliterates other scripts (Greek, Cyrillic, Arabic, Hebrew, CJK as pinyin/romaji, Indic, ...) and
 * most symbols (Latin Extended-B letters like ƒ, currency signs other than €, letterlike symbols such as ℃, vulgar
 * fractions outside Latin-1, arrows, box drawing); this keeps such characters as they are (NFKD may still fold a
 * compatibility form, e.g. fullwidth Ａ to A, ﬁ to fi, ² to 2, which unidecode does alike) and cleanLyrics then drops
 * them, so lyrics in those scripts lose those characters where Jukebox would have kept a transliteration.
 */
export function toAscii(text: string): string {
  return text
    .replace(UNIDECODE_RE, (ch) => UNIDECODE[ch])
    .normalize('NFKD')
    .replace(/\p{Mn}/gu, '');
}

const vocabCache = new Map<string, Map<string, number>>();

function vocabIds(vocab: string): Map<string, number> {
  let ids = vocabCache.get(vocab);
  if (ids === undefined) {
    ids = new Map(Array.from(vocab, (ch, i) => [ch, i + 1] as const));
    vocabCache.set(vocab, ids);
  }
  return ids;
}

/** TextProcessor.clean as text: toAscii (unidecode), "\\" to newline (as Jukebox does), characters outside `vocab` dropped. */
export function cleanLyricsText(text: string, vocab: string): string {
  const ids = vocabIds(vocab);
  let out = '';
  for (const ch of toAscii(text).replaceAll('\\', '\n')) if (ids.has(ch)) out += ch;
  return out;
}

/** TextProcessor.clean + tokenise: character i of the vocabulary has id i + 1 (0 is padding). */
export function cleanLyrics(text: string, vocab: string): number[] {
  const ids = vocabIds(vocab);
  return Array.from(cleanLyricsText(text, vocab), (ch) => ids.get(ch) as number);
}

/**
 * How get_relevant_lyric_tokens computes the window centre len · (offset + duration / 2) / total_length.
 * 'float32' is what runs while sampling: SimplePrior.get_y passes 0-dim int64 tensors, and `duration / 2.0` makes the
 * whole expression a float32 tensor. 'float64' is Labeller.get_label, which gets Python ints.
 */
export type CentreArithmetic = 'float32' | 'float64';

/**
 * get_relevant_lyric_tokens: the nTokens characters centred on len · (offset + sampleLength/2) / totalLength
 * (truncated, then clamped to the lyrics), or all of them left-padded with 0 when there are fewer than nTokens.
 */
export function lyricWindow(
  lyricIds: readonly number[],
  nTokens: number,
  totalLength: number,
  offset: number,
  sampleLength: number,
  arithmetic: CentreArithmetic = 'float32',
): number[] {
  if (!Number.isSafeInteger(nTokens) || nTokens < 0 || nTokens % 2 !== 0) {
    throw new RangeError(`lyric window length must be an even integer >= 0, got ${nTokens}`);
  }
  const len = lyricIds.length;
  if (len < nTokens) return [...new Array<number>(nTokens - len).fill(0), ...lyricIds];
  if (!(offset >= 0 && offset < totalLength)) throw new RangeError(`lyric window offset ${offset} must be in [0, ${totalLength})`);
  if (nTokens === 0) return [];
  let midpoint: number;
  if (arithmetic === 'float32') {
    const f = Math.fround;
    const centre = f(f(len) * f(f(offset) + f(f(sampleLength) / 2)));
    midpoint = Math.trunc(f(centre / f(totalLength)));
  } else {
    midpoint = Math.trunc((len * (offset + sampleLength / 2)) / totalLength);
  }
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

/** The label set of a level: its own, or the manifest's (the top prior's). */
export function levelLabels(manifest: Pick<Manifest, 'labels' | 'levels'>, level: number): LabelsManifest {
  return manifest.levels[level].labels ?? manifest.labels;
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
    levelLabels(manifest, level).maxGenreWords,
  );
  if (vector.length !== lm.labelLength) throw new Error(`level ${level} label vector has ${vector.length} entries, the manifest says ${lm.labelLength}`);
  return vector;
}
