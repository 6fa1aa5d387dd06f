// What tools/export_jukebox.py reads from an openai/jukebox checkout, written into a temp folder: the id files in
// the official format and a stand-in for the official data/text_processor.py next to the ids folder.
import type { Manifest } from '../../shared/types.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

// Id files in the official format (jukebox/data/ids/v{2,3}_{artist,genre}_ids.txt: "name;id" lines, several
// names may share an id), with ids below the small configs' y_bins ([12, 20] for v2, [10, 16] for v3).
export const OFFICIAL_ID_FILES: Readonly<Record<string, string>> = {
  'v2_artist_ids.txt': 'unknown;0\nvarious;0\n;0\nfrank_sinatra;3\nella_fitzgerald;7\nalan_jackson;19\n',
  'v2_genre_ids.txt': 'unknown;0\nclassical;1\nblues;2\nrock;8\njazz;9\npop;11\n',
  'v3_artist_ids.txt': 'beat farmers;1\nfrank sinatra;5\nella fitzgerald;15\nunknown;0\n',
  'v3_genre_ids.txt': 'acid rock;2\npop rock;4\nhip hop;7\njazz;9\nunknown;0\n',
};

// Where the exporter reads the lyric vocabularies: a stand-in for the official data/text_processor.py next to the
// ids folder, with its two `vocab` assignments (v3 first, then v2) and their characters.
export const TEXT_PROCESSOR = String.raw`import re


class TextProcessor():
    def __init__(self, v3=False):
        if v3:
            vocab = """ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-'\"()[] \t\n"""
        else:
            vocab = """ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-+'\"()[] \t\n"""
        self.vocab = {vocab[index]: index + 1 for index in range(len(vocab))}
        self.n_vocab = len(vocab) + 1
`;

/** Writes `work`/jukebox/data/ids/* and `work`/jukebox/data/text_processor.py; returns the ids folder (for --ids). */
export function writeOfficialFiles(work: string): string {
  const idsDir = join(work, 'jukebox', 'data', 'ids');
  mkdirSync(idsDir, { recursive: true });
  for (const [name, text] of Object.entries(OFFICIAL_ID_FILES)) writeFileSync(join(idsDir, name), text);
  writeFileSync(join(work, 'jukebox', 'data', 'text_processor.py'), TEXT_PROCESSOR);
  return idsDir;
}

/** The manifest with the model id and the given levels' graph hashes blanked. */
export function manifestStructure(m: Manifest, blankLevels: number[]): Manifest {
  const copy = JSON.parse(JSON.stringify(m)) as Manifest;
  copy.modelId = '';
  for (const l of blankLevels) {
    for (const g of Object.values(copy.levels[l].graphs)) {
      g.sha256 = '';
      for (const x of g.externalData ?? []) x.sha256 = '';
    }
  }
  return copy;
}
