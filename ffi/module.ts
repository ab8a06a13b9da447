// LLVMModule wrapper and the global values inside it.

import type { Pointer } from "./backend.ts";
import type { Context } from "./context.ts";
import { cString, type Llvm, LlvmFailure } from "./llvm.ts";
import type { TargetMachine } from "./target_machine.ts";

const utf8 = new TextDecoder();
const encoder = new TextEncoder();

/** LLVMLinkage values the linker sets. */
export const Linkage = { External: 0, WeakAny: 5, Internal: 8 } as const;
/** LLVMVisibility values the linker sets. */
export const Visibility = { Default: 0 } as const;

/** LLVMAttributeFunctionIndex (~0U). */
const FUNCTION_INDEX = 0xffffffff;

export type GlobalKind = "function" | "variable" | "alias";

/** A function, global variable or alias of a module; valid while the module lives. */
export class GlobalValue {
  readonly #llvm: Llvm;
  readonly #ptr: Pointer;
  readonly kind: GlobalKind;

  constructor(llvm: Llvm, ptr: Pointer, kind: GlobalKind) {
    this.#llvm = llvm;
    this.#ptr = ptr;
    this.kind = kind;
  }

  /** The raw handle, for other ffi/ wrappers only. */
  get handle(): Pointer {
    return this.#ptr;
  }

