// ffi/metadata.ts and ffi/metadata_layout.ts on hand-written debug info
// (tests/support/debug_ir.ts), in LLVM 22 and LLVM 19: every operand position
// of the layout holds what its name says, the body walk reaches locations,
// debug records and call attachments (LLVM 19 through debug intrinsics, and
// back to records on dispose), and nodes keep their identity when changed.

import { test } from "node:test";
import assert from "node:assert/strict";

import { Context } from "../../ffi/context.ts";
import type { Llvm } from "../../ffi/llvm.ts";
import {
  DebugMetadata,
  DwTag,
  type LocationRef,
  type MDRef,
  MetadataKind,
  NO_LOCATION,
  NO_MD,
} from "../../ffi/metadata.ts";
import { metadataLayout } from "../../ffi/metadata_layout.ts";
import type { Module } from "../../ffi/module.ts";
import { DEBUG_IR, debugInfoLlvms, llvmAt } from "../support/debug_ir.ts";

/** DEBUG_IR parsed into a fresh context of the libLLVM at `path`. */
async function withDebugModule(
  path: string,
  fn: (module: Module, llvm: Llvm) => void,
): Promise<void> {
  const llvm = await llvmAt(path);
  using context = new Context(llvm, () => {});
  using module = context.parseIr(new TextEncoder().encode(DEBUG_IR), "debug.ll");
  fn(module, llvm);
}

