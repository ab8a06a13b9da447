// Every global value a module defines, local ones included (static functions
// and variables), for the link map and --why-live: which input did an output
// symbol come from? src/bitcode_symbols.ts reads only what archive member
// selection needs (non-local definitions, undefined references); this reads the
// same module-level records (bitstream.ts, no LLVM) and keeps internal and
// private definitions too. IR text inputs are scanned line by line.

import {
  bitcodeStream,
  BitstreamReader,
  type BlockHeader,
  BLOCKINFO_BLOCK_ID,
  MalformedBitstream,
} from "../bitstream.ts";
import type { ModuleInput } from "../inputs.ts";

export interface ModuleDefinitions {
  /** Definitions other modules can see (external, weak, linkonce, common...). */
  global: string[];
  /** Internal and private definitions (static in C): local to their module. */
  local: string[];
}

const MODULE_BLOCK_ID = 8;
const STRTAB_BLOCK_ID = 23;
const MODULE_CODE_VERSION = 1;
const MODULE_CODE_GLOBALVAR = 7;
const MODULE_CODE_FUNCTION = 8;
const MODULE_CODE_ALIAS_OLD = 9;
const MODULE_CODE_ALIAS = 14;
const MODULE_CODE_IFUNC = 18;
const STRTAB_BLOB = 1;

// Encoded linkages (BitcodeReader.cpp getDecodedLinkage): see src/bitcode_symbols.ts.
const LOCAL_LINKAGES = new Set([
  3, /* internal */
  9, /* private */
  13,
  14, /* old linker_private(_weak) */
]);
const NOT_DEFINITIONS = new Set([
  2, /* appending */
  7, /* extern_weak */
  12, /* available_externally */
]);

interface Pending {
  offset: number;
  size: number;
  local: boolean;
}

function linkageIndex(code: number): number {
  switch (code) {
    case MODULE_CODE_GLOBALVAR:
    case MODULE_CODE_FUNCTION:
    case MODULE_CODE_ALIAS:
    case MODULE_CODE_IFUNC:
      return 5;
    case MODULE_CODE_ALIAS_OLD:
      return 4;
    default:
      return -1;
  }
}

function readModule(reader: BitstreamReader, header: BlockHeader): Pending[] | undefined {
  const names: Pending[] = [];
  let version: number | undefined;
  reader.enterBlock(header);
  for (;;) {
    const entry = reader.next();
    if (entry.kind === "end") break;
    if (entry.kind === "block") {
      if (entry.header.blockId === BLOCKINFO_BLOCK_ID) reader.readBlockInfo(entry.header);
      else reader.skipBlock(entry.header);
      continue;
    }
    const { code, ops } = entry.record;
    if (code === MODULE_CODE_VERSION) {
      version = ops[0];
      if (version !== 2) return undefined;
      continue;
    }
    const at = linkageIndex(code);
    if (at < 0) continue;
    if (version !== 2 || ops.length <= at) return undefined;
    const linkage = ops[at];
    const declaration = (code === MODULE_CODE_GLOBALVAR && ops[4] === 0) ||
      (code === MODULE_CODE_FUNCTION && ops[4] !== 0);
    if (declaration || NOT_DEFINITIONS.has(linkage)) continue;
    names.push({ offset: ops[0], size: ops[1], local: LOCAL_LINKAGES.has(linkage) });
  }
  return version === 2 ? names : undefined;
}

function readStrtab(reader: BitstreamReader, header: BlockHeader): Uint8Array | undefined {
  let blob: Uint8Array | undefined;
  reader.enterBlock(header);
  for (;;) {
    const entry = reader.next();
    if (entry.kind === "end") return blob;
    if (entry.kind === "block") reader.skipBlock(entry.header);
    else if (entry.record.code === STRTAB_BLOB && entry.record.blob) blob = entry.record.blob;
  }
}

const utf8 = new TextDecoder();

function bitcodeDefinitions(bytes: Uint8Array): ModuleDefinitions | undefined {
  const stream = bitcodeStream(bytes);
  if (!stream) return undefined;
  const reader = new BitstreamReader(stream);
  try {
    let names: Pending[] | undefined;
    for (;;) {
      const block = reader.nextTopLevelBlock();
      if (!block) return undefined;
      if (!names) {
        if (block.blockId === MODULE_BLOCK_ID) {
          names = readModule(reader, block);
          if (!names) return undefined;
        } else {
          reader.skipBlock(block);
        }
        continue;
      }
      if (block.blockId !== STRTAB_BLOCK_ID) {
        reader.skipBlock(block);
        continue;
      }
      const strtab = readStrtab(reader, block);
      const out: ModuleDefinitions = { global: [], local: [] };
      for (const n of names) {
        if (n.size === 0 || !strtab || n.offset + n.size > strtab.length) continue;
        const name = utf8.decode(strtab.subarray(n.offset, n.offset + n.size));
        if (name.startsWith("llvm.")) continue;
        (n.local ? out.local : out.global).push(name);
      }
      return out;
    }
  } catch (error) {
    if (error instanceof MalformedBitstream) return undefined;
    throw error;
  }
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
  const out: ModuleDefinitions = { global: [], local: [] };
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
