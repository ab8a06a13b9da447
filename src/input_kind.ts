// Input kind detection (by content, never by file name) and reading the `.llvmbc`
// section out of ELF objects. Pure TypeScript: no LLVM, no FFI.

import { type ErrorLocation, InputError } from "./errors.ts";

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
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7FELF"
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
// ELF

const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ELFDATA2MSB = 2;
const SHN_UNDEF = 0;
const SHN_XINDEX = 0xffff;
const SHT_NOBITS = 8;
const BITCODE_SECTION_NAME = ".llvmbc";

/** Field offsets and sizes that differ between ELF32 and ELF64. */
interface ElfLayout {
  headerSize: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  sectionHeaderSize: number;
  shName: number;
  shType: number;
  shOffset: number;
  shSize: number;
  shLink: number;
  is64: boolean;
}

const ELF32_LAYOUT: ElfLayout = {
  headerSize: 52,
  shoff: 32,
  shentsize: 46,
  shnum: 48,
  shstrndx: 50,
  sectionHeaderSize: 40,
  shName: 0,
  shType: 4,
  shOffset: 16,
  shSize: 20,
  shLink: 24,
  is64: false,
};

const ELF64_LAYOUT: ElfLayout = {
  headerSize: 64,
  shoff: 40,
  shentsize: 58,
  shnum: 60,
  shstrndx: 62,
  sectionHeaderSize: 64,
  shName: 0,
  shType: 4,
  shOffset: 24,
  shSize: 32,
  shLink: 40,
  is64: true,
};

interface SectionHeader {
  name: number;
  type: number;
  offset: number;
  size: number;
  link: number;
}

/** Reads ELF fields with the file's class and byte order; every read is bounds-checked. */
class ElfReader {
  readonly view: DataView;
  readonly littleEndian: boolean;
  readonly layout: ElfLayout;
  readonly where: ErrorLocation;

  constructor(bytes: Uint8Array, where: ErrorLocation) {
    this.where = where;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 16) this.fail(`truncated ELF identification (${bytes.length} bytes)`);
    const elfClass = bytes[EI_CLASS];
    const elfData = bytes[EI_DATA];
    if (elfClass === ELFCLASS32) this.layout = ELF32_LAYOUT;
    else if (elfClass === ELFCLASS64) this.layout = ELF64_LAYOUT;
    else this.fail(`invalid ELF class ${elfClass}`);
    if (elfData === ELFDATA2LSB) this.littleEndian = true;
    else if (elfData === ELFDATA2MSB) this.littleEndian = false;
    else this.fail(`invalid ELF data encoding ${elfData}`);
    if (bytes.length < this.layout.headerSize) {
      this.fail(`truncated ELF header (${bytes.length} of ${this.layout.headerSize} bytes)`);
    }
  }

  fail(detail: string): never {
    throw new InputError(detail, this.where);
  }

  u16(at: number): number {
    return this.view.getUint16(at, this.littleEndian);
  }

  u32(at: number): number {
    return this.view.getUint32(at, this.littleEndian);
  }

  /** A file offset or size: 32 or 64 bits by class; beyond 2^53 can never be in range. */
  word(at: number): number {
    if (!this.layout.is64) return this.u32(at);
    const value = this.view.getBigUint64(at, this.littleEndian);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }
}

function readSectionHeader(elf: ElfReader, at: number): SectionHeader {
  const l = elf.layout;
  return {
    name: elf.u32(at + l.shName),
    type: elf.u32(at + l.shType),
    offset: elf.word(at + l.shOffset),
    size: elf.word(at + l.shSize),
    link: elf.u32(at + l.shLink),
  };
}

/** The section header table's place, resolving extended numbering (count/strndx in section 0). */
function locateSectionTable(
  elf: ElfReader,
): { tableOffset: number; entrySize: number; count: number; namesIndex: number } {
  const l = elf.layout;
  const fileSize = elf.view.byteLength;
  const tableOffset = elf.word(l.shoff);
  const entrySize = elf.u16(l.shentsize);
  let count = elf.u16(l.shnum);
  let namesIndex = elf.u16(l.shstrndx);
  if (tableOffset === 0) return { tableOffset, entrySize, count: 0, namesIndex: SHN_UNDEF };
  if (entrySize < l.sectionHeaderSize) {
    elf.fail(`invalid ELF section header size ${entrySize} (need at least ${l.sectionHeaderSize})`);
  }
  if (tableOffset > fileSize || fileSize - tableOffset < entrySize) {
    elf.fail(`ELF section header table at offset ${tableOffset} is beyond the end of the file`);
  }
  if (count === 0 || namesIndex === SHN_XINDEX) {
    const first = readSectionHeader(elf, tableOffset);
    if (count === 0) count = first.size;
    if (namesIndex === SHN_XINDEX) namesIndex = first.link;
  }
  if (count > (fileSize - tableOffset) / entrySize) {
    elf.fail(
      `truncated ELF section header table: ${count} sections of ${entrySize} bytes at offset ` +
        `${tableOffset}, file has ${fileSize} bytes`,
    );
  }
  return { tableOffset, entrySize, count, namesIndex };
}

