// Debug-info metadata, read and rewritten for the BTF sanitizer (docs/ARCHITECTURE.md#btf,
// src/btf/sanitize.ts). Everything that touches LLVM handles stays here; src/
// sees metadata nodes as opaque `MDRef` numbers it may compare and use as keys.
//
// How the LLVM-C API is used:
// - A node is identified by the address of its MetadataAsValue (one per
//   metadata node per context): LLVMGetMDNodeOperands returns operands in that
//   form, so walking a graph needs no conversion per operand, and a visited set
//   keyed by the number is exact.
// - Nodes are changed in place with LLVMReplaceMDNodeOperandWith. A resolved
//   uniqued node keeps its identity when an operand changes (LLVM re-uniques it,
//   or makes it distinct on a collision), so every reference to it stays valid.
//   Distinct nodes cannot be replaced wholesale (LLVMMetadataReplaceAllUsesWith
//   is for temporary nodes only and deletes its target), which is why a new
//   subprogram is wired in by rewriting the operands that point to the old one.
// - Debug records (LLVM 19+ dbg.value/dbg.declare) are read with the LLVM 22 C
//   API; before 22 it cannot read them, so the module is converted to debug
//   intrinsics for the walk and back afterwards.

import type { Pointer } from "./backend.ts";
import { type Llvm, LlvmFailure } from "./llvm.ts";
import { GlobalValue, type Module } from "./module.ts";

declare const mdBrand: unique symbol;
/**
 * A metadata node, MDString or metadata-wrapped constant, by the address of its
 * MetadataAsValue. Opaque outside ffi/; 0 (`NO_MD`) means "no operand".
 */
export type MDRef = number & { readonly [mdBrand]: true };
export const NO_MD = 0 as MDRef;

/** LLVMMetadataKind (llvm-c/DebugInfo.h); append-only, the same in LLVM 19-22. */
export const MetadataKind = {
  MDString: 0,
  ConstantAsMetadata: 1,
  LocalAsMetadata: 2,
  DistinctMDOperandPlaceholder: 3,
  MDTuple: 4,
  DILocation: 5,
  DIExpression: 6,
  DIGlobalVariableExpression: 7,
  GenericDINode: 8,
  DISubrange: 9,
  DIEnumerator: 10,
  DIBasicType: 11,
  DIDerivedType: 12,
  DICompositeType: 13,
  DISubroutineType: 14,
  DIFile: 15,
  DICompileUnit: 16,
  DISubprogram: 17,
  DILexicalBlock: 18,
  DILexicalBlockFile: 19,
  DINamespace: 20,
  DIModule: 21,
  DITemplateTypeParameter: 22,
  DITemplateValueParameter: 23,
  DIGlobalVariable: 24,
  DILocalVariable: 25,
  DILabel: 26,
  DIObjCProperty: 27,
  DIImportedEntity: 28,
  DIMacro: 29,
  DIMacroFile: 30,
  DICommonBlock: 31,
  DIStringType: 32,
  DIGenericSubrange: 33,
  DIArgList: 34,
  DIAssignID: 35,
  /** LLVM 21+ */
  DISubrangeType: 36,
  /** LLVM 21+ */
  DIFixedPointType: 37,
} as const;

/** True for kinds that are MDNodes (have operands LLVMGetMDNodeOperands can read). */
export function hasOperands(kind: number): boolean {
  // MDString, ConstantAsMetadata, LocalAsMetadata and the placeholder are not
  // nodes; DIArgList is not an MDNode since LLVM 17 (it only holds values).
  return kind >= MetadataKind.MDTuple && kind !== MetadataKind.DIArgList;
}

/** True for the DIType kinds (their name is operand 2). */
export function isTypeKind(kind: number): boolean {
  return kind === MetadataKind.DIBasicType || kind === MetadataKind.DIDerivedType ||
    kind === MetadataKind.DICompositeType || kind === MetadataKind.DIStringType ||
    kind === MetadataKind.DISubrangeType || kind === MetadataKind.DIFixedPointType;
}

