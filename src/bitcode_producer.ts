// The producer of an LLVM bitcode file ("LLVM22.1.8", "LLVM19.1.7-rust-1.85.0-stable",
// "APPLE_1_..."), read from its IDENTIFICATION_BLOCK with a minimal bitstream reader.
// Pure TypeScript: no LLVM, so it still works when LLVM refuses the file (bitcode from a
// newer LLVM), which is exactly when the producer is worth reporting.
//
// Only the top level is walked: every block other than IDENTIFICATION is skipped by its
// length word, and the walk stops at the first MODULE_BLOCK (the identification block
// precedes its module), so the cost is O(size of the identification block), not of the file.
// Corrupt or truncated input yields `undefined`; nothing is thrown.

export interface BitcodeProducer {
  /** IDENTIFICATION_CODE_STRING, e.g. "LLVM22.1.8". */
  producer: string;
  /** IDENTIFICATION_CODE_EPOCH (0 for every LLVM since 3.8). */
  epoch?: number;
  /** The LLVM version in `producer`, when it names one (Apple's strings do not). */
  llvmVersion?: { major: number; minor: number; patch: number };
}

const RAW_MAGIC = [0x42, 0x43, 0xc0, 0xde]; // "BC" 0xC0DE
const WRAPPER_MAGIC = 0x0b17c0de; // little-endian u32 at offset 0
const WRAPPER_HEADER_SIZE = 20; // magic, version, offset, size, cputype

// Fixed abbreviation ids.
const END_BLOCK = 0;
const ENTER_SUBBLOCK = 1;
const DEFINE_ABBREV = 2;
const UNABBREV_RECORD = 3;
const FIRST_APPLICATION_ABBREV = 4;

const TOP_LEVEL_ABBREV_WIDTH = 2;
const IDENTIFICATION_BLOCK_ID = 13;
const MODULE_BLOCK_ID = 8;
const IDENTIFICATION_CODE_STRING = 1;
const IDENTIFICATION_CODE_EPOCH = 2;

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

/** Internal signal for "malformed or truncated"; never escapes readBitcodeProducer. */
class Malformed extends Error {}

type AbbrevOp =
  | { kind: "literal"; value: number }
  | { kind: "fixed"; width: number }
  | { kind: "vbr"; width: number }
  | { kind: "char6" }
  | { kind: "array" }
  | { kind: "blob" };

interface BitRecord {
  code: number;
  ops: number[];
  blob?: Uint8Array;
}

/**
 * Reads bits LSB-first from little-endian 32-bit words, which is the same as reading each
 * byte LSB-first in order. Every read checks `limit`, the end of the enclosing block (or of
 * the stream), so nothing reads past what the header promised.
 */
class BitCursor {
  pos = 0; // in bits
  limit: number; // in bits

  constructor(private readonly bytes: Uint8Array) {
    this.limit = bytes.length * 8;
  }

  atEnd(): boolean {
    return this.pos >= this.limit;
  }

  /** `width` ≤ 32 bits as an unsigned number. */
  fixed(width: number): number {
    if (this.pos + width > this.limit) throw new Malformed();
    let value = 0;
    let got = 0;
    while (got < width) {
      const offset = this.pos & 7;
      const take = Math.min(8 - offset, width - got);
      const bits = (this.bytes[this.pos >>> 3] >>> offset) & ((1 << take) - 1);
      value += bits * 2 ** got; // multiply, not shift: stays unsigned up to 32 bits
      got += take;
      this.pos += take;
    }
    return value;
  }

  /** Variable-width integer: chunks of width-1 value bits plus a continuation bit. */
  vbr(width: number): number {
    const payload = width - 1;
    const continueBit = 2 ** payload;
    let value = 0;
    let shift = 0;
    for (;;) {
      const chunk = this.fixed(width);
      value += (chunk % continueBit) * 2 ** shift; // precision loss past 2^53 is harmless here
      if (chunk < continueBit) return value;
      shift += payload;
      if (shift >= MAX_VBR_BITS) throw new Malformed();
    }
  }

  alignTo32(): void {
    const aligned = Math.ceil(this.pos / 32) * 32;
    if (aligned > this.limit) throw new Malformed();
    this.pos = aligned;
  }

  /** Whole bytes at a byte-aligned position (blobs). */
  bytesAt(count: number): Uint8Array {
    if (this.pos % 8 !== 0 || this.pos + count * 8 > this.limit) throw new Malformed();
    const start = this.pos / 8;
    this.pos += count * 8;
    return this.bytes.subarray(start, start + count);
  }
}

