import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planDecodeChunks, stitchDecodedChunks, type DecodeChunk } from '../../shared/decode-plan.js';

const span = (c: DecodeChunk): number[] => [c.start, c.end, c.inStart, c.inEnd, c.trimStart, c.trimEnd];

test('chunks tile the song; input spans add the margin inside the song', () => {
  assert.deepEqual(planDecodeChunks(1000, 300, 40).map(span), [
    [0, 300, 0, 340, 0, 40],
    [300, 600, 260, 640, 40, 40],
    [600, 900, 560, 940, 40, 40],
    [900, 1000, 860, 1000, 40, 0],
  ]);
  assert.deepEqual(planDecodeChunks(1000, 300, 40).map((c) => c.index), [0, 1, 2, 3]);
  assert.deepEqual(planDecodeChunks(100, 300, 40).map(span), [[0, 100, 0, 100, 0, 0]], 'one chunk: no context to trim');
  assert.deepEqual(planDecodeChunks(10, 4, 100).map(span), [
    [0, 4, 0, 10, 0, 6],
    [4, 8, 0, 10, 4, 2],
    [8, 10, 0, 10, 8, 0],
  ], 'margins wider than the song are cut at its edges');
  assert.deepEqual(planDecodeChunks(600, 300, 0).map(span), [[0, 300, 0, 300, 0, 0], [300, 600, 300, 600, 0, 0]]);
  assert.throws(() => planDecodeChunks(0, 300, 40), RangeError);
  assert.throws(() => planDecodeChunks(10, 0, 40), RangeError);
  assert.throws(() => planDecodeChunks(10, 4, -1), RangeError);
});

/**
 * A stand-in decoder with a receptive field of exactly `margin` tokens each side: sample j of token t is a
 * weighted sum of the tokens in [t - margin, t + margin] that the input has (zero outside), like a conv stack
 * with zero padding. Integer-valued, so float32 sums are exact.
 */
function decode(tokens: ArrayLike<number>, margin: number, hop: number): Float32Array {
  const out = new Float32Array(tokens.length * hop);
  for (let t = 0; t < tokens.length; t++) {
    for (let j = 0; j < hop; j++) {
      let acc = 0;
      for (let d = -margin; d <= margin; d++) {
        const i = t + d;
        if (i >= 0 && i < tokens.length) acc += tokens[i] * ((d + margin + 1) * (j + 1));
      }
      out[t * hop + j] = acc;
    }
  }
  return out;
}

test('chunked decode with margins, trimmed and stitched, equals the whole decode', () => {
  const hop = 8;
  const margin = 5;
  const tokens = Int32Array.from({ length: 237 }, (_, i) => (i * 37 + 11) % 64);
  const whole = decode(tokens, margin, hop);
  for (const chunkTokens of [1, 7, 50, 100, 237, 500]) {
    const chunks = planDecodeChunks(tokens.length, chunkTokens, margin);
    const untrimmed = chunks.map((c) => decode(tokens.subarray(c.inStart, c.inEnd), margin, hop));
    assert.deepEqual(stitchDecodedChunks(chunks, untrimmed, hop), whole, `chunks of ${chunkTokens}, trimmed here`);
    const trimmed = untrimmed.map((a, i) => a.slice(chunks[i].trimStart * hop, a.length - chunks[i].trimEnd * hop));
    assert.deepEqual(stitchDecodedChunks(chunks, trimmed, hop), whole, `chunks of ${chunkTokens}, trimmed by the worker`);
  }
  // Without the margin the chunk edges see zero padding and differ: the margin is what makes it exact.
  const bare = planDecodeChunks(tokens.length, 50, 0);
  assert.notDeepEqual(stitchDecodedChunks(bare, bare.map((c) => decode(tokens.subarray(c.inStart, c.inEnd), margin, hop)), hop), whole);
});

test('stitching refuses outputs that do not fit', () => {
  const chunks = planDecodeChunks(20, 10, 2);
  assert.throws(() => stitchDecodedChunks(chunks, [new Float32Array(96)], 8), RangeError, 'one output per chunk');
  assert.throws(() => stitchDecodedChunks(chunks, [new Float32Array(96), new Float32Array(95)], 8), /95 samples/);
  assert.throws(() => stitchDecodedChunks([chunks[1], chunks[0]], [new Float32Array(96), new Float32Array(96)], 8), RangeError, 'out of order');
});
