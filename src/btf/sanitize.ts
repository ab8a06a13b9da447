// The BTF debug-info sanitizer (docs/ARCHITECTURE.md#btf). The kernel's BTF is C-shaped and
// Rust's debug info is not; before optimization the linked module's debug info
// is rewritten so the BPF backend emits BTF the kernel accepts:
// - every function that is not exported gets a subprogram local to its unit
//   (BTF linkage=static: verified in its callers' context, not on its own);
// - struct/union members are sorted by offset (the kernel wants them in order,
//   Rust reorders fields), data-carrying enums lose their variants (BTF cannot
//   describe them), pointer types lose their names and the names the kernel
//   checks (struct, union, enum and values, typedef, func, var, member) are
//   made C identifiers (sanitizeTypeName); base types such as `()` keep theirs.
//
// One walk over the metadata graph does the rewriting: it starts at every
// global variable's and function's attachments and every instruction's debug
// location, attachments and debug records, visits each node once (a Set of
// node ids) and rewrites nodes in place.

import { type Llvm, LlvmFailure } from "../../ffi/llvm.ts";
import {
  type DebugFunction,
  DebugMetadata,
  DI_FLAG_FWD_DECL,
  DwTag,
  hasOperands,
  type MDRef,
  MetadataKind,
  NO_MD,
} from "../../ffi/metadata.ts";
import {
  cloneThroughText,
  rebuildWithDIBuilder,
  type StaticSubprogramMaker,
  type StaticSubprogramRequest,
  subprogramFlags,
} from "../../ffi/metadata_text.ts";
import type { Module } from "../../ffi/module.ts";
import { LlvmError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { sanitizeTypeName } from "./names.ts";

export interface SanitizeReport {
  /**
   * The data-carrying enums whose variants were removed, by path as the debug
   * info names them (`netdep::Verdict`, `core::option::Option<u32>`); sorted, unique.
   */
  emptiedEnums: string[];
  /**
   * Globals whose type holds an emptied enum and that the user meets in BTF-based
   * tools: maps (sections `.maps`, `maps`, `maps/...`) and exported globals; sorted by global.
   */
  emptiedInUse: { global: string; map: boolean; enums: string[] }[];
  /** Functions that got a new, local-to-unit subprogram. */
  staticFunctions: number;
  /** Metadata nodes visited. */
  nodes: number;
  /** Names changed (sanitized or removed). */
  renamed: number;
  /** Composite types whose members were reordered. */
  reordered: number;
}

/** The type aya-ebpf puts in its BTF map definitions (see fixMembers). */
const AYA_MAP_MARKER = "AyaBtfMapMarker";

export interface SanitizeOptions {
  /**
   * How the local-to-unit subprograms are made, tried in order until one
   * succeeds: by default a copy through LLVM's printer and parser, then
   * LLVMDIBuilderCreateFunction, which loses what the C API cannot set (LLVM
   * 21+ key instructions). Tests pass the fallback alone.
   */
  subprograms?: readonly StaticSubprogramMaker[];
}

const DEFAULT_SUBPROGRAM_MAKERS = [cloneThroughText, rebuildWithDIBuilder] as const;

/** Crates of the Rust sysroot: their enums are summarized, not listed, in the info line. */
const SYSROOT_CRATES = new Set([
  "core",
  "alloc",
  "std",
  "compiler_builtins",
  "proc_macro",
  "panic_abort",
]);

/** Sections that hold maps: BTF-defined (`.maps`) and legacy (`maps`, `maps/<name>`, as aya writes them). */
export function isMapSection(section: string): boolean {
  return section === ".maps" || section === "maps" || section.startsWith("maps/");
}

/**
 * What to say about the enums whose variants were dropped. Most are Rust's own
 * (Option, Result instances in code the optimizer drops) and the user can do
 * nothing about them: that is an info line. A warning only where the emptied
 * type is what BTF-based tools show for a map's key or value or an exported
 * global, naming it.
 */
export function emptiedEnumsNotes(report: SanitizeReport): { info?: string; warnings: string[] } {
  const warnings = report.emptiedInUse.map(({ global, map, enums }) =>
    `BTF cannot describe enums that carry data: the type of ${map ? "map" : "exported global"} '${global}' ` +
    `contains ${enums.join(", ")}, whose variants were removed from the debug info (BTF-based tools will show ` +
    `${enums.length > 1 ? "them" : "it"} empty)`
  );
  if (report.emptiedEnums.length === 0) return { warnings };
  const own = report.emptiedEnums.filter((path) => !SYSROOT_CRATES.has(path.split("::")[0]));
  const sysroot = report.emptiedEnums.length - own.length;
  const parts: string[] = [];
  if (own.length > 0) parts.push(own.join(", "));
  if (sysroot > 0) {
    parts.push(
      `${
        own.length > 0 ? "and " : ""
      }${sysroot} of the Rust standard library (listed with --log-level debug)`,
    );
  }
  return {
    info: `BTF cannot describe enums that carry data; their variants were removed from the debug info: ${
      parts.join(" ")
    }`,
    warnings,
  };
}

/**
 * Sanitize `module`'s debug info for BTF, in place. `exported` names the
 * functions that keep global linkage in BTF.
 */
export function sanitizeDebugInfo(
  _llvm: Llvm,
  module: Module,
  exported: Set<string>,
  log: Logger,
  options: SanitizeOptions = {},
): SanitizeReport {
  using md = new DebugMetadata(module);
  if (md.recordAccess === "unreadable") {
    // LLVM 20 and 21: records can be walked but not read, and the module cannot
    // be shown as intrinsics any more. Variables are still reached through the
    // subprograms' retained nodes and most locations through instructions; a
    // record location no instruction shares keeps pointing at the old
    // subprogram, which costs DWARF variable info, not BTF.
    log.debug(
      `BTF sanitizer: LLVM ${md.llvm.versionString} cannot read debug records through its C API; ` +
        "locations only debug records use are not rewritten",
    );
  } else {
    log.debug(`BTF sanitizer: reading debug variables as ${md.recordAccess}`);
  }
  const report: SanitizeReport = {
    emptiedEnums: [],
    emptiedInUse: [],
    staticFunctions: 0,
    nodes: 0,
    renamed: 0,
    reordered: 0,
  };
  const functions = md.functions();

  // 1. Linkage: old subprogram -> its local-to-unit replacement.
  const replacements = new Map<MDRef, MDRef>();
  const pending: (StaticSubprogramRequest & { fn: DebugFunction })[] = [];
  const shared: { fn: DebugFunction; sp: MDRef }[] = [];
  const seen = new Set<MDRef>();
  for (const fn of functions) {
    if (fn.isDeclaration) continue;
    const sp = fn.subprogram;
    if (sp === NO_MD || exported.has(fn.name)) continue;
    if (seen.has(sp)) {
      // Two functions with one subprogram (invalid, but keep them together).
      shared.push({ fn, sp });
      continue;
    }
    seen.add(sp);
    const flags = subprogramFlags(md, sp);
    // Already static (e.g. Rust generics instantiated in this crate): nothing to change.
    if (flags.localToUnit && flags.definition) continue;
    pending.push({ fn, sp, flags });
  }
  const clones = makeStaticSubprograms(md, pending, options.subprograms ?? DEFAULT_SUBPROGRAM_MAKERS, log);
  pending.forEach(({ fn, sp }, i) => {
    fn.subprogram = clones[i];
    replacements.set(sp, clones[i]);
    report.staticFunctions++;
    log.trace(`BTF: ${fn.name} is static`);
  });
  for (const { fn, sp } of shared) {
    const replacement = replacements.get(sp);
    if (replacement !== undefined) fn.subprogram = replacement;
  }

  // 2. The walk. Old subprograms are never visited (every reference to one is
  // rewritten to its replacement first), so an operand already in `visited`
  // needs no replacement lookup.
  const at = md.layout;
  const elementsOperand = at.composite.elements;
  const emptied = new Set<string>();
  /** The emptied composite types, by node, with their qualified names. */
  const emptiedNodes = new Map<MDRef, string>();
  const visited = new Set<number>();
  const stack: MDRef[] = [];
  const push = (ref: MDRef) => {
    if (ref === NO_MD || visited.has(ref)) return;
    const replacement = replacements.get(ref);
    if (replacement !== undefined) {
      ref = replacement;
      if (visited.has(ref)) return;
    }
    visited.add(ref);
    stack.push(ref);
  };

  /** Replace the name (operand `position`) with its sanitized form, or remove it. */
  const rename = (node: MDRef, ops: MDRef[], remove: boolean, position: number = at.type.name) => {
    if (ops.length <= position) return;
    const nameRef = ops[position];
    if (nameRef === NO_MD) return;
    if (remove) {
      md.replaceOperand(node, position, NO_MD);
      ops[position] = NO_MD;
      report.renamed++;
      return;
    }
    const name = md.string(nameRef);
    const clean = sanitizeTypeName(name);
    if (clean === name) return;
    const cleanRef = md.mdString(clean);
    md.replaceOperand(node, position, cleanRef);
    ops[position] = cleanRef;
    report.renamed++;
  };

  /** `crate::module::Name` from the namespaces around a type (read before renaming). */
  const qualifiedName = (ops: MDRef[]): string => {
    const parts = [md.string(ops[at.type.name]) || "(anonymous)"];
    let scope = ops[at.type.scope] ?? NO_MD;
    // Types nest in namespaces (Rust modules, functions) and other types.
    for (let depth = 0; scope !== NO_MD && depth < 64; depth++) {
      const kind = md.kind(scope);
      if (kind !== MetadataKind.DINamespace && kind !== MetadataKind.DICompositeType) break;
      const scopeOps = md.operands(scope);
      const position = kind === MetadataKind.DINamespace ? at.namespace : at.type;
      const name = md.string(scopeOps[position.name] ?? NO_MD);
      if (name) parts.push(name);
      scope = scopeOps[position.scope] ?? NO_MD;
    }
    return parts.reverse().join("::");
  };

  /**
   * Struct/union: drop a data-carrying enum's variants, or sort members by
   * offset. A member of type `AyaBtfMapMarker` is dropped and the struct made
   * anonymous (returns true): aya-ebpf marks its BTF map definitions so, and
   * libbpf refuses a map definition with a member it does not know.
   */
  const fixMembers = (node: MDRef, ops: MDRef[]): boolean => {
    if (md.typeFlags(node) & DI_FLAG_FWD_DECL) return false;
    const elements = elementsOperand < ops.length ? ops[elementsOperand] : NO_MD;
    if (elements === NO_MD) return false;
    if (md.kind(elements) !== MetadataKind.MDTuple) {
      throw new LlvmError(
        `unexpected DICompositeType layout in LLVM ${md.llvm.versionString}: elements are not operand ${elementsOperand}`,
      );
    }
    const items = md.operands(elements);
    const members: { ref: MDRef; offset: number; index: number }[] = [];
    let sorted = true;
    let marked = false;
    let last = -Infinity;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === NO_MD) continue;
      const kind = md.kind(item);
      if (kind === MetadataKind.DICompositeType && md.tag(item) === DwTag.variantPart) {
        const empty = md.tuple([]);
        md.replaceOperand(node, elementsOperand, empty);
        ops[elementsOperand] = empty;
        const name = qualifiedName(ops);
        emptied.add(name);
        emptiedNodes.set(node, name);
        return false;
      }
      if (kind === MetadataKind.DIDerivedType && isMapMarker(item)) {
        marked = true;
        continue;
      }
      // Non-type elements (never seen from rustc or clang for C) keep their place at the end.
      const offset = kind === MetadataKind.DIDerivedType ? md.offsetInBits(item) : Infinity;
      if (offset < last) sorted = false;
      last = offset;
      members.push({ ref: item, offset, index: i });
    }
    if (sorted && !marked) return false;
    if (!sorted) {
      members.sort((a, b) => a.offset - b.offset || a.index - b.index);
      report.reordered++;
    }
    const tuple = md.tuple(members.map((m) => m.ref));
    md.replaceOperand(node, elementsOperand, tuple);
    ops[elementsOperand] = tuple;
    return marked;
  };

  /** A member whose type is aya-ebpf's `AyaBtfMapMarker`. */
  const isMapMarker = (member: MDRef): boolean => {
    const base = md.operand(member, at.derived.baseType);
    if (base === NO_MD || md.kind(base) !== MetadataKind.DICompositeType) return false;
    const name = md.operand(base, at.type.name);
    return name !== NO_MD && md.string(name) === AYA_MAP_MARKER;
  };

  // Roots. Aliases carry no metadata (their aliasee is a function or global
  // walked anyway); function parameters neither (their variables are in the
  // subprograms' retained nodes and in debug records).
  for (const ref of md.globalVariableAttachments()) push(ref);
  for (const fn of functions) {
    for (const ref of fn.attachments()) push(ref);
    if (!fn.isDeclaration) fn.forEachBodyMetadata(push);
  }

  while (stack.length > 0) {
    const node = stack.pop()!;
    report.nodes++;
    const kind = md.kind(node);
    if (!hasOperands(kind)) continue;
    const ops = md.operands(node);
    // Only the names the kernel validates as C identifiers (btf_name_valid_identifier:
    // struct, union, enum and its values, typedef, func, var, member) are escaped;
    // pointers lose their names (the kernel wants none there). Base types keep
    // theirs: the kernel does not check INT or FLOAT names, so Rust's `()` stays.
    switch (kind) {
      case MetadataKind.DICompositeType: {
        const tag = md.tag(node);
        if (tag === DwTag.structureType || tag === DwTag.unionType || tag === DwTag.classType) {
          rename(node, ops, fixMembers(node, ops));
        } else if (tag === DwTag.enumerationType) {
          rename(node, ops, false);
        }
        break;
      }
      case MetadataKind.DIDerivedType: {
        const tag = md.tag(node);
        if (tag === DwTag.pointerType) rename(node, ops, true);
        else if (tag === DwTag.typedef || tag === DwTag.member) rename(node, ops, false);
        break;
      }
      case MetadataKind.DIEnumerator:
        rename(node, ops, false, at.enumerator.name);
        break;
      case MetadataKind.DIGlobalVariable:
        rename(node, ops, false, at.variable.name);
        break;
      case MetadataKind.DISubprogram:
        rename(node, ops, false, at.subprogram.name);
        break;
    }
    for (let i = 0; i < ops.length; i++) {
      let op = ops[i];
      if (op === NO_MD || visited.has(op)) continue;
      const replacement = replacements.get(op);
      if (replacement !== undefined) {
        md.replaceOperand(node, i, replacement);
        op = replacement;
        if (visited.has(op)) continue;
      }
      visited.add(op);
      stack.push(op);
    }
  }

  report.emptiedEnums = [...emptied].sort();
  if (emptiedNodes.size > 0) report.emptiedInUse = emptiedInUse(md, module, exported, emptiedNodes);
  if (report.emptiedEnums.length > 0) {
    log.debug(`BTF sanitizer: variants removed from ${report.emptiedEnums.join(", ")}`);
  }
  log.debug(
    `BTF sanitizer: ${report.nodes} metadata nodes, ${report.staticFunctions} functions made static, ` +
      `${report.renamed} names changed, ${report.reordered} member lists sorted, ${report.emptiedEnums.length} enums emptied`,
  );
  return report;
}

