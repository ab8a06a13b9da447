// The LLVM command line a link needs. Pure, apart from reading the inputs' symbols.

import { mayDefineAnyOf, readBitcodeSymbols } from "./input/bitcode_symbols.ts";
import type { ModuleInput } from "./input/files.ts";
import type { LinkOptions } from "./options.ts";

/**
 * The builtins LLVM's BPF backend calls instead of expanding inline when asked
 * to expand memcpy in order (BPFISelLowering: --bpf-expand-memcpy-in-order sets
 * the inline store limits of memset, memmove and memcmp to zero).
 */
export const IN_ORDER_CALLED_BUILTINS = ["memset", "memmove", "memcmp"] as const;

export function llvmCommandLine(
  options: LinkOptions,
  expandMemcpyInOrder = !options.disableExpandMemcpyInOrder,
): string[] {
  const args = [
    "--cold-callsite-rel-freq=0",
    // Code generation moves functions marked cold or hot (Rust's panic paths and
    // #[cold], C's __attribute__((cold))) into .text.unlikely. and .text.hot.,
    // where libbpf refuses static functions: every function stays in .text
    // (docs/ARCHITECTURE.md#llvm-options).
    "--profile-guided-section-prefix=false",
  ];
  if (options.unrollLoops) {
    args.push(
      "--unroll-runtime",
      "--unroll-runtime-multi-exit",
      `--unroll-max-upperbound=${0xffffffff}`,
      `--unroll-threshold=${0xffffffff}`,
    );
  }
  if (expandMemcpyInOrder) args.push("--bpf-expand-memcpy-in-order");
  if (!options.allowBpfTrap) args.push("--bpf-disable-trap-unreachable");
  args.push(...options.llvmArgs);
  return args;
}

/** Whether to pass --bpf-expand-memcpy-in-order, and why (for the log). */
export interface InOrderDecision {
  expand: boolean;
  /** Said at info level when the option is left out on our own. */
  reason?: string;
}

/**
 * Expanding memcpy in order makes LLVM call memset, memmove and memcmp, so it
 * is only asked for when the linked modules define all of them (Rust's
 * compiler_builtins does; a C program has none, and `struct s v = {}` would
 * become a call to a memset nothing defines). A module whose symbols cannot be
 * read defines nothing here (LLVM will say what is wrong with it).
 */
export function decideExpandInOrder(
  options: LinkOptions,
  modules: readonly ModuleInput[],
): InOrderDecision {
  if (options.disableExpandMemcpyInOrder) return { expand: false };
  const defined = new Set<string>();
  for (const input of modules) {
    // A C program's modules name none of them: their string tables say so
    // without their symbols being read (~1 ms for 800 KB of bitcode).
    if (input.format === "bitcode" && !input.indexedDefinitions && !mayDefineAnyOf(input.bytes, IN_ORDER_CALLED_BUILTINS)) {
      continue;
    }
    for (const name of definitionsOf(input) ?? []) defined.add(name);
  }
  const missing = IN_ORDER_CALLED_BUILTINS.filter((name) => !defined.has(name));
  if (missing.length === 0) return { expand: true };
  return {
    expand: false,
    reason:
      `not passing --bpf-expand-memcpy-in-order: no linked module defines ${missing.join(", ")}, ` +
      "which LLVM would then call instead of expanding inline",
  };
}

const IR_DEFINE = /^define\b[^@\n]*@"?([\w.$]+)"?\(/gm;

/** The names a module defines (any linkage but local ones); undefined when unknown. */
function definitionsOf(input: ModuleInput): readonly string[] | undefined {
  if (input.indexedDefinitions) return input.indexedDefinitions;
  if (input.format === "bitcode") return readBitcodeSymbols(input.bytes)?.defined;
  const text = new TextDecoder().decode(input.bytes);
  return [...text.matchAll(IR_DEFINE)].filter((m) => !/^define\s+(internal|private)\b/.test(m[0]))
    .map((m) => m[1]);
}
