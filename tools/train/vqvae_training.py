"""Training the bundled model's VQ-VAE (vqvae.VQVAE) with Jukebox's losses: per level a mixed
reconstruction loss (L2 plus the mean of the k largest squared errors, `lmix`), a multi-resolution
spectral loss (`multispectral`: the L2 norm of STFT magnitude differences at three resolutions), the
commitment loss, and EMA codebooks whose dead codes (EMA usage below a threshold) are reset to random
encoder outputs of the current batch. Losses are normalised by the data's bandwidth (mean power and
mean spectral norm), as the official trainer does."""
import math
import time
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn.functional as F

from jukebox_model.vqvae import VQVAE

# STFT resolutions (n_fft, hop, window) for 16 kHz audio: the official three (2048/1024/512 at 44.1 kHz) scaled.
SPEC_RESOLUTIONS = ((1024, 96, 480), (512, 48, 240), (256, 24, 96))


class EMACodebook:
    """The training state of one level's codebook `block.k`: EMA sums and counts (mu), reset of codes whose
    EMA count falls below `threshold` to random encoder outputs."""

    def __init__(self, block, mu: float = 0.99, threshold: float = 1.0, resume: bool = False):
        self.block = block
        self.mu = mu
        self.threshold = threshold
        # resume: the codebook is a trained one; its EMA starts from it (every code counted once) instead of
        # being replaced by random encoder outputs on the first batch.
        self.k_sum = block.k.detach().clone() if resume else None
        self.k_elem = torch.ones(block.k.shape[0]) if resume else None

    @torch.no_grad()
    def _random_rows(self, x: torch.Tensor, n: int, gen: torch.Generator) -> torch.Tensor:
        if x.shape[0] < n:
            reps = (n + x.shape[0] - 1) // x.shape[0]
            x = x.repeat(reps, 1) + torch.randn(x.shape[0] * reps, x.shape[1], generator=gen) * 0.01 / math.sqrt(x.shape[1])
        return x[torch.randperm(x.shape[0], generator=gen)[:n]]

    @torch.no_grad()
    def update(self, x: torch.Tensor, codes: torch.Tensor, gen: torch.Generator) -> Dict[str, float]:
        """x: encoder outputs [M, emb]; codes: their nearest codes [M]. Returns usage and resets."""
        k = self.block.k
        bins = k.shape[0]
        if self.k_sum is None:  # first batch: codebook = random encoder outputs
            k.copy_(self._random_rows(x, bins, gen))
            self.k_sum = k.clone()
            self.k_elem = torch.ones(bins)
            return {'used': float(bins), 'reset': 0.0}
        onehot = F.one_hot(codes, bins).float()  # [M, bins]
        self.k_sum.mul_(self.mu).add_(onehot.t() @ x, alpha=1 - self.mu)
        self.k_elem.mul_(self.mu).add_(onehot.sum(0), alpha=1 - self.mu)
        usage = (self.k_elem >= self.threshold).float()[:, None]
        rand = self._random_rows(x, bins, gen)
        k.copy_(usage * (self.k_sum / self.k_elem.clamp(min=1e-6)[:, None]) + (1 - usage) * rand)
        # A reset code starts over with the random row as its sum and one use, as the official update does.
        self.k_sum.copy_(usage * self.k_sum + (1 - usage) * rand)
        self.k_elem.copy_(usage[:, 0] * self.k_elem + (1 - usage[:, 0]))
        return {'used': float(onehot.sum(0).gt(0).sum()), 'reset': float((1 - usage).sum())}


def stft_magnitude(x: torch.Tensor, n_fft: int, hop: int, win: int) -> torch.Tensor:
    window = torch.hann_window(win)
    return torch.stft(x, n_fft, hop, win, window=window, return_complex=True).abs()


