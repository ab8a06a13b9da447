// Bun back end of ffi/backend.ts.

import { CString, dlopen, JSCallback, ptr, toArrayBuffer, type FFIFunction, type FFITypeOrString } from "bun:ffi";
import type { FfiBackend, NativeCallback, OpenedLibrary, Pointer } from "./backend.ts";
import { cString, fixedArityWrapper, MADV_DONTNEED, MAP_PRIVATE, mapReadOnly, presentSymbols, PROT_READ } from "./backend.ts";
import { type BunLibc, bunLibc, type DlopenThread } from "./libc_bun.ts";
import type { NativeType, SymbolDef } from "./symbols.ts";

function bunType(t: NativeType): FFITypeOrString {
  switch (t) {
    case "buf":
    case "fn":
      return "ptr";
    default:
      return t;
  }
}

/** Result types: size_t and handles as `u64_fast`, a number whenever it fits (no BigInt). */
function bunResultType(t: NativeType): FFITypeOrString {
  return t === "u64" ? "u64_fast" : bunType(t);
}

type BunPointer = number;
const asPointer = (p: BunPointer | null): Pointer | null => (p ? p as unknown as Pointer : null);
const asBun = (p: Pointer | null): BunPointer => p as unknown as BunPointer;

type Raw = (...args: unknown[]) => unknown;

// `raw(...) || null` for each arity, as closures: generating a function per
// symbol (fixedArityWrapper) costs more at start-up than all of dlopen's own
// binding, and Bun's native calls gain nothing from a per-symbol call site.
const NULL_FOR_ZERO: ((raw: Raw) => Raw)[] = [
  (raw) => () => raw() || null,
  (raw) => (a) => raw(a) || null,
  (raw) => (a, b) => raw(a, b) || null,
  (raw) => (a, b, c) => raw(a, b, c) || null,
  (raw) => (a, b, c, d) => raw(a, b, c, d) || null,
  (raw) => (a, b, c, d, e) => raw(a, b, c, d, e) || null,
  (raw) => (a, b, c, d, e, f) => raw(a, b, c, d, e, f) || null,
];

function nullForZero(raw: Raw, arity: number): Raw {
  return NULL_FOR_ZERO[arity]?.(raw) ?? fixedArityWrapper(raw, arity, (a) => a, (call) => `(${call} || null)`);
}

const RTLD_LAZY = 1;

/**
 * Load `path` with RTLD_LAZY through libc before Bun's own dlopen, which binds
 * every function libLLVM imports up front (about 2 ms of symbol lookups for the
 * ~15k it has, most never called). Bun's dlopen then finds the library loaded.
 * Returns the handle, which the opened library's close() gives back (dlopen
 * counts references: the library is unloaded once every handle is closed).
 * Best effort: without glibc's dlopen nothing changes.
 */
function preloadLazily(path: string): number | null {
  return bunLibc()?.dlopen(cString(path), RTLD_LAZY) ?? null;
}

/**
 * A read-only private mapping through libc. Bun.mmap opens files for writing,
 * so it fails on a read-only file (an rlib of a system-wide Rust install), which
 * would then be copied into memory instead.
 */
