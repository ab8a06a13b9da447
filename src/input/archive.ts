// Reader for `ar` archives (GNU/SysV and BSD/Darwin variants). Pure TypeScript, no copies of
// member data: every member's bytes are a subarray of the archive's buffer.

import { ArchiveError } from "../errors.ts";

export interface ArchiveMember {
  name: string;
  /** Offset of the member header in the archive. */
  offset: number;
  /** Zero-copy subarray of the archive (for Darwin archives it may end in `\n` padding). */
  data: Uint8Array;
}

export interface ArchiveSymbol {
  name: string;
  /** Offset of the header of the member that defines the symbol. */
  memberOffset: number;
}

export interface Archive {
  members: ArchiveMember[];
  /** From the `/`, `/SYM64/` or BSD `__.SYMDEF`/`__.SYMDEF SORTED` table; [] if none. */
  symbols: ArchiveSymbol[];
}

const ARCHIVE_MAGIC = "!<arch>\n";
const THIN_ARCHIVE_MAGIC = "!<thin>\n";
const HEADER_SIZE = 60;
const NAME_FIELD = { start: 0, end: 16 };
const SIZE_FIELD = { start: 48, end: 58 };
const BSD_LONG_NAME_PREFIX = "#1/";
const NEWLINE = 0x0a;
const NUL = 0x00;

const utf8 = new TextDecoder("utf-8");

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

const NON_ASCII = /[^\x00-\x7f]/;
// A leading BOM is kept as U+FEFF (not ASCII), not dropped: offsets into the text must be byte offsets.
const keepBom = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * `bytes` as text when they are all ASCII, else undefined: one native decode
 * and one native scan, where a byte loop in JS would cost more on a one-shot
 * run (a Rust archive has hundreds of member headers and names).
 */
function asciiText(bytes: Uint8Array): string | undefined {
  const text = keepBom.decode(bytes);
  return NON_ASCII.test(text) ? undefined : text;
}

/** `text` without trailing spaces (the padding of header fields). */
function trimSpaces(text: string): string {
  let end = text.length;
  while (end > 0 && text.charCodeAt(end - 1) === 0x20) end--;
  return end === text.length ? text : text.slice(0, end);
}

/** Where a header field ends once its space padding is dropped. */
function trimmedEnd(header: Uint8Array, field: { start: number; end: number }): number {
  let end = field.end;
  while (end > field.start && header[end - 1] === 0x20) end--;
  return end;
}

function startsWithText(bytes: Uint8Array, text: string): boolean {
  return bytes.length >= text.length && latin1(bytes.subarray(0, text.length)) === text;
}

function isDecimal(text: string): boolean {
  return /^[0-9]+$/.test(text);
}

/** What a member is, decided by its (resolved) name. */
type MemberRole =
  | { kind: "gnu-symbols"; wordSize: 4 | 8 }
  | { kind: "bsd-symbols"; wordSize: 4 | 8 }
  | { kind: "long-names" }
  | { kind: "file" };

/** Members whose name field itself marks them as tables rather than files. */
const SPECIAL_MEMBERS = new Map<string, MemberRole>([
  ["/", { kind: "gnu-symbols", wordSize: 4 }],
  ["/SYM64/", { kind: "gnu-symbols", wordSize: 8 }],
  ["//", { kind: "long-names" }],
  ["__.SYMDEF", { kind: "bsd-symbols", wordSize: 4 }],
  ["__.SYMDEF SORTED", { kind: "bsd-symbols", wordSize: 4 }],
  ["__.SYMDEF_64", { kind: "bsd-symbols", wordSize: 8 }],
  ["__.SYMDEF_64 SORTED", { kind: "bsd-symbols", wordSize: 8 }],
]);

/** A member header plus its body (the bytes after the header, `size` of them). */
interface RawMember {
  offset: number;
  /** The 16-byte name field with trailing spaces removed. */
  nameField: string;
  body: Uint8Array;
}

interface ResolvedName {
  name: string;
  /** Bytes at the start of the body taken by a BSD `#1/LEN` name. */
  nameLength: number;
  role: MemberRole;
}

const FILE_ROLE: MemberRole = { kind: "file" };

