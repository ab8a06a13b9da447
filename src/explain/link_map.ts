// --map: what went into the output and where it came from, as plain text that
// is stable from run to run and diffs well: fixed section headings, then one
// tab-separated line per item, in a deterministic order.
//
//   # bpf-linker link map of xdp_filter.o
//
//   Inputs (input, status, why):
//   main.bc	linked	named on the command line
//   libcsum.a(checksum.bc)	linked	defines checksum16, referenced by main.bc
//   libcsum.a(unused.bc)	skipped	nothing references a symbol it defines
//
//   Symbols (section, offset, size, type, binding, symbol, from):
//   xdp	0x0	112	FUNC	GLOBAL	xdp_filter	main.bc
//
//   Undefined (symbol):          (resolved at load time: helpers, kfuncs, ksyms)
//   Exported (symbol, status):
//
// Symbols are read from the output object itself (src/object/elf.ts); for
// --emit asm/llvm-ir/llvm-bc they come from the final module, without sizes.

import { describeInput, type ModuleInput } from "../input/files.ts";
import type { MemberSelection } from "../input/member_selection.ts";
import type { EmitKind } from "../options.ts";
import { ElfObject, SHN_UNDEF, STT_FUNC, STT_OBJECT, symbolBindName, symbolTypeName } from "../object/elf.ts";
import { Provenance } from "./provenance.ts";
import { inclusionText } from "./why_extract.ts";

/** A global value of the final module (for outputs that are not objects). */
export interface ModuleSymbol {
  name: string;
  kind: "function" | "variable" | "alias";
  /** Explicit section, or "" for the default one. */
  section: string;
  local: boolean;
  defined: boolean;
}

export interface LinkMapRequest {
  /** The output's name, for the title line. */
  outputName: string;
  emit: EmitKind;
  /** The output bytes (an ELF object for `obj`). */
  bytes: Uint8Array;
  /** Every module input, in command-line order (archive members included). */
  inputs: readonly ModuleInput[];
  selection: MemberSelection;
  exported: ReadonlySet<string>;
  wholeArchive: boolean;
  /** For emits other than obj: the final module's global values. */
  moduleSymbols?: ModuleSymbol[];
}

interface SymbolRow {
  section: string;
  offset: string;
  size: string;
  type: string;
  bind: string;
  name: string;
}

function objectRows(bytes: Uint8Array): { defined: SymbolRow[]; undefined: string[] } {
  const elf = new ElfObject(bytes);
  const symbols = elf.symbols.filter((s) => s.index > 0 && s.name !== "");
  const defined = symbols
    .filter((s) => s.shndx !== SHN_UNDEF && (s.type === STT_OBJECT || s.type === STT_FUNC))
    .sort((a, b) =>
      a.shndx - b.shndx || a.value - b.value || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    )
    .map((s) => ({
      section: elf.sectionNameOf(s),
      offset: `0x${s.value.toString(16)}`,
      size: String(s.size),
      type: symbolTypeName(s.type),
      bind: symbolBindName(s.bind),
      name: s.name,
    }));
  const undefinedNames = symbols.filter((s) => s.shndx === SHN_UNDEF).map((s) => s.name);
  return { defined, undefined: [...new Set(undefinedNames)].sort() };
}

function moduleRows(symbols: ModuleSymbol[]): { defined: SymbolRow[]; undefined: string[] } {
  const compare = (a: ModuleSymbol, b: ModuleSymbol) =>
    a.section < b.section
      ? -1
      : a.section > b.section
      ? 1
      : a.name < b.name
      ? -1
      : a.name > b.name
      ? 1
      : 0;
  const defined = symbols
    .filter((s) => s.defined && s.name !== "" && !s.name.startsWith("llvm."))
    .sort(compare)
    .map((s) => ({
      section: s.section || "-",
      offset: "-",
      size: "-",
      type: s.kind === "function" ? "FUNC" : "OBJECT",
      bind: s.local ? "LOCAL" : "GLOBAL",
      name: s.name,
    }));
  const undefinedNames = symbols.filter((s) => !s.defined && !s.name.startsWith("llvm.")).map((s) =>
    s.name
  );
  return { defined, undefined: [...new Set(undefinedNames)].sort() };
}

/** The text of the link map. */
export function formatLinkMap(request: LinkMapRequest): string {
  const { selection } = request;
  const lines: string[] = [`# bpf-linker link map of ${request.outputName}`, ""];

  lines.push("Inputs (input, status, why):");
  const reasons = new Map(selection.selected.map((s) => [s.input, s.reason]));
  for (const input of request.inputs) {
    const reason = reasons.get(input);
    lines.push(
      reason
        ? `${describeInput(input)}\tlinked\t${inclusionText(reason, request.wholeArchive)}`
        : `${describeInput(input)}\tskipped\tnothing references a symbol it defines`,
    );
  }

  const provenance = new Provenance(selection.selected.map((s) => s.input));
  const rows = request.emit === "obj"
    ? objectRows(request.bytes)
    : moduleRows(request.moduleSymbols ?? []);
  lines.push("", "Symbols (section, offset, size, type, binding, symbol, from):");
  for (const r of rows.defined) {
    lines.push(
      [r.section, r.offset, r.size, r.type, r.bind, r.name, provenance.of(r.name)].join("\t"),
    );
  }

  lines.push("", "Undefined (symbol):");
  lines.push(...rows.undefined);

  lines.push("", "Exported (symbol, status):");
  const present = new Set(rows.defined.filter((r) => r.bind !== "LOCAL").map((r) => r.name));
  for (const name of [...request.exported].sort()) {
    lines.push(`${name}\t${present.has(name) ? "in the output" : "not defined by any input"}`);
  }
  return `${lines.join("\n")}\n`;
}
