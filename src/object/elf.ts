// The one ELF reader: inputs (an object's `.llvmbc` section, rustc's empty
// `symbols.o`) and our own output (link map, BTF lint, unresolved calls) go
// through it. ELF32 and ELF64, either byte order; every field read is
// bounds-checked and section contents are zero-copy views of the input.
// Pure TypeScript: no LLVM, no FFI.

/** A malformed ELF file. The input stage adds the file and member it is about. */
export class ElfFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ElfFormatError";
  }
}

export const SHT_NULL = 0;
export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_NOBITS = 8;
export const SHT_REL = 9;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;
const SHN_XINDEX = 0xffff;

export const SYMBOL_TYPES = [
  "NOTYPE",
  "OBJECT",
  "FUNC",
  "SECTION",
  "FILE",
  "COMMON",
  "TLS",
] as const;
export const SYMBOL_BINDINGS = ["LOCAL", "GLOBAL", "WEAK"] as const;
/** The STT_* numbers the checks of the emitted object use (SYMBOL_TYPES spells them). */
export const STT_OBJECT = 1;
export const STT_FUNC = 2;

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7FELF"

export interface ElfSection {
  index: number;
  name: string;
  type: number;
  flags: number;
  offset: number;
  size: number;
  link: number;
  info: number;
  entsize: number;
  /** The section's bytes (empty for SHT_NOBITS), a view into the input. */
  data: Uint8Array;
}

export interface ElfSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  /** STT_* number; `symbolTypeName` spells it. */
  type: number;
  bind: number;
  visibility: number;
  shndx: number;
}

export interface ElfRelocation {
  offset: number;
  type: number;
  symbol: number;
}

/** Field offsets and sizes that differ between ELF32 and ELF64. */
interface ElfLayout {
  headerSize: number;
  machine: number;
  shoff: number;
  shentsize: number;
  shnum: number;
  shstrndx: number;
  sectionHeaderSize: number;
  /** Offsets of the section header fields. */
  sh: Record<"name" | "type" | "flags" | "offset" | "size" | "link" | "info" | "entsize", number>;
  symbolSize: number;
  relSize: number;
}

const ELF32: ElfLayout = {
  headerSize: 52,
  machine: 18,
  shoff: 32,
  shentsize: 46,
  shnum: 48,
  shstrndx: 50,
  sectionHeaderSize: 40,
  sh: { name: 0, type: 4, flags: 8, offset: 16, size: 20, link: 24, info: 28, entsize: 36 },
  symbolSize: 16,
  relSize: 8,
};

const ELF64: ElfLayout = {
  headerSize: 64,
  machine: 18,
  shoff: 40,
  shentsize: 58,
  shnum: 60,
  shstrndx: 62,
  sectionHeaderSize: 64,
  sh: { name: 0, type: 4, flags: 8, offset: 24, size: 32, link: 40, info: 44, entsize: 56 },
  symbolSize: 24,
  relSize: 16,
};

const utf8 = new TextDecoder();

export function symbolTypeName(type: number): string {
  return SYMBOL_TYPES[type] ?? `TYPE${type}`;
}

export function symbolBindName(bind: number): string {
  return SYMBOL_BINDINGS[bind] ?? `BIND${bind}`;
}

/** Whether `bytes` starts with the ELF magic. */
export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

/** A NUL-terminated string at `offset` of a string table (empty when out of range). */
export function stringAt(table: Uint8Array, offset: number): string {
  if (offset >= table.length) return "";
  const end = table.indexOf(0, offset);
  return utf8.decode(table.subarray(offset, end < 0 ? table.length : end));
}

export class ElfObject {
  readonly bytes: Uint8Array;
  readonly is64: boolean;
  readonly littleEndian: boolean;
  readonly machine: number;
  readonly sections: ElfSection[];
  readonly #view: DataView;
  readonly #layout: ElfLayout;
  #symbols?: ElfSymbol[];

  /** Reads the headers and the section table; throws ElfFormatError for anything malformed. */
  constructor(bytes: Uint8Array) {
    if (!isElf(bytes)) throw new ElfFormatError("not an ELF file");
    this.bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (bytes.length < 16) fail(`truncated ELF identification (${bytes.length} bytes)`);
    const elfClass = bytes[4];
    if (elfClass !== 1 && elfClass !== 2) fail(`invalid ELF class ${elfClass}`);
    const elfData = bytes[5];
    if (elfData !== 1 && elfData !== 2) fail(`invalid ELF data encoding ${elfData}`);
    this.is64 = elfClass === 2;
    this.littleEndian = elfData === 1;
    this.#layout = this.is64 ? ELF64 : ELF32;
    const l = this.#layout;
    if (bytes.length < l.headerSize) {
      fail(`truncated ELF header (${bytes.length} of ${l.headerSize} bytes)`);
    }
    this.machine = this.#u16(l.machine);
    this.sections = this.#readSections();
  }