function mapFileReadOnly(c: BunLibc, path: string): Uint8Array | undefined {
  return mapReadOnly(path, c, (fd, size) => {
    const address = c.mmap(0, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (typeof address !== "number" || address === 0) return undefined; // MAP_FAILED is (void*)-1
    mappings.push({ address, size });
    return toArrayBuffer(address as never, 0, size);
  });
}

/** What mapFileReadOnly mapped, for releaseMappedPages. */
const mappings: { address: number; size: number }[] = [];

const toBun = (def: SymbolDef) =>
  ({ args: def.parameters.map(bunType), returns: bunResultType(def.result) }) as FFIFunction;

/**
 * Every symbol is looked up with libc's dlsym now (a missing one fails the
 * open, as Bun's dlopen would) and bound by Bun's dlopen on its first call: a
 * run calls 35 to 90 of the ~130 declared, and binding them all at load took
 * 1.5-2.5 ms (Bun binds one alone as fast, ~0.015 ms a function). `handle` is
 * the lazy preload's, which close() gives back.
 */
function bindOnFirstCall(c: BunLibc, handle: number, path: string, symbols: Record<string, SymbolDef>): OpenedLibrary {
  const bound: Record<string, Raw> = {};
  const libraries: { close(): void }[] = [];
  for (const [name, def] of presentSymbols(path, symbols, (n) => c.dlsym(handle, n) || null)) {
    let fn: Raw | undefined;
    const bind = (): Raw => {
      const library = dlopen(path, { [name]: toBun(def) });
      libraries.push(library);
      const raw = (library.symbols as Record<string, Raw>)[name];
      // Bun hands out 0 for NULL on some paths; the neutral API promises null.
      fn = def.result === "ptr" ? nullForZero(raw, def.parameters.length) : raw;
      bound[name] = fn;
      return fn;
    };
    // Replaced by the bound function on the first call; a caller that kept this one still gets it.
    bound[name] = (...args: unknown[]) => (fn ?? bind())(...args);
  }
  return {
    symbols: bound,
    close: () => {
      for (const library of libraries) library.close();
      c.dlclose(handle);
    },
  };
}

/** Bun's dlopen of every symbol of `symbols` at once: where libc's dlsym is not available. */
function bindEagerly(path: string, symbols: Record<string, SymbolDef>): OpenedLibrary {
  const table: Record<string, FFIFunction> = {};
  for (const [name, def] of Object.entries(symbols)) {
    if (!def.optional) table[name] = toBun(def);
  }
  // Bun refuses an empty table (all symbols optional): then only the probes below run.
  const lib = Object.keys(table).length > 0 ? dlopen(path, table) : undefined;
  const raws: Record<string, (...args: unknown[]) => unknown> = { ...lib?.symbols } as never;
  const extras: { close(): void }[] = [];
  // Bun's dlopen fails as a whole on a missing symbol: probe optional ones alone.
  for (const [name, def] of Object.entries(symbols)) {
    if (!def.optional) continue;
    try {
      const one = dlopen(path, { [name]: toBun(def) });
      raws[name] = (one.symbols as Record<string, (...args: unknown[]) => unknown>)[name];
      extras.push(one);
    } catch {
      // absent: left undefined
    }
  }
  const bound: Record<string, (...args: unknown[]) => unknown> = {};
  for (const [name, def] of Object.entries(symbols)) {
    const raw = raws[name];
    if (!raw) continue;
    // Bun hands out 0 for NULL on some paths; the neutral API promises null.
    bound[name] = def.result === "ptr" ? nullForZero(raw, def.parameters.length) : raw;
  }
  return {
    symbols: bound,
    close: () => {
      for (const extra of extras) extra.close();
      lib?.close();
    },
  };
}

/**
 * When `thread` is done, as a promise made only when first awaited: nothing
 * polls for a caller that never asks (the command does not; its later dlopen
 * waits inside libc for the thread's).
 */
function whenDone(thread: DlopenThread): PromiseLike<void> {
  let done: Promise<void> | undefined;
  const poll = (resolve: () => void) => (thread.done() ? resolve() : setTimeout(() => poll(resolve), 1));
  return {
    then: (onDone, onError) => (done ??= new Promise<void>(poll)).then(onDone, onError),
  };
}

export const bunBackend: FfiBackend = {
  preload(path: string): PromiseLike<void> | undefined {
    // RTLD_LAZY, as preloadLazily opens it: a different mode would redo relocations then.
    const thread = bunLibc()?.dlopenOnAnotherThread(cString(path), RTLD_LAZY);
    return thread && whenDone(thread);
  },

  open(path: string, symbols: Record<string, SymbolDef>): OpenedLibrary {
    const preloaded = preloadLazily(path);
    try {
      return preloaded ? bindOnFirstCall(bunLibc()!, preloaded, path, symbols) : bindEagerly(path, symbols);
    } catch (e) {
      if (preloaded) bunLibc()!.dlclose(preloaded);
      throw e;
    }
  },

  readCString(p: Pointer): string {
    return new CString(asBun(p) as never).toString();
  },

  viewBytes(p: Pointer, length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    return new Uint8Array(toArrayBuffer(asBun(p) as never, 0, length));
  },

  addressOf(bytes: Uint8Array): Pointer {
    return ptr(bytes) as unknown as Pointer;
  },

  addressValue(bytes: Uint8Array): bigint {
    return BigInt(ptr(bytes));
  },

  readPointer(out: Uint8Array): Pointer | null {
    const value = new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true);
    return asPointer(Number(value));
  },

  readU64(out: Uint8Array): number {
    return Number(new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true));
  },

  mapFile(path: string): Uint8Array | undefined {
    const c = bunLibc();
    if (c) return mapFileReadOnly(c, path);
    try {
      // A private mapping: nothing we do can write through to the file.
      return (globalThis as unknown as { Bun: { mmap(p: string, o: object): Uint8Array } }).Bun.mmap(path, {
        shared: false,
      });
    } catch {
      return undefined;
    }
  },

  releaseMappedPages(): void {
    for (const { address, size } of mappings) bunLibc()!.madvise(address, size, MADV_DONTNEED);
  },

  collectGarbage(): void {
    const bun = (globalThis as unknown as { Bun: { gc(sync: boolean): void; shrink(): void } }).Bun;
    bun.gc(true);
    // The collection alone leaves the freed memory to the allocator's scavenger,
    // which gives it back to the OS on its own schedule: sometimes only after the
    // peak this is meant to lower (peak RSS of (a) 170 or 181 MiB from run to run).
    bun.shrink();
  },

  callback(parameters, result, fn): NativeCallback {
    const cb = new JSCallback(fn, { args: parameters.map(bunType), returns: bunType(result) } as never);
    return { pointer: cb.ptr as unknown as Pointer, close: () => cb.close() };
  },
};
