// --why-live <symbol>: why a symbol is still in the output, as the chain of
// references from a root that kept it (`xdp_prog (exported) -> helper ->
// table`), or why it is not: removed by the optimizer after internalization,
// never linked because its archive member was not needed, or not defined by
// any input. Roots are exported definitions and the contents of llvm.used and
// llvm.compiler.used. The walk runs on LLVM's use lists (ffi/uses.ts): once
// after internalization, to know what existed before the optimizer, and once
// on the final module; only when --why-live is given.

import type { Llvm } from "../../ffi/llvm.ts";
import type { Module } from "../../ffi/module.ts";
import { UseGraph, type UseNode } from "../../ffi/uses.ts";
import { describeInput, type ModuleInput } from "../input/files.ts";
import type { MemberSelection } from "../input/member_selection.ts";
import { moduleDefinitions } from "./module_symbols.ts";
import { keptSymbols } from "../exports.ts";

const USED_LISTS = new Set(["llvm.used", "llvm.compiler.used"]);

/** What the linked module held before optimization. */
interface Before {
  kind: UseNode["kind"];
  defined: boolean;
  used: boolean;
  exported: boolean;
}

export class WhyLive {
  readonly symbols: readonly string[];
  readonly #llvm: Llvm;
  #exported: ReadonlySet<string>;
  /** No export list: every external definition is a root, and nothing was internalized by the link. */
  readonly #exportAll: boolean;
  readonly #before = new Map<string, Before>();
  /** The chain for each symbol in the final module; undefined: present but no root reaches it. */
  readonly #after = new Map<string, string | undefined>();
  #ran = false;

  constructor(llvm: Llvm, symbols: readonly string[], exported: ReadonlySet<string>, exportAll = false) {
    this.#llvm = llvm;
    this.symbols = [...new Set(symbols)];
    this.#exported = exported;
    this.#exportAll = exportAll;
  }

  /** Hook: after internalization, before the optimizer. */
  beforeOptimize(module: Module): void {
    if (this.#exportAll) this.#exported = keptSymbols(module, new Set(this.#exported), { exportAll: true });
    const graph = new UseGraph(this.#llvm, module);
    for (const symbol of this.symbols) {
      const node = graph.byName.get(symbol);
      if (!node) continue;
      this.#before.set(symbol, {
        kind: node.kind,
        defined: node.defined,
        used: graph.hasUses(node),
        exported: this.#exported.has(symbol),
      });
    }
  }

  /** Hook: on the final module, before code generation. */
  beforeCodegen(module: Module): void {
    this.#ran = true;
    const graph = new UseGraph(this.#llvm, module);
    for (const symbol of this.symbols) {
      const node = graph.byName.get(symbol);
      if (node) this.#after.set(symbol, this.#chain(graph, node));
    }
  }

  #rootLabel(node: UseNode): string | undefined {
    if (node.defined && this.#exported.has(node.name)) return this.#exportAll ? "global, no export list" : "exported";
    if (USED_LISTS.has(node.name)) return node.name;
    return undefined;
  }

  /** The shortest chain from a root to `target`, rendered; undefined when no root reaches it. */
  #chain(graph: UseGraph, target: UseNode): string | undefined {
    const own = this.#rootLabel(target);
    if (own && !USED_LISTS.has(target.name)) return `${target.name} (${own})`;
    const next = new Map<UseNode, UseNode>(); // referrer -> the node it references, toward the target
    const queue = [target];
    const seen = new Set([target.handle]);
    while (queue.length > 0) {
      const node = queue.shift()!;
      for (const referrer of graph.referrers(node)) {
        if (seen.has(referrer.handle)) continue;
        seen.add(referrer.handle);
        next.set(referrer, node);
        const label = this.#rootLabel(referrer);
        if (label) return render(referrer, label, next);
        queue.push(referrer);
      }
    }
    return undefined;
  }

  /**
   * One line per asked symbol: `<symbol>: <chain or reason>`. `selection` says
   * which inputs were linked and which archive members were left out.
   */
  explain(inputs: readonly ModuleInput[], selection: MemberSelection): string[] {
    const linked = new Set(selection.selected.map((s) => s.input));
    return this.symbols.map((symbol) => `${symbol}: ${this.#explainOne(symbol, inputs, linked)}`);
  }

  #explainOne(
    symbol: string,
    inputs: readonly ModuleInput[],
    linked: ReadonlySet<ModuleInput>,
  ): string {
    if (!this.#ran) return "not known: the link stopped before code generation";
    if (this.#after.has(symbol)) {
      return this.#after.get(symbol) ??
        "in the output, but no exported symbol or llvm.used entry references it (LLVM kept it)";
    }
    const before = this.#before.get(symbol);
    if (before) {
      const what = before.kind === "function"
        ? "function"
        : before.kind === "variable"
        ? "variable"
        : "alias";
      if (!before.defined) {
        return `removed: only declared (no linked input defines this ${what}) and nothing left uses it`;
      }
      // Without an export list nothing is internalized: what is local was static in its input.
      const local = this.#exportAll ? "static (internal linkage in its input)" : "internalized (not exported)";
      if (before.used) {
        return `removed by the optimizer: ${local}, then inlined or folded into its users`;
      }
      return `removed as dead code: ${local} and nothing references it`;
    }
    const definers = inputs.filter((input) => {
      const definitions = moduleDefinitions(input);
      return definitions !== undefined &&
        (definitions.global.includes(symbol) || definitions.local.includes(symbol));
    });
    const skipped = definers.filter((input) => !linked.has(input));
    if (skipped.length > 0 && skipped.length === definers.length) {
      const names = skipped.map(describeInput).join(", ");
      return `never linked: defined only in ${names}, an archive member no linked module needed`;
    }
    if (definers.length > 0) {
      return `removed before optimization (defined in ${definers.map(describeInput).join(", ")})`;
    }
    return "not defined by any input";
  }
}

function render(root: UseNode, label: string, next: Map<UseNode, UseNode>): string {
  const path: UseNode[] = [];
  for (let node: UseNode | undefined = root; node; node = next.get(node)) path.push(node);
  if (USED_LISTS.has(root.name)) {
    // llvm.used itself is not a symbol: it marks the first real one.
    path.shift();
  }
  return path.map((node, i) => (i === 0 ? `${node.name} (${label})` : node.name)).join(" -> ");
}
