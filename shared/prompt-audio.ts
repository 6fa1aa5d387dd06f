// A primed job's prompt: any common WAV file (PCM 8/16/24/32-bit or float 32/64, mono or several channels, plain
// or WAVE_FORMAT_EXTENSIBLE) to mono float samples at the model's rate. Pure: the coordinator parses what a
// client sent, tests and the CLI use the same code.
import { InvalidArgumentError } from './errors.js';
import { wavLayout, type WavLayout } from './wav.js';

const PCM = 1;
const IEEE_FLOAT = 3;

export interface PromptAudio {
  sampleRate: number;
  /** Mono: the mean of the channels. */
  samples: Float32Array;
}

/** Parses a WAV file; throws InvalidArgumentError naming `field` for anything it cannot read. */
export function readPromptWav(bytes: Uint8Array, field = 'prompt_wav'): PromptAudio {
  const bad = (msg: string): never => {
    throw new InvalidArgumentError(field, `${field}: ${msg}`);
  };
  let layout: WavLayout;
  try {
    layout = wavLayout(bytes, 'read');
  } catch (err) {
    return bad((err as Error).message);
  }
  if (layout.channels < 1) bad('the fmt chunk declares no channels');
  if (layout.sampleRate < 1) bad('the fmt chunk declares a sample rate of 0');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return { sampleRate: layout.sampleRate, samples: mixToMono(view, layout, bad) };
}

function mixToMono(view: DataView, fmt: WavLayout, bad: (msg: string) => never): Float32Array {
  const bytesPer = fmt.bits / 8;
  let read: (at: number) => number;
  if (fmt.format === PCM && fmt.bits === 8) read = (at) => (view.getUint8(at) - 128) / 128;
  else if (fmt.format === PCM && fmt.bits === 16) read = (at) => view.getInt16(at, true) / 32768;
  else if (fmt.format === PCM && fmt.bits === 24) read = (at) => ((view.getUint8(at) | (view.getUint8(at + 1) << 8) | (view.getInt8(at + 2) << 16)) / 8388608);
  else if (fmt.format === PCM && fmt.bits === 32) read = (at) => view.getInt32(at, true) / 2147483648;
  else if (fmt.format === IEEE_FLOAT && fmt.bits === 32) read = (at) => view.getFloat32(at, true);
  else if (fmt.format === IEEE_FLOAT && fmt.bits === 64) read = (at) => view.getFloat64(at, true);
  else return bad(`unsupported WAV encoding: format ${fmt.format}, ${fmt.bits} bits (PCM 8/16/24/32 or float 32/64 are read)`);
  const frame = bytesPer * fmt.channels;
  const frames = Math.floor((fmt.dataEnd - fmt.dataStart) / frame);
  const out = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < fmt.channels; c++) sum += read(fmt.dataStart + i * frame + c * bytesPer);
    const v = sum / fmt.channels;
    if (!Number.isFinite(v)) bad(`sample ${i} is not a finite number`);
    out[i] = v;
  }
  return out;
}

/** Zero crossings of the windowed sinc on each side: quality against cost (about 100 dB of stop band). */
const HALF_ZEROS = 32;

function bessel0(x: number): number {
  let sum = 1;
  let term = 1;
  for (let k = 1; k < 50; k++) {
    term *= (x / (2 * k)) ** 2;
    sum += term;
    if (term < 1e-12 * sum) break;
  }
  return sum;
}

/**
 * Band-limited resampling by a Kaiser-windowed sinc (beta 9), low-pass at 0.95 of the lower Nyquist frequency.
 * Deterministic (float64 arithmetic, fixed order). Output length: floor(input · to / from). Not bit-equal to the
 * official sampler's librosa/resampy resampling (another filter), so a primed job's tokens differ from the official
 * code's for a prompt at another rate; at the model's rate the audio is taken as it is.
 */
export function resample(samples: Float32Array, from: number, to: number): Float32Array {
  if (!(Number.isInteger(from) && from > 0 && Number.isInteger(to) && to > 0)) throw new RangeError(`sample rates must be positive integers, got ${from} -> ${to}`);
  if (from === to) return samples.slice();
  const n = Math.floor((samples.length * to) / from);
  const out = new Float32Array(n);
  const cutoff = 0.95 * Math.min(1, to / from); // of the input's Nyquist frequency
  const reach = HALF_ZEROS / cutoff; // input samples on each side
  const norm = bessel0(KAISER_BETA);
  const tap = (x: number): number => {
    const r = x / reach;
    if (r <= -1 || r >= 1) return 0;
    const t = Math.PI * cutoff * x;
    return (t === 0 ? cutoff : (cutoff * Math.sin(t)) / t) * (bessel0(KAISER_BETA * Math.sqrt(1 - r * r)) / norm);
  };
  // Output i sits at input position i·from/to: its fractional part takes to/gcd values (the phases), so the taps
  // are computed once per phase where there are few of them.
  const g = gcd(from, to);
  const phases = to / g;
  const width = 2 * Math.ceil(reach) + 1;
  const table = phases <= MAX_PHASES ? new Float64Array(phases * width) : undefined;
  if (table) {
    for (let p = 0; p < phases; p++) {
      const frac = ((p * from) % to) / to;
      for (let k = 0; k < width; k++) table[p * width + k] = tap(k - Math.ceil(reach) - frac);
    }
  }
  for (let i = 0; i < n; i++) {
    const base = Math.floor((i * from) / to);
    const frac = ((i * from) % to) / to;
    let acc = 0;
    for (let k = 0; k < width; k++) {
      const j = base + k - Math.ceil(reach);
      if (j < 0 || j >= samples.length) continue;
      acc += samples[j] * (table ? table[(i % phases) * width + k] : tap(k - Math.ceil(reach) - frac));
    }
    out[i] = acc;
  }
  return out;
}

const KAISER_BETA = 9;
/** Phases whose taps are tabled (rates with a small common divisor compute the taps per sample instead). */
const MAX_PHASES = 4096;

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
