// Generators for tests/fuzz.test.ts: a seeded PRNG, awkward values (numbers at and past every edge, long and
// broken strings) and raw protobuf bodies written by hand (wrong wire types, truncations, over-long varints,
// lengths past the end, invalid UTF-8), so that the servers see what no generated client would send.

import { mulberry32 } from '../../bench/seams-dsp.js';

export type Rng = () => number;

/** mulberry32: a small seeded PRNG, [0, 1) (the benches' own). */
export { mulberry32 };

/** An integer in lo..hi (inclusive). */
export function int(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

export function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

export function chance(rng: Rng, p: number): boolean {
  return rng() < p;
}

export const INT32_MAX = 2 ** 31 - 1;
export const INT32_MIN = -(2 ** 31);

/** int32 values at the edges, plus small and random ones. */
export function weirdInt(rng: Rng): number {
  return pick(rng, [
    () => pick(rng, [0, -1, 1, -5, 2, 255, 256, 257, 1024, 65535, 65536, INT32_MAX, INT32_MIN, INT32_MAX - 1, INT32_MIN + 1, 1e9, -1e9]),
    () => int(rng, -300, 300),
    () => int(rng, INT32_MIN, INT32_MAX),
  ])();
}

/** Doubles at the edges: NaN, infinities, -0, denormals, huge, tiny. */
export function weirdFloat(rng: Rng): number {
  return pick(rng, [
    () => pick(rng, [0, -0, -1, 1, NaN, Infinity, -Infinity, 5e-324, 1e-45, 1e-300, 1e300, 3.5e38, -3.5e38, 0.5, 1.0000001, 2, 1e9]),
    () => (rng() - 0.5) * 10 ** int(rng, -10, 40),
  ])();
}

/** Strings nobody should send: empty, long, control characters, lone surrogates, other scripts, JSON and path-like. */
export function weirdString(rng: Rng): string {
  return pick(rng, [
    () => '',
    () => 'x'.repeat(int(rng, 1000, 200_000)),
    () => '\u0000\u0001\u001f\u007f',
    () => '\ud800', // a lone surrogate: protobufjs writes it as bytes that are not UTF-8
    () => '\udfff\ud800x',
    () => 'Ünïcödé ☃ 漢字 🎵'.repeat(int(rng, 1, 50)),
    () => '"}]{"$ne":null}',
    () => '../../etc/passwd',
    () => '%s%n%x'.repeat(20),
    () => '\n\r\t'.repeat(100),
    () => String.fromCharCode(...Array.from({ length: int(rng, 1, 64) }, () => int(rng, 0, 0xffff))),
    () => 'job-' + 'f'.repeat(int(rng, 1, 80)),
  ])();
}

// --- raw protobuf ---------------------------------------------------------------------------------------------

export type FieldKind = 'varint' | 'float' | 'double' | 'string' | 'message' | 'packed';

/** A request type as a fuzz target: field number -> its kind (message fields name their type). */
export interface RawSchema {
  fields: { no: number; kind: FieldKind; type?: string }[];
}

export class ProtoWriter {
  private readonly parts: Buffer[] = [];

  varint(v: bigint | number): this {
    let n = BigInt.asUintN(64, BigInt(v));
    const out: number[] = [];
    do {
      let b = Number(n & 0x7fn);
      n >>= 7n;
      if (n > 0n) b |= 0x80;
      out.push(b);
    } while (n > 0n);
    this.parts.push(Buffer.from(out));
    return this;
  }

  tag(no: number, wireType: number): this {
    return this.varint((BigInt(no) << 3n) | BigInt(wireType));
  }

  raw(b: Uint8Array): this {
    this.parts.push(Buffer.from(b));
    return this;
  }

  lengthDelimited(no: number, b: Uint8Array): this {
    return this.tag(no, 2).varint(b.length).raw(b);
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function randomBytes(rng: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(rng, 0, 255);
  return b;
}

/** Bytes that are not UTF-8: stray continuation bytes, truncated sequences, overlong forms, surrogates. */
function invalidUtf8(rng: Rng): Buffer {
  return pick(rng, [
    Buffer.from([0xff, 0xfe, 0xfd]),
    Buffer.from([0xc3]),
    Buffer.from([0xe2, 0x82]),
    Buffer.from([0xc0, 0xaf]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0x80, 0x80, 0x80, 0x80]),
    Buffer.concat([Buffer.from('job-'), Buffer.from([0xf8, 0x88, 0x80, 0x80, 0x80])]),
  ]);
}

/** A field's value with its own wire type: mostly well-formed, sometimes odd. */
function encodeField(w: ProtoWriter, rng: Rng, no: number, kind: FieldKind, known: Record<number, () => Buffer | bigint | number>): void {
  const preset = known[no];
  if (preset && chance(rng, 0.5)) {
    const v = preset();
    if (typeof v === 'number' || typeof v === 'bigint') w.tag(no, 0).varint(v);
    else w.lengthDelimited(no, v);
    return;
  }
  switch (kind) {
    case 'varint':
      w.tag(no, 0).varint(pick(rng, [0n, 1n, -1n, 2n ** 63n, 2n ** 64n - 1n, BigInt(weirdInt(rng)), 2n ** 31n, 2n ** 32n]));
      return;
    case 'float': {
      const b = Buffer.alloc(4);
      b.writeFloatLE(weirdFloat(rng));
      w.tag(no, 5).raw(b);
      return;
    }
    case 'double': {
      const b = Buffer.alloc(8);
      b.writeDoubleLE(weirdFloat(rng));
      w.tag(no, 1).raw(b);
      return;
    }
    case 'string':
      w.lengthDelimited(no, chance(rng, 0.4) ? invalidUtf8(rng) : Buffer.from(weirdString(rng).slice(0, 5000)));
      return;
    case 'packed': {
      const inner = new ProtoWriter();
      const n = pick(rng, [0, 1, 2, 9, int(rng, 0, 300), int(rng, 1000, 20_000)]);
      for (let i = 0; i < n; i++) inner.varint(chance(rng, 0.9) ? int(rng, -2, 300) : BigInt(weirdInt(rng)));
      w.lengthDelimited(no, inner.finish());
      return;
    }
    case 'message':
      w.lengthDelimited(no, randomBytes(rng, int(rng, 0, 40)));
      return;
  }
}

/**
 * A message of `schema`: each field zero or more times, each with its own wire type or, now and then, another
 * (a string sent as a varint, a float as a length-delimited run), plus unknown fields. `known` gives plausible
 * values for some fields (the right model hash, a hosted level) so that bodies get past the first checks.
 */
export function rawMessage(rng: Rng, schema: RawSchema, schemas: Record<string, RawSchema>, depth = 0, known: Record<number, () => Buffer | bigint | number> = {}): Buffer {
  const w = new ProtoWriter();
  for (const f of schema.fields) {
    const times = pick(rng, [0, 1, 1, 1, 2, int(rng, 0, 20)]);
    for (let i = 0; i < times; i++) {
      if (chance(rng, 0.1)) {
        // The wrong wire type for this field.
        const wt = pick(rng, [0, 1, 2, 5].filter((t) => t !== wireTypeOf(f.kind)));
        if (wt === 0) w.tag(f.no, 0).varint(BigInt(weirdInt(rng)));
        else if (wt === 1) w.tag(f.no, 1).raw(randomBytes(rng, 8));
        else if (wt === 5) w.tag(f.no, 5).raw(randomBytes(rng, 4));
        else w.lengthDelimited(f.no, randomBytes(rng, int(rng, 0, 30)));
      } else if (f.kind === 'message' && f.type) {
        const type = schemas[f.type];
        w.lengthDelimited(f.no, depth < 3 ? rawMessage(rng, type, schemas, depth + 1) : randomBytes(rng, int(rng, 0, 20)));
      } else {
        encodeField(w, rng, f.no, f.kind, known);
      }
    }
  }
  if (chance(rng, 0.2)) {
    // An unknown field; servers must skip it.
    const no = int(rng, 20, 5000);
    if (chance(rng, 0.5)) w.tag(no, 0).varint(BigInt(weirdInt(rng)));
    else w.lengthDelimited(no, randomBytes(rng, int(rng, 0, 50)));
  }
  return w.finish();
}

function wireTypeOf(kind: FieldKind): number {
  return kind === 'varint' ? 0 : kind === 'float' ? 5 : kind === 'double' ? 1 : 2;
}

/** Bodies that are broken as protobuf or barely protobuf at all. */
export function garbageBody(rng: Rng, valid: () => Buffer): Buffer {
  return pick(rng, [
    // Random bytes.
    () => randomBytes(rng, pick(rng, [1, 2, 3, 7, 64, int(rng, 1, 4096)])),
    // A message cut short.
    () => {
      const b = valid();
      return b.subarray(0, b.length > 1 ? int(rng, 1, b.length - 1) : 0);
    },
    // A length that runs past the end.
    () => new ProtoWriter().tag(int(rng, 1, 12), 2).varint(pick(rng, [10, 1000, 2 ** 31, 2 ** 32 + 5])).raw(randomBytes(rng, 3)).finish(),
    // A varint of eleven bytes.
    () => new ProtoWriter().tag(int(rng, 1, 12), 0).raw(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).finish(),
    // A varint that never ends.
    () => Buffer.from([0x10, 0xff, 0xff, 0xff]),
    // Field number 0, and wire types 6 and 7 (none exist).
    () => Buffer.from([0x00, 0x01]),
    () => Buffer.from([0x0e, 0x01]),
    () => Buffer.from([0x0f, 0x01]),
    // Groups (wire types 3 and 4): an end-group with no start, a start-group that never ends, deep nesting.
    () => Buffer.from([0x0c]),
    () => Buffer.from([0x0b, 0x10, 0x01]),
    () => Buffer.alloc(int(rng, 100, 3000), 0x0b),
    // A valid body followed by junk.
    () => Buffer.concat([valid(), randomBytes(rng, int(rng, 1, 16))]),
    // Bytes flipped in a valid body.
    () => {
      const b = Buffer.from(valid());
      for (let i = 0; i < Math.max(1, b.length >> 4); i++) if (b.length) b[int(rng, 0, b.length - 1)] = int(rng, 0, 255);
      return b;
    },
    // Text where protobuf is expected.
    () => Buffer.from(pick(rng, ['{"job_id":"x"}', 'GET / HTTP/1.1\r\n\r\n', '<?xml version="1.0"?>', '\u0000'.repeat(10)])),
  ])();
}
