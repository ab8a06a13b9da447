// The symbols a bitcode module defines and references, read from its module-level records
// with the bitstream reader in bitstream.ts: no LLVM. The linker uses this to load archive
// members lazily (classic `ld` semantics: only members that define a symbol that is still
// undefined), without parsing every member with LLVM first.
//
// What is read (bitcode of LLVM >= 5, MODULE_CODE_VERSION 2, names in a string table):
//   - the first MODULE_BLOCK's own records: VERSION, ASM, GLOBALVAR, FUNCTION, ALIAS,
//     ALIAS_OLD and IFUNC. Its sub-blocks (types, constants, metadata, function bodies...)
//     are skipped by their length words, so the cost grows with the number of globals, not
//     with the size of the code. BLOCKINFO is skipped like the rest: LLVM applies its
//     abbreviations only to blocks entered after it, and module-level records never use
//     them (LLVM writes it inside the module block and skips a top-level one).
//   - the first STRTAB_BLOCK after that module (a file with several modules, from
//     `llvm-cat -b`, shares one string table written after all of them).
//
// Record layouts (BitcodeWriter.cpp writeModuleInfo, identical in LLVM 19 through 22 for
// the fields read here; checked with llvm-bcanalyzer-19/-22 in the tests):
//   GLOBALVAR: [strtab_offset, strtab_size, type, isconst|explicit|addrspace, initid,
//               linkage, ...]                          initid 0 = declaration
//   FUNCTION:  [strtab_offset, strtab_size, type, callingconv, isproto, linkage, ...]
//   ALIAS:     [strtab_offset, strtab_size, type, addrspace, aliasee, linkage, ...]
//   ALIAS_OLD: [strtab_offset, strtab_size, type, aliasee, linkage, ...]
//   IFUNC:     [strtab_offset, strtab_size, type, addrspace, resolver, linkage, ...]
//
// Names are returned as in the IR (what LLVM's linker matches on), not mangled for the
// object format: `llvm-nm` prints Mach-O names with the "_" global prefix, this does not.
// Names starting with "llvm." (intrinsics, llvm.used, llvm.global_ctors...) are LLVM's own
// and never symbols, as in llvm-nm; unnamed globals cannot be referenced from another
// module and are left out too.

import {
  type AbbrevOp,
  BitCursor,
  bitcodeStream,
  type BitstreamReader,
  type BlockHeader,
  DEFINE_ABBREV,
  END_BLOCK,
  ENTER_SUBBLOCK,
  FIRST_APPLICATION_ABBREV,
  MalformedBitstream,
  readAbbrevDefinition,
  readBitcodeWith,
  readBlob,
  readBlockHeader,
  type RecordSummary,
  skipAbbreviatedRecord,
  skipUnabbreviatedRecord,
  TOP_LEVEL_ABBREV_WIDTH,
  UNABBREV_RECORD,
} from "./bitstream.ts";

export interface BitcodeSymbols {
  /**
   * Names of non-local definitions (functions with bodies, global variables with
   * initializers, common symbols, aliases, ifuncs) — linkage not internal/private.
   */
  readonly defined: readonly string[];
  /**
   * Names of declarations (functions without bodies, external globals without
   * initializer, extern_weak), and available_externally definitions, which never satisfy
   * a reference from another module.
   */
  readonly undefined: readonly string[];
  /** Names of internal and private definitions (`static` in C): no symbol for others. */
  readonly local: readonly string[];
  /** The module has a global named llvm.used or llvm.compiler.used. */
  hasUsedList: boolean;
  /** The module has module-level inline asm (MODULE_CODE_ASM, non-empty). */
  hasModuleAsm: boolean;
}

const MODULE_BLOCK_ID = 8;
const STRTAB_BLOCK_ID = 23;

const MODULE_CODE_VERSION = 1;
const MODULE_CODE_TRIPLE = 2;
const MODULE_CODE_DATALAYOUT = 3;
const MODULE_CODE_ASM = 4;
const MODULE_CODE_COMDAT = 12;
/** The module records LLVM's writer puts before the asm record (after the version). */
const BEFORE_MODULE_ASM = new Set([MODULE_CODE_TRIPLE, MODULE_CODE_DATALAYOUT, MODULE_CODE_COMDAT]);
const MODULE_CODE_GLOBALVAR = 7;
const MODULE_CODE_FUNCTION = 8;
const MODULE_CODE_ALIAS_OLD = 9;
const MODULE_CODE_ALIAS = 14;
const MODULE_CODE_IFUNC = 18; // not 15: that is the unused METADATA_VALUES
const STRTAB_BLOB = 1;

