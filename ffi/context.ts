// LLVMContext wrapper: owns the context and its diagnostic handler, and
// parses inputs into modules that belong to it.

import type { NativeCallback, Pointer } from "./backend.ts";
import { cString, type Llvm, LlvmFailure } from "./llvm.ts";
import { Module } from "./module.ts";

export type DiagnosticSeverity = "error" | "warning" | "remark" | "note";
const SEVERITIES: DiagnosticSeverity[] = ["error", "warning", "remark", "note"];

export interface Diagnostic {
  severity: DiagnosticSeverity;
  message: string;
}

/** Fold a multi-line LLVM message into one line. */
export function oneLine(text: string): string {
  return text.trim().split(/\s*\n\s*/).join("; ");
}

export class Context implements Disposable {
  readonly llvm: Llvm;
  #ptr: Pointer | null;
  #handler: NativeCallback;
  /** Errors LLVM reported since the last `#collectErrors` started. */
  #errors: string[] | undefined;
  #freedByProcessExit = false;
  /** Modules of this context not yet disposed or linked away: freed before the context. */
  readonly #modules = new Set<Module>();

  /**
   * `onDiagnostic` sees every diagnostic LLVM reports in this context, remarks only
   * with `remarks` (the default). LLVM hands its remarks (the optimizer's "loop not
   * vectorized", the asm printer's instruction counts...) to any handler installed
   * through the C API, dozens a link; left out, they are not even described.
   */
  constructor(llvm: Llvm, onDiagnostic: (d: Diagnostic) => void, { remarks = true } = {}) {
    this.llvm = llvm;
    const ptr = llvm.api.LLVMContextCreate();
    if (ptr === null) throw new LlvmFailure("LLVMContextCreate failed");
    this.#ptr = ptr;
    this.#handler = llvm.ffi.callback(["ptr", "ptr"], "void", (info: unknown) => {
      const severity = SEVERITIES[llvm.api.LLVMGetDiagInfoSeverity(info as Pointer)] ?? "error";
      if (severity === "remark" && !remarks) return;
      const diagnostic = this.#describe(info as Pointer, severity);
      // While a parse or link runs, its errors become that call's exception.
      if (diagnostic.severity === "error" && this.#errors) this.#errors.push(diagnostic.message);
      else onDiagnostic(diagnostic);
    });
    llvm.api.LLVMContextSetDiagnosticHandler(ptr, this.#handler.pointer, null);
  }

