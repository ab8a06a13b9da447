// Exports and internalization (docs/ARCHITECTURE.md#exports) and optimization.

import type { Llvm } from "../ffi/llvm.ts";
import { type Module, Linkage, Visibility } from "../ffi/module.ts";
import type { TargetMachine } from "../ffi/target_machine.ts";
import { LlvmError } from "./errors.ts";
import { withLlvm } from "./with_llvm.ts";
import type { Logger } from "./log.ts";
import { type LinkOptions, MEMORY_BUILTINS } from "./options.ts";

/** --export ∪ --export-symbols ∪ (unless disabled) the memory builtins. */
export function exportedSymbols(options: LinkOptions): Set<string> {
  const out = new Set(options.exports);
  if (!options.disableMemoryBuiltins) for (const name of MEMORY_BUILTINS) out.add(name);
  return out;
}

const LOCAL_LINKAGES: ReadonlySet<number> = new Set([Linkage.Internal, 9 /* LLVMPrivateLinkage */]);

/**
 * What stays global in the linked module: the export list, or without one
 * (`exportAll`) also every definition with external linkage, as `clang -c`
 * leaves them. A C user's programs, maps, license and globals then keep the
 * linkage libbpf needs (it refuses static programs and maps) without listing
 * them; rustc always passes a list, so Rust links are unaffected.
 */
export function keptSymbols(module: Module, exported: Set<string>, options: Pick<LinkOptions, "exportAll">): Set<string> {
  if (!options.exportAll) return exported;
  const kept = new Set(exported);
  for (const value of [...module.globalVariables(), ...module.aliases(), ...module.functions()]) {
    if (value.isDeclaration || LOCAL_LINKAGES.has(value.linkage) || value.name.startsWith("llvm.")) continue;
    kept.add(value.name);
  }
  return kept;
}

/**
 * Make everything that is not exported internal so the optimizer can drop or
 * inline it; with --ignore-inline-never also drop `noinline` everywhere.
 */
export function internalize(
  llvm: Llvm,
  module: Module,
  exported: Set<string>,
  options: Pick<LinkOptions, "ignoreInlineNever">,
  log: Logger,
): void {
  // rustc's probestack helper is x86 inline asm the BPF backend cannot emit.
  if (module.inlineAsm.includes("__rust_probestack")) {
    log.debug("removing module inline asm that defines __rust_probestack");
    module.inlineAsm = "";
  }
  const noinline = options.ignoreInlineNever ? llvm.attributeKind("noinline") : 0;
  for (const value of [...module.globalVariables(), ...module.aliases(), ...module.functions()]) {
    const name = value.name;
    if (name.startsWith("llvm.")) continue;
    if (noinline !== 0 && value.kind === "function") {
      value.removeFunctionAttribute(noinline);
      value.removeCallSiteAttribute(noinline);
    }
    // A declaration must stay external (kfuncs, helpers resolved at load time).
    if (value.isDeclaration || exported.has(name)) continue;
    value.linkage = Linkage.Internal;
    value.visibility = Visibility.Default;
    log.trace(`internalized ${value.kind} ${name}`);
  }
}

export function optimizationPipeline(optLevel: LinkOptions["optLevel"]): string {
  return `default<O${optLevel}>,dce`;
}

export function optimize(module: Module, machine: TargetMachine, optLevel: LinkOptions["optLevel"]): void {
  withLlvm(
    () => module.runPasses(optimizationPipeline(optLevel), machine),
    (message) => new LlvmError(`optimization failed: ${message}`),
  );
}
