// The reports that explain one link (--map, --why-extract, --why-live), for the
// CLI and the library API alike: `hooks` go into the LinkRequest (undefined
// when no report needs to look at the module), `report` turns the outcome into text.

import type { Llvm } from "../../ffi/llvm.ts";
import type { Module } from "../../ffi/module.ts";
import { exportedSymbols } from "../exports.ts";
import type { LinkHooks, LinkOutcome, LinkRequest } from "../pipeline.ts";
import type { LinkOptions } from "../options.ts";
import { formatLinkMap, type ModuleSymbol } from "./link_map.ts";
import { formatWhyExtract } from "./why_extract.ts";
import { WhyLive } from "./why_live.ts";

export interface ExplainRequest {
  /** Make the link map. */
  map?: boolean;
  /** Make the --why-extract table. */
  whyExtract?: boolean;
  /** Explain why each of these symbols is (not) in the output. */
  whyLive?: readonly string[];
}

export interface ExplainReport {
  map?: string;
  whyExtract?: string;
  /** One line per symbol: `<symbol>: <chain or reason>`. */
  whyLive?: string[];
}

/** The final module's global values (for maps of assembly, IR and bitcode output). */
function moduleSymbols(module: Module): ModuleSymbol[] {
  const kinds = [
    ["function", module.functions()],
    ["variable", module.globalVariables()],
    ["alias", module.aliases()],
  ] as const;
  return kinds.flatMap(([kind, values]) =>
    values.map((v) => ({
      name: v.name,
      kind,
      section: v.section,
      local: v.linkage === 8 /* internal */ || v.linkage === 9, /* private */
      defined: !v.isDeclaration,
    }))
  );
}

export class LinkExplainer {
  readonly #request: ExplainRequest;
  readonly #options: LinkOptions;
  readonly #whyLive?: WhyLive;
  #moduleSymbols?: ModuleSymbol[];

  constructor(llvm: Llvm, options: LinkOptions, request: ExplainRequest) {
    this.#request = request;
    this.#options = options;
    if (request.whyLive && request.whyLive.length > 0) {
      this.#whyLive = new WhyLive(llvm, request.whyLive, exportedSymbols(options), options.exportAll);
    }
  }

  /** Whether any report was asked for. */
  get wanted(): boolean {
    return !!(this.#request.map || this.#request.whyExtract || this.#whyLive);
  }

  /** Hooks for the LinkRequest; undefined when no report needs to see the module. */
  get hooks(): LinkHooks | undefined {
    const needModule = this.#request.map && this.#options.emit !== "obj";
    if (!this.#whyLive && !needModule) return undefined;
    const whyLive = this.#whyLive;
    return {
      beforeOptimize: whyLive ? (module) => whyLive.beforeOptimize(module) : undefined,
      beforeCodegen: (module) => {
        whyLive?.beforeCodegen(module);
        if (needModule) this.#moduleSymbols = moduleSymbols(module);
      },
    };
  }

  /** The reports asked for, from a finished link. */
  report(request: LinkRequest, outcome: LinkOutcome): ExplainReport {
    const out: ExplainReport = {};
    const { selection } = outcome;
    if (this.#request.map) {
      out.map = formatLinkMap({
        outputName: request.outputName,
        emit: this.#options.emit,
        bytes: outcome.bytes,
        inputs: request.inputs,
        selection,
        exported: outcome.exported,
        wholeArchive: this.#options.wholeArchive,
        moduleSymbols: this.#moduleSymbols,
      });
    }
    if (this.#request.whyExtract) {
      out.whyExtract = formatWhyExtract(selection, this.#options.wholeArchive);
    }
    if (this.#whyLive) out.whyLive = this.#whyLive.explain(request.inputs, selection);
    return out;
  }
}