  #describe(info: Pointer, severity: DiagnosticSeverity): Diagnostic {
    const api = this.llvm.api;
    return {
      severity,
      // LLVM ends descriptions with a newline and may span lines: one line each.
      message: oneLine(this.llvm.takeMessage(api.LLVMGetDiagInfoDescription(info))),
    };
  }

  /** The raw handle, for other ffi/ wrappers only. */
  get handle(): Pointer {
    if (this.#ptr === null) throw new LlvmFailure("context used after dispose");
    return this.#ptr;
  }

  /**
   * Run `fn`, collecting the error diagnostics LLVM reports meanwhile (LLVM's
   * "2" entry points report failures only through the diagnostic handler).
   */
  collectErrors<T>(fn: () => T): { result: T; errors: string[] } {
    const outer = this.#errors;
    const errors: string[] = [];
    this.#errors = errors;
    try {
      return { result: fn(), errors };
    } finally {
      this.#errors = outer;
    }
  }

  /** An empty module named `name` (its identifier and source file name), to link into. */
  createModule(name: string): Module {
    const ptr = this.llvm.api.LLVMModuleCreateWithNameInContext(cString(name), this.handle);
    if (ptr === null) throw new LlvmFailure("LLVMModuleCreateWithNameInContext failed");
    return new Module(this, ptr);
  }

  /** Parse bitcode without copying it: LLVM reads `bytes` in place during the call. */
  parseBitcode(bytes: Uint8Array, name: string): Module {
    const buffer = this.#bufferOver(bytes, name);
    try {
      return this.#readBitcode(this.llvm.api.LLVMParseBitcodeInContext2, buffer);
    } finally {
      this.llvm.api.LLVMDisposeMemoryBuffer(buffer);
    }
  }

  /**
   * Read bitcode lazily: the module's globals and declarations now, each
   * function body when something first needs it (linking it into another
   * module does). LLVM keeps reading `bytes` in place until the module is
   * linked or disposed: they must stay alive and unchanged until then. For a
   * module to link into another, not to link into: a link destination must be
   * read whole (parseBitcode). Errors in a function body surface when it is
   * read, as a failed link.
   */
  parseBitcodeLazily(bytes: Uint8Array, name: string): Module {
    const buffer = this.#bufferOver(bytes, name);
    try {
      return this.#readBitcode(this.llvm.api.LLVMGetBitcodeModuleInContext2, buffer);
    } catch (e) {
      // The module owns the buffer (not the bytes) only once it was read.
      this.llvm.api.LLVMDisposeMemoryBuffer(buffer);
      throw e;
    }
  }

  /** A memory buffer over `bytes`, not a copy: LLVM reads them where they are. */
  #bufferOver(bytes: Uint8Array, name: string): Pointer {
    const buffer = this.llvm.api.LLVMCreateMemoryBufferWithMemoryRange(
      this.llvm.ffi.addressOf(bytes),
      bytes.length,
      cString(name),
      0,
    );
    if (buffer === null) throw new LlvmFailure("LLVMCreateMemoryBufferWithMemoryRange failed");
    return buffer;
  }

  /** A module from one of LLVM's "2" bitcode readers, whose failures arrive as diagnostics. */
  #readBitcode(reader: (context: Pointer, buffer: Pointer, out: Uint8Array) => number, buffer: Pointer): Module {
    const out = new Uint8Array(8);
    const { result: failed, errors } = this.collectErrors(() => reader(this.handle, buffer, out));
    if (failed) throw new LlvmFailure(errors.join("; ") || "invalid bitcode");
    return new Module(this, this.llvm.ffi.readPointer(out)!);
  }

  /** Parse textual IR. */
  parseIr(text: Uint8Array, name: string): Module {
    const api = this.llvm.api;
    // The IR lexer reads one byte past the end and expects NUL there.
    const terminated = new Uint8Array(text.length + 1);
    terminated.set(text);
    const buffer = api.LLVMCreateMemoryBufferWithMemoryRange(
      this.llvm.ffi.addressOf(terminated),
      text.length,
      cString(name),
      1,
    );
    const out = new Uint8Array(8);
    const message = new Uint8Array(8);
    let failed: number;
    if (api.LLVMParseIRInContext2) {
      // LLVM 22+: we keep ownership of the buffer.
      try {
        failed = api.LLVMParseIRInContext2(this.handle, buffer, out, message);
      } finally {
        api.LLVMDisposeMemoryBuffer(buffer);
      }
    } else {
      // Up to LLVM 21 the parser takes ownership of the buffer and frees it.
      failed = api.LLVMParseIRInContext!(this.handle, buffer, out, message);
    }
    const text_ = this.llvm.takeMessage(this.llvm.ffi.readPointer(message));
    if (failed) throw new LlvmFailure(text_ || "invalid IR");
    return new Module(this, this.llvm.ffi.readPointer(out)!);
  }

  /**
   * The process exits once this context is done with (the CLI): from now on
   * disposing it, or a module in it, frees nothing and the OS reclaims the
   * memory at exit. Freeing a big linked module node by node takes tens of
   * milliseconds that a command-line link does not need to spend (clang's
   * -disable-free, for the same reason).
   */
  leaveToProcessExit(): void {
    this.#freedByProcessExit = true;
  }

  get freedByProcessExit(): boolean {
    return this.#freedByProcessExit;
  }

  /** @internal Called by Module's constructor. */
  trackModule(module: Module): void {
    this.#modules.add(module);
  }

  /** @internal Called when a module is disposed or linked into another. */
  untrackModule(module: Module): void {
    this.#modules.delete(module);
  }

  /**
   * Free the context, once. Its modules still alive are disposed first:
   * LLVMContextDispose frees them too, and their wrappers must then neither
   * free them again nor hand out their handles.
   */
  [Symbol.dispose](): void {
    if (this.#ptr === null || this.#freedByProcessExit) return;
    for (const module of [...this.#modules]) module[Symbol.dispose]();
    this.llvm.api.LLVMContextDispose(this.#ptr);
    this.#ptr = null;
    // After the context is gone LLVM can no longer call the handler.
    this.#handler.close();
  }
}
