// Input kind detection (by content, never by file name) and reading the `.llvmbc`
// section out of ELF objects. Pure TypeScript: no LLVM, no FFI.

import { type ErrorLocation, InputError } from "../errors.ts";
import {
  ELF_MAGIC,
  ElfFormatError,
  ElfObject,
  SHT_NOBITS,
  SHT_NULL,
  SHT_STRTAB,
  SHT_SYMTAB,
} from "../object/elf.ts";

export type InputKind =
  | "archive"
  | "thin-archive"
  | "bitcode"
  | "elf"
  | "macho"
  | "ir"
  | "unknown";

const ARCHIVE_MAGIC = ascii("!<arch>\n");
const THIN_ARCHIVE_MAGIC = ascii("!<thin>\n");
const BITCODE_MAGIC = [0x42, 0x43, 0xc0, 0xde]; // "BC" 0xC0DE
const BITCODE_WRAPPER_MAGIC = [0xde, 0xc0, 0x17, 0x0b]; // 0x0B17C0DE, little-endian
const MACHO_MAGICS = [
  [0xfe, 0xed, 0xfa, 0xce], // 32-bit, big-endian
  [0xce, 0xfa, 0xed, 0xfe], // 32-bit, little-endian
  [0xfe, 0xed, 0xfa, 0xcf], // 64-bit, big-endian
  [0xcf, 0xfa, 0xed, 0xfe], // 64-bit, little-endian
  [0xca, 0xfe, 0xba, 0xbe], // universal (fat)
  [0xca, 0xfe, 0xba, 0xbf], // universal (fat) with 64-bit offsets
];
const UTF8_BOM = [0xef, 0xbb, 0xbf];
/** How textual LLVM IR can begin; comments other than the ModuleID line are not expected. */
const IR_PREFIXES = [
  "; ModuleID",
  "source_filename",
  "target datalayout",
  "target triple",
  "define ",
  "declare ",
  "!llvm",
].map(ascii);

function ascii(text: string): number[] {
  return Array.from(text, (c) => c.charCodeAt(0));
}

function hasPrefixAt(bytes: Uint8Array, at: number, prefix: readonly number[]): boolean {
  if (bytes.length - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) {
    if (bytes[at + i] !== prefix[i]) return false;
  }
  return true;
}

function isAsciiWhitespace(byte: number): boolean {
  // space, \t, \n, \v, \f, \r
  return byte === 0x20 || (byte >= 0x09 && byte <= 0x0d);
}

function looksLikeIrText(bytes: Uint8Array): boolean {
  let at = hasPrefixAt(bytes, 0, UTF8_BOM) ? UTF8_BOM.length : 0;
  while (at < bytes.length && isAsciiWhitespace(bytes[at])) at++;
  return IR_PREFIXES.some((prefix) => hasPrefixAt(bytes, at, prefix));
}

/** Detect by content, never by name. */
export function detectInputKind(bytes: Uint8Array): InputKind {
  if (hasPrefixAt(bytes, 0, ARCHIVE_MAGIC)) return "archive";
  if (hasPrefixAt(bytes, 0, THIN_ARCHIVE_MAGIC)) return "thin-archive";
  if (hasPrefixAt(bytes, 0, BITCODE_MAGIC)) return "bitcode";
  if (hasPrefixAt(bytes, 0, BITCODE_WRAPPER_MAGIC)) return "bitcode";
  if (hasPrefixAt(bytes, 0, ELF_MAGIC)) return "elf";
  if (MACHO_MAGICS.some((magic) => hasPrefixAt(bytes, 0, magic))) return "macho";
  if (looksLikeIrText(bytes)) return "ir";
  return "unknown";
}

// ---------------------------------------------------------------------------
// ELF (read by src/object/elf.ts; here its errors get the file and member)

function readElf(bytes: Uint8Array, where: ErrorLocation): ElfObject {
  try {
    return new ElfObject(bytes);
  } catch (e) {
    if (e instanceof ElfFormatError) throw new InputError(e.message, where);
    throw e;
  }
}

/**
 * For an ELF object (32/64-bit, little/big-endian): a zero-copy subarray view of its `.llvmbc`
 * section, or undefined if it has none. Corrupt/truncated ELF headers or section tables ->
 * InputError naming `where` (file and member).
 */
export function extractElfBitcode(bytes: Uint8Array, where: ErrorLocation): Uint8Array | undefined {
  const section = readElf(bytes, where).section(".llvmbc");
  if (section?.type === SHT_NOBITS) {
    throw new InputError("ELF section .llvmbc has no contents", where);
  }
  return section?.data;
}

/**
 * True for an ELF object that carries nothing to link: no section with code or
 * data, only symbol and string tables (empty sections aside). rustc adds such
 * a `symbols.o` to every link, holding undefined references to the exported
 * symbols so a native linker keeps them; for a bitcode link it is expected,
 * whatever its name. Corrupt headers -> InputError naming `where`.
 */
export function isElfWithoutContents(bytes: Uint8Array, where: ErrorLocation): boolean {
  return readElf(bytes, where).sections.every((s) =>
    s.type === SHT_NULL || s.type === SHT_SYMTAB || s.type === SHT_STRTAB || s.size === 0
  );
}
