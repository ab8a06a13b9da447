// Reading BPF code in an object (no LLVM): the BPF-to-BPF calls, for the
// checks that run on the emitted object (src/object/btf_lint.ts,
// src/object/code_lint.ts).

import type { ElfObject } from "./elf.ts";
import { SHF_EXECINSTR } from "./elf.ts";

/** BPF_JMP | BPF_CALL. */
export const BPF_CALL = 0x85;
/** BPF_JMP | BPF_EXIT. */
export const BPF_EXIT = 0x95;
/** BPF_JMP | BPF_JA, and BPF_JMP32 | BPF_JA (`gotol`). */
export const BPF_JA = 0x05;
export const BPF_JA32 = 0x06;
/** A call's source register field: a BPF-to-BPF call (0 calls a helper, 2 a kernel function). */
const BPF_PSEUDO_CALL = 1;

const callsOf = new WeakMap<ElfObject, BpfCall[]>();

/** A call from BPF code to BPF code: where the call is, and where it lands. */
export interface BpfCall {
  section: number;
  /** Byte offset of the call instruction in `section`. */
  at: number;
  targetSection: number;
  /** Byte offset of the first instruction called, in `targetSection`. */
  target: number;
}

/**
 * Every BPF-to-BPF call in the object's code. A call to another section goes
 * through a relocation against a symbol (the function, or its section); a call
 * within one section may have none, its immediate then counting instructions
 * from the next one. Read once per object (the lints share it).
 */
export function bpfToBpfCalls(elf: ElfObject): BpfCall[] {
  const known = callsOf.get(elf);
  if (known) return known;
  const calls: BpfCall[] = [];
  callsOf.set(elf, calls);
  const symbols = elf.symbols;
  for (const section of elf.sections) {
    if ((section.flags & SHF_EXECINSTR) === 0 || section.data.length === 0) continue;
    const relocations = new Map(elf.relocationsFor(section.index).map((r) => [r.offset, r]));
    const code = section.data;
    const view = new DataView(code.buffer, code.byteOffset, code.byteLength);
    // Calls found by the native byte search: an opcode is at a multiple of 8
    // (a 64-bit immediate's second slot starts with 0, never a call), other
    // bytes equal to it are operands.
    for (let at = code.indexOf(BPF_CALL); at !== -1 && at + 8 <= code.length; at = code.indexOf(BPF_CALL, at + 1)) {
      if (at % 8 !== 0) continue;
      const regs = code[at + 1];
      if ((elf.littleEndian ? regs >> 4 : regs & 0xf) !== BPF_PSEUDO_CALL) continue;
      const imm = view.getInt32(at + 4, elf.littleEndian);
      const relocation = relocations.get(at);
      if (relocation) {
        const symbol = symbols[relocation.symbol];
        if (symbol) {
          calls.push({ section: section.index, at, targetSection: symbol.shndx, target: symbol.value + (imm + 1) * 8 });
        }
      } else {
        calls.push({ section: section.index, at, targetSection: section.index, target: at + 8 + imm * 8 });
      }
    }
  }
  return calls;
}
