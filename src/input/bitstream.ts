// A small, bounded reader for LLVM's bitstream container format (the layer under bitcode):
// blocks with length words, abbreviation definitions (local and from BLOCKINFO), and
// abbreviated or unabbreviated records. Pure TypeScript, no LLVM.
//
// It exists so that cheap questions (who produced this bitcode, which symbols does this
// module define) can be answered without handing the file to LLVM: sub-blocks that do not
// matter are skipped by their length word in O(1).
//
// Every read is bounded by the end of the enclosing block (or of the stream); counts read
// from the input are checked against the bits that remain before anything is allocated for
// them, so malformed input costs at most time and memory proportional to its size. Malformed
// or truncated input throws `MalformedBitstream`, which callers turn into "could not read".

/** Thrown for malformed or truncated input; callers catch it and report "unreadable". */
export class MalformedBitstream extends Error {
  constructor(message = "malformed bitstream") {
    super(message);
    this.name = "MalformedBitstream";
  }
}

// Fixed abbreviation ids.
export const END_BLOCK = 0;
export const ENTER_SUBBLOCK = 1;
export const DEFINE_ABBREV = 2;
export const UNABBREV_RECORD = 3;
export const FIRST_APPLICATION_ABBREV = 4;

/** Abbreviation width at the top level of a stream (outside any block). */
export const TOP_LEVEL_ABBREV_WIDTH = 2;

/** Standard block ids of the bitstream format itself. */
export const BLOCKINFO_BLOCK_ID = 0;
// Records of the BLOCKINFO block.
const BLOCKINFO_CODE_SETBID = 1;

// Abbreviation operand encodings (DEFINE_ABBREV).
const ENC_FIXED = 1;
const ENC_VBR = 2;
const ENC_ARRAY = 3;
const ENC_CHAR6 = 4;
const ENC_BLOB = 5;

/** LLVM's limit for fixed/VBR widths (bits in a chunk); also keeps our reads simple. */
const MAX_CHUNK_WIDTH = 32;
/** Values beyond 64 bits are malformed; stops a run of continuation bits early. */
const MAX_VBR_BITS = 64;

const CHAR6 = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._";

/** POW2[i] = 2 ** i, for i ≤ 64: exact doubles, cheaper than `**` in the hot paths. */
const POW2 = Array.from({ length: 65 }, (_, i) => 2 ** i);

const RAW_MAGIC = [0x42, 0x43, 0xc0, 0xde]; // "BC" 0xC0DE
const WRAPPER_MAGIC = 0x0b17c0de; // little-endian u32 at offset 0
const WRAPPER_HEADER_SIZE = 20; // magic, version, offset, size, cputype

export type AbbrevOp =
  | { kind: "literal"; value: number }
  | { kind: "fixed"; width: number }
  | { kind: "vbr"; width: number }
  | { kind: "char6" }
  | { kind: "array" }
  | { kind: "blob" };

export interface BitRecord {
  code: number;
  /** Operands after the code. Values past 2^53 lose precision (no reader here needs them). */
  ops: number[];
  /** The blob operand, when the abbreviation has one (a view into the input). */
  blob?: Uint8Array;
  /** The abbreviation id used (UNABBREV_RECORD = 3 for an unabbreviated record). */
  abbrevId: number;
}

/** A block's header, read just after its ENTER_SUBBLOCK: the cursor is at `start`. */
export interface BlockHeader {
  blockId: number;
  abbrevWidth: number;
  /** First bit of the block's contents (just after the length word). */
  start: number;
  /** The bit where the block ends, from its length word (already checked against the input). */
  end: number;
}

export type BitstreamEntry =
  | { kind: "end" }
  /**
   * A nested block whose header has been read. The caller must then either skip it
   * (`reader.skipBlock`), enter it (`reader.enterBlock`) or read it as BLOCKINFO.
   */
  | { kind: "block"; header: BlockHeader }
  | { kind: "record"; record: BitRecord };

/**
 * Reads bits LSB-first from little-endian 32-bit words, which is the same as reading each
 * byte LSB-first in order. Every read checks `limit`, the end of the enclosing block (or of
 * the stream), so nothing reads past what the header promised.
 */
export class BitCursor {
  pos = 0; // in bits
  limit: number; // in bits

  constructor(private readonly bytes: Uint8Array) {
    this.limit = bytes.length * 8;
  }

  atEnd(): boolean {
    return this.pos >= this.limit;
  }

  /** Bits left before `limit`. */
  remaining(): number {
    return this.limit - this.pos;
  }

