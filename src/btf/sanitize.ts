// The BTF debug-info sanitizer (SPEC 5). The kernel's BTF is C-shaped and
// Rust's debug info is not; before optimization the linked module's debug info
// is rewritten so the BPF backend emits BTF the kernel accepts:
// - every function that is not exported gets a subprogram local to its unit
//   (BTF linkage=static: verified in its callers' context, not on its own);
// - struct/union members are sorted by offset (the kernel wants them in order,
//   Rust reorders fields), data-carrying enums lose their variants (BTF cannot
//   describe them), pointer types lose their names and every other type and
//   function name is made a C identifier (sanitizeTypeName).
//
// One walk over the metadata graph does the rewriting: it starts at every
// global variable's and function's attachments and every instruction's debug
// location, attachments and debug records, visits each node once (a Set of
// node ids) and rewrites nodes in place.

import type { Llvm } from "../../ffi/llvm.ts";
import {
  type DebugFunction,
  DebugMetadata,
  DI_FLAG_FWD_DECL,
  DwTag,
  hasOperands,
  type MDRef,
  MetadataKind,
  NO_MD,
  Operand,
  type SubprogramFlags,
} from "../../ffi/metadata.ts";
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
  /** Functions that got a new, local-to-unit subprogram. */
  staticFunctions: number;
  /** Metadata nodes visited. */
  nodes: number;
  /** Names changed (sanitized or removed). */
  renamed: number;
  /** Composite types whose members were reordered. */
  reordered: number;
}

/** A base type name as C spells them: words of identifier characters. */
const C_BASE_TYPE_NAME = /^[A-Za-z0-9_]+( [A-Za-z0-9_]+)*$/;

export interface SanitizeOptions {
  /**
   * How the local-to-unit subprograms are made: "clone" (default) copies each
   * old one through LLVM's printer and parser; "dibuilder" rebuilds it with
   * LLVMDIBuilderCreateFunction, the fallback, which loses what the C API
   * cannot set (LLVM 21+ key instructions). For tests.
   */
  subprograms?: "clone" | "dibuilder";
}

/** Crates of the Rust sysroot: their enums are summarized, not listed, in the warning. */
const SYSROOT_CRATES = new Set([
  "core",
  "alloc",
  "std",
  "compiler_builtins",
  "proc_macro",
  "panic_abort",
]);

/**
 * The one warning about enums whose variants were dropped, or undefined when
 * there were none. Enums of the program's own crates are named; those of the
 * Rust sysroot (mostly Option/Result instances in code the optimizer drops)
 * are only counted, the debug log lists them.
 */