/** Block header after ENTER_SUBBLOCK: id, abbrev width, and the bit where the block ends. */
function enterSubblock(cursor: BitCursor): { blockId: number; abbrevWidth: number; end: number } {
  const blockId = cursor.vbr(8);
  const abbrevWidth = cursor.vbr(4);
  cursor.alignTo32();
  const words = cursor.fixed(32);
  // LLVM rejects width 0 (every id would read as END_BLOCK) and widths past a chunk.
  if (abbrevWidth < 1 || abbrevWidth > MAX_CHUNK_WIDTH) throw new Malformed();
  const end = cursor.pos + words * 32;
  if (end > cursor.limit) throw new Malformed(); // block claims more than the file holds
  return { blockId, abbrevWidth, end };
}

function readAbbrevDefinition(cursor: BitCursor): AbbrevOp[] {
  const count = cursor.vbr(5);
  const ops: AbbrevOp[] = [];
  // Every operand costs at least one bit, so `count` is bounded by the block's size.
  for (let i = 0; i < count; i++) {
    if (cursor.fixed(1) === 1) {
      ops.push({ kind: "literal", value: cursor.vbr(8) });
      continue;
    }
    const encoding = cursor.fixed(3);
    if (encoding === ENC_FIXED || encoding === ENC_VBR) {
      const width = cursor.vbr(5);
      if (width > MAX_CHUNK_WIDTH) throw new Malformed();
      if (width === 0) {
        // LLVM turns a zero-width field into the literal 0.
        ops.push({ kind: "literal", value: 0 });
      } else if (encoding === ENC_VBR) {
        // A 1-bit VBR has no value bits: it could only spin on continuation bits.
        if (width < 2) throw new Malformed();
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
      throw new Malformed();
    }
  }
  // Shape checks, so reading a record never meets an impossible layout: the record code
  // comes first and is a scalar; an array is followed by exactly its element type, which
  // must consume bits (a literal element would let a huge length cost nothing to encode);
  // a blob is last.
  if (ops.length === 0 || ops[0].kind === "array" || ops[0].kind === "blob") {
    throw new Malformed();
  }
  for (let i = 0; i < ops.length; i++) {
    const kind = ops[i].kind;
    if (kind === "array") {
      if (i !== ops.length - 2) throw new Malformed();
      const element = ops[i + 1].kind;
      if (element !== "fixed" && element !== "vbr" && element !== "char6") throw new Malformed();
    } else if (kind === "blob" && i !== ops.length - 1) {
      throw new Malformed();
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
      throw new Malformed();
  }
}

function readAbbreviatedRecord(cursor: BitCursor, abbrev: AbbrevOp[]): BitRecord {
  const code = readScalar(cursor, abbrev[0]);
  const ops: number[] = [];
  let blob: Uint8Array | undefined;
  for (let i = 1; i < abbrev.length; i++) {
    const op = abbrev[i];
    if (op.kind === "array") {
      const length = cursor.vbr(6);
      const element = abbrev[++i];
      // Each element consumes ≥ 1 bit, so a bogus length runs into the block's end.
      for (let j = 0; j < length; j++) ops.push(readScalar(cursor, element));
    } else if (op.kind === "blob") {
      const length = cursor.vbr(6);
      cursor.alignTo32();
      blob = cursor.bytesAt(length);
      cursor.alignTo32();
    } else {
      ops.push(readScalar(cursor, op));
    }
  }
  return { code, ops, blob };
}

function readUnabbreviatedRecord(cursor: BitCursor): BitRecord {
  const code = cursor.vbr(6);
  const count = cursor.vbr(6);
  const ops: number[] = [];
  for (let i = 0; i < count; i++) ops.push(cursor.vbr(6));
  return { code, ops };
}

/** The producer string: operands are bytes (char6 or fixed 8 in practice), or a blob. */
function recordText(record: BitRecord): string {
  const bytes = record.blob ?? Uint8Array.from(record.ops, (op) => op & 0xff);
  return new TextDecoder().decode(bytes);
}

/** Reads the identification block's records; the cursor is just past its header. */
function readIdentificationBlock(
  cursor: BitCursor,
  abbrevWidth: number,
): BitcodeProducer | undefined {
  const abbrevs: AbbrevOp[][] = [];
  let producer: string | undefined;
  let epoch: number | undefined;
  for (;;) {
    const id = cursor.fixed(abbrevWidth);
    if (id === END_BLOCK) {
      cursor.alignTo32();
      break;
    }
    if (id === ENTER_SUBBLOCK) {
      // Nothing nests here today; skip whatever a future LLVM might put inside.
      const inner = enterSubblock(cursor);
      cursor.pos = inner.end;
      continue;
    }
    if (id === DEFINE_ABBREV) {
      abbrevs.push(readAbbrevDefinition(cursor));
      continue;
    }
    let record: BitRecord;
    if (id === UNABBREV_RECORD) {
      record = readUnabbreviatedRecord(cursor);
    } else {
      const abbrev = abbrevs[id - FIRST_APPLICATION_ABBREV];
      if (!abbrev) throw new Malformed();
      record = readAbbreviatedRecord(cursor, abbrev);
    }
    // Like LLVM's reader, a repeated record overrides the earlier one.
    if (record.code === IDENTIFICATION_CODE_STRING) {
      producer = recordText(record);
    } else if (record.code === IDENTIFICATION_CODE_EPOCH && record.ops.length > 0) {
      epoch = record.ops[0];
    }
  }
  if (producer === undefined) return undefined;
  const result: BitcodeProducer = { producer };
  if (epoch !== undefined) result.epoch = epoch;
  const llvmVersion = parseLlvmVersion(producer);
  if (llvmVersion) result.llvmVersion = llvmVersion;
  return result;
}

function u32le(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] | (bytes[offset + 1] << 8) | (bytes[offset + 2] << 16) |
    (bytes[offset + 3] << 24)) >>> 0;
}