  /** `width` ≤ 32 bits as an unsigned number. */
  fixed(width: number): number {
    const pos = this.pos;
    if (pos + width > this.limit) throw new MalformedBitstream();
    this.pos = pos + width;
    if (width === 0) return 0;
    const bytes = this.bytes;
    const index = pos >>> 3;
    const offset = pos & 7;
    if (index + 5 > bytes.length) return this.slowFixed(pos, width);
    // The 32 bits starting at the byte, shifted down to the first wanted bit.
    const low = (bytes[index] | (bytes[index + 1] << 8) | (bytes[index + 2] << 16) |
      (bytes[index + 3] << 24)) >>> offset;
    const lowBits = 32 - offset;
    if (width <= lowBits) {
      return width === 32 ? low : low & (POW2[width] - 1);
    }
    // The rest comes from the fifth byte (offset + width ≤ 39).
    const high = bytes[index + 4] & ((1 << (width - lowBits)) - 1);
    return low + high * POW2[lowBits];
  }

  /** Bit by bit (well, byte by byte) near the end of the array, where the fast path can't look. */
  private slowFixed(pos: number, width: number): number {
    let value = 0;
    let got = 0;
    while (got < width) {
      const offset = pos & 7;
      const take = Math.min(8 - offset, width - got);
      const bits = (this.bytes[pos >>> 3] >>> offset) & ((1 << take) - 1);
      value += bits * POW2[got]; // multiply, not shift: stays unsigned up to 32 bits
      got += take;
      pos += take;
    }
    return value;
  }

  /** Variable-width integer: chunks of width-1 value bits plus a continuation bit. */
  vbr(width: number): number {
    const payload = width - 1;
    const continueBit = POW2[payload];
    let chunk = this.fixed(width);
    if (chunk < continueBit) return chunk; // the common case: one chunk
    let value = 0;
    let shift = 0;
    for (;;) {
      value += (chunk % continueBit) * POW2[shift]; // precision loss past 2^53 is harmless here
      if (chunk < continueBit) return value;
      shift += payload;
      if (shift >= MAX_VBR_BITS) throw new MalformedBitstream();
      chunk = this.fixed(width);
    }
  }

  /**
   * `vbr(6)`, the encoding of every operand of an unabbreviated record, with its first
   * chunk read straight from the bytes: most operands fit in one chunk.
   */
  vbr6(): number {
    const bytes = this.bytes;
    let pos = this.pos;
    // Fast path while whole chunks lie inside the limit and the two-byte window.
    let value = 0;
    let scale = 1;
    for (let chunks = 0; chunks < 11; chunks++) {
      const index = pos >>> 3;
      if (pos + 6 > this.limit || index + 2 > bytes.length) break;
      const chunk = ((bytes[index] | (bytes[index + 1] << 8)) >>> (pos & 7)) & 63;
      pos += 6;
      if (chunk < 32) {
        this.pos = pos;
        return value + chunk * scale;
      }
      value += (chunk - 32) * scale;
      scale *= 32;
    }
    return this.vbr(6); // near the end, or a run too long: the careful path decides
  }

  /**
   * `count` vbr(6) fields in a row taken as the lengths of strings laid back
   * to back (a metadata string table's): the spans [start, end) of those
   * longer than `longerThan` (every one with -1), as flat pairs, and the
   * total length. One loop rather than a call each, and nothing kept for the
   * short ones: the lengths are tens of thousands in a C program against
   * vmlinux.h, read once per link while the JIT is cold.
   */
  vbr6Spans(count: number, longerThan = -1): { spans: number[]; total: number } {
    const bytes = this.bytes;
    const limit = this.limit;
    const maxScale = 2 ** MAX_VBR_BITS;
    let pos = this.pos;
    let total = 0;
    const spans: number[] = [];
    for (let i = 0; i < count; i++) {
      if (pos + 6 > limit) throw new MalformedBitstream();
      let at = pos >>> 3;
      // The second byte may lie past `limit` (or the bytes): only the bits below it are used.
      let chunk = ((bytes[at] | ((bytes[at + 1] ?? 0) << 8)) >>> (pos & 7)) & 63;
      pos += 6;
      if (chunk >= 32) {
        let value = chunk & 31;
        for (let scale = 32;; scale *= 32) {
          if (pos + 6 > limit || scale >= maxScale) throw new MalformedBitstream();
          at = pos >>> 3;
          chunk = ((bytes[at] | ((bytes[at + 1] ?? 0) << 8)) >>> (pos & 7)) & 63;
          pos += 6;
          value += (chunk & 31) * scale;
          if (chunk < 32) break;
        }
        chunk = value;
      }
      if (chunk > longerThan) spans.push(total, total + chunk);
      total += chunk;
    }
    this.pos = pos;
    return { spans, total };
  }

