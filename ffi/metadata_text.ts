// Debug info the LLVM-C API cannot read or make directly, handled through LLVM's
// IR printer and parser (docs/ARCHITECTURE.md#btf): the flags of a subprogram,
// whether an expression is a constant, and local-to-unit copies of
// subprograms for the BTF sanitizer, with a DIBuilder fallback.
//
// A subprogram is copied through text so every field the C API cannot set
// survives (scope line, flags, virtuality, LLVM 21+ key instructions, ...):
// LLVM prints the node, the text gets `DISPFlagLocalToUnit`, and LLVM's parser
// makes the new distinct node in a scratch module of the same context.

import { type DebugMetadata, type MDRef, MetadataKind, NO_MD } from "./metadata.ts";
import { LlvmFailure } from "./llvm.ts";

const encoder = new TextEncoder();

/** LLVMDIFlags (DINode::DIFlags), by the names LLVM prints (`DIFlagPrototyped`). */
export const DIFlags: Readonly<Record<string, number>> = {
  DIFlagZero: 0,
  DIFlagPrivate: 1,
  DIFlagProtected: 2,
  DIFlagPublic: 3,
  DIFlagFwdDecl: 1 << 2,
  DIFlagAppleBlock: 1 << 3,
  DIFlagReservedBit4: 1 << 4,
  DIFlagVirtual: 1 << 5,
  DIFlagArtificial: 1 << 6,
  DIFlagExplicit: 1 << 7,
  DIFlagPrototyped: 1 << 8,
  DIFlagObjcClassComplete: 1 << 9,
  DIFlagObjectPointer: 1 << 10,
  DIFlagVector: 1 << 11,
  DIFlagStaticMember: 1 << 12,
  DIFlagLValueReference: 1 << 13,
  DIFlagRValueReference: 1 << 14,
  DIFlagExportSymbols: 1 << 15,
  DIFlagSingleInheritance: 1 << 16,
  DIFlagMultipleInheritance: 2 << 16,
  DIFlagVirtualInheritance: 3 << 16,
  DIFlagIntroducedVirtual: 1 << 18,
  DIFlagBitField: 1 << 19,
  DIFlagNoReturn: 1 << 20,
  DIFlagTypePassByValue: 1 << 22,
  DIFlagTypePassByReference: 1 << 23,
  DIFlagEnumClass: 1 << 24,
  DIFlagThunk: 1 << 25,
  DIFlagNonTrivial: 1 << 26,
  DIFlagBigEndian: 1 << 27,
  DIFlagLittleEndian: 1 << 28,
  DIFlagAllCallsDescribed: 1 << 29,
};
/** What LLVM-C cannot tell about a subprogram, read from its printed form. */
export interface SubprogramFlags {
  scopeLine: number;
  /** DIFlags */
  flags: number;
  localToUnit: boolean;
  definition: boolean;
  optimized: boolean;
}

/** Parse `scopeLine:`, `flags:` and `spFlags:` out of a printed DISubprogram. */
export function parseSubprogramFlags(text: string, fallbackLine: number): SubprogramFlags {
  const scopeLine = /\bscopeLine: (\d+)/.exec(text);
  const flagsText = /\bflags: ([A-Za-z0-9_| ]+)/.exec(text)?.[1] ?? "";
  const spFlags = /\bspFlags: ([A-Za-z0-9_| ]+)/.exec(text)?.[1] ?? "";
  let flags = 0;
  for (const token of flagsText.split("|").map((t) => t.trim()).filter(Boolean)) {
    flags |= DIFlags[token] ?? (/^(0x[0-9a-f]+|\d+)$/i.test(token) ? Number(token) : 0);
  }
  const sp = new Set(spFlags.split("|").map((t) => t.trim()));
  return {
    scopeLine: scopeLine ? Number(scopeLine[1]) : fallbackLine,
    flags,
    localToUnit: sp.has("DISPFlagLocalToUnit"),
    definition: sp.has("DISPFlagDefinition"),
    optimized: sp.has("DISPFlagOptimized"),
  };
}

/** Name, scope line, flags and SP flags of a subprogram, from its printed form. */
export function subprogramFlags(md: DebugMetadata, sp: MDRef): SubprogramFlags {
  return parseSubprogramFlags(md.describe(sp), md.subprogramLine(sp));
}

/**
 * Whether the printed DIExpression in `text` is a constant as
 * DIExpression::isConstant() says: `DW_OP_consts|constu C`, then nothing,
 * `DW_OP_stack_value`, or `DW_OP_stack_value, DW_OP_LLVM_fragment, O, S`.
 */
export function isConstantExpressionText(text: string): boolean {
  const match = /!DIExpression\(([^)]*)\)/.exec(text);
  if (!match) return false;
  const e = match[1].split(",").map((t) => t.trim()).filter(Boolean);
  if (e.length !== 2 && e.length !== 3 && e.length !== 6) return false;
  if (e[0] !== "DW_OP_consts" && e[0] !== "DW_OP_constu") return false;
  if (e.length >= 3 && e[2] !== "DW_OP_stack_value") return false;
  return e.length !== 6 || e[3] === "DW_OP_LLVM_fragment";
}

