// Counter-based RNG: Philox4x32-10 (Salmon et al., SC'11; Random123). A token's uniform is a pure function of
// (job seed, sample row, level, absolute position), so it does not depend on the worker, the batch, the order
// of draws or a retry. 32-bit arithmetic only (Math.imul and 16-bit halves for the high product): no BigInt.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9; // golden ratio
const W1 = 0xbb67ae85; // sqrt(3) - 1
const M0_LO = M0 & 0xffff;
const M0_HI = M0 >>> 16;
const M1_LO = M1 & 0xffff;
const M1_HI = M1 >>> 16;
const TWO_POW_64 = 1n << 64n;

/** High 32 bits of a·b for uint32 a and b = bHi·2^16 + bLo. Every partial product is exact in a double. */
function mulhi(a: number, bLo: number, bHi: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const t = aLo * bLo;
  const mid = aHi * bLo + aLo * bHi + (t >>> 16);
  return (aHi * bHi + Math.floor(mid / 65536)) >>> 0;
}

// Scratch for the 4 output words: uniform() stays allocation-free.
const block = new Uint32Array(4);

function philoxInto(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  for (let round = 0; round < 10; round++) {
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi0 = mulhi(c0, M0_LO, M0_HI);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const hi1 = mulhi(c2, M1_LO, M1_HI);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

function checkWord(name: string, v: number): void {
  if (v >>> 0 !== v) throw new RangeError(`${name} must be an integer in 0..4294967295, got ${v}`);
}

/** Philox4x32-10 of one counter block, as Random123's philox4x32(ctr, key): counter words c0..c3, key k0, k1. */
export function philox4x32(counter: ArrayLike<number>, key: ArrayLike<number>, out = new Uint32Array(4)): Uint32Array {
  for (let i = 0; i < 4; i++) checkWord(`counter[${i}]`, counter[i]);
  for (let i = 0; i < 2; i++) checkWord(`key[${i}]`, key[i]);
  philoxInto(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out);
  return out;
}

/** The 64-bit job seed as two uint32 words; it must be 0..2^64-1. */
export function splitSeed(seed: bigint): { hi: number; lo: number } {
  if (typeof seed !== 'bigint' || seed < 0n || seed >= TWO_POW_64) {
    throw new RangeError(`seed must be an integer in 0..${TWO_POW_64 - 1n}, got ${String(seed)}`);
  }
  return { hi: Number(seed >> 32n), lo: Number(seed & 0xffffffffn) };
}

/**
 * The uniform for one token: counter (row, level, position, 0), key (seedLo, seedHi) as curand's Philox takes a
 * 64-bit seed. 53 bits, from output words 0 (high 27 bits) and 1 (high 26 bits): k / 2^53 with k in 0..2^53-1,
 * so the result is in [0, 1) and never 1. Note float32 consumers: Math.fround(u) can round up to 1.
 */
export function uniform(seedHi: number, seedLo: number, row: number, level: number, position: number): number {
  if ((seedHi >>> 0) !== seedHi || (seedLo >>> 0) !== seedLo || (row >>> 0) !== row || (level >>> 0) !== level || (position >>> 0) !== position) {
    throw new RangeError(`uniform: every argument must be a uint32, got (${seedHi}, ${seedLo}, ${row}, ${level}, ${position})`);
  }
  philoxInto(row, level, position, 0, seedLo, seedHi, block);
  return ((block[0] >>> 5) * 67108864 + (block[1] >>> 6)) / 9007199254740992;
}
