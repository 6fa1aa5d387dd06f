"""Training the bundled model's priors (jukebox_model.prior.SimplePrior) on VQ-VAE codes of the corpus:
the top prior on level-2 codes with artist, genre, timing and lyric conditioning; each upsampler on its
level's codes with the level above as x_cond. Loss: cross-entropy of the official whole-window forward
(`full_logits`), as Jukebox's prior loss (no lyric-prediction loss: the bundled model keeps
prime_loss_fraction 0).

Windows are n_ctx tokens at random token-aligned offsets (upsamplers: offsets on the upper level's grid,
with the upper level's tokens of the same span). The timing labels of the top prior are those of a
virtual song: the synthetic clips have no song form (intro, outro), so a window is given a random song
length of up to `max_song_seconds` and a random place in it, and the model learns to read the music, not
the clock; the lyric window is still taken at the clip's true place, so that lyrics follow the music.

Label dropout: with probability `label_dropout` a window's artist is replaced by "unknown" (id 0), and
independently its genres by ["unknown"], so that a song rendered without labels (the CLI's default) is
sampled from the model's mixture of every style rather than from a label it never saw."""
import math
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from corpus_data import label_vector, relevant_lyric_tokens
from jukebox_model.prior import SimplePrior


class WindowSampler:
    """Random training windows of one level: tokens [B, n_ctx], upper tokens, label vectors."""

    def __init__(self, prior: SimplePrior, codes: List[List[np.ndarray]], clips, hop: int, upper_hop: Optional[int],
                 sr: int, seed: int, max_song_seconds: float = 120.0, label_dropout: float = 0.0):
        self.prior = prior
        self.level = prior.level
        self.codes = codes  # codes[clip][level] int64 arrays
        self.clips = clips
        self.hop = hop
        self.upper_hop = upper_hop
        self.sr = sr
        self.rng = np.random.default_rng(seed)
        self.max_song = int(max_song_seconds * sr)
        self.step = prior.cond_downsample if prior.x_cond else 1
        self.label_dropout = label_dropout

    def batch(self, n: int):
        p = self.prior
        toks, ups, labs = [], [], []
        window = p.n_ctx * self.hop  # samples
        for _ in range(n):
            i = int(self.rng.integers(len(self.clips)))
            codes = self.codes[i][self.level]
            last = (len(codes) - p.n_ctx) // self.step
            start = int(self.rng.integers(0, last + 1)) * self.step
            toks.append(codes[start:start + p.n_ctx])
            if p.x_cond:
                u0 = start // p.cond_downsample
                ups.append(self.codes[i][self.level + 1][u0:u0 + p.n_ctx // p.cond_downsample])
            clip = self.clips[i]
            true_total, true_offset = len(clip.audio), start * self.hop
            if p.y_emb.include_time_signal:  # a virtual song around the window (see the module docstring)
                total = int(self.rng.integers(window, max(window + 1, self.max_song)))
                offset = int(self.rng.integers(0, total - window + 1)) // self.hop * self.hop
            else:
                total, offset = true_total, true_offset
            lyrics = relevant_lyric_tokens(clip.lyric_ids, p.n_tokens, true_total, true_offset, window) \
                if p.n_tokens else []
            # (no draw at all without dropout: the windows of a run without it stay as they were)
            artist = 0 if self.label_dropout and self.rng.random() < self.label_dropout else clip.artist
            genres = [0] if self.label_dropout and self.rng.random() < self.label_dropout else clip.genres
            labs.append(label_vector(total, offset, window, artist, genres, p.max_bow_genre_size, lyrics))
        x = torch.from_numpy(np.stack(toks)).long()
        upper = torch.from_numpy(np.stack(ups)).long() if p.x_cond else None
        return x, upper, torch.tensor(labs, dtype=torch.long)


def token_nll(prior: SimplePrior, x: torch.Tensor, upper: Optional[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood (nats) of each music token of each window: [B, n_ctx]."""
    logits = prior.full_logits(labels, upper, prior.sequence(labels, x))
    if prior.single_enc_dec:  # prefix models: music positions only, music ids shifted into the merged vocabulary
        logits = logits[:, prior.n_tokens:]
        x = x + prior.n_vocab
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x.reshape(-1), reduction='none')
    return nll.reshape(x.shape)


def window_nll(prior: SimplePrior, x: torch.Tensor, upper: Optional[torch.Tensor], labels: torch.Tensor) -> torch.Tensor:
    """Mean per-token negative log-likelihood (nats) of the music tokens of each window: [B]."""
    return token_nll(prior, x, upper, labels).mean(dim=1)


def train_prior(prior: SimplePrior, sampler: WindowSampler, steps: int, batch: int, seed: int, lr: float = 1e-3,
                log: Callable[[str], None] = print, held_out: Optional[WindowSampler] = None) -> Dict[str, list]:
    torch.manual_seed(seed)
    params = [p for p in prior.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, betas=(0.9, 0.95), weight_decay=0.01)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * (0.05 + 0.95 * 0.5 * (
        1 + math.cos(math.pi * min(s, steps) / steps))))
    hist: Dict[str, list] = {'step': [], 'loss': [], 'held_out_step': [], 'held_out': []}
    fixed_held_out = held_out.batch(64) if held_out is not None else None
    prior.train()
    t0 = time.time()
    for step in range(steps):
        x, upper, labels = sampler.batch(batch)
        loss = window_nll(prior, x, upper, labels).mean()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 10 == 0 or step == steps - 1:
            hist['step'].append(step)
            hist['loss'].append(float(loss))
        if fixed_held_out is not None and (step % 200 == 0 or step == steps - 1):
            prior.eval()
            with torch.no_grad():
                h = float(window_nll(prior, *fixed_held_out).mean())
            prior.train()
            hist['held_out_step'].append(step)
            hist['held_out'].append(h)
            log(f'level {prior.level} step {step}/{steps} loss {float(loss):.3f} held-out {h:.3f} '
                f'(uniform {math.log(prior.bins):.3f}) | {time.time() - t0:.0f} s')
    prior.eval()
    return hist