/** The DWARF tags the sanitizer looks at. */
export const DwTag = {
  arrayType: 0x01,
  classType: 0x02,
  enumerationType: 0x04,
  member: 0x0d,
  pointerType: 0x0f,
  structureType: 0x13,
  typedef: 0x16,
  unionType: 0x17,
  inheritance: 0x1c,
  variantPart: 0x33,
  variant: 0x19,
} as const;

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
export const DI_FLAG_FWD_DECL = 1 << 2;

/**
 * Operand positions (llvm/IR/DebugInfoMetadata.h). Every DIType has
 * file(0), scope(1), name(2); LLVM 21 made size and offset operands 3 and 4,
 * which moved DICompositeType's elements from 4 to 6.
 */
export const Operand = {
  typeName: 2,
  subprogramName: 2,
  subprogramScope: 1,
  subprogramUnit: 5,
  subprogramDeclaration: 6,
  subprogramRetainedNodes: 7,
} as const;

/**
 * DICompileUnit operand positions (llvm/IR/DebugInfoMetadata.h; the same in
 * LLVM 19 and 22): file, producer, flags, split debug file name, then the
 * lists DwarfDebug looks at to decide whether to emit a unit with no code.
 */
export const CompileUnitOperand = {
  file: 0,
  enumTypes: 4,
  retainedTypes: 5,
  globalVariables: 6,
  importedEntities: 7,
  macros: 8,
} as const;

/**
 * Operands of the nodes a debug location leads to: DILocation (scope, and
 * inlinedAt when there are two operands), DILexicalBlock(File) (scope 1) and
 * DIGlobalVariableExpression (variable, expression).
 */
export const LocationOperand = {
  locationScope: 0,
  locationInlinedAt: 1,
  lexicalBlockScope: 1,
  globalVariable: 0,
  globalExpression: 1,
} as const;

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

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const TWO_32 = 4294967296;

/** The first `count` handles of an array LLVM filled with 64-bit pointers (as 32-bit words). */
function handlesFrom(words: Uint32Array, count: number): MDRef[] {
  const out = new Array<MDRef>(count);
  for (let i = 0; i < count; i++) out[i] = (words[2 * i + 1] * TWO_32 + words[2 * i]) as MDRef;
  return out;
}

// ---- cloning subprograms through LLVM's printer and parser

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

/** LLVMDbgRecordKind: Label, Declare, Value, Assign. */
const DBG_RECORD_LABEL = 0;

/** A defined or declared function, as the sanitizer sees it. */
export class DebugFunction {
  readonly #md: DebugMetadata;
  readonly #ptr: Pointer;
  readonly #value: GlobalValue;

  /** @internal made by DebugMetadata.functions() */
  constructor(md: DebugMetadata, llvm: Llvm, ptr: Pointer) {
    this.#md = md;
    this.#ptr = ptr;
    this.#value = new GlobalValue(llvm, ptr, "function");
  }

  get name(): string {
    return this.#value.name;
  }

  get isDeclaration(): boolean {
    return this.#value.isDeclaration;
  }

  /** The attached DISubprogram, or NO_MD. */
  get subprogram(): MDRef {
    return this.#md.refOf(this.#md.api.LLVMGetSubprogram(this.#ptr));
  }

  set subprogram(sp: MDRef) {
    this.#md.api.LLVMSetSubprogram(this.#ptr, this.#md.metadataOf(sp));
  }

  /** Every metadata attachment of the function (its !dbg included). */
  attachments(): MDRef[] {
    return this.#md.attachmentsOf(this.#ptr, false);
  }

  /**
   * Call `visit` with every metadata the body refers to: each instruction's
   * debug location and attachments, the variables and locations of debug
   * records, and metadata operands of calls (debug intrinsics). Repeats are
   * not filtered here.
   */
  forEachBodyMetadata(visit: (ref: MDRef) => void): void {
    this.#md.forEachBodyMetadata(this.#ptr, visit);
  }

  /**
   * Call `visit` with the debug location (a DILocation) of each instruction of
   * the body, skipping one that repeats the previous instruction's. Debug
   * records and attachments are not read.
   */
  forEachDebugLocation(visit: (location: MDRef) => void): void {
    this.#md.forEachDebugLocation(this.#ptr, visit);
  }
}

