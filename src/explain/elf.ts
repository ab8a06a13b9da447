// A small zero-copy reader for 64-bit ELF relocatable objects, as the BPF
// backend writes them (little- or big-endian): section headers and names,
// the symbol table and REL relocations. Section contents are subarrays of the
// input; nothing is copied. Used by the link map and the BTF lint.

export class ElfFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ElfFormatError";
  }
}

export const SHT_SYMTAB = 2;
export const SHT_STRTAB = 3;
export const SHT_REL = 9;
export const SHF_ALLOC = 0x2;
export const SHF_EXECINSTR = 0x4;
export const SHN_UNDEF = 0;
export const SHN_LORESERVE = 0xff00;
export const SHN_ABS = 0xfff1;
export const SHN_COMMON = 0xfff2;

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
  /** STT_* number; `typeName` spells it. */
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

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const SHT_NOBITS = 8;
const utf8 = new TextDecoder();

export function symbolTypeName(type: number): string {
  return SYMBOL_TYPES[type] ?? `TYPE${type}`;
}

export function symbolBindName(bind: number): string {
  return SYMBOL_BINDINGS[bind] ?? `BIND${bind}`;
}

/** A NUL-terminated string at `offset` of a string table (empty when out of range). */
export function stringAt(table: Uint8Array, offset: number): string {
  if (offset >= table.length) return "";
  let end = offset;
  while (end < table.length && table[end] !== 0) end++;
  return utf8.decode(table.subarray(offset, end));
}

export class ElfObject {
  readonly bytes: Uint8Array;
  readonly littleEndian: boolean;
  readonly machine: number;
  readonly sections: ElfSection[];
  readonly #view: DataView;
  #symbols?: ElfSymbol[];

  /** Parse the headers; throws ElfFormatError for anything but a sane ELF64 object. */
  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    if (bytes.length < 64 || ELF_MAGIC.some((b, i) => bytes[i] !== b)) {
      throw new ElfFormatError("not an ELF file");
    }
    if (bytes[4] !== 2) throw new ElfFormatError("not a 64-bit ELF file");
    if (bytes[5] !== 1 && bytes[5] !== 2) throw new ElfFormatError("unknown ELF byte order");
    this.littleEndian = bytes[5] === 1;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.machine = this.#u16(18);
    const shoff = this.#u64(40);
    const shentsize = this.#u16(58);
    let shnum = this.#u16(60);
    let shstrndx = this.#u16(62);
    if (shoff === 0) {
      this.sections = [];
      return;
    }
    if (shentsize < 64 || shoff + shentsize > bytes.length) {
      throw new ElfFormatError("bad section header table");
    }
    // Extended numbering: the real counts live in section 0.
    if (shnum === 0) shnum = this.#u64(shoff + 32);
    if (shstrndx === 0xffff) shstrndx = this.#u32(shoff + 40);
    if (shoff + shnum * shentsize > bytes.length) {
      throw new ElfFormatError("section headers past the end");
    }
    const raw = [];
    for (let i = 0; i < shnum; i++) {
      const at = shoff + i * shentsize;
      const type = this.#u32(at + 4);
      const offset = this.#u64(at + 24);
      const size = this.#u64(at + 32);
      if (type !== SHT_NOBITS && offset + size > bytes.length) {
        throw new ElfFormatError(`section ${i} extends past the end of the file`);
      }
      raw.push({
        nameOffset: this.#u32(at),
        type,
        flags: this.#u64(at + 8),
        offset,
        size,
        link: this.#u32(at + 40),
        info: this.#u32(at + 44),
        entsize: this.#u64(at + 56),
      });
    }
    const names = shstrndx < raw.length
      ? bytes.subarray(raw[shstrndx].offset, raw[shstrndx].offset + raw[shstrndx].size)
      : new Uint8Array(0);
    this.sections = raw.map((s, index) => ({
      index,
      name: stringAt(names, s.nameOffset),
      type: s.type,
      flags: s.flags,
      offset: s.offset,
      size: s.size,
      link: s.link,
      info: s.info,
      entsize: s.entsize,
      data: s.type === SHT_NOBITS ? new Uint8Array(0) : bytes.subarray(s.offset, s.offset + s.size),
    }));
  }

  #u16(at: number): number {
    return this.#view.getUint16(at, this.littleEndian);
  }
  #u32(at: number): number {
    return this.#view.getUint32(at, this.littleEndian);
  }
  #u64(at: number): number {
    return Number(this.#view.getBigUint64(at, this.littleEndian));
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
      const entsize = symtab.entsize || 24;
      for (let i = 0; (i + 1) * entsize <= symtab.size; i++) {
        const at = symtab.offset + i * entsize;
        const info = this.bytes[at + 4];
        out.push({
          index: i,
          name: stringAt(strings, this.#u32(at)),
          type: info & 0xf,
          bind: info >> 4,
          visibility: this.bytes[at + 5] & 0x3,
          shndx: this.#u16(at + 6),
          value: this.#u64(at + 8),
          size: this.#u64(at + 16),
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
      const entsize = rel.entsize || 16;
      for (let at = rel.offset; at + entsize <= rel.offset + rel.size; at += entsize) {
        const info = this.#view.getBigUint64(at + 8, this.littleEndian);
        out.push({
          offset: this.#u64(at),
          type: Number(info & 0xffffffffn),
          symbol: Number(info >> 32n),
        });
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
