import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeWav, encodeWav } from '../../shared/wav.js';

const text = (b: Uint8Array, at: number): string => String.fromCharCode(...b.subarray(at, at + 4));

test('pcm16: 44-byte header, clamped and rounded samples', () => {
  const samples = Float32Array.from([0, 0.5, -0.5, 1, -1, 2, -2, Number.NaN, 0.25]);
  const bytes = encodeWav(samples, 16000, 'pcm16');
  const v = new DataView(bytes.buffer);
  assert.equal(bytes.length, 44 + 2 * samples.length);
  assert.equal(text(bytes, 0), 'RIFF');
  assert.equal(v.getUint32(4, true), bytes.length - 8);
  assert.equal(text(bytes, 8), 'WAVE');
  assert.equal(text(bytes, 12), 'fmt ');
  assert.deepEqual(
    [v.getUint32(16, true), v.getUint16(20, true), v.getUint16(22, true), v.getUint32(24, true), v.getUint32(28, true), v.getUint16(32, true), v.getUint16(34, true)],
    [16, 1, 1, 16000, 32000, 2, 16],
  );
  assert.equal(text(bytes, 36), 'data');
  assert.equal(v.getUint32(40, true), 2 * samples.length);
  const pcm = Array.from({ length: samples.length }, (_, i) => v.getInt16(44 + 2 * i, true));
  assert.deepEqual(pcm, [0, 16384, -16383, 32767, -32767, 32767, -32767, 0, 8192]); // Math.round(±16383.5), clamp, NaN -> 0
});

test('float32: WAVE_FORMAT_IEEE_FLOAT, samples stored exactly', () => {
  const samples = Float32Array.from([0, 0.123456789, -1.5, 3e-8, -0.75]);
  const bytes = encodeWav(samples, 44100, 'float32');
  const v = new DataView(bytes.buffer);
  assert.equal(bytes.length, 44 + 4 * samples.length);
  assert.deepEqual([v.getUint16(20, true), v.getUint32(28, true), v.getUint16(32, true), v.getUint16(34, true)], [3, 176400, 4, 32]);
  const decoded = decodeWav(bytes);
  assert.equal(decoded.sampleRate, 44100);
  assert.equal(decoded.format, 'float32');
  assert.deepEqual(decoded.samples, samples);
});

test('pcm16 round trip is within one quantisation step', () => {
  const samples = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i / 10) * 0.9);
  const decoded = decodeWav(encodeWav(samples, 22050, 'pcm16'));
  assert.equal(decoded.format, 'pcm16');
  assert.equal(decoded.samples.length, 1000);
  for (let i = 0; i < samples.length; i++) assert.ok(Math.abs(decoded.samples[i] - samples[i]) <= 0.5 / 32767 + 1e-7);
});

test('empty audio and bad input', () => {
  assert.equal(decodeWav(encodeWav(new Float32Array(0), 8000, 'pcm16')).samples.length, 0);
  assert.throws(() => encodeWav(new Float32Array(1), 0, 'pcm16'), RangeError);
  assert.throws(() => encodeWav(new Float32Array(1), 8000, 'mp3' as 'pcm16'), RangeError);
  assert.throws(() => decodeWav(new Uint8Array(10)), /RIFF/);
  const noData = encodeWav(new Float32Array(4), 8000, 'pcm16').slice(0, 36);
  new DataView(noData.buffer).setUint32(4, 28, true);
  assert.throws(() => decodeWav(noData), /no data chunk/);
});

test('decodeWav skips chunks it does not know', () => {
  const plain = encodeWav(Float32Array.from([0.5, -0.5]), 8000, 'pcm16');
  const list = new Uint8Array([...'LIST'].map((c) => c.charCodeAt(0)).concat([3, 0, 0, 0, 1, 2, 3, 0])); // odd size, padded
  const bytes = new Uint8Array(plain.length + list.length);
  bytes.set(plain.subarray(0, 36));
  bytes.set(list, 36);
  bytes.set(plain.subarray(36), 36 + list.length);
  new DataView(bytes.buffer).setUint32(4, bytes.length - 8, true);
  assert.deepEqual(Array.from(decodeWav(bytes).samples), [Math.fround(16384 / 32767), Math.fround(-16383 / 32767)]);
});
