// ffi/module.ts: a module's globals and what the linker changes in them,
// linking (which consumes the source), the instruction walk, verification,
// passes and output.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Context } from "../../ffi/context.ts";
import { Llvm } from "../../ffi/llvm.ts";
import { Linkage, type Module } from "../../ffi/module.ts";
import { TargetMachine } from "../../ffi/target_machine.ts";
import { DEBUG_IR } from "../support/debug_ir.ts";

const llvmPromise = Llvm.load();
const encode = (text: string) => new TextEncoder().encode(text);

const IR = `target triple = "bpf"
module asm ".globl marker"

@counter = global i32 7, section ".data.counts"
@license = global [4 x i8] c"GPL\\00", section "license"
@ext = external global i32
@alias = alias i32, ptr @counter

define internal i32 @helper(i32 %x) noinline {
  %y = add i32 %x, 1
  ret i32 %y
}

define i32 @prog(i32 %x) {
entry:
  %a = call i32 @helper(i32 %x) noinline
  br label %next
next:
  %b = call i32 @helper(i32 %a)
  ret i32 %b
}

declare i32 @undefined(i32)
`;

async function withModule(fn: (context: Context, module: Module, llvm: Llvm) => void) {
  const llvm = await llvmPromise;
  using context = new Context(llvm, () => {});
  using module = context.parseIr(encode(IR), "m.ll");
  fn(context, module, llvm);
}

test("functions, global variables and aliases, in module order, with what they are", async () => {
  await withModule((_context, module) => {
    const functions = module.functions();
    assert.deepEqual(functions.map((f) => [f.name, f.kind, f.isDeclaration]), [
      ["helper", "function", false],
      ["prog", "function", false],
      ["undefined", "function", true],
    ]);
    assert.equal(functions[0].linkage, Linkage.Internal);
    assert.equal(functions[1].linkage, Linkage.External);
    const globals = module.globalVariables();
    assert.deepEqual(globals.map((g) => [g.name, g.section, g.isDeclaration]), [
      ["counter", ".data.counts", false],
      ["license", "license", false],
      ["ext", "", true],
    ]);
    assert.deepEqual(module.aliases().map((a) => [a.name, a.kind]), [["alias", "alias"]]);
    assert.deepEqual(
      module.initializerTexts(new Set(["license", "counter", "ext"])),
      new Map([["license", '[4 x i8] c"GPL\\00"'], ["counter", "i32 7"]]),
    );
  });
});

test("names, linkage, visibility, triple and module asm can be changed", async () => {
  await withModule((_context, module) => {
    const [helper, prog] = module.functions();
    helper.linkage = Linkage.External;
    prog.linkage = Linkage.Internal;
    prog.visibility = 0;
    helper.name = "helper_renamed";
    assert.equal(module.functions()[0].name, "helper_renamed");
    assert.equal(module.functions()[1].linkage, Linkage.Internal);
    assert.equal(module.triple, "bpf");
    module.triple = "bpfel";
    assert.equal(module.triple, "bpfel");
    assert.equal(module.inlineAsm, ".globl marker\n");
    module.inlineAsm = "";
    assert.equal(module.inlineAsm, "");
    assert.equal(module.verify(), undefined);
    assert.match(module.toIrText(), /define dso_local i32 @helper_renamed\(/);
    assert.match(module.toIrText(), /define internal i32 @prog\(/);
  });
});

test("the instruction walk visits every instruction of every block, in order", async () => {
  await withModule((_context, module, llvm) => {
    const [helper, prog] = module.functions();
    let count = 0;
    const calls: boolean[] = [];
    prog.forEachInstruction((i) => {
      count++;
      calls.push(llvm.api.LLVMIsACallInst(i) !== null);
    });
    assert.equal(count, 4, "call, br | call, ret");
    assert.deepEqual(calls, [true, false, true, false]);
    let helperCount = 0;
    helper.forEachInstruction(() => helperCount++);
    assert.equal(helperCount, 2);
    const [, , undefinedFn] = module.functions();
    undefinedFn.forEachInstruction(() => assert.fail("a declaration has no body"));
  });
});

test("noinline comes off a function and off its call sites", async () => {
  await withModule((_context, module, llvm) => {
    const noinline = llvm.attributeKind("noinline");
    const [helper, prog] = module.functions();
    assert.match(module.toIrText(), /call i32 @helper\(i32 %x\) #\d/);
    helper.removeFunctionAttribute(noinline);
    prog.removeCallSiteAttribute(noinline);
    const text = module.toIrText();
    assert.doesNotMatch(text, /noinline/);
    assert.match(text, /%a = call i32 @helper\(i32 %x\)\n/);
  });
});

test("linking consumes the source; a symbol defined twice is LLVM's error", async () => {
  await withModule((context, module) => {
    const other = context.parseIr(encode("define i32 @extra() {\n  ret i32 1\n}\n"), "other.ll");
    module.link(other);
    assert.throws(() => other.handle, /module used after it was disposed or linked/);
    assert.ok(module.functions().some((f) => f.name === "extra"));
    const clash = context.parseIr(
      encode("define i32 @prog(i32 %x) {\n  ret i32 %x\n}\n"),
      "clash.ll",
    );
    assert.throws(() => module.link(clash), {
      name: "LlvmFailure",
      message: /Linking globals named 'prog': symbol multiply defined/,
    });
    assert.throws(
      () => clash.handle,
      /module used after it was disposed or linked/,
      "consumed even on failure",
    );
  });
});

test("data layout and passes come from a target machine; a bad pipeline is an LlvmFailure", async () => {
  await withModule((_context, module, llvm) => {
    llvm.initializeBpfTarget();
    using machine = TargetMachine.create(llvm, "bpfel", "generic", "");
    module.setDataLayout(machine);
    assert.match(module.toIrText(), /target datalayout = "e-/);
    module.runPasses("default<O2>", machine);
    // The unused declaration is gone; the noinline helper stays.
    assert.deepEqual(module.functions().map((f) => f.name), ["helper", "prog"]);
    assert.throws(() => module.runPasses("no-such-pass", machine), { name: "LlvmFailure" });
  });
});

test("debug info can be stripped, once", async () => {
  const llvm = await llvmPromise;
  using context = new Context(llvm, () => {});
  using module = context.parseIr(encode(DEBUG_IR), "debug.ll");
  assert.equal(module.stripDebugInfo(), true);
  assert.equal(module.stripDebugInfo(), false);
  assert.doesNotMatch(module.toIrText(), /!DISubprogram/);
  assert.equal(module.verify(), undefined);
});
