// Reading BPF code in an object (no LLVM): the BPF-to-BPF calls, for the
// checks that run on the emitted object (src/object/btf_lint.ts,
// src/object/code_lint.ts).

import type { ElfObject, ElfSymbol } from "./elf.ts";
import { SHF_EXECINSTR, STT_FUNC } from "./elf.ts";

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
const functionsOf = new WeakMap<ElfObject, CodeFunctions>();

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

/** The functions of an object's code, found by where they are. */
export interface CodeFunctions {
  /** Every function symbol in a section of code. */
  all: ElfSymbol[];
  /** The function `at` (a byte offset in `section`) is inside, if any. */
  around(section: number, at: number): ElfSymbol | undefined;
  /** The function that starts at `at` in `section`, if any. */
  startingAt(section: number, at: number): ElfSymbol | undefined;
}

/** The object's functions, indexed once per object (the checks share it). */
export function codeFunctions(elf: ElfObject): CodeFunctions {
  const known = functionsOf.get(elf);
  if (known) return known;
  const executable = new Set(
    elf.sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0 && s.data.length > 0).map((s) => s.index),
  );
  const all = elf.symbols.filter((s) => s.type === STT_FUNC && executable.has(s.shndx));
  const bySection = new Map<number, ElfSymbol[]>();
  const byStart = new Map<string, ElfSymbol>();
  for (const fn of all) {
    const list = bySection.get(fn.shndx) ?? [];
    list.push(fn);
    bySection.set(fn.shndx, list);
    const key = `${fn.shndx}:${fn.value}`;
    if (!byStart.has(key)) byStart.set(key, fn);
  }
  // Among functions starting at one offset the longest comes last, so `around` finds it.
  for (const list of bySection.values()) list.sort((a, b) => a.value - b.value || a.size - b.size);
  const functions: CodeFunctions = {
    all,
    around(section, at) {
      const list = bySection.get(section);
      if (!list) return undefined;
      // The last function starting at or before `at`.
      let low = 0;
      let high = list.length - 1;
      while (low < high) {
        const middle = (low + high + 1) >> 1;
        if (list[middle].value <= at) low = middle;
        else high = middle - 1;
      }
      const fn = list[low];
      return fn.value <= at && at < fn.value + Math.max(fn.size, 8) ? fn : undefined;
    },
    startingAt: (section, at) => byStart.get(`${section}:${at}`),
  };
  functionsOf.set(elf, functions);
  return functions;
}
