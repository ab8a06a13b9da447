// A BTF decoder: the `.BTF` section of a BPF object (header, every type kind,
// the string section) and the function records of `.BTF.ext`. Layouts from
// the kernel's include/uapi/linux/btf.h; either byte order (the magic says).

export class BtfFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BtfFormatError";
  }
}

export const BTF_KIND = {
  UNKN: 0,
  INT: 1,
  PTR: 2,
  ARRAY: 3,
  STRUCT: 4,
  UNION: 5,
  ENUM: 6,
  FWD: 7,
  TYPEDEF: 8,
  VOLATILE: 9,
  CONST: 10,
  RESTRICT: 11,
  FUNC: 12,
  FUNC_PROTO: 13,
  VAR: 14,
  DATASEC: 15,
  FLOAT: 16,
  DECL_TAG: 17,
  TYPE_TAG: 18,
  ENUM64: 19,
} as const;

const KIND_NAMES = Object.fromEntries(Object.entries(BTF_KIND).map(([k, v]) => [v, k])) as Record<
  number,
  string
>;

/** FUNC linkage (the vlen of a FUNC) and VAR linkage. */
export const BTF_FUNC_LINKAGE = ["static", "global", "extern"] as const;

export interface BtfMember {
  name: string;
  type: number;
  /** STRUCT/UNION: bit offset (with the bitfield size in the top 8 bits when kind_flag is set). */
  offset: number;
}

export interface BtfType {
  id: number;
  kind: number;
  kindName: string;
  name: string;
  nameOffset: number;
  vlen: number;
  kindFlag: boolean;
  /** `size` for INT, STRUCT, UNION, ENUM, DATASEC, FLOAT, ENUM64; `type` for the others. */
  sizeOrType: number;
  /** STRUCT, UNION members; FUNC_PROTO parameters (offset 0); ENUM/ENUM64 values in `values`. */
  members: BtfMember[];
  values: { name: string; value: bigint }[];
  array?: { type: number; indexType: number; elements: number };
  int?: { encoding: number; offset: number; bits: number };
  /** VAR linkage. */
  linkage?: number;
  /** DATASEC variables. */
  variables: { type: number; offset: number; size: number }[];
  /** DECL_TAG component index (-1: the type itself). */
  componentIndex?: number;
}

export interface Btf {
  version: number;
  flags: number;
  littleEndian: boolean;
  /** Indexed by type id; [0] is void. */
  types: BtfType[];
  strings: Uint8Array;
  string(offset: number): string;
}

const BTF_MAGIC = 0xeb9f;
const utf8 = new TextDecoder();

