// Primed, continue and upsample-only starts: what a request may give, and the plan that skips what is given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { continueStart, primedStart, promptSamples, upsampleSeconds, upsampleStart } from '../../shared/job-start.js';
import { planSong, planWork } from '../../shared/plan.js';
import { InvalidArgumentError } from '../../shared/errors.js';
import { readPromptWav, resample } from '../../shared/prompt-audio.js';
import { encodeWav } from '../../shared/wav.js';
import { testLevel } from './helpers.js';

// The tiny model's shape: hops 8/32/128 at 16 kHz, n_ctx 128, hop fractions 0.5/0.5/0.125.
const M = {
  sampleRate: 16000,
  levels: [testLevel(0, 8, 128, 0.5), testLevel(1, 32, 128, 0.5), testLevel(2, 128, 128, 0.125, { conditioning: { labels: true, timing: true, lyrics: 'none', lyricTokens: 0, upper: false } })],
};

const rows = (n: number, length: number, value = 1): number[][] => Array.from({ length: n }, () => new Array<number>(length).fill(value));

test('given tokens: windows inside them are skipped, the window reaching past them is primed with them', () => {
  const full = planSong(M, 10);
  const given = planSong(M, 10, undefined, [5000, 1250, 312]);
  for (const [l, lp] of given.levels.entries()) {
    const g = [5000, 1250, 312][l];
    assert.ok(lp.windows.every((w) => w.start + w.contextTokens >= g), `level ${l}: no window samples inside the given tokens`);
    const first = lp.windows[0];
    assert.equal(first.start + first.contextTokens, g, `level ${l}: the first window starts sampling where the given tokens end`);
    // Past the first, the windows are those of the full plan (same starts, same priming).
    const tail = full.levels[l].windows.filter((w) => w.start > first.start);
    assert.deepEqual(lp.windows.slice(1).map((w) => [w.start, w.end, w.contextTokens, w.newTokens]), tail.map((w) => [w.start, w.end, w.contextTokens, w.newTokens]));
  }
  const work = planWork(given);
  assert.deepEqual(work.map((w) => w.newTokens), [20000 - 5000, 5000 - 1250, 1250 - 312], 'only what is not given is sampled');
});

test('upsample-only: the top level has no windows, the levels below are planned as usual', () => {
  const plan = planSong(M, 10, undefined, [0, 0, 1250]);
  assert.equal(plan.levels[2].windows.length, 0);
  assert.deepEqual(plan.levels.slice(0, 2), planSong(M, 10).levels.slice(0, 2));
});

test('given tokens with sharded segments are refused on the mode field', () => {
  assert.throws(() => planSong(M, 10, { segments: [2, 1, 1], overlap: 0.25 }, [1000, 250, 62]), (e: unknown) => e instanceof InvalidArgumentError && e.field === 'mode');
  // Upsample-only shards the levels below: nothing is given there.
  assert.doesNotThrow(() => planSong(M, 10, { segments: [2, 2, 1], overlap: 0.25 }, [0, 0, 1250]));
});

