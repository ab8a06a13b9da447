// Target selection (docs/ARCHITECTURE.md#pipeline, configure LLVM).

import type { Llvm } from "../ffi/llvm.ts";
import { TargetMachine } from "../ffi/target_machine.ts";
import { TargetError } from "./errors.ts";
import { withLlvm } from "./with_llvm.ts";
import type { LinkOptions } from "./options.ts";

/** --target wins; else the module's triple if it is a BPF one; else `bpf` (host endianness). */
export function chooseTriple(moduleTriple: string, requested?: string): string {
  if (requested) return requested;
  return moduleTriple.startsWith("bpf") ? moduleTriple : "bpf";
}

export function createTargetMachine(llvm: Llvm, triple: string, options: LinkOptions): TargetMachine {
  return withLlvm(
    () => TargetMachine.create(llvm, triple, options.cpu, options.cpuFeatures),
    (message) => new TargetError(`unknown or unsupported target '${triple}': ${message}`),
  );
}