/**
 * Reads and rewrites the debug-info metadata of one module. Dispose it when done:
 * that finalizes and frees its DIBuilder and restores the module's debug-record
 * format if reading it needed the intrinsic form.
 */
export class DebugMetadata implements Disposable {
  readonly llvm: Llvm;
  /** @internal */
  readonly api: Llvm["api"];
  readonly #module: Module;
  readonly #ctx: Pointer;
  #builder: Pointer | null = null;
  /** Scratch buffer for operand lists, 8 bytes per operand. */
  #ops = new Uint8Array(8 * 256);
  #ops32 = new Uint32Array(this.#ops.buffer);
  readonly #length = new Uint8Array(8);
  readonly #length32 = new Uint32Array(this.#length.buffer);
  /** Metadata address -> MDRef: debug locations repeat a lot. */
  readonly #refOf = new Map<number, MDRef>();
  /** Whether records are read as debug intrinsics (converted for the walk). */
  #convertedToIntrinsics = false;
  readonly #readRecords: boolean;
  #disposed = false;

  /**
   * `options.debugRecords: false`: the caller never reads debug records
   * (forEachBodyMetadata is not used), so the module is never converted to
   * debug intrinsics for LLVM before 22.
   */
  constructor(module: Module, options: { debugRecords?: boolean } = {}) {
    this.#module = module;
    this.llvm = module.context.llvm;
    this.api = this.llvm.api;
    this.#ctx = module.context.handle;
    const api = this.api;
    if (options.debugRecords === false) {
      this.#readRecords = false;
      return;
    }
    this.#readRecords = api.LLVMDbgVariableRecordGetVariable !== undefined &&
      api.LLVMDbgRecordGetDebugLoc !== undefined && api.LLVMDbgRecordGetKind !== undefined &&
      api.LLVMGetFirstDbgRecord !== undefined && api.LLVMGetNextDbgRecord !== undefined;
    if (!this.#readRecords && api.LLVMIsNewDbgInfoFormat(module.handle) !== 0) {
      // Before LLVM 22 debug records cannot be read through the C API: show
      // them as llvm.dbg.* calls while the sanitizer works, convert back after.
      api.LLVMSetIsNewDbgInfoFormat(module.handle, 0);
      this.#convertedToIntrinsics = api.LLVMIsNewDbgInfoFormat(module.handle) === 0;
    }
  }

