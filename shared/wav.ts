// Mono WAV files with the canonical 44-byte header: 16-bit PCM or 32-bit IEEE float (format 3).
// Hand-written because it is 40 lines and keeps shared/ free of dependencies.

export type WavFormat = 'pcm16' | 'float32';

const HEADER_BYTES = 44;
const FORMAT_PCM = 1;
const FORMAT_IEEE_FLOAT = 3;
const FORMAT_EXTENSIBLE = 0xfffe;

function checkFormat(sampleRate: number, format: WavFormat): number {
  if (!Number.isInteger(sampleRate) || sampleRate < 1 || sampleRate > 0xffffffff) throw new RangeError(`sample rate must be a positive integer, got ${sampleRate}`);
  if (format !== 'pcm16' && format !== 'float32') throw new RangeError(`wav format must be "pcm16" or "float32", got ${String(format)}`);
  return format === 'pcm16' ? 2 : 4;
}

/** The 44-byte header of a mono WAV file of `sampleCount` samples: written first when audio streams out in pieces. */
export function wavHeader(sampleCount: number, sampleRate: number, format: WavFormat): Uint8Array {
  const bytesPerSample = checkFormat(sampleRate, format);
  const dataBytes = sampleCount * bytesPerSample;
  if (HEADER_BYTES - 8 + dataBytes > 0xffffffff) throw new RangeError(`${sampleCount} samples do not fit a WAV file (4 GiB)`);
  const bytes = new Uint8Array(HEADER_BYTES);
  const view = new DataView(bytes.buffer);
  const ascii = (offset: number, text: string): void => {
    for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i);
  };
  ascii(0, 'RIFF');
  view.setUint32(4, HEADER_BYTES - 8 + dataBytes, true);
  ascii(8, 'WAVE');
  ascii(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, format === 'pcm16' ? FORMAT_PCM : FORMAT_IEEE_FLOAT, true);
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * bytesPerSample, true); // byte rate
  view.setUint16(32, bytesPerSample, true); // block align
  view.setUint16(34, bytesPerSample * 8, true);
  ascii(36, 'data');
  view.setUint32(40, dataBytes, true);
  return bytes;
}

/** The data bytes of `samples`: pcm16 clamps to [-1, 1] and rounds x · 32767 (NaN becomes 0); float32 stores them as they are. */
export function wavSamples(samples: Float32Array, format: WavFormat): Uint8Array {
  const bytes = new Uint8Array(samples.length * (format === 'pcm16' ? 2 : 4));
  const view = new DataView(bytes.buffer);
  if (format === 'pcm16') {
    for (let i = 0; i < samples.length; i++) {
      const x = samples[i];
      const clamped = x > 1 ? 1 : x < -1 ? -1 : x === x ? x : 0;
      view.setInt16(2 * i, Math.round(clamped * 32767), true);
    }
  } else {
    for (let i = 0; i < samples.length; i++) view.setFloat32(4 * i, samples[i], true);
  }
  return bytes;
}

/** Encodes mono audio in one piece: wavHeader followed by wavSamples. */
export function encodeWav(samples: Float32Array, sampleRate: number, format: WavFormat): Uint8Array {
  const header = wavHeader(samples.length, sampleRate, format);
  const data = wavSamples(samples, format);
  const bytes = new Uint8Array(header.length + data.length);
  bytes.set(header, 0);
  bytes.set(data, header.length);
  return bytes;
}

export interface DecodedWav {
  sampleRate: number;
  format: WavFormat;
  samples: Float32Array;
}

export interface WavLayout {
  /** WAVE_FORMAT_EXTENSIBLE resolved to its sub-format. */
  format: number;
  channels: number;
  sampleRate: number;
  bits: number;
  /** Byte range of the samples. */
  dataStart: number;
  dataEnd: number;
}

/**
 * Walks a RIFF/WAVE file's chunks (any order, unknown ones skipped) to its fmt and data. `cutData: 'read'` takes a
 * data chunk that runs past the end as far as it goes (a stream written without its final size); 'refuse' throws.
 */
export function wavLayout(bytes: Uint8Array, cutData: 'read' | 'refuse' = 'refuse'): WavLayout {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number): string => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new RangeError('not a RIFF/WAVE file');
  let fmt: Omit<WavLayout, 'dataStart' | 'dataEnd'> | undefined;
  for (let offset = 12; offset + 8 <= bytes.length; ) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (body + size > bytes.length && !(id === 'data' && cutData === 'read')) throw new RangeError(`WAV chunk "${id}" runs past the end of the file`);
    if (id === 'fmt ') {
      if (size < 16) throw new RangeError('WAV fmt chunk is too short');
      let format = view.getUint16(body, true);
      if (format === FORMAT_EXTENSIBLE && size >= 26) format = view.getUint16(body + 24, true); // the sub-format GUID's first field
      fmt = { format, channels: view.getUint16(body + 2, true), sampleRate: view.getUint32(body + 4, true), bits: view.getUint16(body + 14, true) };
    } else if (id === 'data') {
      if (fmt === undefined) throw new RangeError('WAV data chunk before its fmt chunk');
      return { ...fmt, dataStart: body, dataEnd: Math.min(body + size, bytes.length) };
    }
    offset = body + size + (size & 1); // chunks are padded to even sizes
  }
  throw new RangeError('WAV file has no data chunk');
}

/** Decodes what encodeWav writes: mono 16-bit PCM or 32-bit float. */
export function decodeWav(bytes: Uint8Array): DecodedWav {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const { format, channels, sampleRate, bits, dataStart: body, dataEnd } = wavLayout(bytes);
  const size = dataEnd - body;
  if (channels !== 1) throw new RangeError(`only mono WAV is supported, got ${channels} channels`);
  if (format === FORMAT_PCM && bits === 16) {
    const samples = new Float32Array(Math.floor(size / 2));
    for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(body + 2 * i, true) / 32767;
    return { sampleRate, format: 'pcm16', samples };
  }
  if (format === FORMAT_IEEE_FLOAT && bits === 32) {
    const samples = new Float32Array(Math.floor(size / 4));
    for (let i = 0; i < samples.length; i++) samples[i] = view.getFloat32(body + 4 * i, true);
    return { sampleRate, format: 'float32', samples };
  }
  throw new RangeError(`unsupported WAV encoding: format ${format}, ${bits} bits`);
}