/**
 * A DIGlobalVariableExpression whose expression is a constant: it describes
 * a variable that needs no global (strip-dead-debug-info keeps those).
 */
export function isConstantGlobalExpression(md: DebugMetadata, ref: MDRef): boolean {
  if (md.kind(ref) !== MetadataKind.DIGlobalVariableExpression) return false;
  const expression = md.operand(ref, md.layout.globalExpression.expression);
  return expression !== NO_MD && isConstantExpressionText(md.describe(expression));
}

// ---- local-to-unit copies of subprograms

const CLONES_LIST = "bpf_linker.static_subprograms";
const CLONE_FIRST_ID = 100;
/**
 * A scratch module whose debug info verifies: a compile unit, and nodes of the
 * kinds the printed subprogram fields need (placeholders, replaced right after).
 */
const CLONE_MODULE_HEADER = [
  "!llvm.dbg.cu = !{!0}",
  "!llvm.module.flags = !{!1}",
  "!0 = distinct !DICompileUnit(language: DW_LANG_C99, file: !2, emissionKind: FullDebug)",
  '!1 = !{i32 2, !"Debug Info Version", i32 3}',
  '!2 = !DIFile(filename: "bpf-linker", directory: "")',
  "!3 = !DISubroutineType(types: !4)",
  "!4 = !{}",
  '!5 = !DISubprogram(name: "declaration", scope: !2, file: !2, type: !3, spFlags: 0)',
  '!6 = !DIBasicType(name: "placeholder", size: 8, encoding: DW_ATE_unsigned)',
  "",
].join("\n");

/** The placeholder for each reference field of a printed DISubprogram. */
const PLACEHOLDER: Readonly<Record<string, string>> = {
  scope: "!2",
  file: "!2",
  type: "!3",
  unit: "!0",
  declaration: "!5",
  containingType: "!6",
  templateParams: "!4",
  retainedNodes: "!4",
  thrownTypes: "!4",
  annotations: "!4",
};

/**
 * `<0x...> = distinct !DISubprogram(...)` as LLVM prints it without a module ->
 * the node's text with placeholders for references and the LocalToUnit and
 * Definition SP flags. String literals (LLVM escapes `"` inside them) are left alone.
 */
export function staticSubprogramText(printed: string): string {
  const start = printed.indexOf("distinct !DISubprogram(");
  if (start < 0) throw new LlvmFailure(`not a subprogram definition: ${printed.slice(0, 80)}`);
  const node = printed.slice(start).trimEnd();
  let sawSpFlags = false;
  const rewritten = node.split(/("[^"]*")/).map((part, i) => {
    if (i % 2 === 1) return part; // a string literal
    return part
      .replace(
        /(\w+): <0x[0-9a-f]+>/g,
        (_m, field: string) => `${field}: ${PLACEHOLDER[field] ?? "!4"}`,
      )
      .replace(/\bspFlags: ([A-Za-z0-9_| ]+?)(?=[,)])/, (_m, flags: string) => {
        sawSpFlags = true;
        const set = new Set(flags.split("|").map((f) => f.trim()).filter((f) => f && f !== "0"));
        set.add("DISPFlagLocalToUnit");
        set.add("DISPFlagDefinition");
        return `spFlags: ${[...set].join(" | ")}`;
      });
  }).join("");
  if (sawSpFlags) return rewritten;
  return rewritten.replace(/\)$/, ", spFlags: DISPFlagLocalToUnit | DISPFlagDefinition)");
}

/**
 * Clone each subprogram of `olds` as a definition local to its unit (BTF
 * linkage=static), exactly otherwise, through LLVM's printer and parser
 * (`printed[i]`: old `i` as LLVM printed it, when the caller has it). The
 * printed operand references become placeholders of the right kind; after
 * parsing, each clone gets its old subprogram's operands back one by one, and
 * the retained nodes (variables, labels) move from the old subprogram to the
 * clone. Operands elsewhere that point to an old subprogram are the caller's
 * to rewrite. Throws LlvmFailure when LLVM does not take the text back.
 */
