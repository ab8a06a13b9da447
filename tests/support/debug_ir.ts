// Hand-written IR with debug info of every node kind ffi/metadata*.ts reads,
// valid for LLVM 19 and 22, for tests/ffi/metadata*.test.ts. Numbers name the
// nodes in the comments of those tests: !10 the subprogram of @f, !13 and !14
// its locations (!14 in lexical block !15, inlined at !13), !30 its parameter,
// !40 struct pair (members !43 first, !44 second), !41 a pointer to it, !50 an
// enum with enumerator !52, !61 a struct in namespace !60, @g's variable !21
// and the constant !24 (a variable with no global).

import { existsSync } from "node:fs";
import { Llvm } from "../../ffi/llvm.ts";

export const DEBUG_IR = `target triple = "bpf"

@g = dso_local global i32 0, align 4, !dbg !20

define dso_local i32 @f(ptr %p) !dbg !10 {
entry:
    #dbg_value(ptr %p, !30, !DIExpression(), !13)
  %a = load i32, ptr %p, align 4, !dbg !13
  %b = add i32 %a, 1, !dbg !13
  %c = call i32 @llvm.bpf.passthrough.i32.i32(i32 0, i32 %b), !dbg !14, !llvm.preserve.access.index !40
  ret i32 %c, !dbg !14
}

declare i32 @llvm.bpf.passthrough.i32.i32(i32, i32)

!llvm.dbg.cu = !{!0}
!llvm.module.flags = !{!2}
!0 = distinct !DICompileUnit(language: DW_LANG_C11, file: !3, producer: "hand", emissionKind: FullDebug, enums: !4, retainedTypes: !7, globals: !6)
!2 = !{i32 2, !"Debug Info Version", i32 3}
!3 = !DIFile(filename: "t.c", directory: "/d")
!4 = !{!50}
!5 = !{}
!6 = !{!20, !23}
!7 = !{!61}
!10 = distinct !DISubprogram(name: "f", linkageName: "f_link", scope: !3, file: !3, line: 3, type: !11, scopeLine: 4, flags: DIFlagPrototyped, spFlags: DISPFlagDefinition | DISPFlagOptimized, unit: !0, retainedNodes: !31)
!11 = !DISubroutineType(types: !12)
!12 = !{!22, !41}
!13 = !DILocation(line: 5, column: 3, scope: !10)
!14 = !DILocation(line: 6, column: 3, scope: !15, inlinedAt: !13)
!15 = distinct !DILexicalBlock(scope: !10, file: !3, line: 6, column: 1)
!20 = !DIGlobalVariableExpression(var: !21, expr: !DIExpression())
!21 = distinct !DIGlobalVariable(name: "g", scope: !0, file: !3, line: 1, type: !22, isLocal: false, isDefinition: true)
!22 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!23 = !DIGlobalVariableExpression(var: !24, expr: !DIExpression(DW_OP_constu, 5, DW_OP_stack_value))
!24 = distinct !DIGlobalVariable(name: "k", scope: !0, file: !3, line: 2, type: !22, isLocal: true, isDefinition: true)
!30 = !DILocalVariable(name: "p", arg: 1, scope: !10, file: !3, line: 3, type: !41)
!31 = !{!30}
!40 = distinct !DICompositeType(tag: DW_TAG_structure_type, name: "pair", scope: !3, file: !3, line: 2, size: 64, elements: !42)
!41 = !DIDerivedType(tag: DW_TAG_pointer_type, baseType: !40, size: 64)
!42 = !{!43, !44}
!43 = !DIDerivedType(tag: DW_TAG_member, name: "first", scope: !40, file: !3, line: 2, baseType: !22, size: 32)
!44 = !DIDerivedType(tag: DW_TAG_member, name: "second", scope: !40, file: !3, line: 2, baseType: !22, size: 32, offset: 32)
!50 = !DICompositeType(tag: DW_TAG_enumeration_type, name: "e", scope: !3, file: !3, line: 1, baseType: !22, size: 32, elements: !51)
!51 = !{!52}
!52 = !DIEnumerator(name: "E_ONE", value: 1)
!60 = !DINamespace(name: "krate", scope: null)
!61 = !DICompositeType(tag: DW_TAG_structure_type, name: "Wrap<u8>", scope: !60, file: !3, size: 8, elements: !5, identifier: "wrap_u8")
`;

export const LLVM19_LIBRARY = "/usr/lib/llvm-19/lib/libLLVM.so.1";
export const LLVM22_LIBRARY = "/usr/lib/llvm-22/lib/libLLVM.so.1";

/** The libLLVMs the metadata tests run against, each with its test options (19 skipped loudly when missing). */
export function debugInfoLlvms(): { name: string; path: string; options: { skip?: string } }[] {
  const have19 = existsSync(LLVM19_LIBRARY);
  if (!have19) {
    process.stderr.write(`SKIP: LLVM 19 metadata tests: ${LLVM19_LIBRARY} is not installed\n`);
  }
  return [
    { name: "LLVM 22", path: LLVM22_LIBRARY, options: {} },
    { name: "LLVM 19", path: LLVM19_LIBRARY, options: have19 ? {} : { skip: "no LLVM 19" } },
  ];
}

const loaded = new Map<string, Promise<Llvm>>();
/** The libLLVM at `path`, loaded once per process. */
export function llvmAt(path: string): Promise<Llvm> {
  let llvm = loaded.get(path);
  if (!llvm) loaded.set(path, llvm = Llvm.load({ explicitPath: path }));
  return llvm;
}
