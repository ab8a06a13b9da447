// Deno back end of ffi/backend.ts.

import type { FfiBackend, NativeCallback, OpenedLibrary, Pointer } from "./backend.ts";
import type { NativeType, SymbolDef } from "./symbols.ts";

type DenoNative = "void" | "u8" | "i32" | "u32" | "u64" | "pointer" | "buffer" | "function";

function denoType(t: NativeType): DenoNative {
  switch (t) {
    case "ptr":
      return "pointer";
    case "buf":
      return "buffer";
    case "fn":
      return "function";
    default:
      return t;
  }
}

const asPointer = (p: Deno.PointerValue): Pointer | null => p as unknown as Pointer | null;
const asDeno = (p: Pointer | null): Deno.PointerValue => p as unknown as Deno.PointerValue;

export const denoBackend: FfiBackend = {
  runtime: "deno",

  open(path: string, symbols: Record<string, SymbolDef>): OpenedLibrary {
    const table: Record<string, Deno.ForeignFunction> = {};
    for (const [name, def] of Object.entries(symbols)) {
      table[name] = {
        parameters: def.parameters.map(denoType),
        result: denoType(def.result),
        optional: def.optional,
      } as Deno.ForeignFunction;
    }
    const lib = Deno.dlopen(path, table);
    const bound: Record<string, (...args: unknown[]) => unknown> = {};
    for (const [name, def] of Object.entries(symbols)) {
      const raw = (lib.symbols as Record<string, ((...args: unknown[]) => unknown) | null>)[name];
      if (!raw) continue; // optional and absent
      // size_t comes back as number | bigint; the neutral API promises number.
      bound[name] = def.result === "u64" ? (...args) => Number(raw(...args)) : raw;
    }
    return { symbols: bound, close: () => lib.close() };
  },

  readCString(p: Pointer): string {
    return Deno.UnsafePointerView.getCString(asDeno(p) as Deno.PointerObject);
  },

  copyBytes(p: Pointer, length: number): Uint8Array {
    if (length === 0) return new Uint8Array(0);
    const view = new Deno.UnsafePointerView(asDeno(p) as Deno.PointerObject);
    return new Uint8Array(view.getArrayBuffer(length).slice(0));
  },

  addressOf(bytes: Uint8Array): Pointer {
    return asPointer(Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>)) as Pointer;
  },

  addressValue(bytes: Uint8Array): bigint {
    return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(bytes as Uint8Array<ArrayBuffer>)));
  },

  readPointer(out: Uint8Array): Pointer | null {
    const value = new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true);
    return asPointer(Deno.UnsafePointer.create(value));
  },

  readU64(out: Uint8Array): number {
    return Number(new DataView(out.buffer, out.byteOffset, 8).getBigUint64(0, true));
  },

  callback(parameters, result, fn): NativeCallback {
    const cb = new Deno.UnsafeCallback(
      { parameters: parameters.map(denoType), result: denoType(result) } as Deno.UnsafeCallbackDefinition,
      fn as never,
    );
    return { pointer: asPointer(cb.pointer) as Pointer, close: () => cb.close() };
  },
};