function sectionContents(
  elf: ElfReader,
  bytes: Uint8Array,
  section: SectionHeader,
  label: string,
): Uint8Array {
  if (section.type === SHT_NOBITS) elf.fail(`ELF section ${label} has no contents`);
  if (section.offset > bytes.length || bytes.length - section.offset < section.size) {
    elf.fail(
      `ELF section ${label} (${section.size} bytes at offset ${section.offset}) ` +
        `extends beyond the end of the file (${bytes.length} bytes)`,
    );
  }
  return bytes.subarray(section.offset, section.offset + section.size);
}

/** Whether the NUL-terminated string at `at` in `strings` equals `name`. */
function sectionNameIs(
  elf: ElfReader,
  strings: Uint8Array,
  at: number,
  name: readonly number[],
): boolean {
  if (at >= strings.length) {
    elf.fail(`ELF section name offset ${at} is outside the section name table`);
  }
  const end = strings.indexOf(0, at);
  if (end < 0) elf.fail(`unterminated ELF section name at offset ${at}`);
  return end - at === name.length && hasPrefixAt(strings, at, name);
}

const BITCODE_SECTION_NAME_BYTES = ascii(BITCODE_SECTION_NAME);

/**
 * For an ELF object (32/64-bit, little/big-endian): a zero-copy subarray view of its `.llvmbc`
 * section, or undefined if it has none. Corrupt/truncated ELF headers or section tables ->
 * InputError naming `where` (file and member).
 */
export function extractElfBitcode(
  bytes: Uint8Array,
  where: ErrorLocation,
): Uint8Array | undefined {
  if (!hasPrefixAt(bytes, 0, ELF_MAGIC)) throw new InputError("not an ELF file", where);
  const elf = new ElfReader(bytes, where);
  const table = locateSectionTable(elf);
  if (table.count === 0) return undefined;
  if (table.namesIndex === SHN_UNDEF) return undefined; // no names: nothing can be `.llvmbc`
  if (table.namesIndex >= table.count) {
    elf.fail(
      `ELF section name table index ${table.namesIndex} is out of range (${table.count} sections)`,
    );
  }
  const headerAt = (index: number) => table.tableOffset + index * table.entrySize;
  const names = sectionContents(
    elf,
    bytes,
    readSectionHeader(elf, headerAt(table.namesIndex)),
    "name table",
  );
  for (let index = 1; index < table.count; index++) {
    const section = readSectionHeader(elf, headerAt(index));
    if (sectionNameIs(elf, names, section.name, BITCODE_SECTION_NAME_BYTES)) {
      return sectionContents(elf, bytes, section, BITCODE_SECTION_NAME);
    }
  }
  return undefined;
}

const SHT_NULL = 0;
const SHT_SYMTAB = 2;
const SHT_STRTAB = 3;

/**
 * True for an ELF object that carries nothing to link: no section with code or
 * data, only symbol and string tables (empty sections aside). rustc adds such
 * a `symbols.o` to every link, holding undefined references to the exported
 * symbols so a native linker keeps them; for a bitcode link it is expected,
 * whatever its name. Corrupt headers -> InputError naming `where`.
 */
export function isElfWithoutContents(bytes: Uint8Array, where: ErrorLocation): boolean {
  if (!hasPrefixAt(bytes, 0, ELF_MAGIC)) throw new InputError("not an ELF file", where);
  const elf = new ElfReader(bytes, where);
  const table = locateSectionTable(elf);
  for (let index = 1; index < table.count; index++) {
    const section = readSectionHeader(elf, table.tableOffset + index * table.entrySize);
    const tables = section.type === SHT_NULL || section.type === SHT_SYMTAB || section.type === SHT_STRTAB;
    if (!tables && section.size > 0) return false;
  }
  return true;
}
