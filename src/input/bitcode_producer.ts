// The producer of an LLVM bitcode file ("LLVM22.1.8", "LLVM19.1.7-rust-1.85.0-stable",
// "APPLE_1_..."), read from its IDENTIFICATION_BLOCK with a minimal bitstream reader.
// Pure TypeScript: no LLVM, so it still works when LLVM refuses the file (bitcode from a
// newer LLVM), which is exactly when the producer is worth reporting.
//
// Only the top level is walked: every block other than IDENTIFICATION is skipped by its
// length word, and the walk stops at the first MODULE_BLOCK (the identification block
// precedes its module), so the cost is O(size of the identification block), not of the file.
// Corrupt or truncated input yields `undefined`; nothing is thrown. The bitstream layer
// itself lives in bitstream.ts.

import { type BitRecord, type BitstreamReader, type BlockHeader, readBitcodeWith } from "./bitstream.ts";

export interface BitcodeProducer {
  /** IDENTIFICATION_CODE_STRING, e.g. "LLVM22.1.8". */
  producer: string;
  /** IDENTIFICATION_CODE_EPOCH (0 for every LLVM since 3.8). */
  epoch?: number;
  /** The LLVM version in `producer`, when it names one (Apple's strings do not). */
  llvmVersion?: { major: number; minor: number; patch: number };
}

const IDENTIFICATION_BLOCK_ID = 13;
const MODULE_BLOCK_ID = 8;
const IDENTIFICATION_CODE_STRING = 1;
const IDENTIFICATION_CODE_EPOCH = 2;

/** The producer string: operands are bytes (char6 or fixed 8 in practice), or a blob. */
function recordText(record: BitRecord): string {
  if (record.blob) return utf8.decode(record.blob);
  const ops = record.ops;
  // Producer strings are short ASCII: built directly. A crafted huge record takes the
  // byte path, as spreading it would overflow the call stack.
  if (ops.length <= MAX_SPREAD && ops.every((op) => op < 0x80)) return String.fromCharCode(...ops);
  const bytes = new Uint8Array(ops.length);
  for (let i = 0; i < ops.length; i++) bytes[i] = ops[i] & 0xff;
  return utf8.decode(bytes);
}

const utf8 = new TextDecoder();

/** Reads the identification block's records; its header was just read. */
function readIdentificationBlock(
  reader: BitstreamReader,
  header: BlockHeader,
): BitcodeProducer | undefined {
  let producer: string | undefined;
  let epoch: number | undefined;
  // Nothing nests here today; whatever a future LLVM might put inside is skipped.
  reader.eachRecord(header, (record) => {
    // Like LLVM's reader, a repeated record overrides the earlier one.
    if (record.code === IDENTIFICATION_CODE_STRING) {
      producer = recordText(record);
    } else if (record.code === IDENTIFICATION_CODE_EPOCH && record.ops.length > 0) {
      epoch = record.ops[0];
    }
  });
  if (producer === undefined) return undefined;
  const result: BitcodeProducer = { producer };
  if (epoch !== undefined) result.epoch = epoch;
  const llvmVersion = parseLlvmVersion(producer);
  if (llvmVersion) result.llvmVersion = llvmVersion;
  return result;
}

/**
 * The producer recorded in a bitcode file (raw or wrapped), from the identification block
 * of its first module. `undefined` when the input is not bitcode, has no identification
 * block (LLVM < 3.8), or the block is malformed or truncated. Never throws.
 */
export function readBitcodeProducer(bytes: Uint8Array): BitcodeProducer | undefined {
  return readBitcodeWith(bytes, (reader, stream) => {
    // Top level holds only blocks. Each iteration consumes ≥ 46 bits, so this ends.
    for (;;) {
      const block = reader.nextTopLevelBlock();
      if (!block) return undefined;
      if (block.blockId === IDENTIFICATION_BLOCK_ID) return cachedIdentification(reader, block, stream);
      // The first module has no identification block: do not borrow a later module's.
      if (block.blockId === MODULE_BLOCK_ID) return undefined;
      reader.skipBlock(block); // BLOCKINFO, or anything else: LLVM skips these here too
    }
  });
}

// Every member of an archive from one compiler starts with the same bytes up to the
// end of its identification block, and those bytes alone decide the result: so an
// rlib's hundreds of members are decoded once. Bounded, in case of many producers.
const identifications = new Map<string, BitcodeProducer | undefined>();
const MAX_CACHED = 64;
/** Real identification blocks are ~50 bytes; bigger ones (crafted) are read uncached. */
const MAX_SPREAD = 4096;

function cachedIdentification(
  reader: BitstreamReader,
  header: BlockHeader,
  stream: Uint8Array,
): BitcodeProducer | undefined {
  if (header.end / 8 > MAX_SPREAD) return readIdentificationBlock(reader, header);
  const key = String.fromCharCode(...stream.subarray(0, header.end / 8));
  if (identifications.has(key)) {
    const hit = identifications.get(key);
    return hit && { ...hit };
  }
  const result = readIdentificationBlock(reader, header);
  if (identifications.size >= MAX_CACHED) identifications.clear();
  identifications.set(key, result && { ...result });
  return result;
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
