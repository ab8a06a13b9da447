// Every MDString of a module at once, from its bitcode: the BTF sanitizer's
// C fast path (docs/ARCHITECTURE.md#btf) asks whether any string could be a
// name it must change, without visiting the nodes through LLVM's C API.
//
// LLVM writes the MDStrings of a metadata block into one METADATA_STRINGS
// record, the block's first: [count, offset] and a blob holding `count`
// string lengths as VBR6 fields, then, from byte `offset`, the strings' bytes
// back to back (BitcodeWriter.cpp, writeMetadataStrings). The module-level
// METADATA_BLOCK has the strings of the metadata that several functions or
// globals use; each FUNCTION_BLOCK's own METADATA_BLOCK, those that only its
// function's metadata uses (ValueEnumerator's function partitions). That block
// comes after the DECLAREBLOCKS record and any constants, before the first
// instruction (writeFunction): a function's instructions are never read.

import {
  BitCursor,
  MalformedBitstream,
  type BitstreamReader,
  type BlockHeader,
  BLOCKINFO_BLOCK_ID,
  readBitcodeWith,
} from "../input/bitstream.ts";

const MODULE_BLOCK_ID = 8;
const FUNCTION_BLOCK_ID = 12;
const METADATA_BLOCK_ID = 15;
const METADATA_STRINGS = 35;
const FUNC_CODE_DECLAREBLOCKS = 1;

/** The MDStrings of one metadata block: their bytes back to back, and their lengths. */
export interface MetadataStrings {
  bytes: Uint8Array;
  /**
   * Where the strings longer than `longerThan` bytes (every one with -1) lie
   * in `bytes`, as flat [start, end) pairs, decoded from their lengths on each
   * call; undefined when the lengths do not read or do not add up to `bytes`.
   */
  spans(longerThan?: number): number[] | undefined;
}

/**
 * The MDStrings of the (first) module in `bitcode`, block by block, or
 * undefined when they cannot be told (not bitcode, malformed or truncated), or
 * when `goOn`, shown the first block's (the module-level one, where a compile
 * unit's producer is), says to stop.
 */
export function readMetadataStrings(
  bitcode: Uint8Array,
  goOn?: (first: MetadataStrings) => boolean,
): MetadataStrings[] | undefined {
  return readBitcodeWith(bitcode, (reader) => {
    for (;;) {
      const block = reader.nextTopLevelBlock();
      if (!block) return undefined;
      if (block.blockId === MODULE_BLOCK_ID) {
        const found: MetadataStrings[] = [];
        return collect(reader, block, found, false, goOn) ? found : undefined;
      }
      if (block.blockId === BLOCKINFO_BLOCK_ID) reader.readBlockInfo(block);
      else reader.skipBlock(block);
    }
  });
}

/**
 * The strings of the metadata blocks in the module block or a function block
 * (`header`, just read), into `found`; false when a strings record is malformed.
 * A function block has one metadata block at most, before its instructions:
 * the rest of it is skipped once that is read.
 */
function collect(
  reader: BitstreamReader,
  header: BlockHeader,
  found: MetadataStrings[],
  inFunction: boolean,
  goOn?: (first: MetadataStrings) => boolean,
): boolean {
  reader.enterBlock(header);
  for (;;) {
    // Records (globals, instructions) are skipped, not decoded.
    const entry = reader.nextSkippingOperands();
    if (entry.kind === "end") return true;
    if (entry.kind === "record") {
      // In a function block, the first record past DECLAREBLOCKS is an
      // instruction: its metadata block, if any, came before.
      if (inFunction && entry.record.code !== FUNC_CODE_DECLAREBLOCKS) {
        reader.leaveBlock();
        return true;
      }
      continue;
    }
    const block = entry.header;
    if (block.blockId === BLOCKINFO_BLOCK_ID) {
      reader.readBlockInfo(block);
    } else if (block.blockId === FUNCTION_BLOCK_ID) {
      if (!collect(reader, block, found, true, goOn)) return false;
    } else if (block.blockId === METADATA_BLOCK_ID) {
      reader.enterBlock(block);
      // The strings come first or not at all: the nodes after them are left unread.
      const first = reader.next();
      if (first.kind === "end") continue;
      if (first.kind === "record" && first.record.code === METADATA_STRINGS) {
        const strings = splitStrings(first.record.ops, first.record.blob);
        if (!strings) return false;
        found.push(strings);
        if (found.length === 1 && goOn && !goOn(strings)) return false;
      } else if (first.kind === "block") {
        reader.skipBlock(first.header);
      }
      reader.leaveBlock();
      if (inFunction) {
        reader.leaveBlock();
        return true;
      }
    } else {
      reader.skipBlock(block);
    }
  }
}

/** The strings of a METADATA_STRINGS record: [count, offset] and the blob. */
function splitStrings(ops: number[], blob: Uint8Array | undefined): MetadataStrings | undefined {
  if (ops.length < 2 || !blob) return undefined;
  const [count, offset] = ops;
  if (offset > blob.length || count * 6 > offset * 8) return undefined;
  const lengths = blob.subarray(0, offset);
  const bytes = blob.subarray(offset);
  return {
    bytes,
    spans(longerThan = -1) {
      try {
        const { spans, total } = new BitCursor(lengths).vbr6Spans(count, longerThan);
        return total === bytes.length ? spans : undefined;
      } catch (e) {
        if (e instanceof MalformedBitstream) return undefined;
        throw e;
      }
    },
  };
}
