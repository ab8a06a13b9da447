// libc for the Bun back ends (backend_bun.ts, host_bun.ts): the calls Bun has
// no API for (a lazy dlopen, dlsym, a read-only private mmap, madvise) or a
// slower one (the names in a directory that start with a prefix: glob(3)
// filters them in C, ffi/glob.ts). One bun:ffi dlopen for all of them: its
// TinyCC stubs are compiled together, once. glibc only; null elsewhere, and
// then Bun's own calls are used. bun:ffi is required when first needed, not
// imported: host_bun.ts is also loaded under Deno.

export interface BunLibc {
  dlopen(path: Uint8Array, flags: number): number | null;
  dlclose(handle: number): number;
  dlsym(handle: number, name: Uint8Array): number | null;
  open(path: Uint8Array, flags: number): number;
  close(fd: number): number;
  /** A number, or a BigInt for MAP_FAILED (u64_fast: only values past 2^53 stay BigInts). */
  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number | bigint;
  madvise(addr: number, length: number, advice: number): number;
  glob(pattern: Uint8Array, flags: number, onError: null, result: Uint8Array): number;
  globfree(result: Uint8Array): void;
  /** The NUL-terminated string at the address in slot `index` of the pointer array at `array`. */
  stringAt(array: bigint, index: number): string;
}

/** The part of bun:ffi used here. */
interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): { symbols: unknown };
  read: { ptr(address: number, offset: number): number };
  CString: new (address: number) => { toString(): string };
}

// deno-lint-ignore no-explicit-any
declare const require: (id: "bun:ffi") => any;

let libc: BunLibc | null | undefined;

export function bunLibc(): BunLibc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const proc = (globalThis as unknown as { process?: { platform: string } }).process;
  if (proc?.platform !== "linux") return libc;
  try {
    const ffi = require("bun:ffi") as BunFfi;
    const calls = ffi.dlopen("libc.so.6", {
      dlopen: { args: ["ptr", "i32"], returns: "ptr" },
      dlclose: { args: ["ptr"], returns: "i32" },
      dlsym: { args: ["ptr", "ptr"], returns: "ptr" },
      open: { args: ["ptr", "i32"], returns: "i32" },
      close: { args: ["i32"], returns: "i32" },
      mmap: { args: ["u64", "u64", "i32", "i32", "i32", "i64"], returns: "u64_fast" },
      madvise: { args: ["u64", "u64", "i32"], returns: "i32" },
      glob: { args: ["ptr", "i32", "ptr", "ptr"], returns: "i32" },
      globfree: { args: ["ptr"], returns: "void" },
    }).symbols as Omit<BunLibc, "stringAt">;
    libc = {
      ...calls,
      stringAt: (array, index) => new ffi.CString(ffi.read.ptr(Number(array), index * 8)).toString(),
    };
  } catch {
    // not glibc
  }
  return libc;
}
