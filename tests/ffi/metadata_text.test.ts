// ffi/metadata_text.ts: what is read from LLVM's printed form of a node
// (subprogram flags, constant expressions), and local-to-unit copies of
// subprograms, through LLVM's printer and parser or rebuilt with a DIBuilder,
// on hand-written debug info (tests/support/debug_ir.ts) in LLVM 22 and 19.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Context } from "../../ffi/context.ts";
import { DebugMetadata, type MDRef, MetadataKind } from "../../ffi/metadata.ts";
import {
  cloneThroughText,
  isConstantExpressionText,
  isConstantGlobalExpression,
  parseSubprogramFlags,
  rebuildWithDIBuilder,
  staticSubprogramText,
  subprogramFlags,
} from "../../ffi/metadata_text.ts";
import { DEBUG_IR, debugInfoLlvms, llvmAt } from "../support/debug_ir.ts";

const PRINTED =
  '<0x5581a2c0> = distinct !DISubprogram(name: "fold<u8>: <0x1>", linkageName: "_ZN6netdep4fold17h3abbE", ' +
  "scope: <0x5581b3c8>, file: <0x5581b360>, line: 101, type: <0x5581c520>, scopeLine: 102, " +
  "flags: DIFlagPrototyped | DIFlagNoReturn, spFlags: DISPFlagDefinition | DISPFlagOptimized, " +
  "unit: <0x5581e2d8>, templateParams: <0x5581f070>, retainedNodes: <0x5581c700>, keyInstructions: true)";

test("a printed subprogram becomes the text of a local definition with placeholders", () => {
  assert.equal(
    staticSubprogramText(PRINTED),
    'distinct !DISubprogram(name: "fold<u8>: <0x1>", linkageName: "_ZN6netdep4fold17h3abbE", ' +
      "scope: !2, file: !2, line: 101, type: !3, scopeLine: 102, flags: DIFlagPrototyped | DIFlagNoReturn, " +
      "spFlags: DISPFlagDefinition | DISPFlagOptimized | DISPFlagLocalToUnit, unit: !0, templateParams: !4, " +
      "retainedNodes: !4, keyInstructions: true)",
  );
  // No spFlags printed: they are added.
  assert.match(
    staticSubprogramText('<0x1> = distinct !DISubprogram(name: "f", unit: <0x2>)'),
    /unit: !0, spFlags: DISPFlagLocalToUnit \| DISPFlagDefinition\)$/,
  );
  assert.throws(
    () => staticSubprogramText('<0x1> = !DISubprogram(name: "decl")'),
    /not a subprogram definition/,
  );
});

test("scope line, flags and SP flags are read from a printed subprogram", () => {
  assert.deepEqual(parseSubprogramFlags(PRINTED, 1), {
    scopeLine: 102,
    flags: (1 << 8) | (1 << 20),
    localToUnit: false,
    definition: true,
    optimized: true,
  });
  assert.equal(parseSubprogramFlags("distinct !DISubprogram(line: 7)", 7).scopeLine, 7);
});

test("constant DIExpressions are recognized as LLVM's DIExpression::isConstant does", () => {
  assert.ok(isConstantExpressionText("!DIExpression(DW_OP_constu, 5, DW_OP_stack_value)"));
  assert.ok(isConstantExpressionText("!DIExpression(DW_OP_consts, 18446744073709551615)"));
  assert.ok(isConstantExpressionText("!DIExpression(DW_OP_constu, 5)"));
  assert.ok(
    isConstantExpressionText(
      "!DIExpression(DW_OP_constu, 1, DW_OP_stack_value, DW_OP_LLVM_fragment, 0, 32)",
    ),
  );
  assert.ok(!isConstantExpressionText("!DIExpression()"));
  assert.ok(!isConstantExpressionText("!DIExpression(DW_OP_constu, 5, DW_OP_plus)"));
  assert.ok(!isConstantExpressionText("!DIExpression(DW_OP_plus_uconst, 4, DW_OP_stack_value)"));
});

// ------------------------------------------------------------- on live nodes