test('continue: every level, the same span on each, shorter than the song, inside the codebook', () => {
  const { start, tokens } = continueStart(M, [rows(2, 1024), rows(2, 256), rows(2, 64)], 2, 10);
  assert.deepEqual(start, { mode: 'continue', givenTokens: [1024, 256, 64], givenSeconds: 0.512 });
  assert.ok(tokens[0][1] instanceof Int32Array);
  const refused = (levels: number[][][], samples: number, seconds: number, field: RegExp): void =>
    assert.throws(() => continueStart(M, levels, samples, seconds), (e: unknown) => e instanceof InvalidArgumentError && field.test(e.message));
  refused([rows(2, 1024), rows(2, 256)], 2, 10, /^continue_from.levels: must give every level/);
  refused([rows(2, 1024), rows(2, 255), rows(2, 64)], 2, 10, /^continue_from.levels\[1\].rows\[0\]: 255 tokens, expected 256/);
  refused([rows(2, 1024), rows(2, 256), rows(2, 64)], 3, 10, /^continue_from.levels\[0\].rows: 2 rows given, the job has 3/);
  refused([rows(2, 1024, 256), rows(2, 256), rows(2, 64)], 2, 10, /^continue_from.levels\[0\].rows\[0\]: token 0 is 256, outside the codebook 0..255/);
  refused([rows(2, 1024, 1.5), rows(2, 256), rows(2, 64)], 2, 10, /token 0 is 1.5/);
  refused([rows(2, 1020), rows(2, 255), rows(2, 64)], 2, 10, /whole top-level tokens/);
  refused([rows(1, 20000), rows(1, 5000), rows(1, 1250)], 1, 10, /^duration_seconds: must be longer than the continued song's 10 s/);
});

test('upsample: only the top level, as long as the song', () => {
  const { start, tokens } = upsampleStart(M, [undefined, undefined, rows(1, 1250)], 1, 10);
  assert.deepEqual(start, { mode: 'upsample', givenTokens: [0, 0, 1250], givenSeconds: 10 });
  assert.deepEqual(tokens.map((t) => t.length), [0, 0, 1]);
  assert.equal(upsampleSeconds(M, 1250), 10);
  assert.throws(() => upsampleStart(M, [rows(1, 20000), undefined, rows(1, 1250)], 1, 10), /^InvalidArgumentError: upsample.levels\[0\]: only the top level \(2\) is given/);
  assert.throws(() => upsampleStart(M, [undefined, undefined, rows(1, 1249)], 1, 10), /upsample.levels\[2\].rows\[0\]: 1249 tokens, expected 1250/);
  assert.throws(() => upsampleStart(M, [], 1, 10), /upsample.levels\[2\]: the top level's tokens are required/);
});

test('primed: the prompt rounded down to whole top-level tokens, shorter than the audio and the song', () => {
  assert.equal(promptSamples(M, 2, 40000, 10, 2_000_000), 32000);
  assert.equal(promptSamples(M, 2.01, 40000, 10, 2_000_000), 32128, '32160 samples rounded down to the top hop (128)');
  assert.throws(() => promptSamples(M, 0, 40000, 10, 2_000_000), /^InvalidArgumentError: prompt.seconds: must be a number of seconds > 0, got 0/);
  assert.throws(() => promptSamples(M, 0.005, 40000, 10, 2_000_000), /shorter than one top-level token/);
  assert.throws(() => promptSamples(M, 3, 40000, 10, 2_000_000), /longer than the prompt audio \(2.500 s at 16000 Hz\)/);
  assert.throws(() => promptSamples(M, 2, 400000, 2, 2_000_000), /^InvalidArgumentError: duration_seconds: must be longer than the prompt's 2 s/);
  assert.throws(() => promptSamples(M, 2, 40000, 10, 16000), /longer than a prompt may be/);
  const { start, tokens } = primedStart(M, [Int32Array.from([1, 2, 3, 4]), Int32Array.from([5]), Int32Array.from([])], 2);
  assert.equal(start.mode, 'primed');
  assert.deepEqual(tokens[0].map((r) => Array.from(r)), [[1, 2, 3, 4], [1, 2, 3, 4]], 'every row starts from the prompt');
});

test('prompt WAV: PCM 16/24-bit, float, stereo mixed to mono; unreadable files name the field', () => {
  const mono = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i / 5) * 0.5);
  const pcm = readPromptWav(encodeWav(mono, 22050, 'pcm16'));
  assert.equal(pcm.sampleRate, 22050);
  assert.ok(pcm.samples.every((v, i) => Math.abs(v - mono[i]) < 1e-4));
  const f = readPromptWav(encodeWav(mono, 16000, 'float32'));
  assert.deepEqual(f.samples, mono);
  // A stereo 24-bit file by hand: left = x, right = -x / 2 -> mono x / 4.
  const frames = 10;
  const buf = new Uint8Array(44 + frames * 6);
  const v = new DataView(buf.buffer);
  const str = (o: number, s: string): void => [...s].forEach((c, i) => (buf[o + i] = c.charCodeAt(0)));
  str(0, 'RIFF'); v.setUint32(4, 36 + frames * 6, true); str(8, 'WAVE'); str(12, 'fmt '); v.setUint32(16, 16, true);
  v.setUint16(20, 1, true); v.setUint16(22, 2, true); v.setUint32(24, 48000, true); v.setUint32(28, 48000 * 6, true); v.setUint16(32, 6, true); v.setUint16(34, 24, true);
  str(36, 'data'); v.setUint32(40, frames * 6, true);
  const put24 = (o: number, x: number): void => { const n = Math.round(x * 8388608) & 0xffffff; buf[o] = n & 255; buf[o + 1] = (n >> 8) & 255; buf[o + 2] = (n >> 16) & 255; };
  for (let i = 0; i < frames; i++) { put24(44 + i * 6, i / 20); put24(44 + i * 6 + 3, -i / 40); }
  const st = readPromptWav(buf);
  assert.equal(st.sampleRate, 48000);
  st.samples.forEach((s, i) => assert.ok(Math.abs(s - i / 80) < 1e-6, `frame ${i}: ${s}`));
  assert.throws(() => readPromptWav(new Uint8Array([1, 2, 3])), /^InvalidArgumentError: prompt_wav: not a RIFF\/WAVE file/);
  const wrongBits = encodeWav(mono, 16000, 'pcm16');
  new DataView(wrongBits.buffer).setUint16(34, 12, true);
  assert.throws(() => readPromptWav(wrongBits), /prompt_wav: unsupported WAV encoding: format 1, 12 bits/);
});

test('resampling keeps a tone below the new Nyquist frequency and removes one above it', () => {
  const from = 44100;
  const x = Float32Array.from({ length: from }, (_, i) => 0.5 * Math.sin((2 * Math.PI * 440 * i) / from) + 0.3 * Math.sin((2 * Math.PI * 12000 * i) / from));
  const y = resample(x, from, 16000);
  assert.equal(y.length, 16000);
  let err = 0;
  let pow = 0;
  for (let i = 500; i < y.length - 500; i++) {
    const ideal = 0.5 * Math.sin((2 * Math.PI * 440 * i) / 16000);
    err += (y[i] - ideal) ** 2;
    pow += ideal ** 2;
  }
  assert.ok(10 * Math.log10(pow / err) > 80, `SNR ${10 * Math.log10(pow / err)} dB`);
  assert.deepEqual(resample(x, from, from), x, 'the same rate is taken as it is');
  assert.deepEqual(resample(x, from, 16000), y, 'deterministic');
});
