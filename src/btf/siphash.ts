// SipHash-1-3, the hash behind Rust's `DefaultHasher`. bpf-linker uses it to
// shorten long BTF type names (docs/ARCHITECTURE.md#btf), so the output must match Rust bit for
// bit: one compression round per 8-byte block, three finalization rounds, the
// total length (mod 256) in the top byte of the last block.
//
// Each 64-bit lane is held as two 32-bit halves in plain numbers (int32 math
// stays in registers in V8 and JavaScriptCore); bigint only appears at the API
// boundary.

// The result of the last hashInto call.
let resultHi = 0, resultLo = 0;

/** Little-endian 32-bit word at `i` (caller guarantees 4 bytes). */
function word32(b: Uint8Array, i: number): number {
  return b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24);
}

/**
 * Hashes `bytes` with the key given as 32-bit halves and leaves the 64-bit
 * result in `resultHi`/`resultLo`, so callers pick the output form without
 * bigint.
 */
function hashInto(bytes: Uint8Array, k0h: number, k0l: number, k1h: number, k1l: number): void {
  // Initial state: the key xor "somepseudorandomlygeneratedbytes".
  let v0h = k0h ^ 0x736f6d65, v0l = k0l ^ 0x70736575;
  let v1h = k1h ^ 0x646f7261, v1l = k1l ^ 0x6e646f6d;
  let v2h = k0h ^ 0x6c796765, v2l = k0l ^ 0x6e657261;
  let v3h = k1h ^ 0x74656462, v3l = k1l ^ 0x79746573;

  const len = bytes.length;
  const blocks = len >>> 3;
  const end = blocks << 3;
  // Last block: the 0-7 remaining bytes, length mod 256 in the top byte.
  let lastLo = 0;
  let lastHi = (len & 0xff) << 24;
  switch (len & 7) {
    case 7:
      lastHi |= bytes[end + 6] << 16;
    // falls through
    case 6:
      lastHi |= bytes[end + 5] << 8;
    // falls through
    case 5:
      lastHi |= bytes[end + 4];
    // falls through
    case 4:
      lastLo = word32(bytes, end);
      break;
    case 3:
      lastLo |= bytes[end + 2] << 16;
    // falls through
    case 2:
      lastLo |= bytes[end + 1] << 8;
    // falls through
    case 1:
      lastLo |= bytes[end];
  }

  // One loop runs every SipRound: one per full block, one for the last
  // block, then three to finalize. Keeping a single copy of the round with
  // the state in locals lets the JIT keep all eight halves in registers.
  let mh = 0, ml = 0, lo = 0, t = 0;
  const total = blocks + 4;
  for (let r = 0; r < total; r++) {
    if (r < blocks) {
      ml = word32(bytes, r << 3);
      mh = word32(bytes, (r << 3) + 4);
    } else if (r === blocks) {
      ml = lastLo;
      mh = lastHi;
    } else {
      ml = 0;
      mh = 0;
    }
    v3l ^= ml;
    v3h ^= mh;
    // v0 += v1; v1 = rotl(v1, 13); v1 ^= v0; v0 = rotl(v0, 32)
    lo = (v0l + v1l) | 0;
    v0h = (v0h + v1h + ((lo >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
    v0l = lo;
    t = (v1h << 13) | (v1l >>> 19);
    v1l = ((v1l << 13) | (v1h >>> 19)) ^ v0l;
    v1h = t ^ v0h;
    t = v0h;
    v0h = v0l;
    v0l = t;
    // v2 += v3; v3 = rotl(v3, 16); v3 ^= v2
    lo = (v2l + v3l) | 0;
    v2h = (v2h + v3h + ((lo >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
    v2l = lo;
    t = (v3h << 16) | (v3l >>> 16);
    v3l = ((v3l << 16) | (v3h >>> 16)) ^ v2l;
    v3h = t ^ v2h;
    // v0 += v3; v3 = rotl(v3, 21); v3 ^= v0
    lo = (v0l + v3l) | 0;
    v0h = (v0h + v3h + ((lo >>> 0) < (v0l >>> 0) ? 1 : 0)) | 0;
    v0l = lo;
    t = (v3h << 21) | (v3l >>> 11);
    v3l = ((v3l << 21) | (v3h >>> 11)) ^ v0l;
    v3h = t ^ v0h;
    // v2 += v1; v1 = rotl(v1, 17); v1 ^= v2; v2 = rotl(v2, 32)
    lo = (v2l + v1l) | 0;
    v2h = (v2h + v1h + ((lo >>> 0) < (v2l >>> 0) ? 1 : 0)) | 0;
    v2l = lo;
    t = (v1h << 17) | (v1l >>> 15);
    v1l = ((v1l << 17) | (v1h >>> 15)) ^ v2l;
    v1h = t ^ v2h;
    t = v2h;
    v2h = v2l;
    v2l = t;
    v0l ^= ml;
    v0h ^= mh;
    // After the last block's round, mark the start of finalization.
    if (r === blocks) v2l ^= 0xff;
  }
  resultHi = v0h ^ v1h ^ v2h ^ v3h;
  resultLo = v0l ^ v1l ^ v2l ^ v3l;
}

/** Splits a key into its high and low 32-bit halves (as int32). */
function keyHalves(k: bigint): [number, number] {
  const u = BigInt.asUintN(64, k);
  return [Number(u >> 32n) | 0, Number(u & 0xffffffffn) | 0];
}

/** SipHash-1-3 with the given 128-bit key (default zero keys), as Rust's std `DefaultHasher::new()` computes for one `write(bytes)` followed by `finish()`. Returns the 64-bit result as a bigint. */
export function sipHash13(bytes: Uint8Array, k0 = 0n, k1 = 0n): bigint {
  if (k0 === 0n && k1 === 0n) {
    hashInto(bytes, 0, 0, 0, 0);
  } else {
    const [k0h, k0l] = keyHalves(k0);
    const [k1h, k1l] = keyHalves(k1);
    hashInto(bytes, k0h, k0l, k1h, k1l);
  }
  return (BigInt(resultHi >>> 0) << 32n) | BigInt(resultLo >>> 0);
}

/**
 * Lowercase hex of `sipHash13(bytes)` with zero keys and no zero padding, as
 * Rust's `format!("{:x}", hash)`; the form the BTF name shortening needs,
 * computed without bigint.
 */
export function sipHash13Hex(bytes: Uint8Array): string {
  hashInto(bytes, 0, 0, 0, 0);
  const hi = resultHi >>> 0;
  const lo = resultLo >>> 0;
  return hi === 0 ? lo.toString(16) : hi.toString(16) + lo.toString(16).padStart(8, "0");
}
