// The LLVM command line a link needs (SPEC 4, step 1). Pure.

import type { LinkOptions } from "./options.ts";

export function llvmCommandLine(options: LinkOptions): string[] {
  const args = ["--cold-callsite-rel-freq=0"];
  if (options.unrollLoops) {
    args.push(
      "--unroll-runtime",
      "--unroll-runtime-multi-exit",
      `--unroll-max-upperbound=${0xffffffff}`,
      `--unroll-threshold=${0xffffffff}`,
    );
  }
  if (!options.disableExpandMemcpyInOrder) args.push("--bpf-expand-memcpy-in-order");
  if (!options.allowBpfTrap) args.push("--bpf-disable-trap-unreachable");
  args.push(...options.llvmArgs);
  return args;
}
