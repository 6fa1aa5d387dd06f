"""The synthetic corpus as training data: clips (audio), their labels as the bundled model reads them
(artist and genre ids from the model config, lyric ids), and Jukebox's label vector for a window
(jukebox/data/labels.py semantics, as shared/labels.ts computes it at render time)."""
import json
import os
import wave
from dataclasses import dataclass
from typing import List

import numpy as np


@dataclass
class Clip:
    audio: np.ndarray  # float32 [T] at the model's rate
    artist: int
    genres: List[int]  # genre ids, one per genre word
    lyric_ids: List[int]  # cleaned lyrics as vocabulary ids (index + 1)
    split: str
    name: str


def read_wav(path: str) -> np.ndarray:
    with wave.open(path, 'rb') as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2, f'{path}: expected 16-bit mono'
        data = np.frombuffer(w.readframes(w.getnframes()), dtype='<i2')
    return (data.astype(np.float32) / 32768.0)


def lyric_ids(text: str, vocab: str) -> List[int]:
    ids = {ch: i + 1 for i, ch in enumerate(vocab)}
    return [ids[ch] for ch in text.replace('\\', '\n') if ch in ids]


def load_corpus(corpus_dir: str, cfg: dict) -> List[Clip]:
    """Every clip of DIR/index.json, labels mapped through the model config's label vocabulary."""
    with open(os.path.join(corpus_dir, 'index.json'), encoding='utf-8') as f:
        index = json.load(f)
    if index['sr'] != cfg['sr']:
        raise SystemExit(f'corpus sample rate {index["sr"]} differs from the model\'s {cfg["sr"]}')
    artists = {a: i for i, a in enumerate(cfg['labels']['artists'])}
    genres = {g: i for i, g in enumerate(cfg['labels']['genres'])}
    vocab = cfg['lyrics']['vocab']
    clips = []
    for c in index['clips']:
        clips.append(Clip(read_wav(os.path.join(corpus_dir, c['file'])), artists[c['artist']],
                          [genres[g] for g in c['genres']], lyric_ids(c.get('lyrics', ''), vocab), c['split'],
                          c['file']))
    return clips


def relevant_lyric_tokens(ids: List[int], n_tokens: int, total_length: int, offset: int, duration: int) -> List[int]:
    """get_relevant_lyric_tokens (Labeller.get_label's float64 arithmetic): n_tokens ids centred on the window's
    midpoint, scaled from samples to characters; fewer ids than n_tokens are left-padded with 0."""
    if len(ids) < n_tokens:
        return [0] * (n_tokens - len(ids)) + list(ids)
    midpoint = int(len(ids) * (offset + duration / 2.0) / total_length)
    mid = min(max(midpoint, n_tokens // 2), len(ids) - n_tokens // 2)
    return list(ids[mid - n_tokens // 2: mid + n_tokens // 2])


def label_vector(total_length: int, offset: int, length: int, artist: int, genres: List[int], max_genres: int,
                 lyrics: List[int]) -> List[int]:
    """[total_length, offset, sample_length, artist, genre ids padded with -1, lyric window]."""
    return [total_length, offset, length, artist] + list(genres) + [-1] * (max_genres - len(genres)) + list(lyrics)
