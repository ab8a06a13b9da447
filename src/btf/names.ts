// BTF name sanitizing (docs/ARCHITECTURE.md#btf). The kernel accepts C identifiers only, so
// Rust names such as `Option<&str>` are escaped byte by byte, and names longer
// than the kernel's symbol limit are cut and made unique with a hash.

import { sipHash13Hex } from "./siphash.ts";

/** KSYM_NAME_LEN as the oldest supported kernels define it. */
const MAX_NAME_LEN = 128;
/** Bytes kept from a long name: 128 - 1 (`_`) - 16 (a full 64-bit hex hash). */
const KEEP_LEN = 111;

const HEX_UPPER = new TextEncoder().encode("0123456789ABCDEF");
const UNDERSCORE = 0x5f;

/** True for the bytes a C identifier may contain: [A-Za-z0-9_]. */
function isIdentByte(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) ||
    c === UNDERSCORE;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
// Scratch buffers reused across calls: names are sanitized one at a time and
// most are short, so allocating per call would dominate.
let utf8 = new Uint8Array(256);
let out = new Uint8Array(1024);

/** ASCII bytes to a string; `out` only ever holds ASCII. */
function ascii(buf: Uint8Array, len: number): string {
  // TextDecoder beat String.fromCharCode.apply in both Deno and Bun here.
  return decoder.decode(buf.subarray(0, len));
}

/** Name sanitizing as the Rust bpf-linker does it: every byte outside [A-Za-z0-9_] becomes `_XX_` (two uppercase hex digits) of the UTF-8 byte; if the result is longer than 128 bytes, cut it to 111 bytes and append `_` and the lowercase hex (no zero padding) of sipHash13 (zero keys) of the whole sanitized name. */
export function sanitizeTypeName(name: string): string {
  const n = name.length;
  // Fast path: nothing to escape and short enough, which is the common case
  // for C-like names; return the very same string.
  let i = 0;
  while (i < n && isIdentByte(name.charCodeAt(i))) i++;
  if (i === n && n <= MAX_NAME_LEN) return name;

  // UTF-8 takes at most 3 bytes per UTF-16 code unit.
  if (utf8.length < n * 3) utf8 = new Uint8Array(n * 3);
  const len = encoder.encodeInto(name, utf8).written;
  // Each byte becomes at most 4 (`_XX_`).
  if (out.length < len * 4) out = new Uint8Array(len * 4);

  let o = 0;
  for (let j = 0; j < len; j++) {
    const b = utf8[j];
    if (isIdentByte(b)) {
      out[o++] = b;
    } else {
      out[o++] = UNDERSCORE;
      out[o++] = HEX_UPPER[b >>> 4];
      out[o++] = HEX_UPPER[b & 15];
      out[o++] = UNDERSCORE;
    }
  }

  if (o <= MAX_NAME_LEN) return ascii(out, o);
  // Hash the whole sanitized name, then keep its first 111 bytes; the result
  // is 128 bytes, fewer when the hash has leading zero nibbles.
  const hash = sipHash13Hex(out.subarray(0, o));
  return ascii(out, KEEP_LEN) + "_" + hash;
}
