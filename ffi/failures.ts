// What ffi/ reports as failed. Plain errors: ffi/ does not know src/'s typed
// errors, so src/ translates these at its boundary (withLlvm and loadLlvm,
// docs/ARCHITECTURE.md#errors-and-exit-codes).

/** Something an LLVM call reported as failed; src/ adds the file or symbol. */
export class LlvmFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = "LlvmFailure";
  }
}

/** One line of the discovery report: a candidate and what became of it. */
export interface LoadAttempt {
  path: string;
  source: string;
  version?: string;
  /** "chosen", or why it was rejected. */
  outcome: string;
}

/** No usable libLLVM; `attempts` lists every candidate and why it was not used. */
export class LlvmNotFound extends Error {
  constructor(readonly attempts: LoadAttempt[], readonly minMajor: number) {
    super(
      attempts.length === 0
        ? `no libLLVM found (need LLVM ${minMajor} or newer); set --llvm or BPF_LINKER_LLVM`
        : `no usable libLLVM (need LLVM ${minMajor} or newer); tried: ` +
          attempts.map((a) => `${a.path} [${a.source}]: ${a.outcome}`).join("; "),
    );
    this.name = "LlvmNotFound";
  }
}