def multispectral(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean over resolutions of the per-example L2 norm of |STFT(x)| - |STFT(y)|."""
    losses = []
    for n_fft, hop, win in SPEC_RESOLUTIONS:
        d = stft_magnitude(x, n_fft, hop, win) - stft_magnitude(y, n_fft, hop, win)
        losses.append(d.reshape(d.shape[0], -1).norm(dim=1).mean())
    return sum(losses) / len(losses)


def spectral_norm(x: torch.Tensor) -> torch.Tensor:
    return sum(stft_magnitude(x, *r).reshape(x.shape[0], -1).norm(dim=1).mean() for r in SPEC_RESOLUTIONS) / len(
        SPEC_RESOLUTIONS)


def lmix(x: torch.Tensor, y: torch.Tensor, bandwidth: float, linf_k: int = 2048, linf: float = 0.02) -> torch.Tensor:
    sq = (x - y) ** 2
    top = sq.reshape(sq.shape[0], -1).topk(min(linf_k, sq.shape[-1]), dim=1).values.mean()
    return (sq.mean() + linf * top) / bandwidth


class SegmentSampler:
    """Random training segments of `length` samples from the training clips (seeded)."""

    def __init__(self, audio: List[np.ndarray], length: int, seed: int):
        self.audio = [a for a in audio if len(a) >= length]
        self.length = length
        self.rng = np.random.default_rng(seed)

    def batch(self, n: int) -> torch.Tensor:
        out = np.empty((n, self.length), dtype=np.float32)
        for i in range(n):
            a = self.audio[self.rng.integers(len(self.audio))]
            s = self.rng.integers(0, len(a) - self.length + 1)
            out[i] = a[s:s + self.length]
        return torch.from_numpy(out)


def train_vqvae(vqvae: VQVAE, train_audio: List[np.ndarray], steps: int, batch: int, length: int, seed: int,
                lr: float = 1e-3, commit: float = 0.02, spec_weight: float = 1.0,
                log: Callable[[str], None] = print, levels: Optional[List[int]] = None,
                resume: bool = False, dead_share: Optional[float] = None) -> Dict[str, list]:
    """Trains the given levels (default: all) jointly; each level has its own encoder, codebook and decoder, so
    a level left out keeps its weights and codes. resume: the VQ-VAE is a trained one (see EMACodebook).
    dead_share: a code is dead (reset) when its EMA use per batch falls below this share of a fair share
    (encoder outputs per batch / codebook size), capped at the official threshold of 1. The official
    threshold of 1 assumes several outputs per code per batch; at the top level a batch here holds about one
    per code, so a fixed 1 resets about half the codebook at every step. None: the official 1.
    Returns the curves."""
    levels = list(range(vqvae.levels)) if levels is None else sorted(levels)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    sampler = SegmentSampler(train_audio, length, seed)
    probe = sampler.batch(32)
    bandwidth_l2 = float((probe ** 2).mean())
    bandwidth_spec = float(spectral_norm(probe))
    books = {}
    for l in levels:
        per_code = batch * length / vqvae.hop_lengths[l] / vqvae.bottleneck.level_blocks[l].k.shape[0]
        threshold = 1.0 if dead_share is None else min(1.0, dead_share * per_code)
        books[l] = EMACodebook(vqvae.bottleneck.level_blocks[l], threshold=threshold, resume=resume)
        log(f'vqvae level {l}: {per_code:g} encoder outputs per code per batch, dead below {threshold:g}')
    params = [p for l in levels for m in (vqvae.encoders[l], vqvae.decoders[l]) for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=lr, betas=(0.9, 0.99))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / 100) * (0.1 + 0.9 * 0.5 * (
        1 + math.cos(math.pi * min(s, steps) / steps))))
    hist: Dict[str, list] = {'step': [], 'loss': [], **{f'recons{l}': [] for l in levels},
                             **{f'spec{l}': [] for l in levels}, **{f'used{l}': [] for l in levels}}
    vqvae.train()
    t0 = time.time()
    for step in range(steps):
        x = sampler.batch(batch)
        total = torch.zeros(())
        stats = {}
        for level in levels:
            z = vqvae.encoders[level](x[:, None, :])  # [N, emb, T']
            n, c, t = z.shape
            flat = z.permute(0, 2, 1).reshape(n * t, c)
            block = vqvae.bottleneck.level_blocks[level]
            with torch.no_grad():
                if books[level].k_sum is None:
                    books[level].update(flat.detach(), torch.zeros(n * t, dtype=torch.long), gen)
                codes = block.quantise(flat.detach())
            q = F.embedding(codes, block.k).reshape(n, t, c).permute(0, 2, 1)
            commit_loss = ((z - q.detach()) ** 2).sum() / z.numel()
            zq = z + (q - z).detach()  # straight-through
            y = vqvae.decoders[level](zq)[:, 0, :]
            rec = lmix(x, y, bandwidth_l2)
            spec = multispectral(x, y) / bandwidth_spec
            total = total + rec + spec_weight * spec + commit * commit_loss
            u = books[level].update(flat.detach(), codes, gen)
            stats[level] = (float(rec), float(spec), u['used'], u['reset'])
        opt.zero_grad()
        total.backward()
        torch.nn.utils.clip_grad_norm_(params, 10.0)
        opt.step()
        sched.step()
        if step % 25 == 0 or step == steps - 1:
            hist['step'].append(step)
            hist['loss'].append(float(total))
            for level, (rec, spec, used, _) in stats.items():
                hist[f'recons{level}'].append(rec)
                hist[f'spec{level}'].append(spec)
                hist[f'used{level}'].append(used)
        if step % 100 == 0 or step == steps - 1:
            per = ' '.join(f'L{l}: rec {r:.3f} spec {s:.3f} used {int(u)} reset {int(z)}'
                           for l, (r, s, u, z) in stats.items())
            log(f'vqvae step {step}/{steps} loss {float(total):.3f} | {per} | {time.time() - t0:.0f} s')
    vqvae.eval()
    return hist


@torch.no_grad()
def reconstruction_metrics(vqvae: VQVAE, audio: List[np.ndarray]) -> List[Dict[str, float]]:
    """Per level on whole clips: SNR in dB (signal power over error power) and spectral convergence
    (||S(x) - S(y)||_F / ||S(x)||_F at the middle STFT resolution), pooled over the clips."""
    out = []
    for level in range(vqvae.levels):
        hop = vqvae.hop_lengths[level]
        sig = err = sc_num = sc_den = 0.0
        for a in audio:
            x = torch.from_numpy(a[: len(a) // hop * hop])[None]
            y = vqvae.decode_level(vqvae.encode_level(x, level), level)
            sig += float((x ** 2).sum())
            err += float(((x - y) ** 2).sum())
            sx, sy = stft_magnitude(x, *SPEC_RESOLUTIONS[1]), stft_magnitude(y, *SPEC_RESOLUTIONS[1])
            sc_num += float(((sx - sy) ** 2).sum())
            sc_den += float((sx ** 2).sum())
        out.append({'level': level, 'hop': hop, 'snrDb': 10 * math.log10(sig / max(err, 1e-12)),
                    'spectralConvergence': math.sqrt(sc_num / sc_den)})
    return out
