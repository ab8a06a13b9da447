// The generic bitstream reader (src/input/bitstream.ts): its bit cursor against a naive reference
// on random bytes, and a full walk of real bitcode (every block entered, BLOCKINFO applied)
// against what llvm-bcanalyzer-22/-19 -dump prints: the same blocks with the same lengths
// and abbreviation widths, the same records with the same abbreviation ids and operands.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  bitcodeStream,
  BitCursor,
  BitstreamReader,
  BLOCKINFO_BLOCK_ID,
  MalformedBitstream,
  UNABBREV_RECORD,
} from "../../src/input/bitstream.ts";
import { prng } from "../support/fuzz.ts";
import { toolTest, workspace } from "../support/tools.ts";

// ---------------------------------------------------------------------------
// Helpers

const { path, run, readBytes, writeText } = workspace("bpf-linker-bitstream-");

// C with a bit of everything: functions with bodies (FUNCTION_BLOCKs with BLOCKINFO
// abbreviations), constants, debug info metadata (blobs), a struct type, strings.
const C_SOURCE = `
struct pair { int a; long b; };
static const char greeting[] = "hello, bitstream";
int table[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
extern int ext(int);
double scale(double x) { return x * 2.5; }
static int helper(struct pair *p, int n) {
  int sum = 0;
  for (int i = 0; i < n; i++) sum += table[i & 7] * p->a + (int)p->b + greeting[i % 16];
  return sum;
}
int entry(int n) { struct pair p = { n, n * 3L }; return helper(&p, n) + ext(n); }
`;
writeText("prog.c", C_SOURCE);
writeText(
  "lib.rs",
  '#[no_mangle] pub extern "C" fn add(a: u64, b: u64) -> u64 { a.wrapping_add(b) }\n' +
    "pub fn generic<T: Into<u64>>(x: T) -> u64 { x.into() * 3 }\n" +
    'pub static NAMES: [&str; 3] = ["one", "two", "three"];\n',
);

// ---------------------------------------------------------------------------
// The full walk, as tokens comparable with llvm-bcanalyzer -dump

/** Values this large are not exact as numbers: compared by presence only. */
const EXACT_LIMIT = 2 ** 53;

function opToken(value: number | bigint): string {
  return typeof value === "bigint"
    ? (value < BigInt(EXACT_LIMIT) ? value.toString() : "big")
    : (value < EXACT_LIMIT ? String(value) : "big");
}

/** Every block and record of the stream, entering every block (BLOCKINFO is read as such). */
function walk(stream: Uint8Array, options: { readBlockInfo: boolean } = { readBlockInfo: true }) {
  const tokens: string[] = [];
  const reader = new BitstreamReader(stream);
  const visit = (): void => {
    for (;;) {
      const entry = reader.next();
      if (entry.kind === "end") {
        tokens.push("end");
        return;
      }
      if (entry.kind === "block") {
        const { header } = entry;
        if (header.blockId === BLOCKINFO_BLOCK_ID) {
          tokens.push("blockinfo");
          if (options.readBlockInfo) reader.readBlockInfo(header);
          else reader.skipBlock(header);
          continue;
        }
        tokens.push(`block words=${(header.end - header.start) / 32} width=${header.abbrevWidth}`);
        reader.enterBlock(header);
        visit();
        continue;
      }
      const { record } = entry;
      const abbrev = record.abbrevId === UNABBREV_RECORD ? "-" : String(record.abbrevId);
      tokens.push(`record abbrev=${abbrev} ops=${record.ops.map(opToken).join(",")}`);
    }
  };
  for (;;) {
    const header = reader.nextTopLevelBlock();
    if (!header) break;
    tokens.push(`block words=${(header.end - header.start) / 32} width=${header.abbrevWidth}`);
    reader.enterBlock(header);
    visit();
  }
  return tokens;
}

