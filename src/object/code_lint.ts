// The code lint (after every object link): what the kernel refuses in the code
// itself, said at link time. libbpf loads a program with every function it
// calls, and the verifier wants the last instruction of each (the program's
// own included) to be an exit or an unconditional jump, so that none runs on
// into the next (check_subprogs in kernel/bpf/verifier.c: "last insn is not an
// exit or jmp"). LLVM's BPF backend emits nothing for an `unreachable` with
// --bpf-disable-trap-unreachable (the default), so a function whose path ends
// in a call that never returns (a Rust panic, C's __builtin_unreachable())
// ends with that call. Functions no program reaches are never loaded and not
// judged.

import { BPF_CALL, BPF_EXIT, BPF_JA, BPF_JA32, bpfToBpfCalls, codeFunctions } from "./bpf_code.ts";
import { ElfFormatError, ElfObject, type ElfSymbol } from "./elf.ts";

/** At most this many lines; the rest is counted on one last line. */
const MAX_REPORTED = 10;

/** A name as it can be shown on one line. */
function shown(name: string): string {
  return name.length > 80 ? `${name.slice(0, 77)}...` : name;
}

/** What a function's last instruction is, in words, when the kernel refuses it there. */
function badEnding(code: Uint8Array, fn: ElfSymbol): string | undefined {
  if (fn.size < 8) return "has no instructions";
  const opcode = code[fn.value + fn.size - 8];
  if (opcode === BPF_EXIT || opcode === BPF_JA || opcode === BPF_JA32) return undefined;
  if (opcode === BPF_CALL) return "ends with a call";
  const jumpClass = (opcode & 0x07) === 0x05 || (opcode & 0x07) === 0x06;
  return jumpClass ? "ends with a conditional jump" : "ends with an instruction that is no exit or jump";
}

/**
 * Lint the code of a BPF object: one line per function a program reaches that
 * can run off its end (without a "warning:" prefix), at most MAX_REPORTED of
 * them plus a count. [] for anything that is not a readable ELF object. Takes
 * the object already read where the caller has it (the pipeline reads it once).
 */
export function lintCode(object: Uint8Array | ElfObject): string[] {
  let elf: ElfObject;
  try {
    elf = object instanceof ElfObject ? object : new ElfObject(object);
  } catch (e) {
    if (e instanceof ElfFormatError) return [];
    throw e;
  }
  const { all: functions, around, startingAt } = codeFunctions(elf);

  const callees = new Map<ElfSymbol, ElfSymbol[]>();
  for (const call of bpfToBpfCalls(elf)) {
    const caller = around(call.section, call.at);
    const callee = startingAt(call.targetSection, call.target);
    if (!caller || !callee) continue;
    const list = callees.get(caller) ?? [];
    list.push(callee);
    callees.set(caller, list);
  }

  // Programs are the functions outside .text (libbpf's entry points); each
  // function reached is reported under the first program that reaches it.
  const programOf = new Map<ElfSymbol, ElfSymbol>();
  const queue: ElfSymbol[] = [];
  for (const fn of functions) {
    if (elf.sections[fn.shndx]?.name === ".text") continue;
    programOf.set(fn, fn);
    queue.push(fn);
  }
  for (let i = 0; i < queue.length; i++) {
    const fn = queue[i];
    for (const callee of callees.get(fn) ?? []) {
      if (programOf.has(callee)) continue;
      programOf.set(callee, programOf.get(fn)!);
      queue.push(callee);
    }
  }

  const lines: string[] = [];
  for (const fn of queue) {
    const ending = badEnding(elf.sections[fn.shndx].data, fn);
    if (ending === undefined) continue;
    const program = programOf.get(fn)!;
    const what = program === fn
      ? `program '${shown(fn.name)}' ${ending}`
      : `function '${shown(fn.name)}', which program '${shown(program.name)}' calls, ${ending}`;
    lines.push(
      `${what}: the kernel refuses the program ("last insn is not an exit or jmp"). LLVM emits nothing ` +
        "after a call that never returns (a Rust panic, __builtin_unreachable()): keep such paths out of " +
        "the program's reach",
    );
  }
  if (lines.length <= MAX_REPORTED) return lines;
  return [...lines.slice(0, MAX_REPORTED - 1), `... and ${lines.length - (MAX_REPORTED - 1)} more functions that can run off their end`];
}
