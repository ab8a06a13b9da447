// Every global value a module defines, local ones included (static functions
// and variables), for the link map and --why-live: which input did an output
// symbol come from? Bitcode is read by src/input/bitcode_symbols.ts (no LLVM); IR
// text inputs are scanned line by line.

import { readBitcodeSymbols } from "../input/bitcode_symbols.ts";
import type { ModuleInput } from "../input/files.ts";

export interface ModuleDefinitions {
  /** Definitions other modules can see (external, weak, linkonce, common...). */
  readonly global: readonly string[];
  /** Internal and private definitions (static in C): local to their module. */
  readonly local: readonly string[];
}

const utf8 = new TextDecoder();

function bitcodeDefinitions(bytes: Uint8Array): ModuleDefinitions | undefined {
  const symbols = readBitcodeSymbols(bytes);
  return symbols && { global: symbols.defined, local: symbols.local };
}

/** `@name` or `@"quoted name"` (with \XX escapes) at the start of `text`. */
function irName(text: string): string | undefined {
  const m = /^@(?:"((?:[^"\\]|\\[0-9A-Fa-f]{2}|\\\\)*)"|([-a-zA-Z$._0-9]+))/.exec(text);
  if (!m) return undefined;
  if (m[2] !== undefined) return m[2];
  return m[1].replace(
    /\\([0-9A-Fa-f]{2}|\\)/g,
    (_, h) => (h === "\\" ? "\\" : String.fromCharCode(parseInt(h, 16))),
  );
}

const IR_LOCAL = /^(internal|private)\b/;

/** Definitions in LLVM IR text, from `define` lines and `@x = ...` globals (not `external`). */
function irDefinitions(text: string): ModuleDefinitions {
  const out = { global: [] as string[], local: [] as string[] };
  for (const line of text.split("\n")) {
    if (line.startsWith("define ")) {
      const at = line.indexOf("@");
      const name = at < 0 ? undefined : irName(line.slice(at));
      if (name === undefined || name.startsWith("llvm.")) continue;
      const attributes = line.slice(7, at).trim();
      if (/\b(available_externally|extern_weak)\b/.test(attributes)) continue;
      (/\b(internal|private)\b/.test(attributes) ? out.local : out.global).push(name);
    } else if (line.startsWith("@")) {
      const name = irName(line);
      if (name === undefined || name.startsWith("llvm.")) continue;
      const rest = line.slice(line.indexOf("=") + 1).trim();
      if (/^(external|extern_weak|available_externally|appending)\b/.test(rest)) continue;
      (IR_LOCAL.test(rest) ? out.local : out.global).push(name);
    }
  }
  return out;
}

/** The definitions of one module input; undefined when its bitcode cannot be read. */
export function moduleDefinitions(input: ModuleInput): ModuleDefinitions | undefined {
  return input.format === "ir"
    ? irDefinitions(utf8.decode(input.bytes))
    : bitcodeDefinitions(input.bytes);
}