export function cloneAsStatic(
  md: DebugMetadata,
  olds: readonly MDRef[],
  printed: readonly (string | undefined)[] = [],
): MDRef[] {
  if (olds.length === 0) return [];
  const lines = olds.map((old, i) =>
    `!${CLONE_FIRST_ID + i} = ${staticSubprogramText(printed[i] ?? md.describe(old))}`
  );
  const text = `${CLONE_MODULE_HEADER}!${CLONES_LIST} = !{${
    olds.map((_, i) => `!${CLONE_FIRST_ID + i}`).join(", ")
  }}\n${lines.join("\n")}\n`;
  using scratch = md.module.context.parseIr(encoder.encode(text), "bpf-linker-subprograms");
  const clones = md.namedMetadataIn(scratch, CLONES_LIST);
  if (clones.length !== olds.length) {
    throw new LlvmFailure(`cloned ${clones.length} subprograms of ${olds.length}`);
  }
  olds.forEach((old, i) => {
    const oldOps = md.operands(old);
    const cloneOps = md.operands(clones[i]);
    if (oldOps.length !== cloneOps.length) {
      throw new LlvmFailure(
        `the clone of a subprogram has ${cloneOps.length} operands, not ${oldOps.length}`,
      );
    }
    for (let k = 0; k < oldOps.length; k++) {
      if (cloneOps[k] !== oldOps[k]) md.replaceOperand(clones[i], k, oldOps[k]);
    }
  });
  // Only now that every clone is complete: the variables move to the clones.
  // (LLVM asserts if two subprograms list them.)
  const retainedNodes = md.layout.subprogram.retainedNodes;
  for (const old of olds) {
    if (md.operand(old, retainedNodes) !== NO_MD) {
      md.replaceOperand(old, retainedNodes, md.tuple([]));
    }
  }
  // The scratch module goes; the clones, distinct nodes, belong to the context.
  return clones;
}

/**
 * A new distinct DISubprogram with `old`'s name, linkage name, scope, file,
 * line, type, scope line, flags, unit and declaration, but local to the unit
 * and a definition (BTF: linkage=static), made with LLVM's DIBuilder. It loses
 * what the C API cannot set (LLVM 21+ key instructions). The retained nodes
 * (variables, labels) move from `old` to the new one, which leaves `old` with
 * an empty list. Operands elsewhere that point to `old` are the caller's to
 * rewrite.
 */
export function createStaticSubprogram(
  md: DebugMetadata,
  old: MDRef,
  flags: SubprogramFlags,
): MDRef {
  const api = md.api;
  const builder = md.dibuilder();
  const at = md.layout.subprogram;
  const ops = md.operands(old);
  const op = (i: number) => (i < ops.length ? ops[i] : NO_MD);
  const name = encoder.encode(md.string(op(at.name)));
  const linkageName = encoder.encode(md.string(op(at.linkageName)));
  const fresh = api.LLVMDIBuilderCreateFunction(
    builder,
    md.metadataOf(op(at.scope)),
    name,
    name.length,
    linkageName,
    linkageName.length,
    md.metadataOf(op(at.file)),
    md.subprogramLine(old),
    md.metadataOf(op(at.type)),
    1, // local to unit
    1, // definition
    flags.scopeLine,
    flags.flags,
    flags.optimized ? 1 : 0,
  );
  if (fresh === 0) throw new LlvmFailure("LLVMDIBuilderCreateFunction failed");
  // Up to LLVM 19 the builder gives a definition a temporary retained-nodes
  // list that only this resolves; later versions have nothing to do here.
  api.LLVMDIBuilderFinalizeSubprogram(builder, fresh);
  const ref = md.refOf(fresh);
  // The builder drops a compile-unit scope and has no unit of its own.
  if (md.operand(ref, at.scope) !== op(at.scope)) md.replaceOperand(ref, at.scope, op(at.scope));
  md.replaceOperand(ref, at.unit, op(at.unit));
  if (op(at.declaration) !== NO_MD) md.replaceOperand(ref, at.declaration, op(at.declaration));
  const retained = op(at.retainedNodes);
  if (retained !== NO_MD) {
    md.replaceOperand(ref, at.retainedNodes, retained);
    // The variables now belong to the new subprogram (their scopes are
    // rewritten by the caller); LLVM asserts if two subprograms list them.
    md.replaceOperand(old, at.retainedNodes, md.tuple([]));
  }
  return ref;
}

/** A subprogram to be replaced by a local-to-unit one, with its flags as printed. */
export interface StaticSubprogramRequest {
  readonly sp: MDRef;
  readonly flags: SubprogramFlags;
  /** The subprogram as LLVM printed it (md.describe), when the caller has it. */
  readonly printed?: string;
}

/** One way of making the local-to-unit replacements of subprograms. */
export interface StaticSubprogramMaker {
  /** How, for the debug log ("using ..."). */
  readonly method: string;
  /** The replacements of `requests`, in order; throws LlvmFailure when LLVM refuses. */
  make(md: DebugMetadata, requests: readonly StaticSubprogramRequest[]): MDRef[];
}

/** Copies through LLVM's printer and parser: every field survives. */
export const cloneThroughText: StaticSubprogramMaker = {
  method: "LLVM's printer and parser",
  make: (md, requests) =>
    cloneAsStatic(md, requests.map((r) => r.sp), requests.map((r) => r.printed)),
};

/** Rebuilt with LLVMDIBuilderCreateFunction: the fallback, which loses what the C API cannot set. */
export const rebuildWithDIBuilder: StaticSubprogramMaker = {
  method: "DIBuilder",
  make: (md, requests) => requests.map((r) => createStaticSubprogram(md, r.sp, r.flags)),
};