/** The raw bitcode stream: the whole input, or the part a wrapper header points at. */
function bitcodeStream(bytes: Uint8Array): Uint8Array | undefined {
  if (bytes.length >= WRAPPER_HEADER_SIZE && u32le(bytes, 0) === WRAPPER_MAGIC) {
    const offset = u32le(bytes, 8);
    const size = u32le(bytes, 12);
    if (offset < WRAPPER_HEADER_SIZE || offset > bytes.length) return undefined;
    // A size past the end (a truncated file) is clamped: the identification block is at
    // the front, and the reader bounds itself by the block lengths anyway.
    bytes = bytes.subarray(offset, Math.min(bytes.length, offset + size));
  }
  if (bytes.length < RAW_MAGIC.length) return undefined;
  for (let i = 0; i < RAW_MAGIC.length; i++) if (bytes[i] !== RAW_MAGIC[i]) return undefined;
  return bytes;
}

/**
 * The producer recorded in a bitcode file (raw or wrapped), from the identification block
 * of its first module. `undefined` when the input is not bitcode, has no identification
 * block (LLVM < 3.8), or the block is malformed or truncated. Never throws.
 */
export function readBitcodeProducer(bytes: Uint8Array): BitcodeProducer | undefined {
  const stream = bitcodeStream(bytes);
  if (!stream) return undefined;
  const cursor = new BitCursor(stream);
  cursor.pos = RAW_MAGIC.length * 8;
  try {
    // Top level holds only blocks. Each iteration consumes ≥ 46 bits, so this ends.
    while (!cursor.atEnd()) {
      if (cursor.fixed(TOP_LEVEL_ABBREV_WIDTH) !== ENTER_SUBBLOCK) return undefined;
      const block = enterSubblock(cursor);
      if (block.blockId === IDENTIFICATION_BLOCK_ID) {
        cursor.limit = block.end;
        return readIdentificationBlock(cursor, block.abbrevWidth);
      }
      // The first module has no identification block: do not borrow a later module's.
      if (block.blockId === MODULE_BLOCK_ID) return undefined;
      cursor.pos = block.end; // BLOCKINFO, or anything else: LLVM skips these here too
    }
    return undefined;
  } catch (error) {
    if (error instanceof Malformed) return undefined;
    throw error; // a bug in this reader, not bad input: let tests see it
  }
}

/**
 * Parse the LLVM version out of a producer string: "LLVM22.1.8",
 * "LLVM19.1.7-rust-1.85.0-stable", "LLVM 19.1.7", "LLVM22.0.0git". Missing minor or patch
 * count as 0. `undefined` for strings that do not start with LLVM and a version
 * (e.g. Apple's "APPLE_1_1500.3.9.4_0", whose numbers are Apple's, not LLVM's).
 */
export function parseLlvmVersion(
  producer: string,
): { major: number; minor: number; patch: number } | undefined {
  // The lookahead refuses a longer run of digits or a fourth component rather than
  // silently reading part of it.
  const match = /^\s*LLVM\s*(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(?![\d.]*\d)/i.exec(
    producer,
  );
  if (!match) return undefined;
  return {
    major: Number(match[1]),
    minor: match[2] === undefined ? 0 : Number(match[2]),
    patch: match[3] === undefined ? 0 : Number(match[3]),
  };
}
