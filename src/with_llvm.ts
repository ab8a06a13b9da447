// The boundary between ffi/'s plain failures and src/'s typed errors
// (docs/ARCHITECTURE.md#errors-and-exit-codes). Not in errors.ts: that module
// is exported whole by the library.

import { LlvmFailure } from "../ffi/failures.ts";
import type { LinkerError } from "./errors.ts";

/**
 * Run a call into LLVM: a failure it reports (ffi/'s LlvmFailure) becomes the
 * typed error `toError` makes of its message, so no LLVM failure reaches the
 * user as an internal error.
 */
export function withLlvm<T>(call: () => T, toError: (message: string) => LinkerError): T {
  try {
    return call();
  } catch (e) {
    if (e instanceof LlvmFailure) throw toError(e.message);
    throw e;
  }
}