/** The same tokens from llvm-bcanalyzer's dump (its string lists and summaries left out). */
function dumpTokens(analyzer: string, file: string): string[] {
  const dump = run(analyzer, ["-dump", file]);
  const tokens: string[] = [];
  for (const line of dump.split("\n")) {
    const text = line.trim();
    if (!text.startsWith("<")) continue; // string lists, "}", summary
    if (text.startsWith("<BITCODE_WRAPPER_HEADER")) continue; // bitcodeStream's business
    if (text.startsWith("</")) {
      tokens.push("end");
      continue;
    }
    if (text.startsWith("<BLOCKINFO_BLOCK")) {
      tokens.push("blockinfo");
      continue;
    }
    const block = /^<\S+ NumWords=(\d+) BlockCodeSize=(\d+)>$/.exec(text);
    if (block) {
      tokens.push(`block words=${block[1]} width=${block[2]}`);
      continue;
    }
    const record = /^<\S+((?: [^/]*)?)\/>/.exec(text);
    assert.ok(record, `unexpected line in the dump: ${text}`);
    const abbrev = /abbrevid=(\d+)/.exec(record[1]);
    const ops = [...record[1].matchAll(/ op\d+=(-?\d+)/g)].map((m) => opToken(BigInt(m[1])));
    tokens.push(`record abbrev=${abbrev ? abbrev[1] : "-"} ops=${ops.join(",")}`);
  }
  // The dump stops at the last top-level block; so does the walk.
  return tokens;
}

function checkWalk(analyzer: string, file: string): number {
  const stream = bitcodeStream(readBytes(file));
  assert.ok(stream, `${file} is not bitcode`);
  const got = walk(stream);
  const expected = dumpTokens(analyzer, path(file));
  assert.ok(expected.length > 20, `too little in the dump of ${file}`);
  // Compare piecewise first, for a readable failure.
  for (let i = 0; i < Math.min(got.length, expected.length); i++) {
    if (got[i] !== expected[i]) assert.equal(got[i], expected[i], `${file}: entry ${i} differs`);
  }
  assert.equal(got.length, expected.length, `${file}: entry count`);
  return got.length;
}

// ---------------------------------------------------------------------------
// Real bitcode, every block, against llvm-bcanalyzer

toolTest("full walk of clang-22 bitcode (-O2 -g) matches llvm-bcanalyzer-22 -dump", [
  "clang-22",
  "llvm-bcanalyzer-22",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", "prog.c", "-o", "g22.bc"]);
  run("clang-22", ["-target", "bpf", "-O0", "-emit-llvm", "-c", "prog.c", "-o", "o22.bc"]);
  const entries = checkWalk("llvm-bcanalyzer-22", "g22.bc") +
    checkWalk("llvm-bcanalyzer-22", "o22.bc");
  console.log(
    `clang-22: ${entries} blocks and records walked, all as llvm-bcanalyzer-22 reads them`,
  );
});

