// Time-chunked VQ-VAE decoding. The decoder is non-causal with a receptive field of marginTokens on each side
// (model contract), so decoding a chunk together with marginTokens of real context on both sides and trimming
// that context off the output equals a whole-song decode up to float rounding.

export interface DecodeChunk {
  index: number;
  /** Output span [start, end) in tokens: what this chunk contributes to the song. */
  start: number;
  end: number;
  /** Input span [inStart, inEnd) in tokens: the output span plus up to marginTokens each side, within the song. */
  inStart: number;
  inEnd: number;
  /** Tokens of context to drop from each end of the decoded input span (start - inStart, inEnd - end). */
  trimStart: number;
  trimEnd: number;
}

function positiveInteger(name: string, v: number, min: number): void {
  if (!Number.isSafeInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

/** Splits [0, totalTokens) into chunks of chunkTokens output tokens (the last may be shorter). */
export function planDecodeChunks(totalTokens: number, chunkTokens: number, marginTokens: number): DecodeChunk[] {
  positiveInteger('totalTokens', totalTokens, 1);
  positiveInteger('chunkTokens', chunkTokens, 1);
  positiveInteger('marginTokens', marginTokens, 0);
  const chunks: DecodeChunk[] = [];
  for (let start = 0; start < totalTokens; start += chunkTokens) {
    const end = Math.min(start + chunkTokens, totalTokens);
    const inStart = Math.max(0, start - marginTokens);
    const inEnd = Math.min(totalTokens, end + marginTokens);
    chunks.push({ index: chunks.length, start, end, inStart, inEnd, trimStart: start - inStart, trimEnd: inEnd - end });
  }
  return chunks;
}

/**
 * Joins decoded chunks into the song's audio. Each output is either the decode of the chunk's whole input span
 * ((inEnd - inStart) · hopLength samples, trimmed here) or already trimmed by the worker ((end - start) ·
 * hopLength samples, as DecodeRequest's trim fields do). Chunks must tile [0, total) in order.
 */
export function stitchDecodedChunks(chunks: readonly DecodeChunk[], outputs: readonly Float32Array[], hopLength: number): Float32Array {
  positiveInteger('hopLength', hopLength, 1);
  if (outputs.length !== chunks.length) throw new RangeError(`${outputs.length} decoded outputs for ${chunks.length} chunks`);
  let expectedStart = 0;
  for (const c of chunks) {
    if (c.start !== expectedStart || c.end <= c.start) throw new RangeError(`decode chunk ${c.index} [${c.start}, ${c.end}) does not follow token ${expectedStart}`);
    expectedStart = c.end;
  }
  const audio = new Float32Array(expectedStart * hopLength);
  chunks.forEach((c, i) => {
    const out = outputs[i];
    const wanted = (c.end - c.start) * hopLength;
    let from: number;
    if (out.length === (c.inEnd - c.inStart) * hopLength) from = c.trimStart * hopLength;
    else if (out.length === wanted) from = 0;
    else {
      throw new RangeError(
        `decode chunk ${c.index} returned ${out.length} samples; expected ${(c.inEnd - c.inStart) * hopLength} (untrimmed) or ${wanted} (trimmed)`,
      );
    }
    audio.set(out.subarray(from, from + wanted), c.start * hopLength);
  });
  return audio;
}
