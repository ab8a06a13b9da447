// ffi/context.ts: parsing into a context, LLVM's diagnostics, and ownership:
// the context frees the modules still alive before itself, so a module
// disposed after its context frees nothing twice and cannot be used.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Context, type Diagnostic, oneLine } from "../../ffi/context.ts";
import { Llvm } from "../../ffi/llvm.ts";

const llvmPromise = Llvm.load();
const encode = (text: string) => new TextEncoder().encode(text);

const IR = `target triple = "bpf"
define i32 @answer() {
  ret i32 42
}
`;

test("a module parsed from IR, written as bitcode and parsed back is the same module", async () => {
  const llvm = await llvmPromise;
  using context = new Context(llvm, () => {});
  using module = context.parseIr(encode(IR), "answer.ll");
  using again = context.parseBitcode(module.toBitcode(), "answer.bc");
  const body = (text: string) => text.slice(text.indexOf("define"));
  assert.equal(body(again.toIrText()), body(module.toIrText()));
  assert.deepEqual(again.functions().map((f) => f.name), ["answer"]);
});

test("an empty module is named as asked", async () => {
  const llvm = await llvmPromise;
  using context = new Context(llvm, () => {});
  using module = context.createModule("linked_module");
  assert.match(
    module.toIrText(),
    /^; ModuleID = 'linked_module'\nsource_filename = "linked_module"/,
  );
});

test("what LLVM refuses to parse is an LlvmFailure with LLVM's message", async () => {
  const llvm = await llvmPromise;
  const seen: Diagnostic[] = [];
  using context = new Context(llvm, (d) => seen.push(d));
  assert.throws(() => context.parseIr(encode("define i32 @f( {"), "bad.ll"), {
    name: "LlvmFailure",
    message: /bad\.ll:1:\d+: error: /,
  });
  assert.throws(() => context.parseBitcode(encode("BC\xc0\xde garbage"), "bad.bc"), {
    name: "LlvmFailure",
  });
  // The parse's errors were its exception, not diagnostics for the handler.
  assert.deepEqual(seen.filter((d) => d.severity === "error"), []);
});

test("collectErrors gathers the errors LLVM reports during the call, nested calls their own", async () => {
  const llvm = await llvmPromise;
  using context = new Context(llvm, () => {});
  const outer = context.collectErrors(() => {
    assert.throws(() => context.parseBitcode(encode("not bitcode"), "inner.bc"));
    return 7;
  });
  assert.equal(outer.result, 7);
  assert.deepEqual(outer.errors, [], "the inner parse kept its errors");
});

test("oneLine folds a multi-line LLVM message", () => {
  assert.equal(oneLine("  first line\n   second\n\nthird  \n"), "first line; second; third");
});

test("a module disposed after its context frees nothing twice and cannot be used", async () => {
  const llvm = await llvmPromise;
  const context = new Context(llvm, () => {});
  const early = context.parseIr(encode(IR), "early.ll");
  const late = context.parseIr(encode(IR), "late.ll");
  const linked = context.createModule("linked_module");
  const source = context.parseIr(encode(IR.replace("answer", "other")), "other.ll");
  linked.link(source);
  early[Symbol.dispose]();
  context[Symbol.dispose]();
  // The context freed `late` and `linked` first; their wrappers know it.
  assert.throws(() => late.handle, /module used after it was disposed or linked/);
  assert.throws(() => linked.toIrText(), /module used after it was disposed or linked/);
  assert.throws(() => source.handle, /module used after it was disposed or linked/);
  late[Symbol.dispose]();
  linked[Symbol.dispose]();
  early[Symbol.dispose]();
  context[Symbol.dispose]();
  assert.throws(() => context.handle, /context used after dispose/);
  assert.throws(() => context.createModule("m"), /context used after dispose/);
});

test("`using` disposes the module, then the context", async () => {
  const llvm = await llvmPromise;
  let module: { handle: unknown } | undefined;
  {
    using context = new Context(llvm, () => {});
    using m = context.parseIr(encode(IR), "m.ll");
    module = m;
  }
  assert.throws(() => module!.handle, /module used after it was disposed or linked/);
});

test("a context left to process exit frees nothing on dispose, nor do its modules", async () => {
  const llvm = await llvmPromise;
  const context = new Context(llvm, () => {});
  const module = context.parseIr(encode(IR), "m.ll");
  context.leaveToProcessExit();
  assert.equal(context.freedByProcessExit, true);
  module[Symbol.dispose]();
  assert.throws(() => module.handle, /module used after it was disposed or linked/);
  context[Symbol.dispose]();
  // Still usable: nothing was freed.
  using another = context.createModule("after");
  assert.match(another.toIrText(), /ModuleID = 'after'/);
});
