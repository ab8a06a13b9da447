// ffi/target_machine.ts: a BPF target machine from a triple, code emission
// into memory, and disposal.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Context } from "../../ffi/context.ts";
import { Llvm } from "../../ffi/llvm.ts";
import { TargetMachine } from "../../ffi/target_machine.ts";

const llvmPromise = Llvm.load().then((llvm) => {
  llvm.initializeBpfTarget();
  return llvm;
});

const IR = `target triple = "bpfel"
define i32 @answer() section "xdp" {
  ret i32 42
}
`;

test("an object and assembly for a module, in memory", async () => {
  const llvm = await llvmPromise;
  using machine = TargetMachine.create(llvm, "bpfel", "v3", "");
  assert.equal(machine.triple, "bpfel");
  using context = new Context(llvm, () => {});
  using module = context.parseIr(new TextEncoder().encode(IR), "answer.ll");
  module.setDataLayout(machine);
  const obj = machine.emit(module, "obj");
  assert.deepEqual([...obj.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46], "ELF magic");
  assert.equal(obj[4], 2, "ELFCLASS64");
  assert.equal(obj[5], 1, "little-endian");
  assert.equal(obj[18] | (obj[19] << 8), 247, "EM_BPF");
  const asm = new TextDecoder().decode(machine.emit(module, "asm"));
  assert.match(asm, /^answer:/m);
  assert.match(asm, /\tw0 = 42\n\texit\n/, "v3: 32-bit registers");
});

test("a context left to process exit gets LLVM's own object buffer: the same bytes as a copy", async () => {
  const llvm = await llvmPromise;
  using machine = TargetMachine.create(llvm, "bpfel", "v3", "");
  const emit = (leave: boolean) => {
    using context = new Context(llvm, () => {});
    if (leave) context.leaveToProcessExit();
    using module = context.parseIr(new TextEncoder().encode(IR), "answer.ll");
    module.setDataLayout(machine);
    return machine.emit(module, "obj");
  };
  const copied = emit(false);
  const left = emit(true);
  assert.deepEqual(left, copied);
  // The copy is a JS ArrayBuffer of its own; the other is a view of LLVM's memory.
  assert.equal(copied.buffer.byteLength, copied.length);
});

test("big-endian BPF is another target machine", async () => {
  const llvm = await llvmPromise;
  using machine = TargetMachine.create(llvm, "bpfeb", "generic", "");
  using context = new Context(llvm, () => {});
  using module = context.parseIr(
    new TextEncoder().encode(IR.replace("bpfel", "bpfeb")),
    "answer.ll",
  );
  module.setDataLayout(machine);
  const obj = machine.emit(module, "obj");
  assert.equal(obj[5], 2, "big-endian");
});

test("an unknown triple is an LlvmFailure with LLVM's message", async () => {
  const llvm = await llvmPromise;
  assert.throws(() => TargetMachine.create(llvm, "nosuch-arch-none", "generic", ""), {
    name: "LlvmFailure",
    message: /No available targets are compatible with triple "nosuch-arch-none"/,
  });
});

test("a disposed target machine frees once and cannot be used", async () => {
  const llvm = await llvmPromise;
  const machine = TargetMachine.create(llvm, "bpfel", "generic", "");
  machine[Symbol.dispose]();
  machine[Symbol.dispose]();
  assert.throws(() => machine.handle, /target machine used after dispose/);
});

test("LLVM's remarks reach the handler, and with remarks: false they are not even described", async () => {
  const llvm = await llvmPromise;
  using machine = TargetMachine.create(llvm, "bpfel", "v3", "");
  const emitSeeing = (remarks: boolean) => {
    const seen: string[] = [];
    using context = new Context(llvm, (d) => seen.push(`${d.severity}: ${d.message}`), { remarks });
    using module = context.parseIr(new TextEncoder().encode(IR), "answer.ll");
    module.setDataLayout(machine);
    machine.emit(module, "obj");
    return seen;
  };
  // The asm printer's analysis remark, sent to any handler the C API installs.
  assert.ok(emitSeeing(true).some((d) => /^remark: .*\b\d+ instructions in function/.test(d)), "remarks by default");
  assert.deepEqual(emitSeeing(false), []);
});
