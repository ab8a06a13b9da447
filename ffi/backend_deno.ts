// Deno back end of ffi/backend.ts.
//
// Pointers travel as u64 BigInts, not Deno pointer objects: Deno's fast call
// path takes a BigInt u64 in ~8 ns, a pointer object or a number in ~50-60 ns,
// and the linker makes hundreds of thousands of calls on big modules.

import type { FfiBackend, NativeCallback, OpenedLibrary, Pointer } from "./backend.ts";
import { cString, fixedArityWrapper, MADV_DONTNEED, MAP_PRIVATE, mapReadOnly, presentSymbols, PROT_READ } from "./backend.ts";
import { type DenoLibc, denoLibc } from "./libc_deno.ts";
import type { NativeType, SymbolDef } from "./symbols.ts";

type DenoNative = "void" | "u8" | "i32" | "u32" | "u64" | "pointer" | "buffer" | "function";

function denoType(t: NativeType): DenoNative {
  switch (t) {
    case "ptr":
    case "fn":
      return "u64";
    case "buf":
      return "buffer";
    default:
      return t;
  }
}

/** A Deno pointer object (or null) as the neutral Pointer: its address as a BigInt. */
const fromDeno = (p: Deno.PointerValue): Pointer | null =>
  p === null ? null : BigInt(Deno.UnsafePointer.value(p)) as unknown as Pointer;
/** The neutral Pointer as a Deno pointer object, for UnsafePointerView. */
const toDeno = (p: Pointer): Deno.PointerObject =>
  Deno.UnsafePointer.create(p as unknown as bigint) as Deno.PointerObject;

type Raw = (...args: unknown[]) => unknown;

/**
 * Adapt a raw Deno symbol to the neutral API: NULL arguments (null) become 0n,
 * numbers for u64 parameters become BigInts (Deno's fast call path takes a
 * BigInt u64 in ~8 ns, a number in ~60 ns), a NULL result (0n) becomes null,
 * and size_t results become numbers.
 */
function adapt(raw: Raw, def: SymbolDef): Raw {
  return fixedArityWrapper(
    raw,
    def.parameters.length,
    (a, i) => {
      const t = def.parameters[i];
      if (t === "ptr" || t === "fn") return `(${a} === null ? 0n : ${a})`;
      if (t === "u64") return `(typeof ${a} === "number" ? BigInt(${a}) : ${a})`;
      return a;
    },
    (call) => (def.result === "u64" ? `Number(${call})` : def.result === "ptr" ? `(${call} || null)` : call),
  );
}

const MAP_FAILED = 0xffffffffffffffffn;
const RTLD_LAZY = 1;

/** What mapFile mapped, for releaseMappedPages. */
const mappings: { address: bigint; size: bigint }[] = [];

/** Paths handed to a dlopen still running on another thread (preload). */
const pendingPreloads = new Set<Uint8Array>();

function foreignFunction(def: SymbolDef): Deno.ForeignFunction {
  return {
    parameters: def.parameters.map(denoType),
    result: denoType(def.result),
    optional: def.optional,
  } as Deno.ForeignFunction;
}

/** Deno's dlopen of every symbol at once: where libc's dlsym is not available. */
function bindEagerly(path: string, symbols: Record<string, SymbolDef>): OpenedLibrary {
  const table: Record<string, Deno.ForeignFunction> = {};
  for (const [name, def] of Object.entries(symbols)) table[name] = foreignFunction(def);
  const lib = Deno.dlopen(path, table);
  const bound: Record<string, Raw> = {};
  for (const [name, def] of Object.entries(symbols)) {
    const raw = (lib.symbols as Record<string, Raw | null>)[name];
    if (raw) bound[name] = adapt(raw, def); // else optional and absent
  }
  return { symbols: bound, close: () => lib.close() };
}

/**
 * Calls a function makes through an UnsafeFnPointer before it gets a compiled
 * call stub. The pointer costs ~8 µs to make and ~1 µs a call; the stub
 * 0.13-0.25 ms to compile and ~0.05 µs a call. A link without --btf calls ~50
 * functions, most of them fewer than 10 times: those never need a stub. The
 * count is small on purpose: a function still called through its pointer when
 * V8 optimizes the loop that calls it makes that code deoptimize once the stub
 * replaces it (at 128, the Rust --btf benchmark's sanitizer took 60-80 ms
 * longer; at 16 it takes as long as with every function compiled at once).
 */
const CALLS_BEFORE_STUB = 16;

/**
 * Calls the whole library takes through UnsafeFnPointers before any function
 * gets a stub: a link that makes fewer (a Rust crate without --btf: ~800, a C
 * program with --btf: ~1,500) spends less on them, at ~1 µs a call, than on
 * the stubs of its 10-20 busiest functions. A big link passes this count in
 * its first milliseconds of debug-info walking, before V8 optimizes the walk
 * (the reason for the small CALLS_BEFORE_STUB).
 */
const LIBRARY_CALLS_BEFORE_STUBS = 2000;

/**
 * The argument and result conversions of `adapt`, without generated code: for
 * the first calls of a function, where making a wrapper would cost more than
 * the calls it speeds up.
 */
function adaptSlowly(pointer: Deno.UnsafeFnPointer<Deno.ForeignFunction>, def: SymbolDef): Raw {
  const kinds = def.parameters.map((t) => (t === "ptr" || t === "fn" ? 1 : t === "u64" ? 2 : 0));
  const result = def.result;
  return (...args: unknown[]) => {
    for (let i = 0; i < kinds.length; i++) {
      if (kinds[i] === 1 && args[i] === null) args[i] = 0n;
      else if (kinds[i] === 2 && typeof args[i] === "number") args[i] = BigInt(args[i] as number);
    }
    const value = pointer.call(...(args as []));
    return result === "u64" ? Number(value) : result === "ptr" ? (value || null) : value;
  };
}

