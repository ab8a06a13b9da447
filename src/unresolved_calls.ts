// Calls to memory builtins nothing defines, found in the emitted object. LLVM's
// BPF backend emits a call to memset/memmove/memcmp when it does not expand one
// inline (with --bpf-expand-memcpy-in-order, or a size it cannot expand); Rust's
// compiler_builtins defines them, a C program does not, and libbpf cannot load
// the call ("failed to find BTF for extern 'memset'"), so the link fails
// instead of writing such an object. Calls to other undefined functions are
// left alone: the user declared them, and libbpf's static linker (`bpftool gen
// object`) may still join the object with one that defines them.

import type { Module } from "../ffi/module.ts";
import { codeFunctions } from "./object/bpf_code.ts";
import { ElfObject, SHF_EXECINSTR, SHN_UNDEF } from "./object/elf.ts";
import { LinkError } from "./errors.ts";
import { MEMORY_BUILTINS } from "./options.ts";

const R_BPF_64_32 = 10;
const BPF_CALL = 0x85;
/** libbpf's section for kernel functions and variables (`__ksym`). */
const KSYMS_SECTION = ".ksyms";

export interface UnresolvedCall {
  /** The function called. */
  callee: string;
  /** The function that calls it (the symbol around the call), when known. */
  caller?: string;
}

const BUILTINS: ReadonlySet<string> = new Set([...MEMORY_BUILTINS, "strlen"]);

/** Calls in `object` to undefined memory builtins that `module` does not declare as kernel functions. */
export function unresolvedCalls(object: Uint8Array | ElfObject, module: Module): UnresolvedCall[] {
  const elf = object instanceof ElfObject ? object : new ElfObject(object);
  const symbols = elf.symbols;
  const out: UnresolvedCall[] = [];
  const seen = new Set<string>();
  let ksyms: Set<string> | undefined;
  for (const section of elf.sections) {
    if ((section.flags & SHF_EXECINSTR) === 0) continue;
    for (const rel of elf.relocationsFor(section.index)) {
      const target = symbols[rel.symbol];
      if (
        rel.type !== R_BPF_64_32 || !target || target.shndx !== SHN_UNDEF ||
        !BUILTINS.has(target.name)
      ) continue;
      if (section.data[rel.offset] !== BPF_CALL) continue;
      ksyms ??= new Set(
        module.functions().filter((f) => f.isDeclaration && f.section === KSYMS_SECTION).map((f) =>
          f.name
        ),
      );
      if (ksyms.has(target.name)) continue;
      const caller = codeFunctions(elf).around(section.index, rel.offset)?.name;
      const key = `${target.name}\0${caller ?? ""}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ callee: target.name, caller });
    }
  }
  return out;
}

/**
 * The error for the first unresolved call, with what fixes it. `expandedInOrder`:
 * whether LLVM was asked to expand memcpy in order (which leaves memset,
 * memmove and memcmp as calls).
 */
export function unresolvedCallError(calls: UnresolvedCall[], expandedInOrder: boolean): LinkError {
  const { callee, caller } = calls[0];
  const from = caller ? `function '${caller}' calls` : "the object calls";
  const more = calls.length > 1
    ? ` (and ${calls.length - 1} more calls to undefined builtins)`
    : "";
  let detail: string;
  if (expandedInOrder) {
    detail =
      `${from} the built-in '${callee}', which no linked module defines: LLVM left it as a call because of ` +
      `--bpf-expand-memcpy-in-order; link with --disable-expand-memcpy-in-order, or link a module that defines '${callee}'`;
  } else {
    detail =
      `${from} the built-in '${callee}', which no linked module defines and LLVM could not expand inline ` +
      `(a size that is not constant, or too large); link a module that defines '${callee}'`;
  }
  return new LinkError(detail + more, { symbol: callee });
}