  /** How debug records were read: "records", "intrinsics" or "unreadable". */
  get recordAccess(): "records" | "intrinsics" | "unreadable" {
    if (this.#readRecords) return "records";
    if (this.#convertedToIntrinsics || this.api.LLVMIsNewDbgInfoFormat(this.#module.handle) === 0) {
      return "intrinsics";
    }
    return "unreadable";
  }

  /** Where DICompositeType keeps its elements in this LLVM. */
  get compositeElementsOperand(): number {
    return this.llvm.version.major >= 21 ? 6 : 4;
  }

  // ---- handles

  /** @internal The MDRef of an LLVMMetadataRef (0 -> NO_MD). */
  refOf(metadata: number): MDRef {
    if (metadata === 0) return NO_MD;
    let ref = this.#refOf.get(metadata);
    if (ref === undefined) {
      ref = this.api.LLVMMetadataAsValue(this.#ctx, metadata) as MDRef;
      this.#refOf.set(metadata, ref);
    }
    return ref;
  }

  /** @internal The LLVMMetadataRef of an MDRef (NO_MD -> 0). */
  metadataOf(ref: MDRef): number {
    return ref === NO_MD ? 0 : this.api.LLVMValueAsMetadata(ref);
  }

  // ---- reading nodes

  /** The LLVMMetadataKind of a node (see MetadataKind). */
  kind(ref: MDRef): number {
    return this.api.LLVMGetMetadataKind(this.api.LLVMValueAsMetadata(ref));
  }

  /** The operands of an MDNode (only for kinds where hasOperands() holds); NO_MD for empty ones. */
  operands(ref: MDRef): MDRef[] {
    const api = this.api;
    const count = api.LLVMGetMDNodeNumOperands(ref);
    if (count === 0) return [];
    if (this.#ops.length < count * 8) {
      this.#ops = new Uint8Array(count * 16);
      this.#ops32 = new Uint32Array(this.#ops.buffer);
    }
    api.LLVMGetMDNodeOperands(ref, this.#ops);
    return handlesFrom(this.#ops32, count);
  }

  /**
   * `operands` into `out`, which the caller reuses from node to node (its length
   * becomes the count): a walk over tens of thousands of nodes then allocates
   * no array per node.
   */
  operandsInto(ref: MDRef, out: MDRef[]): MDRef[] {
    const api = this.api;
    const count = api.LLVMGetMDNodeNumOperands(ref);
    out.length = count;
    if (count === 0) return out;
    if (this.#ops.length < count * 8) {
      this.#ops = new Uint8Array(count * 16);
      this.#ops32 = new Uint32Array(this.#ops.buffer);
    }
    api.LLVMGetMDNodeOperands(ref, this.#ops);
    const words = this.#ops32;
    for (let i = 0; i < count; i++) out[i] = (words[2 * i + 1] * TWO_32 + words[2 * i]) as MDRef;
    return out;
  }

  /** The DWARF tag of a DINode. */
  tag(ref: MDRef): number {
    // uint16_t in C: the upper bits of the register are not defined.
    return this.api.LLVMGetDINodeTag(this.api.LLVMValueAsMetadata(ref)) & 0xffff;
  }

  /** DIType only. */
  typeFlags(ref: MDRef): number {
    return this.api.LLVMDITypeGetFlags(this.api.LLVMValueAsMetadata(ref)) >>> 0;
  }

  /** DIType only (a member's offset in its struct). */
  offsetInBits(ref: MDRef): number {
    return this.api.LLVMDITypeGetOffsetInBits(this.api.LLVMValueAsMetadata(ref));
  }

  /** DIType only; "" when it has no name. */
  typeName(ref: MDRef): string {
    const p = this.api.LLVMDITypeGetName(this.api.LLVMValueAsMetadata(ref), this.#length);
    return this.#readString(p);
  }

  /** The text of an MDString operand (NO_MD -> ""). */
  string(ref: MDRef): string {
    if (ref === NO_MD) return "";
    // LLVMGetMDString reports the length as a 4-byte `unsigned`.
    this.#length32[1] = 0;
    const p = this.api.LLVMGetMDString(ref, this.#length);
    return this.#readString(p);
  }

  /** A string LLVM owns, `#length` bytes long. */
  #readString(p: Pointer | null): string {
    const n = this.#length32[0] + this.#length32[1] * TWO_32;
    if (p === null || n === 0) return "";
    // MDStrings and type names live in StringMap entries, which LLVM keeps
    // NUL-terminated: reading up to the NUL avoids a copy. A string with an
    // embedded NUL or non-ASCII bytes has another length and is copied exactly.
    const text = this.llvm.ffi.readCString(p);
    return text.length === n ? text : decoder.decode(this.llvm.ffi.copyBytes(p, n));
  }

  /** DISubprogram only. */
  subprogramLine(ref: MDRef): number {
    return this.api.LLVMDISubprogramGetLine(this.api.LLVMValueAsMetadata(ref));
  }

  /**
   * A DIGlobalVariableExpression whose expression is a constant: it describes
   * a variable that needs no global (strip-dead-debug-info keeps those).
   */
  isConstantGlobalExpression(ref: MDRef): boolean {
    if (this.kind(ref) !== MetadataKind.DIGlobalVariableExpression) return false;
    const expression = this.operands(ref)[LocationOperand.globalExpression] ?? NO_MD;
    return expression !== NO_MD && isConstantExpressionText(this.describe(expression));
  }

  /** LLVM's textual form of one node (operands print as addresses). */
  describe(ref: MDRef): string {
    return this.llvm.takeMessage(this.api.LLVMPrintValueToString(ref));
  }

  // ---- making and changing nodes

  /** Set operand `index` of `node` to `value` (NO_MD clears it). */
  replaceOperand(node: MDRef, index: number, value: MDRef): void {
    this.api.LLVMReplaceMDNodeOperandWith(node, index, this.metadataOf(value));
  }

  /** An MDString. */
  mdString(text: string): MDRef {
    const bytes = encoder.encode(text);
    return this.refOf(this.api.LLVMMDStringInContext2(this.#ctx, bytes, bytes.length));
  }

  /** A uniqued tuple of `items` (e.g. a new elements list). */
  tuple(items: readonly MDRef[]): MDRef {
    const words = new Uint32Array(Math.max(items.length, 1) * 2);
    for (let i = 0; i < items.length; i++) {
      const md = this.metadataOf(items[i]);
      words[2 * i] = md % TWO_32;
      words[2 * i + 1] = Math.floor(md / TWO_32);
    }
    const bytes = new Uint8Array(words.buffer);
    return this.refOf(this.api.LLVMMDNodeInContext2(this.#ctx, bytes, items.length));
  }

  #dibuilder(): Pointer {
    if (this.#disposed) throw new LlvmFailure("DebugMetadata used after dispose");
    this.#builder ??= this.api.LLVMCreateDIBuilder(this.#module.handle);
    if (this.#builder === null) throw new LlvmFailure("LLVMCreateDIBuilder failed");
    return this.#builder;
  }

  /** Name, scope line, flags and SP flags of a subprogram. */
  subprogramFlags(sp: MDRef): SubprogramFlags {
    return parseSubprogramFlags(this.describe(sp), this.subprogramLine(sp));
  }

  /**
   * Clone each subprogram of `olds` as a definition local to its unit (BTF
   * linkage=static), exactly otherwise: LLVM prints the node, the text gets
   * `DISPFlagLocalToUnit`, and LLVM's parser makes the new distinct node, so
   * every field the C API cannot set survives (scope line, flags, virtuality,
   * LLVM 21+ key instructions, ...). The printed operand references become
   * placeholders of the right kind in a scratch module of the same context;
   * after parsing, the clone gets `old`'s operands back one by one, and the
   * retained nodes (variables, labels) move from `old` to the clone.
   * Operands elsewhere that point to an old subprogram are the caller's to
   * rewrite. Throws LlvmFailure when LLVM does not take the text back.
   */
  cloneAsStatic(olds: readonly MDRef[]): MDRef[] {
    if (olds.length === 0) return [];
    const lines = olds.map((old, i) =>
      `!${CLONE_FIRST_ID + i} = ${staticSubprogramText(this.describe(old))}`
    );
    const text = `${CLONE_MODULE_HEADER}!${CLONES_LIST} = !{${
      olds.map((_, i) => `!${CLONE_FIRST_ID + i}`).join(", ")
    }}\n${lines.join("\n")}\n`;
    using scratch = this.#module.context.parseIr(encoder.encode(text), "bpf-linker-subprograms");
    const name = encoder.encode(`${CLONES_LIST}\0`);
    const count = this.api.LLVMGetNamedMetadataNumOperands(scratch.handle, name);
    if (count !== olds.length) {
      throw new LlvmFailure(`cloned ${count} subprograms of ${olds.length}`);
    }
    const table = new Uint32Array(count * 2);
    this.api.LLVMGetNamedMetadataOperands(scratch.handle, name, new Uint8Array(table.buffer));
    const clones = handlesFrom(table, count);
    olds.forEach((old, i) => {
      const oldOps = this.operands(old);
      const cloneOps = this.operands(clones[i]);
      if (oldOps.length !== cloneOps.length) {
        throw new LlvmFailure(
          `the clone of a subprogram has ${cloneOps.length} operands, not ${oldOps.length}`,
        );
      }
      for (let k = 0; k < oldOps.length; k++) {
        if (cloneOps[k] !== oldOps[k]) this.replaceOperand(clones[i], k, oldOps[k]);
      }
    });
    // Only now that every clone is complete: the variables move to the clones.
    // (LLVM asserts if two subprograms list them.)
    olds.forEach((old) => {
      const retained = this.operands(old)[Operand.subprogramRetainedNodes] ?? NO_MD;
      if (retained !== NO_MD) {
        this.replaceOperand(old, Operand.subprogramRetainedNodes, this.tuple([]));
      }
    });
    // The scratch module goes; the clones, distinct nodes, belong to the context.
    return clones;
  }

  /**
   * A new distinct DISubprogram with `old`'s name, linkage name, scope, file,
   * line, type, scope line, flags, unit and declaration, but local to the unit
   * and a definition (BTF: linkage=static). The retained nodes (variables,
   * labels) move from `old` to the new one, which leaves `old` with an empty
   * list. Operands elsewhere that point to `old` are the caller's to rewrite.
   */
  createStaticSubprogram(old: MDRef, known?: SubprogramFlags): MDRef {
    const api = this.api;
    const builder = this.#dibuilder();
    const ops = this.operands(old);
    const at = (i: number) => (i < ops.length ? ops[i] : NO_MD);
    const name = encoder.encode(this.string(at(Operand.subprogramName)));
    const linkageName = encoder.encode(this.string(at(3)));
    const flags = known ?? this.subprogramFlags(old);
    const line = this.subprogramLine(old);
    const fresh = api.LLVMDIBuilderCreateFunction(
      builder,
      this.metadataOf(at(Operand.subprogramScope)),
      name,
      name.length,
      linkageName,
      linkageName.length,
      this.metadataOf(at(0)),
      line,
      this.metadataOf(at(4)),
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
    const ref = this.refOf(fresh);
    const freshOps = this.operands(ref);
    // The builder drops a compile-unit scope and has no unit of its own.
    if (freshOps[Operand.subprogramScope] !== at(Operand.subprogramScope)) {
      this.replaceOperand(ref, Operand.subprogramScope, at(Operand.subprogramScope));
    }
    this.replaceOperand(ref, Operand.subprogramUnit, at(Operand.subprogramUnit));
    if (at(Operand.subprogramDeclaration) !== NO_MD) {
      this.replaceOperand(ref, Operand.subprogramDeclaration, at(Operand.subprogramDeclaration));
    }
    const retained = at(Operand.subprogramRetainedNodes);
    if (retained !== NO_MD) {
      this.replaceOperand(ref, Operand.subprogramRetainedNodes, retained);
      // The variables now belong to the new subprogram (their scopes are
      // rewritten by the caller); LLVM asserts if two subprograms list them.
      this.replaceOperand(old, Operand.subprogramRetainedNodes, this.tuple([]));
    }
    return ref;
  }

  // ---- roots

  /** Every function of the module, in module order. */
  functions(): DebugFunction[] {
    return this.#module.functions().map((f) => new DebugFunction(this, this.llvm, f.handle));
  }

  /** The operands of the module's named metadata `name` (e.g. `llvm.dbg.cu`), in order. */
  namedMetadata(name: string): MDRef[] {
    const api = this.api;
    const bytes = encoder.encode(`${name}\0`);
    const count = api.LLVMGetNamedMetadataNumOperands(this.#module.handle, bytes);
    if (count === 0) return [];
    const table = new Uint32Array(count * 2);
    api.LLVMGetNamedMetadataOperands(this.#module.handle, bytes, new Uint8Array(table.buffer));
    return handlesFrom(table, count);
  }

  /** The metadata attached to every global variable (e.g. DIGlobalVariableExpression). */
  globalVariableAttachments(): MDRef[] {
    return this.#module.globalVariables().flatMap((g) => this.attachmentsOf(g.handle, false));
  }

  /** @internal Attachments of a global object, or (instruction = true) of an instruction except !dbg. */
  attachmentsOf(value: Pointer, instruction: boolean): MDRef[] {
    const api = this.api;
    const entries = instruction
      ? api.LLVMInstructionGetAllMetadataOtherThanDebugLoc(value, this.#length)
      : api.LLVMGlobalCopyAllMetadata(value, this.#length);
    const count = this.#length32[0];
    if (entries === 0) return [];
    try {
      const out = new Array<MDRef>(count);
      for (let i = 0; i < count; i++) {
        out[i] = this.refOf(api.LLVMValueMetadataEntriesGetMetadata(entries, i));
      }
      return out;
    } finally {
      api.LLVMDisposeValueMetadataEntries(entries);
    }
  }

  /** @internal See DebugFunction.forEachDebugLocation. */
  forEachDebugLocation(fn: Pointer, visit: (location: MDRef) => void): void {
    const api = this.api;
    let lastLoc = 0;
    for (let bb = api.LLVMGetFirstBasicBlock(fn); bb !== null; bb = api.LLVMGetNextBasicBlock(bb)) {
      for (let i = api.LLVMGetFirstInstruction(bb); i !== null; i = api.LLVMGetNextInstruction(i)) {
        const loc = api.LLVMInstructionGetDebugLoc(i);
        if (loc !== 0 && loc !== lastLoc) {
          lastLoc = loc;
          visit(this.refOf(loc));
        }
      }
    }
  }

  /** @internal See DebugFunction.forEachBodyMetadata. */
  forEachBodyMetadata(fn: Pointer, visit: (ref: MDRef) => void): void {
    const api = this.api;
    const readRecords = this.#readRecords;
    const intrinsics = !readRecords;
    let lastLoc = 0;
    for (let bb = api.LLVMGetFirstBasicBlock(fn); bb !== null; bb = api.LLVMGetNextBasicBlock(bb)) {
      for (let i = api.LLVMGetFirstInstruction(bb); i !== null; i = api.LLVMGetNextInstruction(i)) {
        const loc = api.LLVMInstructionGetDebugLoc(i);
        // Consecutive instructions mostly share their location.
        if (loc !== 0 && loc !== lastLoc) {
          lastLoc = loc;
          visit(this.refOf(loc));
        }
        // Debug-info attachments other than !dbg sit on calls: CO-RE intrinsics
        // carry !llvm.preserve.access.index, allocation calls !heapallocsite.
        const isCall = api.LLVMIsACallInst(i) !== null;
        if (isCall) {
          const entries = api.LLVMInstructionGetAllMetadataOtherThanDebugLoc(i, this.#length);
          if (entries !== 0) {
            const count = this.#length32[0];
            for (let k = 0; k < count; k++) {
              visit(this.refOf(api.LLVMValueMetadataEntriesGetMetadata(entries, k)));
            }
            api.LLVMDisposeValueMetadataEntries(entries);
          }
        }
        if (readRecords) {
          for (let r = api.LLVMGetFirstDbgRecord!(i); r !== 0; r = api.LLVMGetNextDbgRecord!(r)) {
            const recordLoc = api.LLVMDbgRecordGetDebugLoc!(r);
            if (recordLoc !== 0) visit(this.refOf(recordLoc));
            // Labels have no C accessor; their DILabel is in the retained nodes.
            if (api.LLVMDbgRecordGetKind!(r) !== DBG_RECORD_LABEL) {
              visit(this.refOf(api.LLVMDbgVariableRecordGetVariable!(r)));
            }
          }
        } else if (intrinsics && isCall) {
          // llvm.dbg.* calls (and other intrinsics) take metadata as arguments.
          const n = api.LLVMGetNumOperands(i);
          for (let k = 0; k < n; k++) {
            const op = api.LLVMGetOperand(i, k);
            if (op !== 0 && api.LLVMIsAMDNode(op) !== 0) visit(op as MDRef);
          }
        }
      }
    }
  }

  [Symbol.dispose](): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const api = this.api;
    if (this.#builder !== null) {
      api.LLVMDIBuilderFinalize(this.#builder);
      api.LLVMDisposeDIBuilder(this.#builder);
      this.#builder = null;
    }
    if (this.#convertedToIntrinsics) {
      api.LLVMSetIsNewDbgInfoFormat(this.#module.handle, 1);
      this.#convertedToIntrinsics = false;
    }
  }
}