  alignTo32(): void {
    const aligned = Math.ceil(this.pos / 32) * 32;
    if (aligned > this.limit) throw new MalformedBitstream();
    this.pos = aligned;
  }

  /** Whole bytes at a byte-aligned position (blobs). */
  bytesAt(count: number): Uint8Array {
    if (this.pos % 8 !== 0 || count * 8 > this.limit - this.pos) throw new MalformedBitstream();
    const start = this.pos / 8;
    this.pos += count * 8;
    return this.bytes.subarray(start, start + count);
  }
}

/** Operand encodings of one DEFINE_ABBREV, checked for a shape records can be read with. */
export function readAbbrevDefinition(cursor: BitCursor): AbbrevOp[] {
  const count = cursor.vbr(5);
  // Every operand costs at least one bit, so `count` is bounded by the block's size.
  if (count > cursor.remaining()) throw new MalformedBitstream();
  const ops: AbbrevOp[] = [];
  for (let i = 0; i < count; i++) {
    if (cursor.fixed(1) === 1) {
      ops.push({ kind: "literal", value: cursor.vbr(8) });
      continue;
    }
    const encoding = cursor.fixed(3);
    if (encoding === ENC_FIXED || encoding === ENC_VBR) {
      const width = cursor.vbr(5);
      if (width > MAX_CHUNK_WIDTH) throw new MalformedBitstream();
      if (width === 0) {
        // LLVM turns a zero-width field into the literal 0.
        ops.push({ kind: "literal", value: 0 });
      } else if (encoding === ENC_VBR) {
        // A 1-bit VBR has no value bits: it could only spin on continuation bits.
        if (width < 2) throw new MalformedBitstream();
        ops.push({ kind: "vbr", width });
      } else {
        ops.push({ kind: "fixed", width });
      }
    } else if (encoding === ENC_ARRAY) {
      ops.push({ kind: "array" });
    } else if (encoding === ENC_CHAR6) {
      ops.push({ kind: "char6" });
    } else if (encoding === ENC_BLOB) {
      ops.push({ kind: "blob" });
    } else {
      throw new MalformedBitstream();
    }
  }
  // Shape checks, so reading a record never meets an impossible layout: the record code
  // comes first and is a scalar; an array is followed by exactly its element type, which
  // must consume bits (a literal element would let a huge length cost nothing to encode);
  // a blob is last.
  if (ops.length === 0 || ops[0].kind === "array" || ops[0].kind === "blob") {
    throw new MalformedBitstream();
  }
  for (let i = 0; i < ops.length; i++) {
    const kind = ops[i].kind;
    if (kind === "array") {
      if (i !== ops.length - 2) throw new MalformedBitstream();
      const element = ops[i + 1].kind;
      if (element !== "fixed" && element !== "vbr" && element !== "char6") {
        throw new MalformedBitstream();
      }
    } else if (kind === "blob" && i !== ops.length - 1) {
      throw new MalformedBitstream();
    }
  }
  return ops;
}

function readScalar(cursor: BitCursor, op: AbbrevOp): number {
  switch (op.kind) {
    case "literal":
      return op.value;
    case "fixed":
      return cursor.fixed(op.width);
    case "vbr":
      return cursor.vbr(op.width);
    case "char6":
      return CHAR6.charCodeAt(cursor.fixed(6));
    default:
      throw new MalformedBitstream();
  }
}

/** Fewest bits one array element can take: a bound on how long an array can claim to be. */
function minElementBits(op: AbbrevOp): number {
  switch (op.kind) {
    case "fixed":
    case "vbr":
      return op.width;
    case "char6":
      return 6;
    default:
      return 1; // ruled out by readAbbrevDefinition
  }
}

/** An array operand's length, checked against the bits left: each element takes some. */
function readArrayLength(cursor: BitCursor, element: AbbrevOp): number {
  const length = cursor.vbr(6);
  if (length * minElementBits(element) > cursor.remaining()) throw new MalformedBitstream();
  return length;
}