export function emptiedEnumsWarning(report: SanitizeReport): string | undefined {
  if (report.emptiedEnums.length === 0) return undefined;
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
  return `BTF cannot describe enums that carry data; their variants were removed from the debug info: ${
    parts.join(" ")
  }`;
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
    staticFunctions: 0,
    nodes: 0,
    renamed: 0,
    reordered: 0,
  };
  const functions = md.functions();

  // 1. Linkage: old subprogram -> its local-to-unit replacement.
  const replacements = new Map<MDRef, MDRef>();
  const pending: { fn: DebugFunction; sp: MDRef; flags: SubprogramFlags }[] = [];
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
    const flags = md.subprogramFlags(sp);
    // Already static (e.g. Rust generics instantiated in this crate): nothing to change.
    if (flags.localToUnit && flags.definition) continue;
    pending.push({ fn, sp, flags });
  }
  let clones: MDRef[];
  try {
    if (options.subprograms === "dibuilder") throw new Error("DIBuilder requested");
    clones = md.cloneAsStatic(pending.map((p) => p.sp));
  } catch (e) {
    // LLVM did not take its own text back: build the subprograms with a DIBuilder
    // instead (fields the C API cannot set, like key instructions, are lost).
    log.debug(
      `BTF sanitizer: cloning subprograms through IR text failed (${
        (e as Error).message
      }); using DIBuilder`,
    );
    clones = pending.map((p) => md.createStaticSubprogram(p.sp, p.flags));
  }
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
  const elementsOperand = md.compositeElementsOperand;
  const emptied = new Set<string>();
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

  /**
   * Replace operand 2 (the name) with its sanitized form, or remove it.
   * `keepSpaces`: base types keep C's multi-word names (`unsigned int`, which
   * BTF and the kernel accept for INT) and are only escaped when they hold
   * anything else, like Rust's `()` and `!`.
   */
  // Names repeat (member names, base types): the verdict for an MDString is
  // kept, so each distinct name is read out of LLVM and checked once. NO_MD: no change.
  const cleanNames = new Map<MDRef, MDRef>();
  const cleanBaseNames = new Map<MDRef, MDRef>();
  const cleanName = (nameRef: MDRef, keepSpaces: boolean): MDRef => {
    const cache = keepSpaces ? cleanBaseNames : cleanNames;
    let cleanRef = cache.get(nameRef);
    if (cleanRef === undefined) {
      const name = md.string(nameRef);
      const clean = keepSpaces && C_BASE_TYPE_NAME.test(name) ? name : sanitizeTypeName(name);
      cleanRef = clean === name ? NO_MD : md.mdString(clean);
      cache.set(nameRef, cleanRef);
    }
    return cleanRef;
  };

  /** `rename` for a DIDerivedType: pointers lose their name (read the tag only when there is one). */
  const renameDerived = (node: MDRef, ops: MDRef[]) => {
    if (ops.length <= Operand.typeName || ops[Operand.typeName] === NO_MD) return;
    rename(node, ops, md.tag(node) === DwTag.pointerType);
  };

  const rename = (node: MDRef, ops: MDRef[], remove: boolean, keepSpaces = false) => {
    if (ops.length <= Operand.typeName) return;
    const nameRef = ops[Operand.typeName];
    if (nameRef === NO_MD) return;
    if (remove) {
      md.replaceOperand(node, Operand.typeName, NO_MD);
      ops[Operand.typeName] = NO_MD;
      report.renamed++;
      return;
    }
    const cleanRef = cleanName(nameRef, keepSpaces);
    if (cleanRef === NO_MD) return;
    md.replaceOperand(node, Operand.typeName, cleanRef);
    ops[Operand.typeName] = cleanRef;
    report.renamed++;
  };

  /** `crate::module::Name` from the namespaces around a type (read before renaming). */
  const qualifiedName = (ops: MDRef[]): string => {
    const parts = [md.string(ops[Operand.typeName]) || "(anonymous)"];
    let scope = ops.length > 1 ? ops[1] : NO_MD;
    // Types nest in namespaces (Rust modules, functions) and other types.
    for (let depth = 0; scope !== NO_MD && depth < 64; depth++) {
      const kind = md.kind(scope);
      if (kind !== MetadataKind.DINamespace && kind !== MetadataKind.DICompositeType) break;
      const scopeOps = md.operands(scope);
      const name = scopeOps.length > 2 ? md.string(scopeOps[2]) : "";
      if (name) parts.push(name);
      scope = scopeOps.length > 1 ? scopeOps[1] : NO_MD;
    }
    return parts.reverse().join("::");
  };

  let offsets: number[] = [];
  /** Struct/union: drop a data-carrying enum's variants, or sort members by offset. */
  const fixMembers = (node: MDRef, ops: MDRef[]) => {
    if (md.typeFlags(node) & DI_FLAG_FWD_DECL) return;
    const elements = elementsOperand < ops.length ? ops[elementsOperand] : NO_MD;
    if (elements === NO_MD) return;
    if (md.kind(elements) !== MetadataKind.MDTuple) {
      throw new LlvmError(
        `unexpected DICompositeType layout in LLVM ${md.llvm.versionString}: elements are not operand ${elementsOperand}`,
      );
    }
    const items = md.operands(elements);
    // Offsets by element index; members are only gathered for the rare unsorted list.
    if (offsets.length < items.length) offsets = new Array<number>(items.length);
    let sorted = true;
    let last = -Infinity;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === NO_MD) continue;
      const kind = md.kind(item);
      if (kind === MetadataKind.DICompositeType && md.tag(item) === DwTag.variantPart) {
        const empty = md.tuple([]);
        md.replaceOperand(node, elementsOperand, empty);
        ops[elementsOperand] = empty;
        emptied.add(qualifiedName(ops));
        return;
      }
      // Non-type elements (never seen from rustc or clang for C) keep their place at the end.
      const offset = kind === MetadataKind.DIDerivedType ? md.offsetInBits(item) : Infinity;
      if (offset < last) sorted = false;
      last = offset;
      offsets[i] = offset;
    }
    if (sorted) return;
    const members: { ref: MDRef; offset: number; index: number }[] = [];
    for (let i = 0; i < items.length; i++) {
      if (items[i] !== NO_MD) members.push({ ref: items[i], offset: offsets[i], index: i });
    }
    members.sort((a, b) => a.offset - b.offset || a.index - b.index);
    const tuple = md.tuple(members.map((m) => m.ref));
    md.replaceOperand(node, elementsOperand, tuple);
    ops[elementsOperand] = tuple;
    report.reordered++;
  };

  // Roots. Aliases carry no metadata (their aliasee is a function or global
  // walked anyway); function parameters neither (their variables are in the
  // subprograms' retained nodes and in debug records).
  for (const ref of md.globalVariableAttachments()) push(ref);
  for (const fn of functions) {
    for (const ref of fn.attachments()) push(ref);
    if (!fn.isDeclaration) fn.forEachBodyMetadata(push);
  }

  const replacing = replacements.size > 0;
  const nodeOps: MDRef[] = [];
  while (stack.length > 0) {
    const node = stack.pop()!;
    report.nodes++;
    const kind = md.kind(node);
    if (!hasOperands(kind)) continue;
    // Reused from node to node; nothing below keeps it past this iteration.
    const ops = md.operandsInto(node, nodeOps);
    switch (kind) {
      case MetadataKind.DICompositeType: {
        const tag = md.tag(node);
        if (tag === DwTag.structureType || tag === DwTag.unionType || tag === DwTag.classType) {
          fixMembers(node, ops);
        }
        rename(node, ops, false);
        break;
      }
      case MetadataKind.DIDerivedType:
        renameDerived(node, ops);
        break;
      case MetadataKind.DIBasicType:
        rename(node, ops, false, true);
        break;
      case MetadataKind.DIStringType:
      case MetadataKind.DISubrangeType:
      case MetadataKind.DIFixedPointType:
      case MetadataKind.DISubprogram:
        rename(node, ops, false);
        break;
    }
    if (!replacing) {
      // Nothing to rewire (no function became static): only new nodes to visit.
      for (let i = 0; i < ops.length; i++) {
        const op = ops[i];
        if (op === NO_MD || visited.has(op)) continue;
        visited.add(op);
        stack.push(op);
      }
      continue;
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
  if (report.emptiedEnums.length > 0) {
    log.debug(`BTF sanitizer: variants removed from ${report.emptiedEnums.join(", ")}`);
  }
  log.debug(
    `BTF sanitizer: ${report.nodes} metadata nodes, ${report.staticFunctions} functions made static, ` +
      `${report.renamed} names changed, ${report.reordered} member lists sorted, ${report.emptiedEnums.length} enums emptied`,
  );
  return report;
}