/** Relative value ids and names in the string table: LLVM 5 and later. */
const STRTAB_MODULE_VERSION = 2;

// Encoded linkages (BitcodeReader.cpp getDecodedLinkage). Values not listed — 0 external,
// 1/16 weak_any, 4/18 linkonce_any, 5/6 old dllimport/dllexport (now external), 8 common,
// 10/17 weak_odr, 11/19 linkonce_odr, 15 old linkonce_odr_autohide (now external), and any
// unknown value, which LLVM also reads as external — are ordinary non-local linkages.
const LINKAGE_APPENDING = 2;
const LINKAGE_INTERNAL = 3;
const LINKAGE_EXTERN_WEAK = 7;
const LINKAGE_PRIVATE = 9;
const LINKAGE_AVAILABLE_EXTERNALLY = 12;
const LINKAGE_OLD_LINKER_PRIVATE = 13;
const LINKAGE_OLD_LINKER_PRIVATE_WEAK = 14;

const DEFINED = 0;
const UNDEFINED = 1;
/** Appending: no symbol at all. */
const NOT_A_SYMBOL = 2;
/** Internal or private: a definition no other module can see. */
const LOCAL = 3;
type Kind = typeof DEFINED | typeof UNDEFINED | typeof NOT_A_SYMBOL | typeof LOCAL;

function classify(linkage: number, isDeclaration: boolean): Kind {
  switch (linkage) {
    case LINKAGE_APPENDING:
      return NOT_A_SYMBOL;
    case LINKAGE_INTERNAL:
    case LINKAGE_PRIVATE:
    case LINKAGE_OLD_LINKER_PRIVATE:
    case LINKAGE_OLD_LINKER_PRIVATE_WEAK:
      return LOCAL;
    case LINKAGE_EXTERN_WEAK:
    case LINKAGE_AVAILABLE_EXTERNALLY:
      return UNDEFINED;
    default:
      return isDeclaration ? UNDEFINED : DEFINED;
  }
}

/** A name still to be looked up in the string table, once it is found. */
interface PendingName {
  offset: number;
  size: number;
  kind: Kind;
  isGlobalVar: boolean;
}

interface ModuleRecords {
  names: PendingName[];
  hasModuleAsm: boolean;
}

/** Where a symbol record keeps its linkage; -1 for records that are not symbols. */
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

/**
 * The module block's own records (header just read). `undefined` when the module is not
 * one this reader understands (no VERSION 2 before the first global).
 */
function readModuleBlock(reader: BitstreamReader, header: BlockHeader): ModuleRecords | undefined {
  const names: PendingName[] = [];
  let hasModuleAsm = false;
  let version: number | undefined;
  let understood = true;
  // Sub-blocks are skipped, BLOCKINFO too: its abbreviations are for blocks entered
  // later (reading it was most of a cold scan's time).
  reader.eachRecord(header, (record) => {
    const ops = record.ops;
    if (record.code === MODULE_CODE_VERSION) {
      version = ops[0];
      understood = version === STRTAB_MODULE_VERSION;
      return !understood;
    }
    if (record.code === MODULE_CODE_ASM) {
      // A char array (LLVM writes it unabbreviated); a blob would do as well.
      if (ops.length > 0 || (record.blob && record.blob.length > 0)) hasModuleAsm = true;
      return false;
    }
    const linkageAt = linkageIndex(record.code);
    if (linkageAt < 0) return false;
    // Without VERSION 2 first, names are not (offset, size) pairs.
    understood = version === STRTAB_MODULE_VERSION && ops.length > linkageAt;
    if (!understood) return true;
    // GLOBALVAR: initid (index 4) 0 is a declaration; FUNCTION: isproto (index 4) non-zero.
    let isDeclaration = false;
    if (record.code === MODULE_CODE_GLOBALVAR) isDeclaration = ops[4] === 0;
    else if (record.code === MODULE_CODE_FUNCTION) isDeclaration = ops[4] !== 0;
    names.push({
      offset: ops[0],
      size: ops[1],
      kind: classify(ops[linkageAt], isDeclaration),
      isGlobalVar: record.code === MODULE_CODE_GLOBALVAR,
    });
    return false;
  });
  // A module with no VERSION record at all is version 0 (absolute ids, names in the VST).
  if (!understood || version !== STRTAB_MODULE_VERSION) return undefined;
  return { names, hasModuleAsm };
}