/** A blob operand: its length, then its bytes between 32-bit alignments. */
export function readBlob(cursor: BitCursor): Uint8Array {
  const length = cursor.vbr(6);
  cursor.alignTo32();
  const blob = cursor.bytesAt(length);
  cursor.alignTo32();
  return blob;
}

function readAbbreviatedRecord(cursor: BitCursor, abbrev: AbbrevOp[], abbrevId: number): BitRecord {
  const code = readScalar(cursor, abbrev[0]);
  const ops: number[] = [];
  let blob: Uint8Array | undefined;
  for (let i = 1; i < abbrev.length; i++) {
    const op = abbrev[i];
    if (op.kind === "array") {
      const element = abbrev[++i];
      const length = readArrayLength(cursor, element);
      for (let j = 0; j < length; j++) ops.push(readScalar(cursor, element));
    } else if (op.kind === "blob") {
      blob = readBlob(cursor);
    } else {
      ops.push(readScalar(cursor, op));
    }
  }
  return blob ? { code, ops, blob, abbrevId } : { code, ops, abbrevId };
}

function readUnabbreviatedRecord(cursor: BitCursor): BitRecord {
  const code = cursor.vbr6();
  const count = cursor.vbr6();
  if (count * 6 > cursor.remaining()) throw new MalformedBitstream();
  const ops: number[] = new Array(count);
  for (let i = 0; i < count; i++) ops[i] = cursor.vbr6();
  return { code, ops, abbrevId: UNABBREV_RECORD };
}

/**
 * What `BitstreamReader.nextSkippingOperands` tells of a record: its code, how many
 * operands it has besides a blob, the first of them, and the blob's length if it has one.
 */
export interface RecordSummary {
  code: number;
  count: number;
  /** The first operand after the code; undefined when there is none. */
  first?: number;
  blobLength?: number;
}

/** Block header after ENTER_SUBBLOCK: id, abbrev width, and the bit where the block ends. */
export function readBlockHeader(cursor: BitCursor): BlockHeader {
  const blockId = cursor.vbr(8);
  const abbrevWidth = cursor.vbr(4);
  cursor.alignTo32();
  const words = cursor.fixed(32);
  // LLVM rejects width 0 (every id would read as END_BLOCK) and widths past a chunk.
  if (abbrevWidth < 1 || abbrevWidth > MAX_CHUNK_WIDTH) throw new MalformedBitstream();
  const start = cursor.pos;
  if (words * 32 > cursor.limit - start) throw new MalformedBitstream(); // past the input
  return { blockId, abbrevWidth, start, end: start + words * 32 };
}

export function skipAbbreviatedRecord(cursor: BitCursor, abbrev: AbbrevOp[]): RecordSummary {
  const code = readScalar(cursor, abbrev[0]);
  let count = 0;
  let first: number | undefined;
  let blobLength: number | undefined;
  for (let i = 1; i < abbrev.length; i++) {
    const op = abbrev[i];
    if (op.kind === "array") {
      const element = abbrev[++i];
      const length = readArrayLength(cursor, element);
      if (length > 0 && count === 0) first = readScalar(cursor, element);
      const rest = count === 0 && length > 0 ? length - 1 : length;
      if (element.kind === "vbr") {
        for (let j = 0; j < rest; j++) cursor.vbr(element.width);
      } else {
        cursor.pos += rest * minElementBits(element); // fixed-width elements: no need to decode
      }
      count += length;
    } else if (op.kind === "blob") {
      blobLength = readBlob(cursor).length;
    } else {
      const value = readScalar(cursor, op);
      if (count === 0) first = value;
      count++;
    }
  }
  return blobLength === undefined ? { code, count, first } : { code, count, first, blobLength };
}

export function skipUnabbreviatedRecord(cursor: BitCursor): RecordSummary {
  const code = cursor.vbr6();
  const count = cursor.vbr6();
  if (count * 6 > cursor.remaining()) throw new MalformedBitstream();
  const first = count > 0 ? cursor.vbr6() : undefined;
  for (let i = 1; i < count; i++) cursor.vbr6();
  return { code, count, first };
}

/** Abbreviations that BLOCKINFO defines for other blocks, by block id. */
export type BlockInfo = Map<number, AbbrevOp[][]>;

/** One open block: its abbreviations, and the limit of the block around it. */
interface Scope {
  header: BlockHeader;
  abbrevs: AbbrevOp[][];
  outerLimit: number;
}

/**
 * Walks one bitstream. At the top level only blocks may appear (`nextTopLevelBlock`);
 * inside a block (`enterBlock`, then `next` until "end") records are decoded, abbreviation
 * definitions are collected, and nested blocks are reported for the caller to skip or enter.
 */
