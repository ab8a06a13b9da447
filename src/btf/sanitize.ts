// The BTF debug-info sanitizer (docs/ARCHITECTURE.md#btf). The kernel's BTF is C-shaped and
// Rust's debug info is not; after optimization (only the functions to be emitted are
// left) the linked module's debug info is rewritten so the BPF backend emits BTF the
// kernel accepts:
// - every function that is not exported gets a subprogram local to its unit
//   (BTF linkage=static: verified in its callers' context, not on its own);
// - struct/union members are sorted by offset (the kernel wants them in order,
//   Rust reorders fields), data-carrying enums lose their variants (BTF cannot
//   describe them), pointer types lose their names and the names the kernel
//   checks (struct, union, enum and values, typedef, func, var, member) are
//   made C identifiers (sanitizeTypeName); base types such as `()` keep theirs;
// - Rust's `char` (DWARF's UTF encoding, which LLVM's BTF writer skips) becomes
//   a 32-bit unsigned base type.
//
// First the linkage (local-to-unit subprograms, ffi/metadata_text.ts), then one
// walk over the metadata graph does the rest (src/btf/walk.ts), unless the
// module is C from clang with nothing made static, where nothing would change
// (src/btf/clang_c.ts).

import { LlvmFailure } from "../../ffi/llvm.ts";
import { type DebugFunction, DebugMetadata, DwAte, type MDRef, MetadataKind, NO_MD } from "../../ffi/metadata.ts";
import {
  cloneThroughText,
  parseSubprogramFlags,
  rebuildWithDIBuilder,
  type StaticSubprogramMaker,
  type StaticSubprogramRequest,
} from "../../ffi/metadata_text.ts";
import type { Module } from "../../ffi/module.ts";
import type { Logger } from "../log.ts";
import { type SourceNames, whyCNeedsTheWalk } from "./clang_c.ts";
import { walkDebugInfo } from "./walk.ts";

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

export interface SanitizeOptions {
  /**
   * How the local-to-unit subprograms are made, tried in order until one
   * succeeds: by default a copy through LLVM's printer and parser, then
   * LLVMDIBuilderCreateFunction, which loses what the C API cannot set (LLVM
   * 21+ key instructions). Tests pass the fallback alone.
   */
  subprograms?: readonly StaticSubprogramMaker[];
  /**
   * The bitcode of every module linked into `module`, when all of them were
   * bitcode. Linking copies metadata strings and never makes new ones, so
   * their strings stand in for the linked module's in the C shortcut
   * (src/btf/clang_c.ts), which then need not write the module to bitcode.
   */
  sourceBitcode?: readonly Uint8Array[];
  /** `sourceBitcode`'s strings already judged (judgeSourceNames), while libLLVM loaded. */
  sourceNames?: SourceNames;
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
  module: Module,
  exported: Set<string>,
  log: Logger,
  options: SanitizeOptions = {},
): SanitizeReport {
  using md = new DebugMetadata(module);
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
    // Printed once: for its flags, and for its copy if it is made static.
    const printed = md.describe(sp);
    const flags = parseSubprogramFlags(printed, md.subprogramLine(sp));
    // Already static (e.g. Rust generics instantiated in this crate): nothing to change.
    if (flags.localToUnit && flags.definition) continue;
    pending.push({ fn, sp, flags, printed });
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

  // C from clang with no function made static: nothing can change (see whyCNeedsTheWalk).
  if (replacements.size === 0) {
    const needed = whyCNeedsTheWalk(md, module, functions, options.sourceBitcode, options.sourceNames);
    if (needed === undefined) {
      log.debug("BTF sanitizer: C from clang only, no function made static, no name to change: nothing to walk");
      return report;
    }
    log.debug(`BTF sanitizer: walking the debug info: ${needed}`);
  }

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

  // 2. Rust's `char`, a 32-bit DW_ATE_UTF base type: LLVM's BTF writer has no
  // such integer and gives whatever uses it type 0, which the kernel refuses
  // for a member or a named parameter ("Invalid type_id", "Invalid arg#2"), so
  // the whole BTF. The walk points every use at a 32-bit unsigned `char`.
  const rustChar = md.basicType("char", 32, DwAte.utf);
  replacements.set(rustChar, md.basicType("char", 32, DwAte.unsigned));

  // 3. The walk (src/btf/walk.ts).
  const { emptied, emptiedNodes } = walkDebugInfo(md, functions, replacements, report);
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
