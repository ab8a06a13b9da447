// Deterministic fuzzing support: a seeded PRNG (the same mutations every run)
// and the byte mutations the fuzz tests share.

import assert from "node:assert/strict";

/** mulberry32: small, fast and deterministic; quality is plenty for picking mutations. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** prng(seed) with integer helpers. */
export interface Random {
  /** The next number in [0, 1). */
  next(): number;
  /** An integer in [0, limit). */
  below(limit: number): number;
  pick<T>(items: readonly T[]): T;
}

export function makeRandom(seed: number): Random {
  const next = prng(seed);
  const below = (limit: number): number => Math.floor(next() * limit);
  const pick = <T>(items: readonly T[]): T => items[below(items.length)];
  return { next, below, pick };
}

/** Flip `count` random bits of `bytes[from..to)` (the byte, then the bit, drawn per flip). */
export function flipBits(
  bytes: Uint8Array,
  random: Random,
  count: number,
  from = 0,
  to = bytes.length,
): void {
  for (let i = 0; i < count && to > from; i++) {
    bytes[from + random.below(to - from)] ^= 1 << random.below(8);
  }
}

/**
 * A copy of `original` cut at a random length of at least `keep`, with up to 64
 * random bytes after the intact prefix `original[0..keep)`.
 */
function overwriteAfter(original: Uint8Array, keep: number, random: Random): Uint8Array {
  const bytes = original.slice(0, keep + random.below(original.length - keep + 1));
  for (let j = keep; j < bytes.length && j < keep + 64; j++) bytes[j] = random.below(256);
  return bytes;
}

/**
 * Feed `read` mutated copies of each seed input; per seed, 3000 copies with 1 to 3 bits
 * flipped, then 1000 with random bytes after an intact prefix and random truncation on
 * top. Flips and prefixes fall in the first `hotBytes` bytes, except that every fourth
 * flipped copy is flipped anywhere. `read` returns something truthy when it could still
 * read its input. Returns the number of reads, and how many bit-flipped copies were readable.
 */
export function fuzzSeeds(
  seeds: readonly Uint8Array[],
  random: Random,
  read: (bytes: Uint8Array, what: string) => unknown,
  hotBytes = Infinity,
): { reads: number; readable: number } {
  let reads = 0;
  let readable = 0;
  for (const [index, original] of seeds.entries()) {
    const hot = Math.min(original.length, hotBytes);
    for (let i = 0; i < 3000; i++) {
      const bytes = original.slice();
      const flips = 1 + random.below(3);
      flipBits(bytes, random, flips, 0, i % 4 === 0 ? original.length : hot);
      if (read(bytes, `seed ${index} flips #${i}`)) readable++;
      reads++;
    }
    for (let i = 0; i < 1000; i++) {
      const bytes = overwriteAfter(original, random.below(hot), random);
      read(bytes, `seed ${index} overwrite #${i}`);
      reads++;
    }
  }
  return { reads, readable };
}

/** The magic number that starts a raw bitcode file: "BC" 0xC0DE. */
export const BITCODE_MAGIC: readonly number[] = [0x42, 0x43, 0xc0, 0xde];

/**
 * Feed `read` `count` random streams: BITCODE_MAGIC, then fewer than `maxExtra` random
 * bytes. Every other stream, if at least `minLength` bytes long, first gets `enter(bytes)`
 * (a plausible ENTER_SUBBLOCK from byte 4 on) and, at byte 8, a length word covering the
 * rest, so that readers go deeper.
 */
export function fuzzRandomStreams(
  random: Random,
  options: { count: number; maxExtra: number; minLength: number },
  enter: (bytes: Uint8Array) => void,
  read: (bytes: Uint8Array, what: string) => unknown,
): void {
  for (let i = 0; i < options.count; i++) {
    const bytes = new Uint8Array(BITCODE_MAGIC.length + random.below(options.maxExtra));
    bytes.set(BITCODE_MAGIC);
    for (let j = BITCODE_MAGIC.length; j < bytes.length; j++) bytes[j] = random.below(256);
    if (i % 2 === 0 && bytes.length >= options.minLength) {
      enter(bytes);
      const words = Math.floor((bytes.length - 12) / 4);
      new DataView(bytes.buffer).setUint32(8, words, true);
    }
    read(bytes, `random stream #${i}`);
  }
}

/** The result of `read()`; a throw fails the test as "`what`: threw ...". */
export function readsWithoutThrowing<T>(what: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    assert.fail(`${what}: threw ${error}`);
  }
}
