// The process's libLLVM, loaded once (docs/ARCHITECTURE.md#libllvm-discovery).
// A module of its own so that `--version` can load it without evaluating the
// link machinery of src/pipeline.ts.

import type { FfiBackend } from "../ffi/backend.ts";
import type { Candidate } from "../ffi/discover.ts";
import { Llvm, LlvmNotFound, type LoadOptions, preloadLlvm } from "../ffi/llvm.ts";
import { LlvmLoadError } from "./errors.ts";

let loaded: Promise<Llvm> | undefined;
let preloaded: Iterable<Candidate> | undefined;

/**
 * Start on the process's libLLVM before the inputs are read (ffi/llvm.ts
 * preloadLlvm): discovery now and, where the runtime can, the likely library
 * loading on another thread while the inputs are read. The later loadLlvm
 * must name the same `explicitPath`; it still chooses.
 */
export function startLoadingLlvm(ffi: FfiBackend, explicitPath?: string): void {
  // Not awaited: the load waits inside dlopen if it comes first.
  if (loaded === undefined) preloaded ??= preloadLlvm(ffi, { explicitPath }).candidates;
}

/**
 * The process's libLLVM (docs/ARCHITECTURE.md#libllvm-discovery): the first
 * call loads it with `options`, later calls get the same one (their options
 * are not looked at). The one place src/ loads libLLVM, so "no usable
 * libLLVM" becomes an LlvmLoadError here, with the same message.
 */
export function loadLlvm(options: LoadOptions = {}): Promise<Llvm> {
  loaded ??= Llvm.load({ candidates: preloaded, ...options }).catch((e) => {
    loaded = undefined;
    throw e instanceof LlvmNotFound ? new LlvmLoadError(e.message, e.attempts, { cause: e }) : e;
  });
  return loaded;
}

/** Whether the process has (or is loading) its libLLVM: only the first load chooses. */
export function llvmLoaded(): boolean {
  return loaded !== undefined;
}
