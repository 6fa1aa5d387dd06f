// Builders for manifests in unit tests: only the fields a test is about vary.
import type { LevelManifest, Manifest } from '../../shared/types.js';

const SHA = 'a'.repeat(64);

export function testLevel(level: number, hopLength: number, nCtx: number, hopFraction: number, extra: Partial<LevelManifest> = {}): LevelManifest {
  return {
    level,
    hopLength,
    nCtx,
    hopFraction,
    codebookSize: 256,
    width: 64,
    layers: 2,
    heads: 2,
    headDim: 32,
    prefillChunk: 32,
    conditioning: { labels: true, timing: false, lyrics: 'none', lyricTokens: 0, upper: true },
    labelLength: 9,
    vocabOffset: 0,
    graphs: { conditioner: { file: `level${level}.conditioner.onnx`, sha256: SHA }, step: { file: `level${level}.step.onnx`, sha256: SHA } },
    ...extra,
  };
}

/** Jukebox 5b: hop lengths 8/32/128 at 44.1 kHz, n_ctx 8192 everywhere, hop_fraction [0.5, 0.5, 0.125]. */
export const JUKEBOX_5B: Pick<Manifest, 'sampleRate' | 'levels'> = {
  sampleRate: 44100,
  levels: [testLevel(0, 8, 8192, 0.5), testLevel(1, 32, 8192, 0.5), testLevel(2, 128, 8192, 0.125, { conditioning: { labels: true, timing: true, lyrics: 'none', lyricTokens: 0, upper: false } })],
};

/** The tiny model's shape: 16 kHz, n_ctx 128 everywhere, hop_fraction [0.5, 0.5, 0.125], hop lengths 8/32/128. */
export const TINY_SHAPE: Pick<Manifest, 'sampleRate' | 'levels'> = {
  sampleRate: 16000,
  levels: [testLevel(0, 8, 128, 0.5), testLevel(1, 32, 128, 0.5), testLevel(2, 128, 128, 0.125, { conditioning: { labels: true, timing: true, lyrics: 'none', lyricTokens: 0, upper: false } })],
};

/** A complete manifest JSON (as parsed from disk) of the tiny shape, with lyrics on the top level. */
export function tinyManifestJson(): Record<string, unknown> {
  const levels = TINY_SHAPE.levels.map((l) => structuredClone(l));
  levels[2].conditioning = { labels: true, timing: true, lyrics: 'encoder', lyricTokens: 32, upper: false };
  levels[2].labelLength = 4 + 5 + 32;
  return {
    contractVersion: 1,
    modelId: 'tiny',
    sampleRate: 16000,
    labels: {
      version: 'v2',
      artists: { unknown: 0, tiny_ensemble: 1, the_random_walkers: 2, dr_noise: 3 },
      genres: { unknown: 0, rock: 1, pop: 2, jazz: 3, blues: 4, hip: 5, hop: 6 },
      maxGenreWords: 5,
      minDurationSeconds: 1.0,
      maxDurationSeconds: 600,
    },
    lyrics: { vocab: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.,:;!?-+'\"()[] \n", maxChars: 4096 },
    levels,
    vqvae: {
      decoders: [0, 1, 2].map((level) => ({ level, file: `vqvae.decoder${level}.onnx`, sha256: SHA, marginTokens: 10 + level })),
    },
  };
}