for (const { name, path, options } of debugInfoLlvms()) {
  test(`${name}: the layout's operand positions hold what their names say`, options, async () => {
    await withDebugModule(path, (module, llvm) => {
      using md = new DebugMetadata(module);
      const at = md.layout;
      assert.equal(at, metadataLayout(llvm.version.major));
      const kind = (ref: MDRef) => md.kind(ref);
      const name = (ref: MDRef, position: number) => md.string(md.operand(ref, position));

      const [cu] = md.namedMetadata("llvm.dbg.cu");
      assert.equal(kind(cu), MetadataKind.DICompileUnit);
      const file = md.operand(cu, at.compileUnit.file);
      assert.equal(kind(file), MetadataKind.DIFile);
      assert.equal(name(file, at.file.filename), "t.c");
      assert.equal(name(file, at.file.directory), "/d");
      const list = (position: number) => md.operands(md.operand(cu, position));
      const [enumType] = list(at.compileUnit.enumTypes);
      const [wrap] = list(at.compileUnit.retainedTypes);
      const [gve, constant] = list(at.compileUnit.globalVariables);
      for (const position of [at.compileUnit.importedEntities, at.compileUnit.macros]) {
        assert.equal(md.operand(cu, position), NO_MD, "no imported entities or macros");
      }

      // Global variables, and what @g carries.
      assert.deepEqual(md.globalVariableAttachments(), [gve]);
      const variable = md.operand(gve, at.globalExpression.variable);
      assert.equal(kind(variable), MetadataKind.DIGlobalVariable);
      assert.equal(name(variable, at.variable.name), "g");
      assert.equal(md.operand(variable, at.variable.scope), cu);
      assert.equal(md.operand(variable, at.variable.file), file);
      const int = md.operand(variable, at.variable.type);
      assert.equal(kind(int), MetadataKind.DIBasicType);
      assert.equal(name(int, at.type.name), "int");
      assert.equal(
        kind(md.operand(gve, at.globalExpression.expression)),
        MetadataKind.DIExpression,
      );
      assert.equal(name(md.operand(constant, at.globalExpression.variable), at.variable.name), "k");

      // The subprogram of @f.
      const fn = md.functions().find((f) => f.name === "f")!;
      const sp = fn.subprogram;
      assert.equal(kind(sp), MetadataKind.DISubprogram);
      assert.deepEqual(fn.attachments(), [sp]);
      assert.equal(name(sp, at.subprogram.name), "f");
      assert.equal(name(sp, at.subprogram.linkageName), "f_link");
      assert.equal(md.operand(sp, at.subprogram.file), file);
      assert.equal(md.operand(sp, at.subprogram.scope), file);
      assert.equal(md.operand(sp, at.subprogram.unit), cu);
      assert.equal(md.operand(sp, at.subprogram.declaration), NO_MD);
      assert.equal(md.subprogramLine(sp), 3);
      const subroutine = md.operand(sp, at.subprogram.type);
      assert.equal(kind(subroutine), MetadataKind.DISubroutineType);
      const [parameter] = md.operands(md.operand(sp, at.subprogram.retainedNodes));
      assert.equal(kind(parameter), MetadataKind.DILocalVariable);
      assert.equal(name(parameter, at.variable.name), "p");
      assert.equal(md.operand(parameter, at.variable.scope), sp);

      // Types: pointer -> struct -> members, an enum, a struct in a namespace.
      const pointer = md.operand(parameter, at.variable.type);
      assert.equal(kind(pointer), MetadataKind.DIDerivedType);
      assert.equal(md.tag(pointer), DwTag.pointerType);
      assert.equal(md.operand(pointer, at.type.name), NO_MD);
      const pair = md.operand(pointer, at.derived.baseType);
      assert.equal(kind(pair), MetadataKind.DICompositeType);
      assert.equal(md.tag(pair), DwTag.structureType);
      assert.equal(name(pair, at.type.name), "pair");
      assert.equal(md.operand(pair, at.type.file), file);
      assert.equal(md.operand(pair, at.type.scope), file);
      const members = md.operands(md.operand(pair, at.composite.elements));
      assert.deepEqual(members.map((m) => name(m, at.type.name)), ["first", "second"]);
      assert.deepEqual(members.map((m) => md.offsetInBits(m)), [0, 32]);
      for (const member of members) {
        assert.equal(md.tag(member), DwTag.member);
        assert.equal(md.operand(member, at.type.scope), pair);
        assert.equal(md.operand(member, at.derived.baseType), int);
      }
      assert.equal(md.tag(enumType), DwTag.enumerationType);
      assert.equal(md.operand(enumType, at.composite.baseType), int);
      const [enumerator] = md.operands(md.operand(enumType, at.composite.elements));
      assert.equal(kind(enumerator), MetadataKind.DIEnumerator);
      assert.equal(name(enumerator, at.enumerator.name), "E_ONE");
      assert.equal(name(wrap, at.type.name), "Wrap<u8>");
      const namespace = md.operand(wrap, at.type.scope);
      assert.equal(kind(namespace), MetadataKind.DINamespace);
      assert.equal(name(namespace, at.namespace.name), "krate");
      assert.equal(md.operand(namespace, at.namespace.scope), NO_MD);

      // Locations: !13 in the function, !14 in a lexical block, inlined at !13.
      const locations: MDRef[] = [];
      fn.forEachDebugLocation((l) => locations.push(l));
      assert.equal(locations.length, 2, "one per run of equal locations");
      const [outer, inner] = locations;
      assert.equal(md.operand(outer, at.location.scope), sp);
      assert.equal(md.operands(outer).length, 1, "no inlinedAt");
      assert.equal(md.operand(inner, at.location.inlinedAt), outer);
      const block = md.operand(inner, at.location.scope);
      assert.equal(kind(block), MetadataKind.DILexicalBlock);
      assert.equal(md.operand(block, at.lexicalBlock.scope), sp);
      assert.equal(md.operand(block, at.lexicalBlock.file), file);
    });
  });

  test(
    `${name}: the body walk reaches locations, debug variables and call attachments`,
    options,
    async () => {
      await withDebugModule(path, (module, llvm) => {
        assert.match(module.toIrText(), /#dbg_value\(/, "parsed as debug records");
        {
          using md = new DebugMetadata(module);
          assert.equal(md.recordAccess, llvm.version.major >= 22 ? "records" : "intrinsics");
          if (md.recordAccess === "intrinsics") {
            assert.match(module.toIrText(), /call void @llvm\.dbg\.value\(/, "shown as intrinsics");
          }
          const at = md.layout;
          const [fn] = md.functions();
          const kinds = new Set<number>();
          const locations: LocationRef[] = [];
          fn.forEachBodyMetadata({
            location: (l) => locations.push(l),
            node: (ref, kind) => {
              // A kind the walk tells is the node's.
              if (kind !== -1) assert.equal(kind, md.kind(ref));
              kinds.add(md.kind(ref));
            },
          });
          assert.ok(kinds.has(MetadataKind.DILocalVariable), "the #dbg_value's variable");
          assert.ok(kinds.has(MetadataKind.DICompositeType), "!llvm.preserve.access.index");
          assert.ok(!kinds.has(MetadataKind.DILocation), "locations come as LocationRefs");
          // !13 for the loads (and the record on LLVM 22), then !14, inlined at !13.
          const distinct = [...new Set(locations)];
          assert.equal(distinct.length, 2);
          const [outer, inner] = distinct;
          assert.equal(md.locationScope(outer), fn.subprogram);
          assert.equal(md.locationInlinedAt(outer), NO_LOCATION);
          assert.equal(md.locationInlinedAt(inner), outer);
          const block = md.locationScope(inner);
          assert.equal(md.kind(block), MetadataKind.DILexicalBlock);
          // What the MDRef API says of the same nodes.
          const refs: MDRef[] = [];
          fn.forEachDebugLocation((l) => refs.push(l));
          assert.equal(md.operand(refs[0], at.location.scope), fn.subprogram);
          assert.equal(md.operand(refs[1], at.location.scope), block);
          // A location pointed at another scope stays the same node.
          md.setLocationScope(inner, fn.subprogram);
          assert.equal(md.locationScope(inner), fn.subprogram);
          assert.equal(md.operand(refs[1], at.location.scope), fn.subprogram);
          md.setLocationScope(inner, block);
          // Whatever the visitor does, the walk stops with it.
          assert.throws(
            () =>
              fn.forEachBodyMetadata({
                location: () => {},
                node: (ref) => {
                  if (md.kind(ref) === MetadataKind.DICompositeType) throw new Error("stop");
                },
              }),
            /stop/,
          );
          let again = 0;
          fn.forEachBodyMetadata({ location: () => again++, node: () => again++ });
          assert.ok(again >= 4, `walked again: ${again}`);
        }
        // Disposed: LLVM 19's module is back in debug records.
        assert.match(module.toIrText(), /#dbg_value\(/);
        assert.equal(module.verify(), undefined);
        {
          // Without debug records the module is never converted.
          using md = new DebugMetadata(module, { debugRecords: false });
          assert.match(module.toIrText(), /#dbg_value\(/);
          const [fn] = md.functions();
          let locations = 0;
          fn.forEachDebugLocation(() => locations++);
          assert.equal(locations, 2);
        }
      });
    },
  );

  test(`${name}: nodes keep their MDRef; strings and tuples are uniqued`, options, async () => {
    await withDebugModule(path, (module) => {
      using md = new DebugMetadata(module);
      const at = md.layout;
      const [fn] = md.functions();
      assert.equal(fn.subprogram, fn.subprogram);
      assert.equal(md.mdString("héllo"), md.mdString("héllo"));
      assert.equal(md.string(md.mdString("héllo")), "héllo");
      assert.equal(md.string(md.mdString("a\0b")), "a\0b");
      assert.equal(md.kind(md.mdString("x")), MetadataKind.MDString);
      const [cu] = md.namedMetadata("llvm.dbg.cu");
      const [enumType] = md.operands(md.operand(cu, at.compileUnit.enumTypes));
      const elements = md.operand(enumType, at.composite.elements);
      assert.equal(md.tuple(md.operands(elements)), elements, "the same items: the same tuple");
      assert.equal(md.kind(md.tuple([])), MetadataKind.MDTuple);
      assert.deepEqual(md.operands(md.tuple([])), []);
      // A uniqued node changed in place keeps its identity.
      const [enumerator] = md.operands(elements);
      md.replaceOperand(enumerator, at.enumerator.name, md.mdString("E_UNO"));
      assert.equal(md.string(md.operand(enumerator, at.enumerator.name)), "E_UNO");
      assert.deepEqual(md.operands(md.operand(enumType, at.composite.elements)), [enumerator]);
      assert.match(module.toIrText(), /!DIEnumerator\(name: "E_UNO", value: 1\)/);
      // Cleared right after another change: nothing, not the node asked about last.
      md.replaceOperand(enumType, at.type.name, NO_MD);
      assert.equal(md.operand(enumType, at.type.name), NO_MD);
      assert.match(module.toIrText(), /!DICompositeType\(tag: DW_TAG_enumeration_type, scope:/);
      assert.equal(module.verify(), undefined);
    });
  });
}