export class BitstreamReader {
  readonly cursor: BitCursor;
  /** Abbreviations from the last BLOCKINFO block read; they apply to blocks entered later. */
  blockInfo: BlockInfo = new Map();
  private readonly scopes: Scope[] = [];

  /** `stream` starts with the 4-byte magic, which is not checked here (see bitcodeStream). */
  constructor(stream: Uint8Array, start = RAW_MAGIC.length * 8) {
    this.cursor = new BitCursor(stream);
    this.cursor.pos = start;
  }

  /** How many blocks are open. */
  get depth(): number {
    return this.scopes.length;
  }

  /**
   * The next top-level block's header; `undefined` at the end of the stream. Anything other
   * than a block at the top level is malformed.
   */
  nextTopLevelBlock(): BlockHeader | undefined {
    if (this.scopes.length !== 0) throw new Error("nextTopLevelBlock inside a block");
    const cursor = this.cursor;
    if (cursor.atEnd()) return undefined;
    if (cursor.fixed(TOP_LEVEL_ABBREV_WIDTH) !== ENTER_SUBBLOCK) throw new MalformedBitstream();
    return this.readBlockHeader();
  }

  private readBlockHeader(): BlockHeader {
    return readBlockHeader(this.cursor);
  }

  /** Continues after the block, unread. */
  skipBlock(header: BlockHeader): void {
    this.cursor.pos = header.end;
  }

  /** Opens the block: `next` then reads its entries until "end". */
  enterBlock(header: BlockHeader): void {
    const cursor = this.cursor;
    const inherited = this.blockInfo.get(header.blockId);
    this.scopes.push({
      header,
      abbrevs: inherited ? inherited.slice() : [],
      outerLimit: cursor.limit,
    });
    cursor.pos = header.start;
    cursor.limit = header.end;
  }

  /** Closes the innermost open block without reading the rest of it. */
  leaveBlock(): void {
    const scope = this.scopes.pop();
    if (!scope) throw new Error("leaveBlock outside a block");
    this.cursor.pos = scope.header.end;
    this.cursor.limit = scope.outerLimit;
  }

  /** The next entry of the innermost open block. DEFINE_ABBREV is handled here. */
  next(): BitstreamEntry {
    return this.advance(readUnabbreviatedRecord, readAbbreviatedRecord);
  }

  /**
   * Like `next`, but a record's operands are skipped rather than collected (a summary
   * is returned): for walks that only look at record codes, on many modules.
   */
  nextSkippingOperands(): { kind: "end" } | { kind: "block"; header: BlockHeader } | {
    kind: "record";
    record: RecordSummary;
  } {
    return this.advance(skipUnabbreviatedRecord, skipAbbreviatedRecord);
  }

  /**
   * Enters the block (its header just read) and hands each of its records to `visit`,
   * skipping nested blocks. `visit` returning true stops early: the rest of the block is
   * skipped unread.
   */
  eachRecord(header: BlockHeader, visit: (record: BitRecord) => boolean | void): void {
    this.visitRecords(header, visit, () => this.next());
  }

  /** `eachRecord` with operands skipped rather than collected (see nextSkippingOperands). */
  eachRecordSummary(header: BlockHeader, visit: (record: RecordSummary) => boolean | void): void {
    this.visitRecords(header, visit, () => this.nextSkippingOperands());
  }

  private visitRecords<R>(
    header: BlockHeader,
    visit: (record: R) => boolean | void,
    step: () => { kind: "end" } | { kind: "block"; header: BlockHeader } | { kind: "record"; record: R },
  ): void {
    this.enterBlock(header);
    for (;;) {
      const entry = step();
      if (entry.kind === "end") return;
      if (entry.kind === "block") this.skipBlock(entry.header);
      else if (visit(entry.record) === true) return this.leaveBlock();
    }
  }