toolTest("full walk of clang-19 bitcode matches llvm-bcanalyzer-19 -dump", [
  "clang-19",
  "llvm-bcanalyzer-19",
], () => {
  run("clang-19", ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", "prog.c", "-o", "g19.bc"]);
  checkWalk("llvm-bcanalyzer-19", "g19.bc");
});

toolTest("full walk of wrapped (Darwin) and rustc bitcode matches llvm-bcanalyzer-22", [
  "clang-22",
  "/usr/bin/rustc",
  "llvm-bcanalyzer-22",
], () => {
  run("clang-22", [
    "-target",
    "x86_64-apple-macos",
    "-O2",
    "-emit-llvm",
    "-c",
    "prog.c",
    "-o",
    "mac.bc",
  ]);
  checkWalk("llvm-bcanalyzer-22", "mac.bc");
  run("/usr/bin/rustc", [
    "--emit=llvm-bc",
    "--crate-type",
    "lib",
    "-C",
    "opt-level=2",
    "-g",
    "lib.rs",
    "-o",
    "rust.bc",
  ]);
  checkWalk("llvm-bcanalyzer-22", "rust.bc");
});

toolTest("function blocks use BLOCKINFO abbreviations: without BLOCKINFO the walk fails", [
  "clang-22",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-emit-llvm", "-c", "prog.c", "-o", "bi.bc"]);
  const stream = bitcodeStream(readBytes("bi.bc"))!;
  assert.ok(walk(stream).length > 0);
  assert.throws(() => walk(stream, { readBlockInfo: false }), MalformedBitstream);
});

// ---------------------------------------------------------------------------
// The bit cursor against a naive reference

/** Bits [pos, pos + width) of `bytes`, LSB-first, via BigInt: slow and obviously right. */
function naiveBits(bytes: Uint8Array, pos: number, width: number): number {
  let value = 0n;
  for (let i = 0; i < width; i++) {
    const bit = (bytes[(pos + i) >> 3] >> ((pos + i) & 7)) & 1;
    value |= BigInt(bit) << BigInt(i);
  }
  return Number(value);
}

test("BitCursor.fixed: every position and width 0..32 agree with a naive reader", () => {
  const random = prng(7);
  const bytes = Uint8Array.from({ length: 41 }, () => Math.floor(random() * 256));
  const cursor = new BitCursor(bytes);
  const total = bytes.length * 8;
  for (let pos = 0; pos <= total; pos++) {
    for (let width = 0; width <= 32; width++) {
      cursor.pos = pos;
      if (pos + width > total) {
        assert.throws(() => cursor.fixed(width), MalformedBitstream);
        continue;
      }
      assert.equal(cursor.fixed(width), naiveBits(bytes, pos, width), `pos ${pos} width ${width}`);
      assert.equal(cursor.pos, pos + width);
    }
  }
});

test("BitCursor.vbr6 and vbr(6) agree, near the end and under a block limit too", () => {
  const random = prng(11);
  for (let round = 0; round < 200; round++) {
    // Mostly continuation bits, so multi-chunk values and over-long runs both occur.
    const bytes = Uint8Array.from(
      { length: 1 + Math.floor(random() * 24) },
      () => (random() < 0.7 ? 0xff : Math.floor(random() * 256)),
    );
    const limit = Math.floor(random() * (bytes.length * 8 + 1));
    for (let pos = 0; pos <= limit; pos++) {
      const a = new BitCursor(bytes);
      const b = new BitCursor(bytes);
      a.pos = b.pos = pos;
      a.limit = b.limit = limit;
      let va: number | string;
      let vb: number | string;
      try {
        va = a.vbr6();
      } catch (e) {
        assert.ok(e instanceof MalformedBitstream);
        va = "malformed";
      }
      try {
        vb = b.vbr(6);
      } catch (e) {
        assert.ok(e instanceof MalformedBitstream);
        vb = "malformed";
      }
      assert.equal(va, vb, `round ${round} pos ${pos}`);
      if (va !== "malformed") assert.equal(a.pos, b.pos);
    }
  }
});

test("BitCursor.vbr6Spans reads what as many vbr(6) calls read, and refuses what they refuse", () => {
  const random = prng(12);
  for (let round = 0; round < 300; round++) {
    const bytes = Uint8Array.from(
      { length: 1 + Math.floor(random() * 32) },
      () => (random() < 0.6 ? 0xff : Math.floor(random() * 256)),
    );
    const start = Math.floor(random() * 16);
    const limit = Math.floor(random() * (bytes.length * 8 + 1));
    const count = Math.floor(random() * 8);
    const longerThan = random() < 0.5 ? -1 : Math.floor(random() * 40);
    const one = new BitCursor(bytes);
    const run = new BitCursor(bytes);
    one.pos = run.pos = start;
    one.limit = run.limit = limit;
    let expected: { spans: number[]; total: number } | "malformed" = { spans: [], total: 0 };
    try {
      for (let i = 0; i < count; i++) {
        const length = one.vbr(6);
        if (length > longerThan) expected.spans.push(expected.total, expected.total + length);
        expected.total += length;
      }
    } catch (e) {
      assert.ok(e instanceof MalformedBitstream);
      expected = "malformed";
    }
    let got: { spans: number[]; total: number } | "malformed";
    try {
      got = run.vbr6Spans(count, longerThan);
    } catch (e) {
      assert.ok(e instanceof MalformedBitstream);
      got = "malformed";
    }
    assert.deepEqual(got, expected, `round ${round}`);
    if (got !== "malformed") assert.equal(run.pos, one.pos);
  }
});

test("BitCursor.vbr: values up to 2^53 exactly; more than 64 bits of chunks is malformed", () => {
  // Hand-encode with 6-bit chunks.
  const encode = (value: bigint, chunks?: number): Uint8Array => {
    const bits: number[] = [];
    let n = 0;
    do {
      const chunk = Number(value & 31n);
      value >>= 5n;
      n++;
      const more = value > 0n || (chunks !== undefined && n < chunks);
      for (let i = 0; i < 5; i++) bits.push((chunk >> i) & 1);
      bits.push(more ? 1 : 0);
    } while (value > 0n || (chunks !== undefined && n < chunks));
    const out = new Uint8Array(Math.ceil(bits.length / 8) + 8);
    bits.forEach((bit, i) => (out[i >> 3] |= bit << (i & 7)));
    return out;
  };
  for (const value of [0n, 31n, 32n, 1023n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n - 1n]) {
    assert.equal(new BitCursor(encode(value)).vbr(6), Number(value));
    assert.equal(new BitCursor(encode(value)).vbr6(), Number(value));
  }
  // 13 chunks = 65 value bits: refused even though every chunk is readable.
  assert.equal(new BitCursor(encode(0n, 12)).vbr6(), 0);
  assert.throws(() => new BitCursor(encode(0n, 14)).vbr6(), MalformedBitstream);
  assert.throws(() => new BitCursor(encode(0n, 14)).vbr(6), MalformedBitstream);
});

test("bitcodeStream: raw magic, the wrapper, and everything else", () => {
  const raw = new Uint8Array([0x42, 0x43, 0xc0, 0xde, 1, 2, 3, 4]);
  assert.equal(bitcodeStream(raw), raw);
  const wrapped = new Uint8Array(20 + raw.length + 4);
  const view = new DataView(wrapped.buffer);
  view.setUint32(0, 0x0b17c0de, true);
  view.setUint32(8, 20, true);
  view.setUint32(12, raw.length, true);
  wrapped.set(raw, 20);
  assert.deepEqual(bitcodeStream(wrapped), raw);
  view.setUint32(12, 1000, true); // size past the end: clamped
  assert.equal(bitcodeStream(wrapped)?.length, raw.length + 4);
  view.setUint32(8, 4, true); // offset inside the header
  assert.equal(bitcodeStream(wrapped), undefined);
  assert.equal(bitcodeStream(new Uint8Array([0x7f, 0x45, 0x4c, 0x46])), undefined);
  assert.equal(bitcodeStream(new Uint8Array(0)), undefined);
});

test("huge counts are refused before anything is allocated for them", () => {
  // A block whose unabbreviated record claims 2^30 operands, in a 16-word block.
  const bits: number[] = [];
  const put = (value: number, width: number) => {
    for (let i = 0; i < width; i++) bits.push(Math.floor(value / 2 ** i) % 2);
  };
  const putVbr6 = (value: number) => {
    do {
      const chunk = value % 32;
      value = Math.floor(value / 32);
      put(chunk + (value > 0 ? 32 : 0), 6);
    } while (value > 0);
  };
  for (const byte of [0x42, 0x43, 0xc0, 0xde]) put(byte, 8);
  put(1, 2); // ENTER_SUBBLOCK
  put(99, 8); // block id (vbr8, fits one chunk)
  put(4, 4); // abbrev width
  while (bits.length % 32) bits.push(0);
  put(16, 32); // 16 words
  put(3, 4); // UNABBREV_RECORD
  putVbr6(1); // code
  putVbr6(2 ** 30); // operand count
  while (bits.length < 32 * 19) bits.push(1); // magic, header, length, 16 words
  const bytes = new Uint8Array(bits.length / 8);
  bits.forEach((bit, i) => (bytes[i >> 3] |= bit << (i & 7)));
  const reader = new BitstreamReader(bytes);
  const header = reader.nextTopLevelBlock()!;
  assert.equal(header.blockId, 99);
  reader.enterBlock(header);
  // Thrown as soon as the count is read, not after reading 2^30 operands.
  assert.throws(() => reader.next(), MalformedBitstream);
});