/**
 * For each map and exported global, the emptied enums its type holds: reached
 * through members, base types, element lists and template parameters (aya's
 * legacy maps carry key and value only as `PhantomData<K>` parameters), never
 * through a type's scope.
 */
function emptiedInUse(
  md: DebugMetadata,
  module: Module,
  exported: Set<string>,
  emptiedNodes: Map<MDRef, string>,
): SanitizeReport["emptiedInUse"] {
  const out: SanitizeReport["emptiedInUse"] = [];
  const at = md.layout;
  // A type's file, scope and name lead out of it, not into its parts.
  const typeParts = at.type.name + 1;
  for (const global of module.globalVariables()) {
    if (global.isDeclaration) continue;
    const map = isMapSection(global.section);
    if (!map && !exported.has(global.name)) continue;
    const found = new Set<string>();
    const visited = new Set<MDRef>();
    const stack: MDRef[] = [];
    for (const attachment of md.attachmentsOf(global.handle)) {
      if (md.kind(attachment) !== MetadataKind.DIGlobalVariableExpression) continue;
      const variable = md.operand(attachment, at.globalExpression.variable);
      if (variable === NO_MD || md.kind(variable) !== MetadataKind.DIGlobalVariable) continue;
      stack.push(md.operand(variable, at.variable.type));
    }
    while (stack.length > 0) {
      const node = stack.pop()!;
      if (node === NO_MD || visited.has(node)) continue;
      visited.add(node);
      const name = emptiedNodes.get(node);
      if (name !== undefined) found.add(name);
      const kind = md.kind(node);
      const isType = kind === MetadataKind.DIDerivedType || kind === MetadataKind.DICompositeType ||
        kind === MetadataKind.DISubroutineType;
      if (!isType && kind !== MetadataKind.MDTuple && kind !== MetadataKind.DITemplateTypeParameter) continue;
      const ops = md.operands(node);
      for (let i = isType ? typeParts : 0; i < ops.length; i++) if (ops[i] !== NO_MD) stack.push(ops[i]);
    }
    if (found.size > 0) out.push({ global: global.name, map, enums: [...found].sort() });
  }
  return out.sort((a, b) => (a.global < b.global ? -1 : a.global > b.global ? 1 : 0));
}

/**
 * The local-to-unit replacements of `requests`, in order, by the first of
 * `makers` that LLVM does not refuse.
 */
function makeStaticSubprograms(
  md: DebugMetadata,
  requests: readonly StaticSubprogramRequest[],
  makers: readonly StaticSubprogramMaker[],
  log: Logger,
): MDRef[] {
  if (requests.length === 0) return [];
  for (let i = 0; i < makers.length; i++) {
    const maker = makers[i];
    try {
      const made = maker.make(md, requests);
      log.debug(`BTF sanitizer: ${made.length} local subprograms made using ${maker.method}`);
      return made;
    } catch (e) {
      if (!(e instanceof LlvmFailure) || i === makers.length - 1) throw e;
      // LLVM did not take its own text back: fall back to the next way.
      log.debug(
        `BTF sanitizer: making local subprograms using ${maker.method} failed (${e.message}); ` +
          `trying ${makers[i + 1].method}`,
      );
    }
  }
  throw new LlvmFailure("no way to make local subprograms was given");
}