  private advance<R>(
    unabbreviated: (cursor: BitCursor) => R,
    abbreviated: (cursor: BitCursor, abbrev: AbbrevOp[], id: number) => R,
  ): { kind: "end" } | { kind: "block"; header: BlockHeader } | { kind: "record"; record: R } {
    const scope = this.scopes[this.scopes.length - 1];
    if (!scope) throw new Error("next outside a block");
    const cursor = this.cursor;
    for (;;) {
      const id = cursor.fixed(scope.header.abbrevWidth);
      if (id === END_BLOCK) {
        cursor.alignTo32();
        // Like LLVM, go on right after END_BLOCK (normally exactly the block's end).
        cursor.limit = scope.outerLimit;
        this.scopes.pop();
        return { kind: "end" };
      }
      if (id === ENTER_SUBBLOCK) return { kind: "block", header: this.readBlockHeader() };
      if (id === DEFINE_ABBREV) {
        scope.abbrevs.push(readAbbrevDefinition(cursor));
        continue;
      }
      if (id === UNABBREV_RECORD) return { kind: "record", record: unabbreviated(cursor) };
      const abbrev = scope.abbrevs[id - FIRST_APPLICATION_ABBREV];
      if (!abbrev) throw new MalformedBitstream();
      return { kind: "record", record: abbreviated(cursor, abbrev, id) };
    }
  }

  /**
   * Reads a BLOCKINFO block (its header just read) and makes its abbreviations the ones
   * later blocks start with. Like LLVM, a later BLOCKINFO block replaces an earlier one.
   */
  readBlockInfo(header: BlockHeader): void {
    const info: BlockInfo = new Map();
    let current: AbbrevOp[][] | undefined;
    this.enterBlock(header);
    const scope = this.scopes[this.scopes.length - 1];
    const cursor = this.cursor;
    for (;;) {
      // DEFINE_ABBREV here defines an abbreviation for the block named by SETBID, not
      // for BLOCKINFO itself, so it is read here rather than in `next`.
      const id = cursor.fixed(header.abbrevWidth);
      if (id === END_BLOCK) {
        cursor.alignTo32();
        cursor.limit = scope.outerLimit;
        this.scopes.pop();
        break;
      }
      if (id === ENTER_SUBBLOCK) {
        this.skipBlock(this.readBlockHeader());
        continue;
      }
      if (id === DEFINE_ABBREV) {
        const abbrev = readAbbrevDefinition(cursor);
        if (!current) throw new MalformedBitstream(); // no SETBID yet
        current.push(abbrev);
        continue;
      }
      let record: BitRecord;
      if (id === UNABBREV_RECORD) {
        record = readUnabbreviatedRecord(cursor);
      } else {
        const abbrev = scope.abbrevs[id - FIRST_APPLICATION_ABBREV];
        if (!abbrev) throw new MalformedBitstream();
        record = readAbbreviatedRecord(cursor, abbrev, id);
      }
      if (record.code === BLOCKINFO_CODE_SETBID) {
        if (record.ops.length < 1) throw new MalformedBitstream();
        const blockId = record.ops[0];
        current = info.get(blockId);
        if (!current) info.set(blockId, current = []);
      }
      // BLOCKNAME and SETRECORDNAME only name things for dump tools.
    }
    this.blockInfo = info;
  }
}

function u32le(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
    (bytes[offset + 3] << 24)) >>> 0;
}

/**
 * The raw bitcode stream (starting with "BC" 0xC0DE): the whole input, or the part a
 * wrapper header (0x0B17C0DE, Darwin) points at. `undefined` when it is neither.
 */
export function bitcodeStream(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length >= WRAPPER_HEADER_SIZE && u32le(bytes, 0) === WRAPPER_MAGIC) {
    const offset = u32le(bytes, 8);
    const size = u32le(bytes, 12);
    if (offset < WRAPPER_HEADER_SIZE || offset > bytes.length) return undefined;
    // A size past the end (a truncated file) is clamped; readers bound themselves by the
    // block lengths anyway, so a block cut short is still seen as malformed.
    bytes = bytes.subarray(offset, Math.min(bytes.length, offset + size));
  }
  if (bytes.length < RAW_MAGIC.length) return undefined;
  for (let i = 0; i < RAW_MAGIC.length; i++) if (bytes[i] !== RAW_MAGIC[i]) return undefined;
  return bytes;
}

/**
 * Run `read` on the bitcode in `bytes` (raw or wrapped) with a fresh reader. `undefined`
 * when it is not bitcode, or when `read` meets malformed or truncated input; any other
 * exception is a bug in the reader, not bad input, and propagates so tests see it.
 */
export function readBitcodeWith<T>(
  bytes: Uint8Array,
  read: (reader: BitstreamReader, stream: Uint8Array) => T | undefined,
): T | undefined {
  const stream = bitcodeStream(bytes);
  if (!stream) return undefined;
  try {
    return read(new BitstreamReader(stream), stream);
  } catch (error) {
    if (error instanceof MalformedBitstream) return undefined;
    throw error;
  }
}