/** A name for messages: control characters escaped, so a corrupt header prints legibly. */
function printable(name: string): string {
  return name.replace(/\p{Cc}/gu, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The resolved member name, for messages about a member whose name may itself be broken. */
function bestEffortName(raw: RawMember, longNames: Uint8Array | undefined, file: string): string {
  try {
    return printable(resolveName(raw, longNames, file).name);
  } catch {
    return printable(raw.nameField);
  }
}

function readRawMember(
  bytes: Uint8Array,
  offset: number,
  file: string,
  longNames: Uint8Array | undefined,
): RawMember {
  if (bytes.length - offset < HEADER_SIZE) {
    throw new ArchiveError(`truncated archive member header at offset ${offset}`, { file });
  }
  const header = bytes.subarray(offset, offset + HEADER_SIZE);
  // The usual all-ASCII header as one string; byte by byte only otherwise.
  const text = asciiText(header);
  const field = (f: { start: number; end: number }) =>
    text === undefined ? latin1(header.subarray(f.start, trimmedEnd(header, f))) : trimSpaces(text.slice(f.start, f.end));
  const nameField = field(NAME_FIELD);
  const dataStart = offset + HEADER_SIZE;
  const available = bytes.length - dataStart;
  // Enough to name the member in messages before its size is known to be valid.
  const partial = (): RawMember => ({ offset, nameField, body: bytes.subarray(dataStart) });

  if (header[SIZE_FIELD.end] !== 0x60 /* ` */ || header[SIZE_FIELD.end + 1] !== NEWLINE) {
    // Without its terminator this is probably no header at all, so it names no member.
    throw new ArchiveError(
      `invalid archive member header at offset ${offset}: missing terminator`,
      { file },
    );
  }
  // Decimal digits padded with spaces, as ar writes it (and LLVM requires).
  const sizeField = field(SIZE_FIELD);
  if (!isDecimal(sizeField)) {
    throw new ArchiveError(
      `invalid size field '${printable(sizeField)}' in archive member header at offset ${offset}`,
      { file, member: bestEffortName(partial(), longNames, file) },
    );
  }
  const size = Number(sizeField);
  if (size > available) {
    const name = bestEffortName(partial(), longNames, file);
    throw new ArchiveError(
      `member '${name}' claims ${size} bytes but only ${available} remain`,
      { file, member: name },
    );
  }
  return { offset, nameField, body: bytes.subarray(dataStart, dataStart + size) };
}

/** Look up `/OFFSET` in the GNU `//` table, whose entries end with `/\n`. */
function lookUpLongName(
  longNames: Uint8Array | undefined,
  nameOffset: number,
  raw: RawMember,
  file: string,
): string {
  // Made only for an error: the escaping regex would cost every member.
  const where = () => ({ file, member: printable(raw.nameField) });
  if (longNames === undefined) {
    throw new ArchiveError(
      `member name '${where().member}' at offset ${raw.offset} refers to a missing long-name table`,
      where(),
    );
  }
  if (nameOffset >= longNames.length) {
    throw new ArchiveError(
      `long name offset ${nameOffset} is beyond the long-name table (${longNames.length} bytes)`,
      where(),
    );
  }
  const previous = longNames[nameOffset - 1];
  if (nameOffset > 0 && previous !== NEWLINE && previous !== NUL) {
    throw new ArchiveError(
      `long name offset ${nameOffset} is not the start of an entry in the long-name table`,
      where(),
    );
  }
  const text = decodedLongNames(longNames);
  let end: number;
  if (text !== undefined) {
    LONG_NAME_END.lastIndex = nameOffset;
    end = LONG_NAME_END.exec(text)?.index ?? longNames.length;
  } else {
    end = nameOffset;
    while (end < longNames.length && longNames[end] !== NEWLINE && longNames[end] !== NUL) end++;
  }
  if (end === longNames.length) {
    throw new ArchiveError(`unterminated long name at offset ${nameOffset}`, where());
  }
  if (end > nameOffset && longNames[end - 1] === 0x2f /* '/' */) end--;
  return text?.slice(nameOffset, end) ?? utf8.decode(longNames.subarray(nameOffset, end));
}

/** Where a long name ends (searched from lastIndex: the table has no other terminator to stop at). */
const LONG_NAME_END = /[\n\0]/g;

let lastLongNames: { bytes: Uint8Array; text: string | undefined } | undefined;

/** The long-name table as one string when it is ASCII (offsets then index it), decoded once. */
function decodedLongNames(longNames: Uint8Array): string | undefined {
  if (lastLongNames?.bytes !== longNames) lastLongNames = { bytes: longNames, text: asciiText(longNames) };
  return lastLongNames.text;
}

/** The BSD `#1/LEN` name: the first LEN bytes of the body, padded with NULs. */
function readBsdLongName(raw: RawMember, file: string): { name: string; nameLength: number } {
  const lengthField = raw.nameField.slice(BSD_LONG_NAME_PREFIX.length);
  const where = { file, member: printable(raw.nameField) };
  if (!isDecimal(lengthField)) {
    throw new ArchiveError(
      `invalid BSD member name '${where.member}' at offset ${raw.offset}`,
      where,
    );
  }
  const nameLength = Number(lengthField);
  if (nameLength > raw.body.length) {
    throw new ArchiveError(
      `member name length ${nameLength} exceeds the member size ${raw.body.length}`,
      where,
    );
  }
  let end = nameLength;
  while (end > 0 && raw.body[end - 1] === NUL) end--;
  return { name: utf8.decode(raw.body.subarray(0, end)), nameLength };
}

function resolveName(
  raw: RawMember,
  longNames: Uint8Array | undefined,
  file: string,
): ResolvedName {
  const field = raw.nameField;
  const special = SPECIAL_MEMBERS.get(field);
  if (special) return { name: field, nameLength: 0, role: special };
  let resolved: ResolvedName;
  if (field.startsWith(BSD_LONG_NAME_PREFIX)) {
    const { name, nameLength } = readBsdLongName(raw, file);
    // Darwin writes `__.SYMDEF` as a `#1/` name; GNU special names never are.
    const role = SPECIAL_MEMBERS.get(name);
    resolved = { name, nameLength, role: role?.kind === "bsd-symbols" ? role : FILE_ROLE };
  } else if (field.startsWith("/")) {
    const digits = field.slice(1);
    if (!isDecimal(digits)) {
      const member = printable(field);
      throw new ArchiveError(`invalid member name '${member}' at offset ${raw.offset}`, {
        file,
        member,
      });
    }
    const name = lookUpLongName(longNames, Number(digits), raw, file);
    resolved = { name, nameLength: 0, role: FILE_ROLE };
  } else {
    // GNU short names end with `/`; BSD short names just end (spaces were trimmed).
    const name = utf8.decode(latin1ToBytes(field.endsWith("/") ? field.slice(0, -1) : field));
    resolved = { name, nameLength: 0, role: FILE_ROLE };
  }
  if (resolved.name === "") {
    throw new ArchiveError(`empty member name at offset ${raw.offset}`, { file });
  }
  return resolved;
}

function latin1ToBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** An unsigned integer of 4 or 8 bytes; values beyond 2^53 become MAX_SAFE_INTEGER (never valid). */
function readWord(view: DataView, at: number, wordSize: 4 | 8, littleEndian: boolean): number {
  if (wordSize === 4) return view.getUint32(at, littleEndian);
  const value = view.getBigUint64(at, littleEndian);
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value);
}

function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The NUL-terminated string at `at` and where it ends, or undefined if no NUL follows. */
function readCString(strings: Uint8Array, at: number): { text: string; end: number } | undefined {
  const end = strings.indexOf(NUL, at);
  return end < 0 ? undefined : { text: utf8.decode(strings.subarray(at, end)), end };
}

/**
 * The first `count` NUL-terminated names of a string area (fewer if it holds
 * fewer). When the area is ASCII (symbol names nearly always are) it is
 * decoded and split at once: thousands of small decodes cost more than the
 * rest of reading an rlib's index.
 */
function symbolNames(strings: Uint8Array, count: number): string[] {
  const text = asciiText(strings);
  if (text !== undefined) {
    const pieces = text.split("\0", count + 1);
    // Only pieces followed by a NUL are names: all `count` when a piece follows them.
    return pieces.length > count ? pieces.slice(0, count) : pieces.slice(0, -1);
  }
  const names: string[] = [];
  for (let at = 0; names.length < count;) {
    const name = readCString(strings, at);
    if (name === undefined) break;
    names.push(name.text);
    at = name.end + 1;
  }
  return names;
}

/** GNU `/` (4-byte) and `/SYM64/` (8-byte): big-endian count, offsets, then NUL-terminated names. */
function readGnuSymbolTable(body: Uint8Array, wordSize: 4 | 8, file: string): ArchiveSymbol[] {
  const view = viewOf(body);
  if (body.length < wordSize) {
    throw new ArchiveError(`truncated symbol table (${body.length} bytes)`, { file });
  }
  const count = readWord(view, 0, wordSize, false);
  const room = Math.floor((body.length - wordSize) / wordSize);
  if (count > room) {
    throw new ArchiveError(
      `symbol table claims ${count} symbols but has room for only ${room}`,
      { file },
    );
  }
  const names = symbolNames(body.subarray(wordSize * (1 + count)), count);
  if (names.length < count) {
    throw new ArchiveError(`symbol table has names for only ${names.length} of ${count} symbols`, { file });
  }
  const symbols: ArchiveSymbol[] = [];
  for (let i = 0; i < count; i++) {
    symbols.push({ name: names[i], memberOffset: readWord(view, wordSize * (1 + i), wordSize, false) });
  }
  return symbols;
}

/**
 * BSD `__.SYMDEF` (ranlib, 4-byte words) and `__.SYMDEF_64` (8-byte), little-endian:
 * byte size of the entries, entries {name offset, member offset}, byte size of the names, names.
 */
function readBsdSymbolTable(
  body: Uint8Array,
  wordSize: 4 | 8,
  file: string,
): ArchiveSymbol[] {
  const view = viewOf(body);
  const entrySize = 2 * wordSize;
  if (body.length < 2 * wordSize) {
    throw new ArchiveError(`truncated symbol table (${body.length} bytes)`, { file });
  }
  const entriesSize = readWord(view, 0, wordSize, true);
  if (entriesSize % entrySize !== 0) {
    throw new ArchiveError(
      `symbol table entries size ${entriesSize} is not a multiple of ${entrySize}`,
      { file },
    );
  }
  if (entriesSize > body.length - 2 * wordSize) {
    throw new ArchiveError(
      `symbol table claims ${entriesSize / entrySize} symbols but has room for only ${
        Math.floor((body.length - 2 * wordSize) / entrySize)
      }`,
      { file },
    );
  }
  const stringsStart = 2 * wordSize + entriesSize;
  const stringsSize = readWord(view, wordSize + entriesSize, wordSize, true);
  if (stringsSize > body.length - stringsStart) {
    throw new ArchiveError(
      `symbol table claims ${stringsSize} bytes of names but only ${
        body.length - stringsStart
      } remain`,
      { file },
    );
  }
  const strings = body.subarray(stringsStart, stringsStart + stringsSize);
  const symbols: ArchiveSymbol[] = [];
  for (let at = wordSize; at < wordSize + entriesSize; at += entrySize) {
    const nameOffset = readWord(view, at, wordSize, true);
    const name = nameOffset < strings.length ? readCString(strings, nameOffset) : undefined;
    if (name === undefined) {
      throw new ArchiveError(`symbol table name offset ${nameOffset} is invalid`, { file });
    }
    symbols.push({ name: name.text, memberOffset: readWord(view, at + wordSize, wordSize, true) });
  }
  return symbols;
}

/** Offset of the next header: members start on even offsets, padded with `\n`. */
function nextHeaderOffset(raw: RawMember, archiveSize: number): number {
  const end = raw.offset + HEADER_SIZE + raw.body.length;
  // The last member's padding byte is sometimes left out.
  return end % 2 === 1 && end < archiveSize ? end + 1 : end;
}

/**
 * Parse an `ar` archive (GNU and BSD variants). Throws ArchiveError naming `file` (and the
 * member where known) on any malformation.
 */
export function readArchive(bytes: Uint8Array, file: string): Archive {
  if (!startsWithText(bytes, ARCHIVE_MAGIC)) {
    const detail = startsWithText(bytes, THIN_ARCHIVE_MAGIC)
      ? "thin archives are not supported"
      : "not an archive (missing '!<arch>' magic)";
    throw new ArchiveError(detail, { file });
  }
  const members: ArchiveMember[] = [];
  let symbolTable: { body: Uint8Array; role: MemberRole } | undefined;
  let longNames: Uint8Array | undefined;
  let offset = ARCHIVE_MAGIC.length;
  let isFirst = true;
  while (offset < bytes.length) {
    const raw = readRawMember(bytes, offset, file, longNames);
    const { name, nameLength, role } = resolveName(raw, longNames, file);
    if (role.kind === "file") {
      members.push({ name, offset, data: raw.body.subarray(nameLength) });
    } else if (role.kind === "long-names") {
      if (longNames !== undefined) {
        throw new ArchiveError(`second long-name table at offset ${offset}`, { file });
      }
      longNames = raw.body;
    } else if (isFirst) {
      symbolTable = { body: raw.body.subarray(nameLength), role };
    }
    // A symbol table after the first member (e.g. COFF's second linker member) is ignored.
    isFirst = false;
    offset = nextHeaderOffset(raw, bytes.length);
  }
  const symbols = symbolTable ? readSymbolTable(symbolTable.body, symbolTable.role, file) : [];
  checkSymbolsPointAtMembers(symbols, members, file);
  return { members, symbols };
}

function readSymbolTable(body: Uint8Array, role: MemberRole, file: string): ArchiveSymbol[] {
  if (role.kind === "gnu-symbols") return readGnuSymbolTable(body, role.wordSize, file);
  if (role.kind === "bsd-symbols") return readBsdSymbolTable(body, role.wordSize, file);
  return [];
}

function checkSymbolsPointAtMembers(
  symbols: ArchiveSymbol[],
  members: ArchiveMember[],
  file: string,
): void {
  const memberOffsets = new Set(members.map((member) => member.offset));
  for (const symbol of symbols) {
    if (!memberOffsets.has(symbol.memberOffset)) {
      const name = printable(symbol.name);
      throw new ArchiveError(
        `symbol '${name}' refers to offset ${symbol.memberOffset}, which is not the start of a member`,
        { file, symbol: name },
      );
    }
  }
}