/**
 * Every symbol is looked up with libc's dlsym now (a missing one fails the
 * open, as Deno's dlopen would), and nothing is compiled yet: calls go
 * through UnsafeFnPointers, and only a function called more than
 * CALLS_BEFORE_STUB times in a link that has made LIBRARY_CALLS_BEFORE_STUBS
 * gets Deno's compiled call stub (~0.13-0.25 ms each; a run calls 50 to 90
 * of the ~130 declared, most of them a few times).
 * Deno's dlopen is never handed a symbol that is not there (when that fails,
 * Deno does not close the library again).
 */
function bindOnFirstCall(c: DenoLibc, path: string, symbols: Record<string, SymbolDef>): OpenedLibrary | undefined {
  const handle = c.dlopen(cString(path), RTLD_LAZY);
  if (handle === 0n) return undefined; // Deno's own dlopen then says why
  const bound: Record<string, Raw> = {};
  const libraries: Deno.DynamicLibrary<Record<string, Deno.ForeignFunction>>[] = [];
  let closed = false;
  let libraryCalls = 0;
  try {
    const found = (name: Uint8Array) => {
      const address = c.dlsym(handle, name);
      return address === 0n ? null : address;
    };
    for (const [name, def, address] of presentSymbols(path, symbols, found)) {
      let calls = 0;
      let early: Raw | undefined;
      let fn: Raw | undefined;
      const bindStub = (): Raw => {
        const library = Deno.dlopen(path, { [name]: foreignFunction(def) });
        libraries.push(library);
        fn = adapt((library.symbols as Record<string, Raw>)[name], def);
        bound[name] = fn;
        return fn;
      };
      const makeEarly = (): Raw => {
        return adaptSlowly(new Deno.UnsafeFnPointer(Deno.UnsafePointer.create(address)!, foreignFunction(def)), def);
      };
      // Replaced by the stub once it is compiled; a caller that kept this one still gets it.
      bound[name] = (...args: unknown[]) => {
        if (closed) throw new Error(`${path} is closed: ${name} cannot be called`);
        if (fn !== undefined) return fn(...args);
        libraryCalls++;
        if (++calls > CALLS_BEFORE_STUB && libraryCalls > LIBRARY_CALLS_BEFORE_STUBS) return bindStub()(...args);
        return (early ??= makeEarly())(...args);
      };
    }
  } catch (e) {
    c.dlclose(handle);
    throw e;
  }
  return {
    symbols: bound,
    close: () => {
      closed = true;
      for (const library of libraries) library.close();
      c.dlclose(handle);
    },
  };
}

export const denoBackend: FfiBackend = {
  open(path: string, symbols: Record<string, SymbolDef>): OpenedLibrary {
    const c = denoLibc();
    return (c && bindOnFirstCall(c, path, symbols)) ?? bindEagerly(path, symbols);
  },

  readCString(p: Pointer): string {
    return Deno.UnsafePointerView.getCString(toDeno(p));
  },

  viewBytes(p: Pointer, length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    return new Uint8Array(new Deno.UnsafePointerView(toDeno(p)).getArrayBuffer(length));
  },

  addressOf(bytes: Uint8Array): Pointer {
    return fromDeno(Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>)) as Pointer;
  },

  addressValue(bytes: Uint8Array): bigint {
    return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>)));
  },

  readPointer(out: Uint8Array): Pointer | null {
    const value = new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true);
    return value === 0n ? null : value as unknown as Pointer;
  },

  readU64(out: Uint8Array): number {
    return Number(new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true));
  },

  mapFile(path: string): Uint8Array | undefined {
    const c = denoLibc();
    if (!c) return undefined;
    return mapReadOnly(path, c, (fd, size) => {
      const address = BigInt(c.mmap(0n, BigInt(size), PROT_READ, MAP_PRIVATE, fd, 0n));
      if (address === MAP_FAILED || address === 0n) return undefined;
      mappings.push({ address, size: BigInt(size) });
      return Deno.UnsafePointerView.getArrayBuffer(Deno.UnsafePointer.create(address)!, size);
    });
  },

  preload(path: string): Promise<void> {
    const c = denoLibc();
    if (!c) return Promise.resolve();
    // RTLD_LAZY, as bindOnFirstCall opens it: a different mode would redo relocations then.
    const name = cString(path);
    pendingPreloads.add(name); // the name must outlive the call
    return c.dlopenOnAnotherThread(name, RTLD_LAZY).then(
      () => void pendingPreloads.delete(name),
      () => void pendingPreloads.delete(name),
    );
  },

  releaseMappedPages(): void {
    for (const { address, size } of mappings) denoLibc()!.madvise(address, size, MADV_DONTNEED);
  },

  collectGarbage(): void {
    // Only exposed with --v8-flags=--expose-gc; otherwise V8 decides alone.
    (globalThis as unknown as { gc?: () => void }).gc?.();
  },

  callback(parameters, result, fn): NativeCallback {
    const cb = new Deno.UnsafeCallback(
      { parameters: parameters.map(denoType), result: denoType(result) } as Deno.UnsafeCallbackDefinition,
      fn as never,
    );
    return { pointer: fromDeno(cb.pointer) as Pointer, close: () => cb.close() };
  },
};
