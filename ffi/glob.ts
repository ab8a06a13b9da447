// The names in a directory that start with a prefix, from libc's glob(3),
// which filters them in C: listing a system directory hands JS every one of
// its entries (1,100 in /usr/lib/x86_64-linux-gnu), and discovery lists a
// dozen. Shared by both hosts (host_bun.ts, host_deno.ts), each giving its
// runtime's way to call glob and read what it returns.

import { globEscape, prefixGlob } from "./name_prefix.ts";

/** glob_t on glibc's 64-bit targets: gl_pathc, gl_pathv, gl_offs, gl_flags, five callbacks (72 bytes). */
const GLOB_T_WORDS = 9;
const GLOB_ERR = 1 << 0;
const GLOB_NOSORT = 1 << 2;
const GLOB_NOMATCH = 3;

/** One runtime's calls of glob(3) and globfree(3), and how it reads the paths glob found. */
export interface GlobCalls {
  glob(pattern: Uint8Array, flags: number, onError: null, result: Uint8Array): number;
  globfree(result: Uint8Array): void;
  /** The NUL-terminated string whose address is in slot `index` of the pointer array at `array`. */
  stringAt(array: bigint, index: number): string;
}

const encoder = new TextEncoder();

/**
 * The names in `dir` that pass `hasPrefix(name, prefix, nextOneOf)`, unsorted;
 * undefined when glob cannot say (an error, no match in what may not be a
 * directory, or a filter glob cannot express): the caller then lists the
 * directory itself, which also gives the runtime's errors. Linux only (the
 * glob_t layout is glibc's).
 */
export function globNames(
  dir: string,
  prefix: string,
  nextOneOf: string | undefined,
  calls: GlobCalls,
  isDirectory: (path: string) => boolean,
): string[] | undefined {
  const pattern = prefixGlob(prefix, nextOneOf);
  if (pattern === undefined) return undefined;
  const result = new BigUint64Array(GLOB_T_WORDS);
  const resultBytes = new Uint8Array(result.buffer);
  const status = calls.glob(encoder.encode(`${globEscape(dir)}/${pattern}\0`), GLOB_ERR | GLOB_NOSORT, null, resultBytes);
  // Also glob's answer for a file: ENOTDIR is no error to it.
  if (status === GLOB_NOMATCH) return isDirectory(dir) ? [] : undefined;
  if (status !== 0) return undefined;
  try {
    const names: string[] = [];
    for (let i = 0; i < Number(result[0]); i++) {
      const path = calls.stringAt(result[1], i);
      names.push(path.slice(path.lastIndexOf("/") + 1));
    }
    return names;
  } finally {
    calls.globfree(resultBytes);
  }
}
