// The process's libLLVM, loaded once (docs/ARCHITECTURE.md#libllvm-discovery).
// A module of its own so that `--version` can load it without evaluating the
// link machinery of src/pipeline.ts.

import { Llvm, LlvmNotFound, type LoadOptions } from "../ffi/llvm.ts";
import { LlvmLoadError } from "./errors.ts";

let loaded: Promise<Llvm> | undefined;

/**
 * The process's libLLVM (docs/ARCHITECTURE.md#libllvm-discovery): the first
 * call loads it with `options`, later calls get the same one (their options
 * are not looked at). The one place src/ loads libLLVM, so "no usable
 * libLLVM" becomes an LlvmLoadError here, with the same message.
 */
export function loadLlvm(options: LoadOptions = {}): Promise<Llvm> {
  loaded ??= Llvm.load(options).catch((e) => {
    loaded = undefined;
    throw e instanceof LlvmNotFound ? new LlvmLoadError(e.message, e.attempts, { cause: e }) : e;
  });
  return loaded;
}

/** Whether the process has (or is loading) its libLLVM: only the first load chooses. */
export function llvmLoaded(): boolean {
  return loaded !== undefined;
}
