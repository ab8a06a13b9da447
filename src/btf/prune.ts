// Dead compile units, after optimization (with --btf, when debug info is kept).
//
// Every module brings its DICompileUnit into llvm.dbg.cu, and LLVM's DWARF
// writer emits a unit that has no code left as long as one of its lists (enum
// types, retained types, global variables, imported entities, macros) is not
// empty. So an archive member whose code internalize and DCE dropped still adds
// a unit to .debug_info/.debug_str/.debug_line, and linking every member
// (--whole-archive) gives another object than linking only the needed ones.
//
// Here a unit is live when code or data of it is left:
// - a defined function whose DISubprogram's unit it is, or a subprogram reached
//   from an instruction's debug location (its scope chain, and the chain of
//   inlinedAt locations: the units of inlined code are emitted too);
// - a global variable whose !dbg DIGlobalVariableExpression (or that
//   expression's DIGlobalVariable, which GlobalOpt re-attaches as fragments)
//   is in the unit's globals list.
// A dead unit gets empty lists, which makes the DWARF writer skip it. A live
// unit loses the globals-list entries whose variable is gone (as LLVM's
// strip-dead-debug-info: constant expressions stay), so what it lists does not
// depend on which other members were linked either.

import { DebugMetadata, type MDRef, MetadataKind, NO_MD } from "../../ffi/metadata.ts";
import { isConstantGlobalExpression } from "../../ffi/metadata_text.ts";
import type { Module } from "../../ffi/module.ts";
import type { Logger } from "../log.ts";

export interface PruneReport {
  /** Compile units in llvm.dbg.cu. */
  units: number;
  /** Units with live code or data. */
  liveUnits: number;
  /** Dead units whose lists were emptied (dead ones with empty lists already are not counted). */
  emptiedUnits: number;
  /** Entries dropped from live units' global-variable lists. */
  droppedGlobals: number;
  /** Distinct debug locations walked. */
  locations: number;
}

/**
 * Empty the lists of every compile unit of `module` that has no live function
 * or global variable left, and drop the dead entries of live units' global
 * variable lists, in place. Run after optimization, before codegen.
 */
export function pruneDeadCompileUnits(module: Module, log: Logger): PruneReport {
  using md = new DebugMetadata(module, { debugRecords: false });
  const at = md.layout;
  const units = md.namedMetadata("llvm.dbg.cu");
  const report: PruneReport = {
    units: units.length,
    liveUnits: 0,
    emptiedUnits: 0,
    droppedGlobals: 0,
    locations: 0,
  };
  if (units.length === 0) return report;

  // 1. Units of live code. Locations and scopes share one visited set: a
  // location chain or scope chain met again has been followed to its end.
  const live = new Set<MDRef>();
  const seen = new Set<MDRef>();
  /** Listed units not yet found live: once none is left, no location needs a look. */
  const pending = new Set(units);
  const markScope = (scope: MDRef) => {
    while (scope !== NO_MD && !seen.has(scope)) {
      seen.add(scope);
      const kind = md.kind(scope);
      if (kind === MetadataKind.DISubprogram) {
        const unit = md.operand(scope, at.subprogram.unit);
        if (unit !== NO_MD) {
          live.add(unit);
          pending.delete(unit);
        }
        return;
      }
      if (kind !== MetadataKind.DILexicalBlock && kind !== MetadataKind.DILexicalBlockFile) return;
      scope = md.operand(scope, at.lexicalBlock.scope);
    }
  };
  const markLocation = (location: MDRef) => {
    while (location !== NO_MD && !seen.has(location)) {
      seen.add(location);
      report.locations++;
      const ops = md.operands(location);
      markScope(ops[at.location.scope] ?? NO_MD);
      location = ops[at.location.inlinedAt] ?? NO_MD;
    }
  };
  // Each function's own subprogram first; the walk of every instruction's
  // location (for units that only inlined code keeps alive) only while a unit
  // is still undecided: one translation unit is decided by its first function.
  const defined = md.functions().filter((fn) => !fn.isDeclaration);
  for (const fn of defined) markScope(fn.subprogram);
  for (const fn of defined) {
    if (pending.size === 0) break;
    fn.forEachDebugLocation(markLocation);
  }

  // 2. Variables of live globals.
  const attached = new Set<MDRef>();
  const attachedVariables = new Set<MDRef>();
  for (const ref of md.globalVariableAttachments()) {
    if (md.kind(ref) !== MetadataKind.DIGlobalVariableExpression || attached.has(ref)) continue;
    attached.add(ref);
    const variable = md.operand(ref, at.globalExpression.variable);
    if (variable !== NO_MD) attachedVariables.add(variable);
  }
  const isLiveGlobal = (entry: MDRef): boolean => {
    if (attached.has(entry)) return true;
    if (
      attachedVariables.size === 0 || md.kind(entry) !== MetadataKind.DIGlobalVariableExpression
    ) return false;
    const variable = md.operand(entry, at.globalExpression.variable);
    return variable !== NO_MD && attachedVariables.has(variable);
  };
  const listOf = (ref: MDRef): MDRef[] =>
    ref !== NO_MD && md.kind(ref) === MetadataKind.MDTuple ? md.operands(ref) : [];

  // 3. Rewrite the units.
  const { enumTypes, retainedTypes, globalVariables, importedEntities, macros } = at.compileUnit;
  /** The lists a dead unit loses. */
  const unitLists = [enumTypes, retainedTypes, globalVariables, importedEntities, macros];
  let empty: MDRef | undefined;
  for (const unit of units) {
    if (md.kind(unit) !== MetadataKind.DICompileUnit) continue;
    const ops = md.operands(unit);
    const globals = listOf(ops[globalVariables] ?? NO_MD);
    const liveGlobals = globals.map((entry) => entry !== NO_MD && isLiveGlobal(entry));
    if (live.has(unit) || liveGlobals.includes(true)) {
      report.liveUnits++;
      // Keep null entries and constants (they need no global) as LLVM does.
      const keep = globals.filter((entry, i) =>
        liveGlobals[i] || entry === NO_MD || isConstantGlobalExpression(md, entry)
      );
      if (keep.length !== globals.length) {
        report.droppedGlobals += globals.length - keep.length;
        md.replaceOperand(unit, globalVariables, md.tuple(keep));
      }
      continue;
    }
    let emptied = false;
    for (const index of unitLists) {
      const list = ops[index] ?? NO_MD;
      if (list === NO_MD || (md.kind(list) === MetadataKind.MDTuple && listOf(list).length === 0)) {
        continue;
      }
      empty ??= md.tuple([]);
      md.replaceOperand(unit, index, empty);
      emptied = true;
    }
    if (emptied) report.emptiedUnits++;
  }
  log.debug(
    `debug info: ${report.liveUnits} of ${report.units} compile units live, ${report.emptiedUnits} dead ones emptied, ` +
      `${report.droppedGlobals} dead global variables dropped (${report.locations} debug locations)`,
  );
  return report;
}
