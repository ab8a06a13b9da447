// Debug-info metadata, read and rewritten for the BTF sanitizer and the pruning
// of dead compile units (docs/ARCHITECTURE.md#btf, src/btf/). Everything that
// touches LLVM handles stays in ffi/; src/ sees metadata nodes as opaque `MDRef`
// numbers it may compare and use as keys, and finds operands by the names of
// ffi/metadata_layout.ts. What the C API cannot read or make (subprogram flags,
// local-to-unit copies of subprograms) is in ffi/metadata_text.ts.
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
import { type MetadataLayout, metadataLayout } from "./metadata_layout.ts";
import type { GlobalValue, Module } from "./module.ts";

declare const mdBrand: unique symbol;
/**
 * A metadata node, MDString or metadata-wrapped constant, by the address of its
 * MetadataAsValue. Opaque outside ffi/; 0 (`NO_MD`) means "no operand".
 */
export type MDRef = number & { readonly [mdBrand]: true };
export const NO_MD = 0 as MDRef;

declare const locationBrand: unique symbol;
/**
 * A DILocation by its own address (an LLVMMetadataRef), as instructions and
 * debug records hold it: a function body's many locations are read without
 * a MetadataAsValue each. Opaque outside ffi/; 0 (`NO_LOCATION`) means none.
 * Never equal to an MDRef of the same node, so the two are not mixed in one set.
 */
export type LocationRef = number & { readonly [locationBrand]: true };
export const NO_LOCATION = 0 as LocationRef;

/** What a walk over a function body reports (DebugFunction.forEachBodyMetadata). */
export interface BodyVisitor {
  /** The debug location of an instruction or debug record. */
  location(location: LocationRef): void;
  /** Any other metadata, with its kind when the walk knows it (else -1). */
  node(ref: MDRef, kind: number): void;
}

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

/** The DWARF tags the sanitizer looks at. */
export const DwTag = {
  classType: 0x02,
  enumerationType: 0x04,
  member: 0x0d,
  pointerType: 0x0f,
  structureType: 0x13,
  typedef: 0x16,
  unionType: 0x17,
  variantPart: 0x33,
} as const;

/** The DWARF base-type encodings (DW_ATE_*) the sanitizer uses. */
export const DwAte = {
  unsigned: 0x08,
  utf: 0x10,
} as const;

/** DINode::FlagFwdDecl: a declaration of a type, without its members. */
export const DI_FLAG_FWD_DECL = 1 << 2;

const decoder = new TextDecoder();
const encoder = new TextEncoder();
const TWO_32 = 4294967296;

/** The first `count` handles of an array LLVM filled with 64-bit pointers (as 32-bit words). */
function handlesFrom(words: Uint32Array, count: number): MDRef[] {
  const out = new Array<MDRef>(count);
  for (let i = 0; i < count; i++) out[i] = (words[2 * i + 1] * TWO_32 + words[2 * i]) as MDRef;
  return out;
}

/** LLVMDbgRecordKind: Label, Declare, Value, Assign. */
const DBG_RECORD_LABEL = 0;

/** A defined or declared function, as the sanitizer sees it. */
export class DebugFunction {
  readonly #md: DebugMetadata;
  readonly #value: GlobalValue;

  /** @internal made by DebugMetadata.functions() */
  constructor(md: DebugMetadata, value: GlobalValue) {
    this.#md = md;
    this.#value = value;
  }

  get name(): string {
    return this.#value.name;
  }

  get isDeclaration(): boolean {
    return this.#value.isDeclaration;
  }

  /** The attached DISubprogram, or NO_MD. */
  get subprogram(): MDRef {
    return this.#md.refOf(this.#md.api.LLVMGetSubprogram(this.#value.handle));
  }

  set subprogram(sp: MDRef) {
    this.#md.api.LLVMSetSubprogram(this.#value.handle, this.#md.metadataOf(sp));
  }

  /** Every metadata attachment of the function (its !dbg included). */
  attachments(): MDRef[] {
    return this.#md.attachmentsOf(this.#value.handle);
  }

