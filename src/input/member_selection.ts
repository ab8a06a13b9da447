// Archive semantics (as `ld`): an archive member is linked only if it defines a
// symbol that is still undefined, or must be kept regardless (it defines an
// exported root, carries llvm.used/llvm.compiler.used or module asm, or its
// symbols cannot be read). Symbols come from reading the bitcode's module
// records in TypeScript (src/input/bitcode_symbols.ts), without LLVM. Where the
// archive's index lists a member's definitions, only its keep flags are read
// up front, and its undefined symbols only if it is linked.
//
// Unlike `ld`, every archive is searched again until nothing changes (as if all
// of them were in one --start-group): the Rust bpf-linker linked every member
// regardless of order, and the result must not depend on where an archive
// appears on the command line.

import { type BitcodeSymbols, type KeepFlags, readKeepFlags } from "./bitcode_symbols.ts";
import { describeInput, type ModuleInput } from "./files.ts";

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

/** What selection needs to know of a module before deciding whether to link it. */
interface Facts extends KeepFlags {
  defined: readonly string[];
}

/** Which modules to link. `wholeArchive` keeps every member (the Rust bpf-linker's behaviour). */
export function selectModules(
  inputs: ModuleInput[],
  roots: ReadonlySet<string>,
  scan: Scan,
  wholeArchive: boolean,
): MemberSelection {
  const reasons = new Map<ModuleInput, InclusionReason>();
  const symbolsOf = new Map<ModuleInput, BitcodeSymbols | undefined>();
  const readSymbols = (input: ModuleInput) => {
    if (!symbolsOf.has(input)) symbolsOf.set(input, scan(input));
    return symbolsOf.get(input);
  };
  const factsOf = new Map<ModuleInput, Facts>();
  const lazy: ModuleInput[] = [];
  const named: ModuleInput[] = [];
  let blind = false; // a linked module whose references cannot be read

  for (const input of inputs) {
    if (input.member === undefined) {
      reasons.set(input, { kind: "input" });
      named.push(input);
    } else if (wholeArchive) {
      reasons.set(input, { kind: "all-members" });
    } else {
      const facts = input.format === "bitcode" ? factsFor(input, readSymbols) : undefined;
      const reason = facts ? mustKeep(facts, roots) : { kind: "unreadable" as const };
      if (facts) factsOf.set(input, facts);
      if (reason) reasons.set(input, reason);
      else lazy.push(input);
      blind ||= facts === undefined;
    }
  }
  // What the named modules reference only matters when there are members to
  // choose: a link of plain files does not read their symbols (~1 ms for a
  // C program's 800 KB of bitcode).
  if (lazy.length > 0) {
    blind ||= named.some((input) => input.format !== "bitcode" || readSymbols(input) === undefined);
    if (!blind) blind = !resolve(reasons, factsOf, readSymbols, lazy);
  }
  // Without knowing what some linked module references, any member may be
  // needed: keep them all rather than guess.
  if (blind) for (const member of lazy) if (!reasons.has(member)) reasons.set(member, { kind: "all-members" });

  const selected: SelectedModule[] = [];
  const skipped: ModuleInput[] = [];
  for (const input of inputs) {
    const reason = reasons.get(input);
    if (reason) selected.push({ input, reason });
    else skipped.push(input);
  }
  return { selected, skipped };
}

/** From the archive index and the keep flags when possible, else from all its symbols. */
function factsFor(input: ModuleInput, readSymbols: Scan): Facts | undefined {
  if (input.indexedDefinitions) {
    const flags = readKeepFlags(input.bytes);
    if (flags) return { defined: input.indexedDefinitions, ...flags };
  }
  return readSymbols(input);
}

function mustKeep(facts: Facts, roots: ReadonlySet<string>): InclusionReason | undefined {
  if (facts.hasUsedList) return { kind: "used-list" };
  if (facts.hasModuleAsm) return { kind: "module-asm" };
  const root = facts.defined.find((name) => roots.has(name));
  return root === undefined ? undefined : { kind: "root", symbol: root };
}

/**
 * Pull lazy members in until every symbol that can be defined is. False when a
 * linked member's references cannot be read after all (the caller keeps every member).
 */
function resolve(
  reasons: Map<ModuleInput, InclusionReason>,
  factsOf: Map<ModuleInput, Facts>,
  readSymbols: Scan,
  lazy: ModuleInput[],
): boolean {
  // First lazy member (in command-line order) defining each symbol.
  const provider = new Map<string, ModuleInput>();
  for (const member of lazy) {
    for (const name of factsOf.get(member)!.defined) if (!provider.has(name)) provider.set(name, member);
  }
  const defined = new Set<string>();
  const pending: { symbol: string; referencedBy: string }[] = [];
  let complete = true;
  const include = (input: ModuleInput) => {
    const symbols = readSymbols(input);
    if (!symbols) {
      complete = false; // cannot tell what it needs
      return;
    }
    for (const name of symbols.defined) defined.add(name);
    for (const name of symbols.undefined) pending.push({ symbol: name, referencedBy: describeInput(input) });
  };
  for (const input of reasons.keys()) include(input);
  while (pending.length > 0 && complete) {
    const { symbol, referencedBy } = pending.pop()!;
    if (defined.has(symbol)) continue;
    const member = provider.get(symbol);
    if (!member || reasons.has(member)) continue;
    reasons.set(member, { kind: "undefined-symbol", symbol, referencedBy });
    include(member);
  }
  return complete;
}