// deno-lint-ignore no-control-regex -- the range is all of ASCII
const NON_ASCII = /[^\x00-\x7f]/;
/** A leading BOM stays a (non-ASCII) character: offsets into the text must be byte offsets. */
const keepBom = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Strings by offset. An all-ASCII string section (the usual one) is decoded at
 * once and names are cut from it natively: a byte loop per name is what a
 * one-shot run, whose JS is not compiled yet, pays most for (~1,100 types and
 * their members in a CO-RE program's BTF). Otherwise each string is decoded
 * once: BTF shares one string among many types and members.
 */
function stringReader(strings: Uint8Array): (offset: number) => string {
  const text = keepBom.decode(strings);
  if (!NON_ASCII.test(text)) {
    return (offset) => {
      if (offset >= text.length) return "";
      const end = text.indexOf("\0", offset);
      return text.slice(offset, end < 0 ? text.length : end);
    };
  }
  const decoded = new Map<number, string>();
  return (offset) => {
    if (offset >= strings.length) return "";
    let text = decoded.get(offset);
    if (text === undefined) {
      let end = offset;
      let ascii = true;
      for (; end < strings.length && strings[end] !== 0; end++) {
        if (strings[end] >= 0x80) ascii = false;
      }
      const bytes = strings.subarray(offset, end);
      // Names are ASCII but for a rare one: no decoder call for them.
      text = ascii
        ? String.fromCharCode.apply(null, bytes as unknown as number[])
        : utf8.decode(bytes);
      decoded.set(offset, text);
    }
    return text;
  };
}

function voidType(): BtfType {
  return {
    id: 0,
    kind: BTF_KIND.UNKN,
    kindName: "VOID",
    name: "",
    nameOffset: 0,
    vlen: 0,
    kindFlag: false,
    sizeOrType: 0,
    members: [],
    values: [],
    variables: [],
  };
}

/** Where a `.BTF` section's parts are (byte offsets into it), and its byte order. */
export interface BtfLayout {
  view: DataView;
  littleEndian: boolean;
  typesStart: number;
  typesEnd: number;
  stringsStart: number;
  stringsEnd: number;
}

/** Read a `.BTF` header. Throws BtfFormatError for a short section, bad magic or offsets past its end. */
export function btfLayout(bytes: Uint8Array): BtfLayout {
  if (bytes.length < 24) throw new BtfFormatError("section too short for a BTF header");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  if (view.getUint16(0, true) === BTF_MAGIC) le = true;
  else if (view.getUint16(0, false) === BTF_MAGIC) le = false;
  else throw new BtfFormatError("bad BTF magic");
  const u32 = (at: number) => view.getUint32(at, le);
  const hdrLen = u32(4);
  const typesStart = hdrLen + u32(8);
  const typesEnd = typesStart + u32(12);
  const stringsStart = hdrLen + u32(16);
  const stringsEnd = stringsStart + u32(20);
  if (hdrLen < 24 || typesEnd > bytes.length || stringsEnd > bytes.length) {
    throw new BtfFormatError("BTF header points past the section");
  }
  return { view, littleEndian: le, typesStart, typesEnd, stringsStart, stringsEnd };
}

const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * The type section as 32-bit words (every BTF field is one): a view where the
 * bytes allow it (aligned, in the host's byte order), else a copy read in the
 * section's order. Indexing a Uint32Array is what cold code does fastest;
 * the walks over raw types (the lint's shortcut, the FWD order) use it.
 * Throws BtfFormatError if the section is not whole words.
 */
export function typeWords(bytes: Uint8Array, layout: BtfLayout): Uint32Array {
  const { typesStart: start, typesEnd: end, littleEndian: le } = layout;
  if ((end - start) % 4 !== 0) throw new BtfFormatError("the type section is not whole 32-bit words");
  const count = (end - start) / 4;
  if ((bytes.byteOffset + start) % 4 === 0 && le === HOST_LITTLE_ENDIAN) {
    return new Uint32Array(bytes.buffer, bytes.byteOffset + start, count);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  const words = new Uint32Array(count);
  for (let i = 0; i < count; i++) words[i] = view.getUint32(4 * i, le);
  return words;
}

/** Decode a `.BTF` section. Throws BtfFormatError for bad magic, bad offsets or a truncated type. */
export function parseBtf(bytes: Uint8Array): Btf {
  const { view, littleEndian: le, typesStart, typesEnd, stringsStart, stringsEnd } = btfLayout(
    bytes,
  );
  const u32 = (at: number) => view.getUint32(at, le);
  const strings = bytes.subarray(stringsStart, stringsEnd);
  const string = stringReader(strings);
  const types: BtfType[] = [voidType()];
  let at = typesStart;
  const need = (n: number) => {
    if (at + n > typesEnd) throw new BtfFormatError(`type ${types.length} is truncated`);
  };
  while (at < typesEnd) {
    need(12);
    const nameOffset = u32(at);
    const info = u32(at + 4);
    const sizeOrType = u32(at + 8);
    at += 12;
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    const t: BtfType = {
      id: types.length,
      kind,
      kindName: KIND_NAMES[kind] ?? `KIND${kind}`,
      name: string(nameOffset),
      nameOffset,
      vlen,
      kindFlag: (info >>> 31) === 1,
      sizeOrType,
      members: [],
      values: [],
      variables: [],
    };
    switch (kind) {
      case BTF_KIND.INT: {
        need(4);
        const v = u32(at);
        t.int = { encoding: (v >>> 24) & 0xf, offset: (v >>> 16) & 0xff, bits: v & 0xff };
        at += 4;
        break;
      }
      case BTF_KIND.ARRAY:
        need(12);
        t.array = { type: u32(at), indexType: u32(at + 4), elements: u32(at + 8) };
        at += 12;
        break;
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
        need(12 * vlen);
        for (let i = 0; i < vlen; i++, at += 12) {
          t.members.push({ name: string(u32(at)), type: u32(at + 4), offset: u32(at + 8) });
        }
        break;
      case BTF_KIND.ENUM:
        need(8 * vlen);
        for (let i = 0; i < vlen; i++, at += 8) {
          t.values.push({ name: string(u32(at)), value: BigInt(view.getInt32(at + 4, le)) });
        }
        break;
      case BTF_KIND.ENUM64:
        need(12 * vlen);
        for (let i = 0; i < vlen; i++, at += 12) {
          const value = (BigInt(u32(at + 8)) << 32n) | BigInt(u32(at + 4));
          t.values.push({ name: string(u32(at)), value });
        }
        break;
      case BTF_KIND.FUNC_PROTO:
        need(8 * vlen);
        for (let i = 0; i < vlen; i++, at += 8) {
          t.members.push({ name: string(u32(at)), type: u32(at + 4), offset: 0 });
        }
        break;
      case BTF_KIND.VAR:
        need(4);
        t.linkage = u32(at);
        at += 4;
        break;
      case BTF_KIND.DATASEC:
        need(12 * vlen);
        for (let i = 0; i < vlen; i++, at += 12) {
          t.variables.push({ type: u32(at), offset: u32(at + 4), size: u32(at + 8) });
        }
        break;
      case BTF_KIND.DECL_TAG:
        need(4);
        t.componentIndex = view.getInt32(at, le);
        at += 4;
        break;
      case BTF_KIND.PTR:
      case BTF_KIND.FWD:
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.FUNC:
      case BTF_KIND.FLOAT:
      case BTF_KIND.TYPE_TAG:
        break;
      default:
        throw new BtfFormatError(`type ${t.id} has unknown kind ${kind}`);
    }
    types.push(t);
  }
  return { version: bytes[2], flags: bytes[3], littleEndian: le, types, strings, string };
}

export interface BtfFuncInfo {
  /** The ELF section the function's code is in. */
  section: string;
  /** Byte offset of its first instruction in that section. */
  offset: number;
  /** Its BTF FUNC type id. */
  typeId: number;
}

/** The func_info records of a `.BTF.ext` section (names resolved through `btf`). */
export function parseBtfExtFuncInfo(bytes: Uint8Array, btf: Btf): BtfFuncInfo[] {
  return readBtfExtFuncInfo(bytes, btf.littleEndian, btf.string);
}

/**
 * The func_info records of a `.BTF.ext` section, each section name handed
 * as `section(offset)` gives it (its string, or what a caller reading the raw
 * string bytes needs of it). Throws BtfFormatError for bad magic, a bad record
 * size or a truncated block; [] when there is no func_info.
 */
export function readBtfExtFuncInfo<S>(
  bytes: Uint8Array,
  le: boolean,
  section: (nameOffset: number) => S,
): { section: S; offset: number; typeId: number }[] {
  if (bytes.length < 16) return [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0, le) !== BTF_MAGIC) throw new BtfFormatError("bad .BTF.ext magic");
  const u32 = (at: number) => view.getUint32(at, le);
  const hdrLen = u32(4);
  const start = hdrLen + u32(8);
  const end = start + u32(12);
  if (end > bytes.length || end - start < 4) return [];
  const recordSize = u32(start);
  if (recordSize < 8) throw new BtfFormatError("bad func_info record size");
  const out: { section: S; offset: number; typeId: number }[] = [];
  let at = start + 4;
  while (at + 8 <= end) {
    const name = section(u32(at));
    const count = u32(at + 4);
    at += 8;
    if (at + count * recordSize > end) throw new BtfFormatError("func_info is truncated");
    for (let i = 0; i < count; i++, at += recordSize) {
      out.push({ section: name, offset: u32(at), typeId: u32(at + 4) });
    }
  }
  return out;
}

/** Follow CONST/VOLATILE/RESTRICT/TYPEDEF/TYPE_TAG to the type underneath (cycle-safe). */
export function skipModifiers(btf: Btf, id: number): BtfType | undefined {
  const seen = new Set<number>();
  let t = btf.types[id];
  while (
    t && !seen.has(t.id) &&
    (t.kind === BTF_KIND.CONST || t.kind === BTF_KIND.VOLATILE || t.kind === BTF_KIND.RESTRICT ||
      t.kind === BTF_KIND.TYPEDEF || t.kind === BTF_KIND.TYPE_TAG)
  ) {
    seen.add(t.id);
    t = btf.types[t.sizeOrType];
  }
  return t;
}