  #readSections(): ElfSection[] {
    const l = this.#layout;
    const fileSize = this.bytes.length;
    const tableOffset = this.#word(l.shoff);
    if (tableOffset === 0) return [];
    const entrySize = this.#u16(l.shentsize);
    if (entrySize < l.sectionHeaderSize) {
      fail(`invalid ELF section header size ${entrySize} (need at least ${l.sectionHeaderSize})`);
    }
    if (tableOffset > fileSize || fileSize - tableOffset < entrySize) {
      fail(`ELF section header table at offset ${tableOffset} is beyond the end of the file`);
    }
    // Extended numbering: the real count and name table index live in section 0.
    let count = this.#u16(l.shnum);
    let namesIndex = this.#u16(l.shstrndx);
    if (count === 0) count = this.#word(tableOffset + l.sh.size);
    if (namesIndex === SHN_XINDEX) namesIndex = this.#u32(tableOffset + l.sh.link);
    if (count > (fileSize - tableOffset) / entrySize) {
      fail(
        `truncated ELF section header table: ${count} sections of ${entrySize} bytes at offset ` +
          `${tableOffset}, file has ${fileSize} bytes`,
      );
    }
    const headers = Array.from({ length: count }, (_, index) => {
      const at = tableOffset + index * entrySize;
      return {
        index,
        nameOffset: this.#u32(at + l.sh.name),
        type: this.#u32(at + l.sh.type),
        flags: this.#word(at + l.sh.flags),
        offset: this.#word(at + l.sh.offset),
        size: this.#word(at + l.sh.size),
        link: this.#u32(at + l.sh.link),
        info: this.#u32(at + l.sh.info),
        entsize: this.#word(at + l.sh.entsize),
      };
    });
    let names: Uint8Array | undefined; // no name table: every name is empty
    if (namesIndex !== SHN_UNDEF && count > 0) {
      if (namesIndex >= count) {
        fail(`ELF section name table index ${namesIndex} is out of range (${count} sections)`);
      }
      names = this.#contents(headers[namesIndex], "name table");
    }
    return headers.map((h) => {
      const name = names && h.index > 0 ? sectionName(names, h.nameOffset) : "";
      const data = h.type === SHT_NOBITS || h.index === 0
        ? new Uint8Array(0)
        : this.#contents(h, name);
      const { nameOffset: _, ...fields } = h;
      return { ...fields, name, data };
    });
  }

  #contents(section: { type: number; offset: number; size: number }, label: string): Uint8Array {
    const fileSize = this.bytes.length;
    if (section.type === SHT_NOBITS) fail(`ELF section ${label} has no contents`);
    if (section.offset > fileSize || fileSize - section.offset < section.size) {
      fail(
        `ELF section ${label} (${section.size} bytes at offset ${section.offset}) ` +
          `extends beyond the end of the file (${fileSize} bytes)`,
      );
    }
    return this.bytes.subarray(section.offset, section.offset + section.size);
  }

  #u16(at: number): number {
    return this.#view.getUint16(at, this.littleEndian);
  }

  #u32(at: number): number {
    return this.#view.getUint32(at, this.littleEndian);
  }

  /** An address, offset or size: 32 or 64 bits by class; beyond 2^53 can never be in range. */
  #word(at: number): number {
    if (!this.is64) return this.#u32(at);
    const value = this.#view.getBigUint64(at, this.littleEndian);
    return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
  }

  section(name: string): ElfSection | undefined {
    return this.sections.find((s) => s.name === name);
  }

  /** The symbol table (index 0, the null symbol, included); [] without one. */
  get symbols(): ElfSymbol[] {
    if (this.#symbols) return this.#symbols;
    const symtab = this.sections.find((s) => s.type === SHT_SYMTAB);
    const out: ElfSymbol[] = [];
    if (symtab) {
      const strings = this.sections[symtab.link]?.data ?? new Uint8Array(0);
      const entsize = symtab.entsize || this.#layout.symbolSize;
      // Elf64_Sym: name, info, other, shndx, value, size; Elf32_Sym: name, value, size, info, other, shndx.
      const [value, size, info, other, shndx] = this.is64 ? [8, 16, 4, 5, 6] : [4, 8, 12, 13, 14];
      for (let i = 0; (i + 1) * entsize <= symtab.size; i++) {
        const at = symtab.offset + i * entsize;
        const infoByte = this.bytes[at + info];
        out.push({
          index: i,
          name: stringAt(strings, this.#u32(at)),
          type: infoByte & 0xf,
          bind: infoByte >> 4,
          visibility: this.bytes[at + other] & 0x3,
          shndx: this.#u16(at + shndx),
          value: this.#word(at + value),
          size: this.#word(at + size),
        });
      }
    }
    this.#symbols = out;
    return out;
  }

  /** The REL relocations that apply to section `target` (all REL sections pointing at it). */
  relocationsFor(target: number): ElfRelocation[] {
    const out: ElfRelocation[] = [];
    for (const rel of this.sections) {
      if (rel.type !== SHT_REL || rel.info !== target) continue;
      const entsize = rel.entsize || this.#layout.relSize;
      for (let at = rel.offset; at + entsize <= rel.offset + rel.size; at += entsize) {
        if (this.is64) {
          const info = this.#view.getBigUint64(at + 8, this.littleEndian);
          out.push({
            offset: this.#word(at),
            type: Number(info & 0xffffffffn),
            symbol: Number(info >> 32n),
          });
        } else {
          const info = this.#u32(at + 4);
          out.push({ offset: this.#u32(at), type: info & 0xff, symbol: info >>> 8 });
        }
      }
    }
    return out;
  }

  /** The name of the section a symbol is defined in, or UND/ABS/COMMON. */
  sectionNameOf(symbol: ElfSymbol): string {
    if (symbol.shndx === SHN_UNDEF) return "UND";
    if (symbol.shndx === SHN_ABS) return "ABS";
    if (symbol.shndx === SHN_COMMON) return "COMMON";
    return this.sections[symbol.shndx]?.name ?? `section${symbol.shndx}`;
  }
}

function fail(detail: string): never {
  throw new ElfFormatError(detail);
}

/** A section's name; strict, since a name outside its table means a corrupt file. */
function sectionName(names: Uint8Array, at: number): string {
  if (at >= names.length) fail(`ELF section name offset ${at} is outside the section name table`);
  const end = names.indexOf(0, at);
  if (end < 0) fail(`unterminated ELF section name at offset ${at}`);
  return utf8.decode(names.subarray(at, end));
}