/** The STRTAB_BLOB of a string table block (header just read); the last one wins. */
function readStrtabBlock(reader: BitstreamReader, header: BlockHeader): Uint8Array | undefined {
  let strtab: Uint8Array | undefined;
  reader.eachRecord(header, (record) => {
    if (record.code === STRTAB_BLOB && record.blob) strtab = record.blob;
  });
  return strtab;
}

const utf8 = new TextDecoder();

/**
 * Looks names up in the string table. When the table is all ASCII (nearly always), it is
 * decoded once and names are substrings of it; otherwise each name is decoded as UTF-8.
 */
function nameReader(strtab: Uint8Array): (offset: number, size: number) => string {
  let ascii = true;
  for (let i = 0; i < strtab.length; i++) {
    if (strtab[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    const text = utf8.decode(strtab);
    return (offset, size) => text.substring(offset, offset + size);
  }
  return (offset, size) => utf8.decode(strtab.subarray(offset, offset + size));
}

function resolveNames(
  module: ModuleRecords,
  strtab: Uint8Array | undefined,
): BitcodeSymbols | undefined {
  // Valid IR has one global per name, so no de-duplication is needed.
  const defined: string[] = [];
  const undefinedNames: string[] = [];
  const local: string[] = [];
  let hasUsedList = false;
  const nameAt = strtab && nameReader(strtab);
  for (const name of module.names) {
    if (name.size === 0) continue; // unnamed: nothing outside the module can refer to it
    if (!nameAt || name.offset + name.size > strtab!.length) return undefined;
    const text = nameAt(name.offset, name.size);
    if (text.startsWith("llvm.")) {
      if (name.isGlobalVar && (text === "llvm.used" || text === "llvm.compiler.used")) {
        hasUsedList = true;
      }
      continue;
    }
    if (name.kind === DEFINED) defined.push(text);
    else if (name.kind === UNDEFINED) undefinedNames.push(text);
    else if (name.kind === LOCAL) local.push(text);
  }
  return { defined, undefined: undefinedNames, local, hasUsedList, hasModuleAsm: module.hasModuleAsm };
}

/**
 * Read the module-level records of the first module in `bytes` (raw bitcode or the
 * 0x0B17C0DE wrapper). `undefined` when the bitcode cannot be understood (not bitcode,
 * bitcode older than LLVM 5, malformed or truncated): the caller then loads the member
 * conservatively. Never throws; time and memory are bounded by the input's size.
 */
export function readBitcodeSymbols(bytes: Uint8Array): BitcodeSymbols | undefined {
  // Member selection and the memcpy-in-order decision both ask for an input's
  // symbols: one walk of its bitcode serves both (the object is shared, not copied).
  const known = symbolsRead.get(bytes);
  if (known !== undefined) return known ?? undefined;
  const symbols = scanBitcodeSymbols(bytes);
  symbolsRead.set(bytes, symbols ?? null);
  return symbols;
}

/** readBitcodeSymbols by input bytes; null for bitcode it could not read. */
const symbolsRead = new WeakMap<Uint8Array, BitcodeSymbols | null>();

function scanBitcodeSymbols(bytes: Uint8Array): BitcodeSymbols | undefined {
  return readBitcodeWith(bytes, (reader) => {
    let module: ModuleRecords | undefined;
    // Top level holds only blocks; each iteration consumes ≥ 46 bits, so this ends.
    for (;;) {
      const block = reader.nextTopLevelBlock();
      if (!block) break; // end of stream without a string table
      if (!module) {
        if (block.blockId === MODULE_BLOCK_ID) {
          module = readModuleBlock(reader, block);
          if (!module) return undefined;
        } else {
          reader.skipBlock(block); // IDENTIFICATION, or anything else
        }
        continue;
      }
      if (block.blockId === STRTAB_BLOCK_ID) {
        return resolveNames(module, readStrtabBlock(reader, block));
      }
      reader.skipBlock(block); // SYMTAB, later modules and their identification blocks
    }
    // No string table: fine only when no record needed a name from it.
    return module ? resolveNames(module, undefined) : undefined;
  });
}

/** Whether a module must be linked even when nothing references it (see member_selection.ts). */
export interface KeepFlags {
  hasUsedList: boolean;
  hasModuleAsm: boolean;
}

const USED_LIST_NAMES = ["llvm.used", "llvm.compiler.used"];

/**
 * Whether a string table holds a used list's name: searched in its text, natively (a
 * byte loop in JS costs more, once per archive member). UTF-8 decoding keeps every
 * ASCII byte an ASCII character, even next to invalid sequences, so the answer is
 * the bytes' own.
 */
function mentionsUsedList(strtab: Uint8Array): boolean {
  const text = utf8.decode(strtab);
  return USED_LIST_NAMES.some((name) => text.includes(name));
}

/**
 * The keep flags of the first module in `bytes`, for when its defined symbols are known
 * already (an archive's symbol index): far less work than readBitcodeSymbols on a
 * member nothing may need. Module records are read only up to the first global, since
 * LLVM writes the inline asm record before the globals; the string table is searched
 * for the used lists' names. `undefined` when unsure (not understood, or a used list's
 * name appears in the string table, possibly inside another name): the caller then
 * reads the whole symbol list, which settles it.
 *
 * This runs on every member of every archive (~400 in a Rust link), mostly as code the
 * JIT has not compiled yet: bitcode laid out as LLVM writes it is read straight off a
 * bit cursor (quickKeepFlags); anything else goes to the reader.
 */
export function readKeepFlags(bytes: Uint8Array): KeepFlags | undefined {
  const stream = bitcodeStream(bytes);
  if (!stream) return undefined;
  const quick = quickKeepFlags(stream);
  return quick === ASK_THE_READER ? readKeepFlagsWithReader(bytes) : quick;
}

/** quickKeepFlags' answer for bitcode it leaves to the reader. Exported for the tests. */
export const ASK_THE_READER = Symbol("ask the reader");

/**
 * readKeepFlags for bitcode as LLVM writes it, walked with the reader's own record and
 * block-header functions but none of its scopes, record objects or callbacks: the
 * module block up to where inline asm would be (readModuleAsmFlag's rule), then the
 * string table block, one blob record with its own abbreviation. ASK_THE_READER
 * wherever the input is laid out otherwise (or is malformed), so the reader's answer
 * stands: this one only ever gives the same answer, sooner. Exported for the tests.
 */
export function quickKeepFlags(stream: Uint8Array): KeepFlags | undefined | typeof ASK_THE_READER {
  const quick = quickStringTable(stream);
  if (quick === ASK_THE_READER) return ASK_THE_READER;
  return mentionsUsedList(quick.strtab) ? undefined : { hasUsedList: false, hasModuleAsm: quick.hasModuleAsm };
}

/**
 * Whether the first module in `bytes` may define a global named one of `names`:
 * false only when it certainly does not, because its string table, which holds
 * the name of every named global of an LLVM 5+ module, contains none of them,
 * not even inside another name. Read as quickKeepFlags reads (the module's
 * first records, then the string table); true whenever unsure.
 */
export function mayDefineAnyOf(bytes: Uint8Array, names: readonly string[]): boolean {
  const stream = bitcodeStream(bytes);
  const quick = stream && quickStringTable(stream);
  if (!quick || quick === ASK_THE_READER) return true;
  const text = utf8.decode(quick.strtab);
  return names.some((name) => text.includes(name));
}

/**
 * The module-asm flag and string table of bitcode as LLVM writes it (see
 * quickKeepFlags); ASK_THE_READER for anything else.
 */
function quickStringTable(stream: Uint8Array): { hasModuleAsm: boolean; strtab: Uint8Array } | typeof ASK_THE_READER {
  const cursor = new BitCursor(stream);
  cursor.pos = 32; // past the magic
  const streamEnd = cursor.limit;
  try {
    let hasModuleAsm: boolean | undefined;
    while (!cursor.atEnd()) {
      if (cursor.fixed(TOP_LEVEL_ABBREV_WIDTH) !== ENTER_SUBBLOCK) return ASK_THE_READER;
      const block = readBlockHeader(cursor);
      cursor.limit = block.end;
      if (hasModuleAsm === undefined && block.blockId === MODULE_BLOCK_ID) {
        const asm = quickModuleAsmFlag(cursor, block);
        if (asm === ASK_THE_READER) return ASK_THE_READER;
        hasModuleAsm = asm;
      } else if (hasModuleAsm !== undefined && block.blockId === STRTAB_BLOCK_ID) {
        const strtab = quickStrtabBlob(cursor, block.abbrevWidth);
        return strtab === undefined ? ASK_THE_READER : { hasModuleAsm, strtab };
      } else {
        cursor.pos = block.end;
      }
      cursor.limit = streamEnd;
    }
  } catch (error) {
    if (error instanceof MalformedBitstream) return ASK_THE_READER;
    throw error;
  }
  return ASK_THE_READER; // no string table after the module
}

/**
 * The module block's records, as readModuleAsmFlag sees them, leaving the cursor where
 * the reader goes on: the block's end when the search stops, or right after END_BLOCK.
 */
function quickModuleAsmFlag(cursor: BitCursor, block: BlockHeader): boolean | typeof ASK_THE_READER {
  let version: number | undefined;
  const abbrevs: AbbrevOp[][] = [];
  for (;;) {
    const id = cursor.fixed(block.abbrevWidth);
    if (id === END_BLOCK) {
      cursor.alignTo32();
      break;
    }
    if (id === ENTER_SUBBLOCK) {
      cursor.pos = readBlockHeader(cursor).end;
      continue;
    }
    if (id === DEFINE_ABBREV) {
      abbrevs.push(readAbbrevDefinition(cursor));
      continue;
    }
    let record: RecordSummary;
    if (id === UNABBREV_RECORD) {
      record = skipUnabbreviatedRecord(cursor);
    } else {
      const abbrev = abbrevs[id - FIRST_APPLICATION_ABBREV];
      if (!abbrev) return ASK_THE_READER;
      record = skipAbbreviatedRecord(cursor, abbrev);
    }
    if (record.code === MODULE_CODE_VERSION) {
      version = record.first;
    } else if (record.code === MODULE_CODE_ASM) {
      cursor.pos = block.end;
      return version === STRTAB_MODULE_VERSION ? record.count > 0 || (record.blobLength ?? 0) > 0 : ASK_THE_READER;
    } else if (!BEFORE_MODULE_ASM.has(record.code)) {
      cursor.pos = block.end;
      break;
    }
  }
  return version === STRTAB_MODULE_VERSION ? false : ASK_THE_READER;
}

/** The string table block as LLVM writes it: [DEFINE_ABBREV [STRTAB_BLOB, blob]], the record, end. */
function quickStrtabBlob(cursor: BitCursor, width: number): Uint8Array | undefined {
  if (cursor.fixed(width) !== DEFINE_ABBREV) return undefined;
  const ops = readAbbrevDefinition(cursor);
  if (ops.length !== 2 || ops[0].kind !== "literal" || ops[0].value !== STRTAB_BLOB || ops[1].kind !== "blob") {
    return undefined;
  }
  if (cursor.fixed(width) !== FIRST_APPLICATION_ABBREV) return undefined;
  const blob = readBlob(cursor);
  if (cursor.fixed(width) !== END_BLOCK) return undefined; // a second blob would win
  cursor.alignTo32();
  return blob;
}

/** readKeepFlags with the bitstream reader: any bitcode it can read. Exported for the tests. */
export function readKeepFlagsWithReader(bytes: Uint8Array): KeepFlags | undefined {
  return readBitcodeWith(bytes, (reader) => {
    let hasModuleAsm: boolean | undefined;
    for (;;) {
      const block = reader.nextTopLevelBlock();
      if (!block) return undefined; // no string table
      if (hasModuleAsm === undefined) {
        if (block.blockId !== MODULE_BLOCK_ID) {
          reader.skipBlock(block);
          continue;
        }
        hasModuleAsm = readModuleAsmFlag(reader, block);
        if (hasModuleAsm === undefined) return undefined;
        continue;
      }
      if (block.blockId !== STRTAB_BLOCK_ID) {
        reader.skipBlock(block);
        continue;
      }
      const strtab = readStrtabBlock(reader, block);
      if (!strtab) return undefined;
      if (mentionsUsedList(strtab)) return undefined;
      return { hasUsedList: false, hasModuleAsm };
    }
  });
}

/**
 * Module records up to where inline asm would be: is there module asm? `undefined` if
 * not version 2. LLVM's writer puts the version first, then comdats, then the triple,
 * the data layout and the asm; any other record (a section name, the source file
 * name, the first global) means the asm is not there. Reading no further matters: this
 * runs for every member of every archive (~380 in a Rust link).
 */
function readModuleAsmFlag(reader: BitstreamReader, header: BlockHeader): boolean | undefined {
  let version: number | undefined;
  let hasModuleAsm = false;
  reader.eachRecordSummary(header, (record) => {
    if (record.code === MODULE_CODE_VERSION) {
      version = record.first;
    } else if (record.code === MODULE_CODE_ASM) {
      if (record.count > 0 || (record.blobLength ?? 0) > 0) hasModuleAsm = true;
      return true;
    } else if (!BEFORE_MODULE_ASM.has(record.code)) {
      return true;
    }
  });
  return version === STRTAB_MODULE_VERSION ? hasModuleAsm : undefined;
}
