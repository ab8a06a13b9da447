// The BTF sanitizer's shortcut for C (docs/ARCHITECTURE.md#btf): when every
// compile unit is C compiled by clang and no function is made static, the
// walk (src/btf/walk.ts) would change nothing unless a name has a `$`, a UTF-8
// character or more than 128 bytes; those are looked for among all of the
// module's strings at once, read from bitcode (the inputs' own where they all
// were bitcode, else the module written out), instead of visiting every node
// through LLVM's C API.

import { type DebugFunction, type DebugMetadata, MetadataKind, NO_MD } from "../../ffi/metadata.ts";
import type { Module } from "../../ffi/module.ts";
import { type MetadataStrings, readMetadataStrings } from "./metadata_strings.ts";
import { AYA_MAP_MARKER } from "./walk.ts";

/** Bytes of a string, one character each (ASCII stays ASCII; other bytes become non-ASCII). */
const latin1 = new TextDecoder("latin1");
/** The longest name sanitizeTypeName leaves as it is. */
const MAX_CLEAN_NAME = 128;

/** What clang writes as the language of a C unit (DWARF 5 codes, or a DWARF 6 name). */
const C_LANGUAGE = /\blanguage: DW_LANG_C(89|99|11|17)?\b|\bsourceLanguageName: DW_LNAME_C\b/;
const CLANG_PRODUCER = /\bproducer: "[^"]*\bclang version /;
/** In clang's producer string (CLANG_PRODUCER), as the bitcode holds it. */
const CLANG_VERSION = "clang version ";
/** Names the walk would change: sanitizeTypeName's escapes (`$`, UTF-8) and cuts (over 128). */
// deno-lint-ignore no-control-regex -- the range is all of ASCII, control characters included
const ESCAPED_BYTE = /[^\x00-\x7f]|\$/;
const LONG_NAME = /^\w{129,}$/;

/**
 * Why the walk is needed for a module where no function became static, or
 * undefined when it can be skipped (docs/ARCHITECTURE.md#btf). Every unit is C
 * compiled by clang, whose debug info the walk leaves alone unless a name has
 * a `$`, a UTF-8 character or more than 128 bytes: clang names nothing
 * else than identifiers, leaves pointers unnamed, lists members in offset
 * order, and C has no enums that carry data nor aya's marker type. Those
 * names are looked for among all of the module's strings at once, read from
 * its bitcode; any string that could be such a name (a file path with a `$`
 * too) means the walk. So does a retained variable without a name: a C23
 * unnamed parameter, which the walk names.
 */
export function whyCNeedsTheWalk(
  md: DebugMetadata,
  module: Module,
  functions: readonly DebugFunction[],
  sourceBitcode?: readonly Uint8Array[],
  sourceNames?: SourceNames,
): string | undefined {
  const units = md.namedMetadata("llvm.dbg.cu");
  if (units.length === 0) return "no compile unit";
  for (const unit of units) {
    const text = md.describe(unit);
    if (!C_LANGUAGE.test(text) || !CLANG_PRODUCER.test(text)) return "not only C from clang";
  }
  if (hasUnnamedVariable(md, functions)) return "a function has a variable without a name (an unnamed parameter)";
  const names = sourceNames ?? judgeSourceNames(sourceBitcode) ?? judgeStrings(readMetadataStrings(module.toBitcode()));
  return names === undefined ? "the module's strings could not be read from its bitcode" : names.needsTheWalk;
}

/** What the strings of a module's bitcode say about the walk (whyCNeedsTheWalk). */
export interface SourceNames {
  /** Why a string means the walk; undefined when none does. */
  needsTheWalk: string | undefined;
}

/**
 * The strings of the modules that were linked, judged from their own bitcode
 * (every name of the linked, optimized module is among them: the optimizer adds
 * only LLVM's own loop and profile strings; a string only looks for trouble,
 * so more is safe), or undefined when one of them cannot be read that way.
 * With `clangOnly`, also undefined as soon as a module's first strings (those
 * of its compile units) do not name clang: the walk is needed anyway, so a
 * caller judging them ahead of the link (src/pipeline.ts) reads no further.
 */
export function judgeSourceNames(sources: readonly Uint8Array[] | undefined, clangOnly = false): SourceNames | undefined {
  if (sources === undefined || sources.length === 0) return undefined;
  const all: MetadataStrings[] = [];
  // The first block, the largest, is decoded once for both questions.
  const texts = new Map<MetadataStrings, string>();
  const textOf = (strings: MetadataStrings) => {
    let text = texts.get(strings);
    if (text === undefined) texts.set(strings, text = latin1.decode(strings.bytes));
    return text;
  };
  const namesClang = clangOnly ? (first: MetadataStrings) => textOf(first).includes(CLANG_VERSION) : undefined;
  for (const bitcode of sources) {
    const blocks = readMetadataStrings(bitcode, namesClang);
    if (blocks === undefined) return undefined;
    all.push(...blocks);
  }
  return judgeStrings(all, textOf);
}

/** Whether any of these strings could be a name the walk changes. */
function judgeStrings(
  blocks: readonly MetadataStrings[] | undefined,
  textOf = (strings: MetadataStrings) => latin1.decode(strings.bytes),
): SourceNames | undefined {
  if (blocks === undefined) return undefined;
  for (const strings of blocks) {
    const text = textOf(strings);
    if (ESCAPED_BYTE.test(text)) return { needsTheWalk: "a string has a `$` or a non-ASCII character" };
    if (text.includes(AYA_MAP_MARKER)) return { needsTheWalk: `a string names ${AYA_MAP_MARKER}` };
    const long = strings.spans(MAX_CLEAN_NAME);
    if (long === undefined) return undefined;
    for (let i = 0; i < long.length; i += 2) {
      if (LONG_NAME.test(text.slice(long[i], long[i + 1]))) return { needsTheWalk: "a name is longer than 128 bytes" };
    }
  }
  return { needsTheWalk: undefined };
}

/**
 * Whether a function's retained variables (its parameters, and its locals at
 * -O2) include one without a name: clang writes C23's unnamed parameters so.
 */
function hasUnnamedVariable(md: DebugMetadata, functions: readonly DebugFunction[]): boolean {
  const at = md.layout;
  for (const fn of functions) {
    if (fn.isDeclaration) continue;
    const sp = fn.subprogram;
    if (sp === NO_MD) continue;
    const retained = md.operand(sp, at.subprogram.retainedNodes);
    if (retained === NO_MD) continue;
    for (const node of md.operands(retained)) {
      if (node === NO_MD || md.kind(node) !== MetadataKind.DILocalVariable) continue;
      if (md.operand(node, at.variable.name) === NO_MD) return true;
    }
  }
  return false;
}
