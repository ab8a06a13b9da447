// Archive semantics (as `ld`): an archive member is linked only if it defines a
// symbol that is still undefined, or must be kept regardless (it defines an
// exported root, carries llvm.used/llvm.compiler.used or module asm, or its
// symbols cannot be read). Symbols come from reading the bitcode's module
// records in TypeScript (src/bitcode_symbols.ts), without LLVM.
//
// Unlike `ld`, every archive is searched again until nothing changes (as if all
// of them were in one --start-group): the Rust bpf-linker linked every member
// regardless of order, and the result must not depend on where an archive
// appears on the command line.

import type { BitcodeSymbols } from "./bitcode_symbols.ts";
import { describeInput, type ModuleInput } from "./inputs.ts";

/** Why a module is part of the link. */
export type InclusionReason =
  | { kind: "input" }
  | { kind: "all-members" }
  | { kind: "root"; symbol: string }
  | { kind: "used-list" }
  | { kind: "module-asm" }
  | { kind: "unreadable" }
  | { kind: "undefined-symbol"; symbol: string; referencedBy: string };

export interface SelectedModule {
  input: ModuleInput;
  reason: InclusionReason;
}

export interface MemberSelection {
  /** In command-line order. */
  selected: SelectedModule[];
  /** Archive members left out, in order. */
  skipped: ModuleInput[];
}

type Scan = (input: ModuleInput) => BitcodeSymbols | undefined;

/** Which modules to link. `wholeArchive` keeps every member (the Rust bpf-linker's behaviour). */
export function selectModules(
  inputs: ModuleInput[],
  roots: ReadonlySet<string>,
  scan: Scan,
  wholeArchive: boolean,
): MemberSelection {
  const reasons = new Map<ModuleInput, InclusionReason>();
  const symbolsOf = new Map<ModuleInput, BitcodeSymbols>();
  const lazy: ModuleInput[] = [];
  let blind = false; // a linked module whose references cannot be read

  for (const input of inputs) {
    const symbols = wholeArchive || input.format !== "bitcode" ? undefined : scan(input);
    if (symbols) symbolsOf.set(input, symbols);
    if (input.member === undefined) {
      reasons.set(input, { kind: "input" });
      blind ||= symbols === undefined;
    } else if (wholeArchive) {
      reasons.set(input, { kind: "all-members" });
    } else {
      const reason = symbols ? mustKeep(symbols, roots) : { kind: "unreadable" as const };
      if (reason) reasons.set(input, reason);
      else lazy.push(input);
      blind ||= symbols === undefined;
    }
  }
  // Without knowing what some linked module references, any member may be
  // needed: keep them all rather than guess.
  if (blind) for (const member of lazy) reasons.set(member, { kind: "all-members" });

  if (!blind && lazy.length > 0) resolve(reasons, symbolsOf, lazy);
  const selected: SelectedModule[] = [];
  const skipped: ModuleInput[] = [];
  for (const input of inputs) {
    const reason = reasons.get(input);
    if (reason) selected.push({ input, reason });
    else skipped.push(input);
  }
  return { selected, skipped };
}

function mustKeep(symbols: BitcodeSymbols, roots: ReadonlySet<string>): InclusionReason | undefined {
  if (symbols.hasUsedList) return { kind: "used-list" };
  if (symbols.hasModuleAsm) return { kind: "module-asm" };
  const root = symbols.defined.find((name) => roots.has(name));
  return root === undefined ? undefined : { kind: "root", symbol: root };
}

/** Pull lazy members in until every symbol that can be defined is. */
function resolve(
  reasons: Map<ModuleInput, InclusionReason>,
  symbolsOf: Map<ModuleInput, BitcodeSymbols>,
  lazy: ModuleInput[],
): void {
  // First lazy member (in command-line order) defining each symbol.
  const provider = new Map<string, ModuleInput>();
  for (const member of lazy) {
    for (const name of symbolsOf.get(member)!.defined) if (!provider.has(name)) provider.set(name, member);
  }
  const defined = new Set<string>();
  const pending: { symbol: string; referencedBy: string }[] = [];
  const include = (input: ModuleInput) => {
    const symbols = symbolsOf.get(input);
    if (!symbols) return; // unreadable modules cannot tell what they need
    for (const name of symbols.defined) defined.add(name);
    for (const name of symbols.undefined) pending.push({ symbol: name, referencedBy: describeInput(input) });
  };
  for (const input of reasons.keys()) include(input);
  while (pending.length > 0) {
    const { symbol, referencedBy } = pending.pop()!;
    if (defined.has(symbol)) continue;
    const member = provider.get(symbol);
    if (!member || reasons.has(member)) continue;
    reasons.set(member, { kind: "undefined-symbol", symbol, referencedBy });
    include(member);
  }
}
