// Which input an output symbol came from: a name index over the definitions of
// the modules that were linked (src/explain/module_symbols.ts), with the rules
// LLVM's linker follows: the first non-local definition of a name wins; local
// (static) names stay with their module, and clashing ones are renamed with a
// numeric suffix (`helper.1`), as are some the optimizer clones (`f.constprop.0`).

import { describeInput, type ModuleInput } from "../input/files.ts";
import { type ModuleDefinitions, moduleDefinitions } from "./module_symbols.ts";

export class Provenance {
  readonly #global = new Map<string, string>();
  readonly #local = new Map<string, string[]>();
  /** Inputs whose symbols could not be read. */
  readonly unreadable: string[] = [];

  constructor(
    inputs: readonly ModuleInput[],
    read: (input: ModuleInput) => ModuleDefinitions | undefined = moduleDefinitions,
  ) {
    for (const input of inputs) {
      const name = describeInput(input);
      const definitions = read(input);
      if (!definitions) {
        this.unreadable.push(name);
        continue;
      }
      for (const symbol of definitions.global) {
        if (!this.#global.has(symbol)) this.#global.set(symbol, name);
      }
      for (const symbol of definitions.local) {
        const list = this.#local.get(symbol);
        if (list) list.push(name);
        else this.#local.set(symbol, [name]);
      }
    }
  }

  /** Whether some input defines `symbol` (globally or locally). */
  defines(symbol: string): boolean {
    return this.#global.has(symbol) || this.#local.has(symbol);
  }

  /**
   * Who defined `symbol`. LLVM's linker keeps a name for the first module that
   * has it (the destination of every merge is the earlier input) and renames
   * clashing locals of later modules with a numeric suffix: an unsuffixed local
   * is the first definer's, a `renamed` one is one of the others'.
   */
  #exact(symbol: string, renamed: boolean): string | undefined {
    const global = this.#global.get(symbol);
    const locals = this.#local.get(symbol) ?? [];
    if (!renamed) return global ?? locals[0];
    const candidates = global !== undefined ? locals : locals.slice(1);
    if (candidates.length === 0) return undefined;
    return candidates.length === 1
      ? candidates[0]
      : `one of ${candidates.join(", ")} (static in each)`;
  }

  /** The input that defined `symbol`, as `file` or `file(member)`, or a parenthesized explanation. */
  of(symbol: string): string {
    const exact = this.#exact(symbol, false);
    if (exact !== undefined) return exact;
    // Renamed by LLVM: `name.1` (a clash of locals), `name.constprop.0`, `name.llvm.123`
    // (copies made by the optimizer): try the shorter names.
    for (let cut = symbol.lastIndexOf("."); cut > 0; cut = symbol.lastIndexOf(".", cut - 1)) {
      const base = symbol.slice(0, cut);
      const numeric = /^(\.\d+)+$/.test(symbol.slice(cut));
      const from = this.#exact(base, numeric) ?? (numeric ? undefined : this.#exact(base, false));
      if (from !== undefined) return numeric ? from : `${from} (copy of ${base})`;
    }
    return this.unreadable.length > 0 ? "(unknown)" : "(made by LLVM)";
  }
}
