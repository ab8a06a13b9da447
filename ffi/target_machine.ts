// LLVMTargetMachine wrapper: creation from a triple and code emission.

import type { Pointer } from "./backend.ts";
import { cString, type Llvm, LlvmFailure } from "./llvm.ts";
import type { Module } from "./module.ts";

const CODEGEN_AGGRESSIVE = 3;
const RELOC_DEFAULT = 0;
const CODE_MODEL_DEFAULT = 0;
const FILE_TYPE = { asm: 0, obj: 1 } as const;

export class TargetMachine implements Disposable {
  readonly #llvm: Llvm;
  #ptr: Pointer | null;
  readonly triple: string;

  private constructor(llvm: Llvm, ptr: Pointer, triple: string) {
    this.#llvm = llvm;
    this.#ptr = ptr;
    this.triple = triple;
  }

  /** Throws LlvmFailure with LLVM's message for an unknown triple. */
  static create(llvm: Llvm, triple: string, cpu: string, features: string): TargetMachine {
    const api = llvm.api;
    const target = new Uint8Array(8);
    const message = new Uint8Array(8);
    const tripleC = cString(triple);
    if (api.LLVMGetTargetFromTriple(tripleC, target, message)) {
      throw new LlvmFailure(llvm.takeMessage(llvm.ffi.readPointer(message)) || "unknown target");
    }
    const ptr = api.LLVMCreateTargetMachine(
      llvm.ffi.readPointer(target),
      tripleC,
      cString(cpu),
      cString(features),
      CODEGEN_AGGRESSIVE,
      RELOC_DEFAULT,
      CODE_MODEL_DEFAULT,
    );
    if (ptr === null) throw new LlvmFailure(`cannot create a target machine for '${triple}'`);
    return new TargetMachine(llvm, ptr, triple);
  }

  /** The raw handle, for other ffi/ wrappers only. */
  get handle(): Pointer {
    if (this.#ptr === null) throw new LlvmFailure("target machine used after dispose");
    return this.#ptr;
  }

  /** Generate an object file or assembly for `module` into memory. */
  emit(module: Module, kind: "obj" | "asm"): Uint8Array {
    const api = this.#llvm.api;
    const message = new Uint8Array(8);
    const out = new Uint8Array(8);
    const failed = api.LLVMTargetMachineEmitToMemoryBuffer(this.handle, module.handle, FILE_TYPE[kind], message, out);
    if (failed) {
      throw new LlvmFailure(this.#llvm.takeMessage(this.#llvm.ffi.readPointer(message)) || "code generation failed");
    }
    const buffer = this.#llvm.ffi.readPointer(out)!;
    // A command's object stays in LLVM's buffer, like the rest of its LLVM memory.
    return module.context.freedByProcessExit
      ? this.#llvm.leaveMemoryBufferToProcessExit(buffer)
      : this.#llvm.takeMemoryBuffer(buffer);
  }

  [Symbol.dispose](): void {
    if (this.#ptr === null) return;
    this.#llvm.api.LLVMDisposeTargetMachine(this.#ptr);
    this.#ptr = null;
  }
}