for (const { name, path, options } of debugInfoLlvms()) {
  test(`${name}: flags and constant expressions read from printed nodes`, options, async () => {
    const llvm = await llvmAt(path);
    using context = new Context(llvm, () => {});
    using module = context.parseIr(new TextEncoder().encode(DEBUG_IR), "debug.ll");
    using md = new DebugMetadata(module);
    const [fn] = md.functions();
    assert.deepEqual(subprogramFlags(md, fn.subprogram), {
      scopeLine: 4,
      flags: 1 << 8, // DIFlagPrototyped
      localToUnit: false,
      definition: true,
      optimized: true,
    });
    const [cu] = md.namedMetadata("llvm.dbg.cu");
    const [g, k] = md.operands(md.operand(cu, md.layout.compileUnit.globalVariables));
    assert.equal(isConstantGlobalExpression(md, g), false, "@g lives in a global");
    assert.equal(isConstantGlobalExpression(md, k), true, "k is the constant 5");
    assert.equal(isConstantGlobalExpression(md, cu), false, "not a variable expression");
  });

  for (const maker of [cloneThroughText, rebuildWithDIBuilder]) {
    test(`${name}: a local-to-unit subprogram made using ${maker.method}`, options, async () => {
      const llvm = await llvmAt(path);
      using context = new Context(llvm, () => {});
      using module = context.parseIr(new TextEncoder().encode(DEBUG_IR), "debug.ll");
      {
        using md = new DebugMetadata(module);
        const at = md.layout.subprogram;
        const [fn] = md.functions();
        const old = fn.subprogram;
        const oldOps = md.operands(old);
        const retained = md.operand(old, at.retainedNodes);
        const [made] = maker.make(md, [{ sp: old, flags: subprogramFlags(md, old) }]);
        assert.notEqual(made, old);
        assert.equal(md.kind(made), MetadataKind.DISubprogram);
        assert.deepEqual(subprogramFlags(md, made), {
          scopeLine: 4,
          flags: 1 << 8,
          localToUnit: true,
          definition: true,
          optimized: true,
        });
        assert.equal(md.subprogramLine(made), 3);
        for (const field of ["file", "scope", "name", "linkageName", "type", "unit"] as const) {
          assert.equal(md.operand(made, at[field]), oldOps[at[field]], field);
        }
        // The variables moved to the new subprogram.
        assert.equal(md.operand(made, at.retainedNodes), retained);
        assert.deepEqual(md.operands(md.operand(old, at.retainedNodes)), []);
        // Wire it in as the sanitizer does: the function and every reference to the old one.
        fn.subprogram = made;
        const rewrite = (node: MDRef, position: number) => {
          assert.equal(md.operand(node, position), old);
          md.replaceOperand(node, position, made);
        };
        const [parameter] = md.operands(retained);
        rewrite(parameter, md.layout.variable.scope);
        const locations: MDRef[] = [];
        fn.forEachDebugLocation((l) => locations.push(l));
        rewrite(locations[0], md.layout.location.scope);
        rewrite(md.operand(locations[1], md.layout.location.scope), md.layout.lexicalBlock.scope);
      }
      assert.equal(module.verify(), undefined);
      const ir = module.toIrText();
      assert.match(
        ir,
        /distinct !DISubprogram\(name: "f", linkageName: "f_link", scope: ![0-9]+, file: ![0-9]+, line: 3, type: ![0-9]+, scopeLine: 4, flags: DIFlagPrototyped, spFlags: DISPFlagLocalToUnit \| DISPFlagDefinition \| DISPFlagOptimized, unit: ![0-9]+, retainedNodes: ![0-9]+/,
      );
      assert.equal(
        (ir.match(/!DISubprogram\(/g) ?? []).length,
        1,
        "the old one is no longer referenced",
      );
    });
  }

  test(
    `${name}: a subprogram that is not a definition is refused, not cloned`,
    options,
    async () => {
      const llvm = await llvmAt(path);
      using context = new Context(llvm, () => {});
      using module = context.parseIr(new TextEncoder().encode(DEBUG_IR), "debug.ll");
      using md = new DebugMetadata(module);
      const [cu] = md.namedMetadata("llvm.dbg.cu");
      assert.throws(
        () => cloneThroughText.make(md, [{ sp: cu, flags: parseSubprogramFlags("", 0) }]),
        {
          name: "LlvmFailure",
          message: /not a subprogram definition/,
        },
      );
      assert.deepEqual(cloneThroughText.make(md, []), []);
      assert.equal(module.verify(), undefined, "nothing was changed");
    },
  );
}