  get name(): string {
    const length = new Uint8Array(8);
    const p = this.#llvm.api.LLVMGetValueName2(this.#ptr, length);
    const n = this.#llvm.ffi.readU64(length);
    return p === null || n === 0 ? "" : utf8.decode(this.#llvm.ffi.viewBytes(p, n));
  }

  set name(value: string) {
    const bytes = encoder.encode(value);
    this.#llvm.api.LLVMSetValueName2(this.#ptr, bytes, bytes.length);
  }

  get isDeclaration(): boolean {
    return this.#llvm.api.LLVMIsDeclaration(this.#ptr) !== 0;
  }

  get linkage(): number {
    return this.#llvm.api.LLVMGetLinkage(this.#ptr);
  }

  set linkage(value: number) {
    this.#llvm.api.LLVMSetLinkage(this.#ptr, value);
  }

  set visibility(value: number) {
    this.#llvm.api.LLVMSetVisibility(this.#ptr, value);
  }

  get section(): string {
    return this.#llvm.borrowString(this.#llvm.api.LLVMGetSection(this.#ptr));
  }

  /** Remove a function attribute (by kind id) from the function itself. */
  removeFunctionAttribute(kind: number): void {
    const api = this.#llvm.api;
    api.LLVMRemoveEnumAttributeAtIndex(this.#ptr, FUNCTION_INDEX, kind);
  }

  /** Remove a function attribute from every call instruction in this function's body. */
  removeCallSiteAttribute(kind: number): void {
    const api = this.#llvm.api;
    this.forEachInstruction((i) => {
      if (api.LLVMIsACallInst(i) !== null) api.LLVMRemoveCallSiteEnumAttribute(i, FUNCTION_INDEX, kind);
    });
  }

  /** Call `visit` with each instruction of this function's body, block by block, in order. */
  forEachInstruction(visit: (instruction: Pointer) => void): void {
    const api = this.#llvm.api;
    for (let bb = api.LLVMGetFirstBasicBlock(this.#ptr); bb !== null; bb = api.LLVMGetNextBasicBlock(bb)) {
      for (let i = api.LLVMGetFirstInstruction(bb); i !== null; i = api.LLVMGetNextInstruction(i)) visit(i);
    }
  }
}

export class Module implements Disposable {
  readonly context: Context;
  readonly #llvm: Llvm;
  #ptr: Pointer | null;

  /** Takes ownership of `ptr`, a module of `context`, which tracks it until it is disposed or linked. */
  constructor(context: Context, ptr: Pointer) {
    this.context = context;
    this.#llvm = context.llvm;
    this.#ptr = ptr;
    context.trackModule(this);
  }

  /** The raw handle, for other ffi/ wrappers only. */
  get handle(): Pointer {
    if (this.#ptr === null) throw new LlvmFailure("module used after it was disposed or linked");
    return this.#ptr;
  }

  /**
   * Link `source` into this module. `source` is consumed whatever the outcome.
   * Failure messages are LLVM's diagnostics (e.g. symbol multiply defined).
   */
  link(source: Module): void {
    const src = source.#take();
    const { result: failed, errors } = this.context.collectErrors(() =>
      this.#llvm.api.LLVMLinkModules2(this.handle, src)
    );
    if (failed) throw new LlvmFailure(errors.join("; ") || "linking failed");
  }

  #take(): Pointer {
    const p = this.handle;
    this.#ptr = null;
    this.context.untrackModule(this);
    return p;
  }

  get triple(): string {
    return this.#llvm.borrowString(this.#llvm.api.LLVMGetTarget(this.handle));
  }

  set triple(value: string) {
    this.#llvm.api.LLVMSetTarget(this.handle, cString(value));
  }

  get inlineAsm(): string {
    const length = new Uint8Array(8);
    const p = this.#llvm.api.LLVMGetModuleInlineAsm(this.handle, length);
    const n = this.#llvm.ffi.readU64(length);
    return p === null || n === 0 ? "" : utf8.decode(this.#llvm.ffi.viewBytes(p, n));
  }

  set inlineAsm(value: string) {
    const bytes = encoder.encode(value);
    this.#llvm.api.LLVMSetModuleInlineAsm2(this.handle, bytes, bytes.length);
  }

  #collect(first: (m: Pointer) => Pointer | null, next: (v: Pointer) => Pointer | null, kind: GlobalKind) {
    const out: GlobalValue[] = [];
    for (let v = first(this.handle); v !== null; v = next(v)) out.push(new GlobalValue(this.#llvm, v, kind));
    return out;
  }

  functions(): GlobalValue[] {
    const api = this.#llvm.api;
    return this.#collect(api.LLVMGetFirstFunction, api.LLVMGetNextFunction, "function");
  }

  globalVariables(): GlobalValue[] {
    const api = this.#llvm.api;
    return this.#collect(api.LLVMGetFirstGlobal, api.LLVMGetNextGlobal, "variable");
  }

  /**
   * The initializers of the named global variables as IR text (`[4 x i8] c"GPL\00"`),
   * by name; variables without one are left out. (Walked with the numeric handles
   * LLVMGetInitializer takes, see ffi/uses.ts.)
   */
  initializerTexts(names: ReadonlySet<string>): Map<string, string> {
    const api = this.#llvm.api;
    const out = new Map<string, string>();
    for (let g = api.LLVMGetLastGlobal(this.handle); g !== 0; g = api.LLVMGetPreviousGlobal(g)) {
      const name = this.#llvm.borrowString(api.LLVMGetValueName(g));
      if (!names.has(name)) continue;
      const init = api.LLVMGetInitializer(g);
      if (init !== 0) out.set(name, this.#llvm.takeMessage(api.LLVMPrintValueToString(init)));
    }
    return out;
  }

  aliases(): GlobalValue[] {
    const api = this.#llvm.api;
    return this.#collect(api.LLVMGetFirstGlobalAlias, api.LLVMGetNextGlobalAlias, "alias");
  }

  /** Drop all debug info; true if there was any. */
  stripDebugInfo(): boolean {
    return this.#llvm.api.LLVMStripModuleDebugInfo(this.handle) !== 0;
  }

  /** Set the module's data layout to the target machine's. */
  setDataLayout(machine: TargetMachine): void {
    const api = this.#llvm.api;
    const layout = api.LLVMCreateTargetDataLayout(machine.handle);
    try {
      api.LLVMSetModuleDataLayout(this.handle, layout);
    } finally {
      api.LLVMDisposeTargetData(layout);
    }
  }

  /** Run a new-pass-manager pipeline, e.g. `default<O2>,dce`. */
  runPasses(pipeline: string, machine: TargetMachine): void {
    const api = this.#llvm.api;
    const options = api.LLVMCreatePassBuilderOptions();
    try {
      // Error diagnostics raised by passes go to the context's handler.
      const error = api.LLVMRunPasses(this.handle, cString(pipeline), machine.handle, options);
      const message = this.#llvm.takeError(error);
      if (message !== undefined) throw new LlvmFailure(message);
    } finally {
      api.LLVMDisposePassBuilderOptions(options);
    }
  }

  /** Check the module; returns LLVM's description of what is broken, or undefined. */
  verify(): string | undefined {
    const message = new Uint8Array(8);
    const broken = this.#llvm.api.LLVMVerifyModule(this.handle, 2 /* LLVMReturnStatusAction */, message);
    const text = this.#llvm.takeMessage(this.#llvm.ffi.readPointer(message));
    return broken ? text || "module is broken" : undefined;
  }

  toIrText(): string {
    return this.#llvm.takeMessage(this.#llvm.api.LLVMPrintModuleToString(this.handle));
  }

  toBitcode(): Uint8Array {
    const api = this.#llvm.api;
    const buffer = api.LLVMWriteBitcodeToMemoryBuffer(this.handle);
    if (buffer === null) throw new LlvmFailure("writing bitcode failed");
    return this.#llvm.takeMemoryBuffer(buffer);
  }

  /**
   * Free the module, once. The context disposes the modules still alive
   * before itself, so this never runs on memory the context already freed.
   */
  [Symbol.dispose](): void {
    if (this.#ptr === null) return;
    if (!this.context.freedByProcessExit) this.#llvm.api.LLVMDisposeModule(this.#ptr);
    this.#ptr = null;
    this.context.untrackModule(this);
  }
}