  /**
   * Report every metadata the body refers to, in order: each instruction's
   * debug location and attachments, the locations and variables of its debug
   * records, and metadata operands of calls (debug intrinsics). Repeats are
   * not filtered here, except a location that repeats the previous one's.
   */
  forEachBodyMetadata(visitor: BodyVisitor): void {
    this.#md.bodyMetadata(this.#value, visitor, true);
  }

  /**
   * Call `visit` with the debug location (a DILocation) of each instruction of
   * the body, skipping one that repeats the previous instruction's. Debug
   * records and attachments are not read.
   */
  forEachDebugLocation(visit: (location: MDRef) => void): void {
    const md = this.#md;
    md.bodyMetadata(this.#value, { location: (l) => visit(md.refOf(l)), node: () => {} }, false);
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
  /** Operand positions of this LLVM's debug-info nodes. */
  readonly layout: MetadataLayout;
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
  /**
   * The node whose metadata address was asked last, and that address: the
   * kind, tag, flags and offset of one node are mostly read one after another.
   */
  #lastRef = NO_MD;
  #lastMetadata = 0;
  /** Whether records are read as debug intrinsics (converted for the walk). */
  #convertedToIntrinsics = false;
  /** Whether the module is still to be converted to intrinsics on first need. */
  #convertible: boolean;
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
    this.layout = metadataLayout(this.llvm.version.major);
    this.#ctx = module.context.handle;
    const api = this.api;
    this.#readRecords = options.debugRecords !== false &&
      api.LLVMDbgVariableRecordGetVariable !== undefined &&
      api.LLVMDbgRecordGetDebugLoc !== undefined && api.LLVMDbgRecordGetKind !== undefined &&
      api.LLVMGetFirstDbgRecord !== undefined && api.LLVMGetNextDbgRecord !== undefined;
    this.#convertible = options.debugRecords !== false && !this.#readRecords;
  }

  /**
   * Before LLVM 22 debug records cannot be read through the C API: they are
   * shown as llvm.dbg.* calls while the body walk needs them, and converted
   * back on dispose. Done on first need: a caller that never walks a body
   * leaves the module as it is.
   */
  #prepareRecords(): void {
    if (!this.#convertible) return;
    this.#convertible = false;
    const api = this.api;
    const handle = this.#module.handle;
    if (api.LLVMIsNewDbgInfoFormat(handle) === 0) return;
    api.LLVMSetIsNewDbgInfoFormat(handle, 0);
    this.#convertedToIntrinsics = api.LLVMIsNewDbgInfoFormat(handle) === 0;
  }

  /** @internal The module whose debug info this reads. */
  get module(): Module {
    return this.#module;
  }

  /** How debug records are read: "records", "intrinsics" or "unreadable". */
  get recordAccess(): "records" | "intrinsics" | "unreadable" {
    if (this.#readRecords) return "records";
    this.#prepareRecords();
    if (this.#convertedToIntrinsics || this.api.LLVMIsNewDbgInfoFormat(this.#module.handle) === 0) {
      return "intrinsics";
    }
    return "unreadable";
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
    if (ref === NO_MD) return 0;
    if (ref === this.#lastRef) return this.#lastMetadata;
    // A MetadataAsValue keeps its node for good: changing a node's operands
    // keeps the node (see the top of this file).
    this.#lastMetadata = this.api.LLVMValueAsMetadata(ref);
    this.#lastRef = ref;
    return this.#lastMetadata;
  }

  // ---- reading nodes

  /** The LLVMMetadataKind of a node (see MetadataKind). */
  kind(ref: MDRef): number {
    return this.api.LLVMGetMetadataKind(this.metadataOf(ref));
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
   * Operand `position` of an MDNode (a position of `layout`), or NO_MD when the
   * node has fewer operands.
   */
  operand(ref: MDRef, position: number): MDRef {
    return this.operands(ref)[position] ?? NO_MD;
  }

  /** The DWARF tag of a DINode. */
  tag(ref: MDRef): number {
    // uint16_t in C: the upper bits of the register are not defined.
    return this.api.LLVMGetDINodeTag(this.metadataOf(ref)) & 0xffff;
  }

  /** DIType only. */
  typeFlags(ref: MDRef): number {
    return this.api.LLVMDITypeGetFlags(this.metadataOf(ref)) >>> 0;
  }

  /** DIType only (a member's offset in its struct). */
  offsetInBits(ref: MDRef): number {
    return this.api.LLVMDITypeGetOffsetInBits(this.metadataOf(ref));
  }

  /** Whether a DIType's name is `name` (ASCII), read only when the lengths match. */
  typeNameIs(ref: MDRef, name: string): boolean {
    this.#length32[1] = 0;
    const p = this.api.LLVMDITypeGetName(this.metadataOf(ref), this.#length);
    if (this.#length32[0] !== name.length || this.#length32[1] !== 0) return false;
    return this.#readString(p) === name;
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
    // MDStrings live in StringMap entries, which LLVM keeps NUL-terminated:
    // reading up to the NUL avoids a copy. A string with an embedded NUL or
    // non-ASCII bytes has another length and is copied exactly.
    const text = this.llvm.ffi.readCString(p);
    return text.length === n ? text : decoder.decode(this.llvm.ffi.viewBytes(p, n));
  }

  /** DISubprogram only. */
  subprogramLine(ref: MDRef): number {
    return this.api.LLVMDISubprogramGetLine(this.metadataOf(ref));
  }

  /** The scope of a debug location: a subprogram or lexical block. */
  locationScope(location: LocationRef): MDRef {
    return this.refOf(this.api.LLVMDILocationGetScope(location));
  }

  /** The location a debug location was inlined at, or NO_LOCATION. */
  locationInlinedAt(location: LocationRef): LocationRef {
    return this.api.LLVMDILocationGetInlinedAt(location) as LocationRef;
  }

  /** Point a debug location at another scope (it stays the same node). */
  setLocationScope(location: LocationRef, scope: MDRef): void {
    this.replaceOperand(this.refOf(location), this.layout.location.scope, scope);
  }

  /** LLVM's textual form of one node (operands print as addresses). */
  describe(ref: MDRef): string {
    return this.llvm.takeMessage(this.api.LLVMPrintValueToString(ref));
  }

  // ---- making and changing nodes

  /** Set operand `index` of `node` to `value` (NO_MD clears it). */
  replaceOperand(node: MDRef, index: number, value: MDRef): void {
    this.api.LLVMReplaceMDNodeOperandWith(node, index, this.metadataOf(value));
    // Nodes are kept when changed; forgetting the last address costs one call at most.
    this.#lastRef = NO_MD;
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

  /**
   * The DIBasicType `name` of `sizeInBits` with DWARF `encoding` (no flags):
   * the module's own node when it has one (basic types are uniqued), else a new one.
   */
  basicType(name: string, sizeInBits: number, encoding: number): MDRef {
    const bytes = encoder.encode(name);
    const builder = this.dibuilder();
    return this.refOf(this.api.LLVMDIBuilderCreateBasicType(builder, bytes, bytes.length, sizeInBits, encoding, 0));
  }

  /** @internal The module's DIBuilder, made on first use and finalized on dispose. */
  dibuilder(): Pointer {
    if (this.#disposed) throw new LlvmFailure("DebugMetadata used after dispose");
    this.#lastRef = NO_MD;
    this.#builder ??= this.api.LLVMCreateDIBuilder(this.#module.handle);
    if (this.#builder === null) throw new LlvmFailure("LLVMCreateDIBuilder failed");
    return this.#builder;
  }

  // ---- roots

  /** Every function of the module, in module order. */
  functions(): DebugFunction[] {
    return this.#module.functions().map((f) => new DebugFunction(this, f));
  }

  /** The operands of the module's named metadata `name` (e.g. `llvm.dbg.cu`), in order. */
  namedMetadata(name: string): MDRef[] {
    return this.namedMetadataIn(this.#module, name);
  }

  /** @internal namedMetadata of another module of the same context (a scratch module). */
  namedMetadataIn(module: Module, name: string): MDRef[] {
    const api = this.api;
    const bytes = encoder.encode(`${name}\0`);
    const count = api.LLVMGetNamedMetadataNumOperands(module.handle, bytes);
    if (count === 0) return [];
    const table = new Uint32Array(count * 2);
    api.LLVMGetNamedMetadataOperands(module.handle, bytes, new Uint8Array(table.buffer));
    return handlesFrom(table, count);
  }

  /** The metadata attached to every global variable (e.g. DIGlobalVariableExpression). */
  globalVariableAttachments(): MDRef[] {
    return this.#module.globalVariables().flatMap((g) => this.attachmentsOf(g.handle));
  }

  /** @internal Every metadata attachment of a global object. */
  attachmentsOf(value: Pointer): MDRef[] {
    const out: MDRef[] = [];
    this.#forEachEntry(
      this.api.LLVMGlobalCopyAllMetadata(value, this.#length),
      (ref) => out.push(ref),
    );
    return out;
  }

  /**
   * Visit each metadata of an LLVMValueMetadataEntry array LLVM just returned
   * (its length in `#length`) but `skip`, then free the array, whatever `visit` does.
   */
  #forEachEntry(entries: number, visit: (ref: MDRef) => void, skip = 0): void {
    if (entries === 0) return;
    const api = this.api;
    const count = this.#length32[0];
    try {
      for (let i = 0; i < count; i++) {
        const metadata = api.LLVMValueMetadataEntriesGetMetadata(entries, i);
        if (metadata !== skip) visit(this.refOf(metadata));
      }
    } finally {
      api.LLVMDisposeValueMetadataEntries(entries);
    }
  }

  /**
   * @internal The one walk over a function body (DebugFunction's
   * forEachBodyMetadata, and forEachDebugLocation when `all` is false).
   */
  bodyMetadata(fn: GlobalValue, visitor: BodyVisitor, all: boolean): void {
    if (all) this.#prepareRecords();
    const api = this.api;
    const readRecords = all && this.#readRecords;
    const intrinsics = all && !this.#readRecords;
    const unknown = (ref: MDRef) => visitor.node(ref, -1);
    let lastLoc = 0;
    fn.forEachInstruction((i) => {
      const loc = api.LLVMInstructionGetDebugLoc(i);
      // Consecutive instructions mostly share their location.
      if (loc !== 0 && loc !== lastLoc) {
        lastLoc = loc;
        visitor.location(loc as LocationRef);
      }
      if (!all) return;
      // Debug-info attachments other than !dbg sit on calls: CO-RE intrinsics
      // carry !llvm.preserve.access.index, allocation calls !heapallocsite.
      // (The C API lists the call's !dbg among them too: reported above.)
      const isCall = api.LLVMIsACallInst(i) !== null;
      if (isCall) {
        const entries = api.LLVMInstructionGetAllMetadataOtherThanDebugLoc(i, this.#length);
        this.#forEachEntry(entries, unknown, loc);
      }
      if (readRecords) {
        for (let r = api.LLVMGetFirstDbgRecord!(i); r !== 0; r = api.LLVMGetNextDbgRecord!(r)) {
          const recordLoc = api.LLVMDbgRecordGetDebugLoc!(r);
          if (recordLoc !== 0) visitor.location(recordLoc as LocationRef);
          // Labels have no C accessor; their DILabel is in the retained nodes.
          if (api.LLVMDbgRecordGetKind!(r) !== DBG_RECORD_LABEL) {
            const variable = this.refOf(api.LLVMDbgVariableRecordGetVariable!(r));
            visitor.node(variable, MetadataKind.DILocalVariable);
          }
        }
      } else if (intrinsics && isCall) {
        // llvm.dbg.* calls (and other intrinsics) take metadata as arguments.
        const n = api.LLVMGetNumOperands(i);
        for (let k = 0; k < n; k++) {
          const op = api.LLVMGetOperand(i, k);
          if (op !== 0 && api.LLVMIsAMDNode(op) !== 0) unknown(op as MDRef);
        }
      }
    });
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
