// Small signal tools for bench/seams.ts: a radix-2 FFT, spectral flux, and local measures around a position.
// No dependencies: the bench must not add npm packages.

/** In-place iterative radix-2 FFT of (re, im); the length must be a power of two. */
export function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  if (n !== im.length || (n & (n - 1)) !== 0) throw new RangeError(`fft: length ${n} is not a power of two (or re/im differ)`);
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    const wr = Math.cos(ang);
    const wi = Math.sin(ang);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const tr = re[b] * cr - im[b] * ci;
        const ti = re[b] * ci + im[b] * cr;
        re[b] = re[a] - tr;
        im[b] = im[a] - ti;
        re[a] += tr;
        im[a] += ti;
        const nr = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = nr;
      }
    }
  }
}

/** Largest |FFT - naive DFT| over a random signal of length n: the bench checks its own FFT before using it. */
export function fftSelfCheck(n = 64): number {
  const x = Float64Array.from({ length: n }, (_, i) => Math.sin(i * 1.7) + ((i * 7919) % 13) / 13);
  const re = Float64Array.from(x);
  const im = new Float64Array(n);
  fft(re, im);
  let worst = 0;
  for (let k = 0; k < n; k++) {
    let sr = 0;
    let si = 0;
    for (let t = 0; t < n; t++) {
      sr += x[t] * Math.cos((-2 * Math.PI * k * t) / n);
      si += x[t] * Math.sin((-2 * Math.PI * k * t) / n);
    }
    worst = Math.max(worst, Math.abs(sr - re[k]), Math.abs(si - im[k]));
  }
  return worst;
}

export interface FluxOptions {
  frame: number;
  hop: number;
}

/**
 * Spectral flux per frame: frame j covers samples [j·hop, j·hop + frame), Hann-windowed; flux[j] is the positive
 * change of the magnitude spectrum from frame j-1 to j, summed over bins (flux[0] = 0). Normalised by the mean
 * over all frames, so 1 is the song's average and songs of different loudness compare.
 */
export function spectralFlux(signal: Float32Array, { frame, hop }: FluxOptions): Float64Array {
  const frames = signal.length < frame ? 0 : 1 + Math.floor((signal.length - frame) / hop);
  const bins = frame / 2 + 1;
  const win = Float64Array.from({ length: frame }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / frame));
  const re = new Float64Array(frame);
  const im = new Float64Array(frame);
  let prev = new Float64Array(bins);
  let cur = new Float64Array(bins);
  const flux = new Float64Array(frames);
  for (let j = 0; j < frames; j++) {
    for (let i = 0; i < frame; i++) re[i] = signal[j * hop + i] * win[i];
    im.fill(0);
    fft(re, im);
    for (let b = 0; b < bins; b++) cur[b] = Math.hypot(re[b], im[b]);
    if (j > 0) {
      let f = 0;
      for (let b = 0; b < bins; b++) f += Math.max(0, cur[b] - prev[b]);
      flux[j] = f;
    }
    [prev, cur] = [cur, prev];
  }
  let mean = 0;
  for (let j = 1; j < frames; j++) mean += flux[j];
  mean /= Math.max(1, frames - 1);
  if (mean > 0) for (let j = 0; j < frames; j++) flux[j] /= mean;
  return flux;
}

/** Mean flux of the frames whose centre lies within ±half samples of position p (flux[0] excluded). */
export function localFlux(flux: Float64Array, p: number, { frame, hop }: FluxOptions, half: number): number {
  let sum = 0;
  let n = 0;
  const jLo = Math.max(1, Math.ceil((p - half - frame / 2) / hop));
  const jHi = Math.min(flux.length - 1, Math.floor((p + half - frame / 2) / hop));
  for (let j = jLo; j <= jHi; j++) {
    sum += flux[j];
    n++;
  }
  return n > 0 ? sum / n : Number.NaN;
}

function rms(signal: Float32Array, from: number, to: number): number {
  let s = 0;
  for (let i = from; i < to; i++) s += signal[i] * signal[i];
  return Math.sqrt(s / Math.max(1, to - from));
}

/** |level after − level before| in dB, each the RMS of `span` samples on its side of p. */
export function levelJumpDb(signal: Float32Array, p: number, span: number): number {
  const before = rms(signal, Math.max(0, p - span), p);
  const after = rms(signal, p, Math.min(signal.length, p + span));
  const floor = 1e-9;
  return Math.abs(20 * Math.log10((after + floor) / (before + floor)));
}

/** A small seeded PRNG (mulberry32) for reproducible random positions. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
