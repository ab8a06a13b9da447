// Who references whom in a module, from LLVM's use lists (--why-live). Every
// global value (function, variable, alias) is a node; a node's referrers are
// the functions whose instructions use it, the variables whose initializer
// uses it and the aliases of it. Constant expressions and aggregates between
// a use and its global are looked through.
//
// Values travel as "u64" handles (see the use-list section of symbols.ts), so
// they can be keyed by address in both runtimes.

import type { Llvm } from "./llvm.ts";
import type { Module } from "./module.ts";

export type UseNodeKind = "function" | "variable" | "alias";

export interface UseNode {
  readonly handle: number;
  readonly name: string;
  readonly kind: UseNodeKind;
  /** A function with a body, a variable with an initializer, or an alias. */
  readonly defined: boolean;
}

export class UseGraph {
  readonly #llvm: Llvm;
  readonly #byHandle = new Map<number, UseNode>();
  /** Every named global value, by name. */
  readonly byName = new Map<string, UseNode>();

  /** Reads the module's globals; valid while `module` is alive and unchanged. */
  constructor(llvm: Llvm, module: Module) {
    this.#llvm = llvm;
    const api = llvm.api;
    const m = module.handle;
    const add = (handle: number, kind: UseNodeKind, defined: boolean) => {
      const node: UseNode = { handle, name: this.#name(handle), kind, defined };
      this.#byHandle.set(handle, node);
      if (node.name !== "") this.byName.set(node.name, node);
    };
    for (let f = api.LLVMGetLastFunction(m); f !== 0; f = api.LLVMGetPreviousFunction(f)) {
      add(f, "function", api.LLVMCountBasicBlocks(f) > 0);
    }
    for (let g = api.LLVMGetLastGlobal(m); g !== 0; g = api.LLVMGetPreviousGlobal(g)) {
      add(g, "variable", api.LLVMGetInitializer(g) !== 0);
    }
    for (let a = api.LLVMGetLastGlobalAlias(m); a !== 0; a = api.LLVMGetPreviousGlobalAlias(a)) {
      add(a, "alias", true);
    }
  }

  #name(handle: number): string {
    const p = this.#llvm.api.LLVMGetValueName(handle);
    return p === null ? "" : this.#llvm.ffi.readCString(p);
  }

  /** Whether anything at all uses `node` (instructions, initializers, constants). */
  hasUses(node: UseNode): boolean {
    return this.#llvm.api.LLVMGetFirstUse(node.handle) !== 0;
  }

  /** The global values that reference `node` directly, each once, in use-list order. */
  referrers(node: UseNode): UseNode[] {
    const api = this.#llvm.api;
    const found = new Map<number, UseNode>();
    const seenConstants = new Set<number>();
    const pending = [node.handle];
    while (pending.length > 0) {
      const value = pending.pop()!;
      for (let use = api.LLVMGetFirstUse(value); use !== 0; use = api.LLVMGetNextUse(use)) {
        const user = api.LLVMGetUser(use);
        if (user === 0) continue;
        let owner = 0;
        if (api.LLVMIsAInstruction(user) !== 0) {
          const block = api.LLVMGetInstructionParent(user);
          owner = block === 0 ? 0 : api.LLVMGetBasicBlockParent(block);
        } else if (api.LLVMIsAGlobalValue(user) !== 0) {
          owner = user; // a variable's initializer, or an alias
        } else if (api.LLVMIsAConstant(user) !== 0) {
          if (!seenConstants.has(user)) {
            seenConstants.add(user);
            pending.push(user);
          }
          continue;
        }
        const ownerNode = this.#byHandle.get(owner);
        if (ownerNode && !found.has(owner)) found.set(owner, ownerNode);
      }
    }
    return [...found.values()];
  }
}
