// The runtime-neutral FFI interface. Exactly two implementations exist,
// backend_deno.ts and backend_bun.ts; nothing else in the project touches
// Deno.dlopen, bun:ffi or a runtime's pointer representation.

import { host } from "./host.ts";
import type { NativeType, SymbolDef } from "./symbols.ts";

declare const pointerBrand: unique symbol;
/** An opaque non-null C pointer. NULL is represented as `null`. */
export type Pointer = { readonly [pointerBrand]: true };

/** JS types of native arguments and results. */
export type ArgValue<T extends NativeType> = T extends "ptr" | "fn" ? Pointer | null
  : T extends "buf" ? Uint8Array | null
  : number;
export type ResultValue<T extends NativeType> = T extends "ptr" ? Pointer | null
  : T extends "void" ? void
  : number;

type ArgList<P extends readonly NativeType[]> = { -readonly [I in keyof P]: ArgValue<P[I]> };
export type NativeFunction<D extends SymbolDef> = (
  ...args: ArgList<D["parameters"]>
) => ResultValue<D["result"]>;

/** A callback LLVM can call synchronously; closed once when no longer installed. */
export interface NativeCallback {
  readonly pointer: Pointer;
  close(): void;
}

export interface OpenedLibrary {
  readonly symbols: Record<string, (...args: unknown[]) => unknown>;
  close(): void;
}

export interface FfiBackend {
  /** dlopen `path` and bind `symbols`; throws the runtime's error on failure. */
  open(path: string, symbols: Record<string, SymbolDef>): OpenedLibrary;
  /** Read a NUL-terminated UTF-8 string. */
  readCString(p: Pointer): string;
  /**
   * The `length` bytes at `p` as a Uint8Array over that memory, not a copy:
   * valid only while the memory lives (copy it with `.slice()` to keep it).
   */
  viewBytes(p: Pointer, length: number): Uint8Array;
  /** The address of a typed array's first byte (no copy; keep the array alive). */
  addressOf(bytes: Uint8Array): Pointer;
  /** The numeric address of a typed array's first byte (to store in a pointer array). */
  addressValue(bytes: Uint8Array): bigint;
  /** Read a pointer stored in an 8-byte out-parameter buffer. */
  readPointer(out: Uint8Array): Pointer | null;
  /** Read a size_t / unsigned stored in an out-parameter buffer. */
  readU64(out: Uint8Array): number;
  /**
   * Map a file read-only into memory (no copy), or undefined when it cannot be
   * mapped (empty, not a regular file, no mmap): the caller reads it instead.
   */
  mapFile(path: string): Uint8Array | undefined;
  /**
   * Drop the resident pages of every file mapFile mapped (madvise
   * MADV_DONTNEED). The mappings stay valid: a later read brings the bytes
   * back from the file (they are private, read-only, never written). For the
   * command once LLVM has parsed the inputs: their pages would otherwise count
   * in the process's memory until it exits. A no-op without libc.
   */
  releaseMappedPages(): void;
  /**
   * Start dlopen(path) on another thread and return at once (Deno: a
   * nonblocking call; Bun: a thread of its own, docs/ARCHITECTURE.md#libllvm-discovery);
   * the promise settles when that dlopen returns, whatever it returned. A
   * later open() of the path finds the library loaded, or waits inside dlopen
   * for that load to end; the library stays loaded for the life of the
   * process. Undefined (or absent) where the runtime or the machine cannot.
   */
  preload?(path: string): PromiseLike<void> | undefined;
  /**
   * Run a full garbage collection now, where the runtime allows it: between a
   * phase that leaves much JS garbage and one where LLVM's memory peaks, so the
   * peak does not include both. A no-op where the runtime offers no hook.
   */
  collectGarbage(): void;
  /** Make a C callback. */
  callback(
    parameters: readonly NativeType[],
    result: NativeType,
    fn: (...args: any[]) => unknown,
  ): NativeCallback;
}

const encoder = new TextEncoder();

/** A NUL-terminated UTF-8 copy of `text` for `buf` parameters (and libc's path arguments). */
export function cString(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length * 3 + 1);
  const { written } = encoder.encodeInto(text, bytes);
  return bytes.subarray(0, written + 1);
}

/**
 * The symbols of `symbols` that `address` finds (libc's dlsym), with their
 * addresses: an optional one that is missing is left out, a required one
 * fails with dlerror's words, as the runtimes' own dlopen would. For the back
 * ends that bind each function on its first call.
 */
export function presentSymbols<A>(
  path: string,
  symbols: Record<string, SymbolDef>,
  address: (name: Uint8Array) => A | null,
): [name: string, def: SymbolDef, address: A][] {
  const present: [string, SymbolDef, A][] = [];
  for (const [name, def] of Object.entries(symbols)) {
    const found = address(cString(name));
    if (found !== null) present.push([name, def, found]);
    else if (!def.optional) throw new Error(`${path}: undefined symbol: ${name}`);
  }
  return present;
}

/**
 * Wrap a raw foreign function with a fixed-arity JS function generated for it,
 * `(a0, a1, ...) => result(raw(arg(a0, 0), arg(a1, 1), ...))`: a generic
 * rest-parameter wrapper would cost more than the call it wraps on hot paths
 * (hundreds of thousands of calls when walking debug info). The expressions
 * are code, built only from the symbol table's types, never from input.
 */
export function fixedArityWrapper(
  raw: (...args: unknown[]) => unknown,
  arity: number,
  arg: (name: string, index: number) => string,
  result: (call: string) => string,
): (...args: unknown[]) => unknown {
  const params = Array.from({ length: arity }, (_, i) => `a${i}`);
  const call = `raw(${params.map((p, i) => arg(p, i)).join(", ")})`;
  const body = result(call);
  if (body === `raw(${params.join(", ")})`) return raw;
  return new Function("raw", `return (${params.join(", ")}) => ${body};`)(raw);
}

/**
 * The part of a read-only private mapping both back ends share: a non-empty
 * regular file is opened, `map(fd, size)` maps it (libc's mmap, through the
 * runtime's FFI) and the descriptor is closed again. Undefined where the file
 * cannot be mapped; the caller then reads it instead. Never unmapped: inputs
 * live as long as the process (the CLI) needs them.
 */
export function mapReadOnly(
  path: string,
  libc: { open(path: Uint8Array, flags: number): number; close(fd: number): number },
  map: (fd: number, size: number) => ArrayBuffer | undefined,
): Uint8Array | undefined {
  let size: number;
  try {
    const info = host.stat(path);
    if (!info.isFile || info.size === 0) return undefined;
    size = info.size;
  } catch {
    return undefined;
  }
  const O_RDONLY = 0;
  const fd = libc.open(cString(path), O_RDONLY);
  if (fd < 0) return undefined;
  try {
    const buffer = map(fd, size);
    return buffer && new Uint8Array(buffer);
  } finally {
    libc.close(fd);
  }
}

/** mmap's protection and flags for mapReadOnly; madvise's advice for releaseMappedPages. */
export const PROT_READ = 1;
export const MAP_PRIVATE = 2;
export const MADV_DONTNEED = 4;
