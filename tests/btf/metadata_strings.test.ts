// src/btf/metadata_strings.ts: a module's MDStrings read from bitcode that
// LLVM 22 and LLVM 19 write, against the strings the IR text shows; what it
// cannot tell is undefined, never a wrong answer.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Context } from "../../ffi/context.ts";
import { type MetadataStrings, readMetadataStrings } from "../../src/btf/metadata_strings.ts";
import { DEBUG_IR, debugInfoLlvms, llvmAt } from "../support/debug_ir.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decoder = new TextDecoder();

function stringsOf(bitcode: Uint8Array): string[] {
  const blocks = readMetadataStrings(bitcode);
  assert.ok(blocks, "readable");
  return blocks.flatMap(({ bytes, spans }) => {
    const all = spans();
    assert.ok(all, "the lengths add up");
    return all.filter((_, i) => i % 2 === 0).map((start, i) => decoder.decode(bytes.subarray(start, all[2 * i + 1])));
  });
}

for (const { name, path, options } of debugInfoLlvms()) {
  test(`${name}: every MDString of a module, from the bitcode LLVM writes`, options, async () => {
    const llvm = await llvmAt(path);
    using context = new Context(llvm, () => {});
    const ir = DEBUG_IR + '!llvm.ident = !{!90}\n!90 = !{!"héllo $ \\00 wörld"}\n';
    using module = context.parseIr(encode(ir), "m.ll");
    const strings = stringsOf(module.toBitcode());
    // The strings the IR text shows: quoted operands and the names and files of its nodes.
    const expected = new Set<string>();
    for (
      const m of module.toIrText().matchAll(
        /(?:![a-zA-Z]*\(|, |\{)(?:\w+: )?!?"((?:[^"\\]|\\[0-9A-F]{2})*)"/g,
      )
    ) {
      expected.add(
        m[1].replace(/\\([0-9A-F]{2})/g, (_s, hex) => String.fromCharCode(parseInt(hex, 16))),
      );
    }
    const fromIr = [...expected].map((s) =>
      decoder.decode(Uint8Array.from(s, (c) => c.charCodeAt(0)))
    );
    assert.deepEqual(new Set(strings), new Set(fromIr));
    for (
      const s of ["t.c", "/d", "pair", "first", "E_ONE", "krate", "Wrap<u8>", "wrap_u8", "f_link"]
    ) {
      assert.ok(strings.includes(s), s);
    }
    assert.ok(strings.includes("héllo $ \0 wörld"), "bytes as they are, a NUL included");
  });
}

/** `ir` as bitcode, written by the first LLVM the debug-info tests use. */
async function bitcodeOf(ir: string): Promise<Uint8Array> {
  const [{ path }] = debugInfoLlvms();
  const llvm = await llvmAt(path);
  using context = new Context(llvm, () => {});
  using module = context.parseIr(encode(ir), "m.ll");
  return module.toBitcode();
}

test("a module without metadata has no strings", async () => {
  assert.deepEqual(readMetadataStrings(await bitcodeOf("define i32 @f() {\n  ret i32 0\n}\n")), []);
});

test("what is not bitcode, or is cut short, is undefined", async () => {
  const bitcode = await bitcodeOf(DEBUG_IR);
  assert.equal(readMetadataStrings(encode("not bitcode at all")), undefined);
  // Cut inside the metadata block: its length word points past the end.
  assert.ok(readMetadataStrings(bitcode));
  for (const cut of [Math.floor(bitcode.length / 2), 40]) {
    assert.equal(readMetadataStrings(bitcode.subarray(0, cut)), undefined, `cut at ${cut}`);
  }
});

test("goOn sees the module-level strings first (the compile unit's producer) and can stop the read", async () => {
  const bitcode = await bitcodeOf(DEBUG_IR);
  const whole = readMetadataStrings(bitcode);
  const seen: string[] = [];
  const read = readMetadataStrings(bitcode, (first) => {
    seen.push(decoder.decode(first.bytes));
    return true;
  });
  const contents = (blocks: MetadataStrings[] | undefined) => blocks?.map((b) => [b.bytes, b.spans()]);
  assert.deepEqual(contents(read), contents(whole), "going on reads the same");
  assert.equal(seen.length, 1, "asked once");
  assert.ok(seen[0].includes(stringsOf(bitcode)[0]), "about the first block");
  assert.equal(readMetadataStrings(bitcode, () => false), undefined);
});
