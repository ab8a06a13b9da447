// readBitcodeProducer on bitcode made at test time by clang-22/19, llvm-as-22/19, llvm-cat,
// the Darwin wrapper, an embedded .llvmbc section and rustc, checked against what
// llvm-bcanalyzer-22 prints; then hand-built bitstreams for the encodings real producers
// do not use, and deterministic fuzzing (truncations, bit flips) for robustness.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  type BitcodeProducer,
  parseLlvmVersion,
  readBitcodeProducer,
} from "../../src/input/bitcode_producer.ts";
import { ARRAY, BitWriter, BLOB, CHAR6, FIXED, VBR } from "../support/bitwriter.ts";
import { fuzzRandomStreams, fuzzSeeds, makeRandom, readsWithoutThrowing } from "../support/fuzz.ts";
import { toolTest, workspace } from "../support/tools.ts";

// ---------------------------------------------------------------------------
// Helpers: a scratch directory and the real tools

const { run, readBytes, writeText } = workspace("bpf-linker-producer-");

const C_SOURCE = "int add_one(int x) { return x + 1; }\n";
// Old enough syntax for both llvm-as-19 and llvm-as-22.
const IR_SOURCE = "define i32 @add_one(i32 %x) {\n  %r = add i32 %x, 1\n  ret i32 %r\n}\n";
writeText("prog.c", C_SOURCE);
writeText("prog.ll", IR_SOURCE);
writeText("lib.rs", "pub fn add_one(x: u32) -> u32 { x + 1 }\n");

/** "22.1.8" from `clang-22 --version` ("Debian clang version 22.1.8 (...)"). */
function clangVersion(clang: string): string {
  const match = /clang version (\d+\.\d+\.\d+)/.exec(run(clang, ["--version"]));
  assert.ok(match, `no version in ${clang} --version`);
  return match[1];
}

/** The first IDENTIFICATION_BLOCK as llvm-bcanalyzer-22 dumps it: STRING ops as text, EPOCH. */
function bcanalyzerIdentification(
  file: string,
): { producer: string; epoch?: number; words: number } {
  const dump = run("llvm-bcanalyzer-22", ["-dump", file]);
  const block = /<IDENTIFICATION_BLOCK_ID NumWords=(\d+)[^>]*>([\s\S]*?)<\/IDENTIFICATION_BLOCK_ID>/
    .exec(dump);
  assert.ok(block, `llvm-bcanalyzer-22 found no IDENTIFICATION_BLOCK in ${file}`);
  const stringRecord = /<STRING\b([^/]*)\/>/.exec(block[2]);
  assert.ok(stringRecord, "no STRING record");
  const codes = [...stringRecord[1].matchAll(/op\d+=(\d+)/g)].map((m) => Number(m[1]));
  const epochRecord = /<EPOCH\b[^/]*op0=(\d+)/.exec(block[2]);
  return {
    producer: String.fromCharCode(...codes),
    epoch: epochRecord ? Number(epochRecord[1]) : undefined,
    words: Number(block[1]),
  };
}

/** Checks our reading of `file` against llvm-bcanalyzer-22 and returns it. */
function checkAgainstBcanalyzer(file: string): BitcodeProducer {
  const expected = bcanalyzerIdentification(file);
  const got = readBitcodeProducer(readBytes(file));
  assert.ok(got, `no producer read from ${file}`);
  assert.equal(got.producer, expected.producer);
  assert.equal(got.epoch, expected.epoch);
  return got;
}

function versionTriple(version: string): { major: number; minor: number; patch: number } {
  const [major, minor, patch] = version.split(".").map(Number);
  return { major, minor, patch };
}

// ---------------------------------------------------------------------------
// Real producers

toolTest("clang-22 -target bpf -emit-llvm: producer is LLVM<clang version>", [
  "clang-22",
  "llvm-bcanalyzer-22",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-emit-llvm", "-c", "prog.c", "-o", "c22.bc"]);
  const version = clangVersion("clang-22");
  const got = checkAgainstBcanalyzer("c22.bc");
  assert.deepEqual(got, {
    producer: `LLVM${version}`,
    epoch: 0,
    llvmVersion: versionTriple(version),
  });
  assert.equal(got.llvmVersion?.major, 22);
});

toolTest("clang-19 -target bpf -emit-llvm: producer is LLVM<clang version>", [
  "clang-19",
  "llvm-bcanalyzer-22",
], () => {
  run("clang-19", ["-target", "bpf", "-O2", "-emit-llvm", "-c", "prog.c", "-o", "c19.bc"]);
  const version = clangVersion("clang-19");
  const got = checkAgainstBcanalyzer("c19.bc");
  assert.deepEqual(got, {
    producer: `LLVM${version}`,
    epoch: 0,
    llvmVersion: versionTriple(version),
  });
  assert.equal(got.llvmVersion?.major, 19);
});

toolTest("llvm-as-22 and llvm-as-19: producer names each assembler's LLVM", [
  "llvm-as-22",
  "llvm-as-19",
  "clang-22",
  "clang-19",
  "llvm-bcanalyzer-22",
], () => {
  run("llvm-as-22", ["prog.ll", "-o", "as22.bc"]);
  run("llvm-as-19", ["prog.ll", "-o", "as19.bc"]);
  assert.equal(checkAgainstBcanalyzer("as22.bc").producer, `LLVM${clangVersion("clang-22")}`);
  assert.equal(checkAgainstBcanalyzer("as19.bc").producer, `LLVM${clangVersion("clang-19")}`);
});

toolTest("Darwin bitcode wrapper (0x0B17C0DE) from clang-22 -target x86_64-apple-macos", [
  "clang-22",
  "llvm-bcanalyzer-22",
], () => {
  run("clang-22", ["-target", "x86_64-apple-macos", "-emit-llvm", "-c", "prog.c", "-o", "mac.bc"]);
  const bytes = readBytes("mac.bc");
  assert.deepEqual([...bytes.subarray(0, 4)], [0xde, 0xc0, 0x17, 0x0b], "expected a wrapper");
  const got = checkAgainstBcanalyzer("mac.bc");
  assert.equal(got.producer, `LLVM${clangVersion("clang-22")}`);

  // The raw stream the header points at reads the same.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = view.getUint32(8, true);
  const size = view.getUint32(12, true);
  assert.deepEqual(readBitcodeProducer(bytes.slice(offset, offset + size)), got);

  // A header pointing outside the file, or at something that is not bitcode.
  const badOffset = bytes.slice();
  new DataView(badOffset.buffer).setUint32(8, bytes.length + 4, true);
  assert.equal(readBitcodeProducer(badOffset), undefined);
  const smallOffset = bytes.slice();
  new DataView(smallOffset.buffer).setUint32(8, 4, true);
  assert.equal(readBitcodeProducer(smallOffset), undefined);
  const zeroSize = bytes.slice();
  new DataView(zeroSize.buffer).setUint32(12, 0, true);
  assert.equal(readBitcodeProducer(zeroSize), undefined);
});

toolTest(".llvmbc section of clang-22 -fembed-bitcode", [
  "clang-22",
  "llvm-objcopy-22",
  "llvm-bcanalyzer-22",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-fembed-bitcode", "-c", "prog.c", "-o", "embed.o"]);
  run("llvm-objcopy-22", ["--dump-section", ".llvmbc=embed.bc", "embed.o", "embed.o.tmp"]);
  const got = checkAgainstBcanalyzer("embed.bc");
  assert.equal(got.producer, `LLVM${clangVersion("clang-22")}`);
  // The ELF object itself is not bitcode.
  assert.equal(readBitcodeProducer(readBytes("embed.o")), undefined);
});

/**
 * rustc's producer is LLVM<its LLVM version>, plus "-rust-<release>-<channel>" when the
 * LLVM is rust's own build (rustup); a distribution rustc on system LLVM has no suffix.
 */
function checkRustc(rustc: string, out: string): void {
  run(rustc, ["--emit=llvm-bc", "--crate-type", "lib", "lib.rs", "-o", out]);
  const got = checkAgainstBcanalyzer(out);
  const llvm = /^LLVM version: (\d+\.\d+\.\d+)/m.exec(run(rustc, ["-vV"]));
  assert.ok(llvm, `no LLVM version in ${rustc} -vV`);
  assert.ok(got.producer.startsWith(`LLVM${llvm[1]}`), got.producer);
  assert.match(got.producer, /^LLVM\d+\.\d+\.\d+(-rust-\d+\.\d+\.\d+-\w+)?$/);
  assert.deepEqual(got.llvmVersion, versionTriple(llvm[1]));
  assert.equal(got.epoch, 0);
}

toolTest("rustc --emit=llvm-bc (/usr/bin/rustc)", ["/usr/bin/rustc", "llvm-bcanalyzer-22"], () => {
  checkRustc("/usr/bin/rustc", "rust.bc");
});


toolTest("llvm-cat -b: several modules in one file, the first module's producer wins", [
  "clang-22",
  "clang-19",
  "llvm-cat-22",
], () => {
  run("clang-22", ["-target", "bpf", "-emit-llvm", "-c", "prog.c", "-o", "cat22.bc"]);
  run("clang-19", ["-target", "bpf", "-emit-llvm", "-c", "prog.c", "-o", "cat19.bc"]);
  run("llvm-cat-22", ["-b", "cat19.bc", "cat22.bc", "-o", "cat-19-22.bc"]);
  run("llvm-cat-22", ["-b", "cat22.bc", "cat19.bc", "-o", "cat-22-19.bc"]);
  assert.equal(readBitcodeProducer(readBytes("cat-19-22.bc"))?.llvmVersion?.major, 19);
  assert.equal(readBitcodeProducer(readBytes("cat-22-19.bc"))?.llvmVersion?.major, 22);
});

toolTest(
  "cost does not grow with the file: 64 MiB after the identification block",
  ["clang-22"],
  () => {
    run("clang-22", ["-target", "bpf", "-emit-llvm", "-c", "prog.c", "-o", "big.bc"]);
    const small = readBytes("big.bc");
    const big = new Uint8Array(64 << 20);
    big.set(small);
    assert.equal(readBitcodeProducer(big)?.producer, readBitcodeProducer(small)?.producer);
    // What lies after the identification block is never looked at: garbage there
    // changes nothing. (Speed is for scripts/bench, not for tests.)
    big.fill(0xff, small.length);
    assert.equal(readBitcodeProducer(big)?.producer, readBitcodeProducer(small)?.producer);
  },
);

// ---------------------------------------------------------------------------
// Hand-built bitstreams: encodings and layouts real producers rarely emit

const codes = (text: string) => [...text].map((c) => c.charCodeAt(0));
const LIT = true;

test("unabbreviated STRING and EPOCH records", () => {
  const w = new BitWriter().enter(13, 5);
  w.unabbrev(1, codes("LLVM23.0.0git")).unabbrev(2, [0]).end();
  assert.deepEqual(readBitcodeProducer(w.bytes()), {
    producer: "LLVM23.0.0git",
    epoch: 0,
    llvmVersion: { major: 23, minor: 0, patch: 0 },
  });
});

// rustup's rustc writes its STRING record so (clang uses a char6 array abbreviation), with
// the "-rust-<release>-<channel>" suffix. rustup is not part of the set-up (Debian has no
// package of it), so its layout is built here.
test("rustup's layout: unabbreviated STRING with the -rust- suffix", () => {
  const w = new BitWriter().enter(13, 5);
  w.unabbrev(1, codes("LLVM22.1.2-rust-1.95.0-stable")).unabbrev(2, [0]).end();
  assert.deepEqual(readBitcodeProducer(w.bytes()), {
    producer: "LLVM22.1.2-rust-1.95.0-stable",
    epoch: 0,
    llvmVersion: { major: 22, minor: 1, patch: 2 },
  });
});

test("a huge STRING record (crafted) is read, not a stack overflow", () => {
  const producer = `LLVM22.1.0${"x".repeat(1_200_000)}`;
  const w = new BitWriter().enter(13, 5);
  w.unabbrev(1, codes(producer)).end();
  // Twice: the second read goes through the cache lookup too.
  for (let i = 0; i < 2; i++) assert.equal(readBitcodeProducer(w.bytes())?.producer, producer);
});

test("clang's layout: char6 array STRING, fixed EPOCH, then a MODULE_BLOCK", () => {
  const w = new BitWriter().enter(13, 5);
  w.defineAbbrev([[LIT, 1], [false, ARRAY], [false, CHAR6]]);
  w.defineAbbrev([[LIT, 2], [false, VBR, 6]]);
  w.fixed(4, 5).vbr(10, 6);
  for (const c of "LLVM22.1.8") {
    w.fixed("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._".indexOf(c), 6);
  }
  w.fixed(5, 5).vbr(7, 6).end();
  w.enter(8, 3).unabbrev(1, [2]).end();
  assert.deepEqual(readBitcodeProducer(w.bytes()), {
    producer: "LLVM22.1.8",
    epoch: 7,
    llvmVersion: { major: 22, minor: 1, patch: 8 },
  });
});

test("fixed-8 array and blob STRING encodings; the last STRING wins, like LLVM", () => {
  const fixedArray = new BitWriter().enter(13, 4);
  fixedArray.defineAbbrev([[false, FIXED, 3], [false, ARRAY], [false, FIXED, 8]]);
  fixedArray.fixed(4, 4).fixed(1, 3).vbr(11, 6);
  for (const c of codes("APPLE_1_150")) fixedArray.fixed(c, 8);
  fixedArray.end();
  assert.deepEqual(readBitcodeProducer(fixedArray.bytes()), { producer: "APPLE_1_150" });

  const blob = new BitWriter().enter(13, 3);
  blob.unabbrev(1, codes("first"));
  blob.defineAbbrev([[LIT, 1], [false, BLOB]]);
  const utf8 = new TextEncoder().encode("LLVM 19.1.7 ünïcode");
  blob.fixed(4, 3).vbr(utf8.length, 6).align32();
  for (const byte of utf8) blob.fixed(byte, 8);
  blob.align32().end();
  assert.deepEqual(readBitcodeProducer(blob.bytes()), {
    producer: "LLVM 19.1.7 ünïcode",
    llvmVersion: { major: 19, minor: 1, patch: 7 },
  });
});

test("blocks before the identification block are skipped by length; nested blocks too", () => {
  const w = new BitWriter();
  w.enter(0, 2).unabbrev(1, [13]).end(); // a top-level BLOCKINFO
  w.enter(99, 4).unabbrev(7, [1, 2, 3]).end(); // an unknown block
  w.enter(13, 5).enter(42, 3).unabbrev(1, codes("not me")).end();
  w.unabbrev(1, codes("LLVM22.1.8")).end();
  assert.equal(readBitcodeProducer(w.bytes())?.producer, "LLVM22.1.8");
});

test("no identification block before the first module: undefined, not the second's", () => {
  const w = new BitWriter();
  w.enter(8, 3).unabbrev(1, [2]).end();
  w.enter(13, 5).unabbrev(1, codes("LLVM22.1.8")).end();
  w.enter(8, 3).unabbrev(1, [2]).end();
  assert.equal(readBitcodeProducer(w.bytes()), undefined);
});

test("malformed identification blocks read as undefined", () => {
  const cases: [string, (w: BitWriter) => void][] = [
    ["no STRING record", (w) => w.enter(13, 5).unabbrev(2, [0]).end()],
    ["undefined abbreviation id", (w) => w.enter(13, 5).fixed(9, 5).end()],
    ["length word past the end", (w) => w.enter(13, 5, 1000).unabbrev(1, codes("LLVM")).end(true)],
    ["length word too short", (w) => w.enter(13, 5, 1).unabbrev(1, codes("LLVM22.1.8")).end(true)],
    ["abbreviation width 0", (w) => w.enter(13, 0)],
    ["abbreviation width 33", (w) => w.enter(13, 33).end()],
    ["VBR width 1", (w) => w.enter(13, 5).defineAbbrev([[LIT, 1], [false, VBR, 1]]).end()],
    ["fixed width 33", (w) => w.enter(13, 5).defineAbbrev([[LIT, 1], [false, FIXED, 33]]).end()],
    ["unknown encoding 6", (w) => w.enter(13, 5).defineAbbrev([[LIT, 1], [false, 6, 1]]).end()],
    ["empty abbreviation", (w) => w.enter(13, 5).defineAbbrev([]).end()],
    ["array first", (w) => w.enter(13, 5).defineAbbrev([[false, ARRAY], [false, CHAR6]]).end()],
    [
      "array of literals",
      (w) => w.enter(13, 5).defineAbbrev([[LIT, 1], [false, ARRAY], [LIT, 0]]).end(),
    ],
    [
      "array of zero-width fields",
      (w) => w.enter(13, 5).defineAbbrev([[LIT, 1], [false, ARRAY], [false, FIXED, 0]]).end(),
    ],
    [
      "array not second to last",
      (w) =>
        w.enter(13, 5).defineAbbrev([[LIT, 1], [false, ARRAY], [false, CHAR6], [LIT, 0]]).end(),
    ],
    [
      "blob not last",
      (w) => w.enter(13, 5).defineAbbrev([[LIT, 1], [false, BLOB], [LIT, 0]]).end(),
    ],
    ["VBR longer than 64 bits", (w) => {
      w.enter(13, 5).fixed(3, 5).vbr(1, 6).vbr(1, 6);
      for (let i = 0; i < 14; i++) w.fixed(0x3f, 6);
      w.fixed(0, 6).end();
    }],
    ["a top-level record", (w) => w.unabbrev(1, codes("LLVM22.1.8"))],
    ["a top-level END_BLOCK", (w) => w.fixed(0, 2).align32()],
  ];
  for (const [name, build] of cases) {
    const w = new BitWriter();
    build(w);
    assert.equal(readBitcodeProducer(w.bytes()), undefined, name);
  }
});

test("inputs that are not bitcode read as undefined", () => {
  const inputs: Uint8Array[] = [
    new Uint8Array(0),
    new Uint8Array([0x42, 0x43, 0xc0]),
    new Uint8Array([0x42, 0x43, 0xc0, 0xde]), // magic only: no blocks
    new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]),
    new TextEncoder().encode("; ModuleID = 'x'\ndefine void @f() { ret void }\n"),
    new Uint8Array([0xde, 0xc0, 0x17, 0x0b, 0, 0, 0, 0]), // wrapper magic, header cut short
    new Uint8Array(4096),
  ];
  for (const bytes of inputs) assert.equal(readBitcodeProducer(bytes), undefined);
});

test("parseLlvmVersion", () => {
  const cases: [string, [number, number, number] | undefined][] = [
    ["LLVM22.1.8", [22, 1, 8]],
    ["LLVM19.1.7", [19, 1, 7]],
    ["LLVM19.1.7-rust-1.85.0-stable", [19, 1, 7]],
    ["LLVM22.1.8-rust-1.96.0-stable", [22, 1, 8]],
    ["LLVM 19.1.7", [19, 1, 7]],
    ["LLVM3.8.0svn", [3, 8, 0]],
    ["LLVM22.0.0git", [22, 0, 0]],
    ["LLVM18", [18, 0, 0]],
    ["LLVM18.1", [18, 1, 0]],
    ["APPLE_1_1500.3.9.4_0", undefined],
    ["rustc version 1.85.0", undefined],
    ["", undefined],
    ["LLVM", undefined],
    ["LLVMx", undefined],
    ["LLVM1.2.3.4", undefined],
    ["LLVM12345678901.0.0", undefined],
  ];
  for (const [producer, expected] of cases) {
    const got = parseLlvmVersion(producer);
    const want = expected && { major: expected[0], minor: expected[1], patch: expected[2] };
    assert.deepEqual(got, want, producer);
  }
});

// ---------------------------------------------------------------------------
// Fuzzing: truncations and bit flips of real bitcode never throw, never hang

function check(bytes: Uint8Array, what: string): BitcodeProducer | undefined {
  const result = readsWithoutThrowing(what, () => readBitcodeProducer(bytes));
  if (result !== undefined) {
    assert.equal(typeof result.producer, "string", what);
    if (result.epoch !== undefined) assert.ok(Number.isFinite(result.epoch), what);
  }
  return result;
}

toolTest("truncations: undefined until the identification block is complete, then exact", [
  "clang-22",
  "llvm-bcanalyzer-22",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-emit-llvm", "-c", "prog.c", "-o", "trunc.bc"]);
  const bytes = readBytes("trunc.bc");
  const full = readBitcodeProducer(bytes);
  assert.ok(full);
  // magic (4) + ENTER_SUBBLOCK header aligned to a word (4) + length word (4) + the block.
  const blockEnd = 12 + 4 * bcanalyzerIdentification("trunc.bc").words;
  for (let length = 0; length <= bytes.length; length++) {
    const got = check(bytes.subarray(0, length), `truncated to ${length}`);
    if (length < blockEnd) assert.equal(got, undefined, `truncated to ${length}`);
    else assert.deepEqual(got, full, `truncated to ${length}`);
  }
});

toolTest("fuzz: thousands of bit flips and overwrites of real bitcode", [
  "clang-22",
  "/usr/bin/rustc",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-emit-llvm", "-c", "prog.c", "-o", "fuzz.bc"]);
  run("clang-22", [
    "-target",
    "x86_64-apple-macos",
    "-emit-llvm",
    "-c",
    "prog.c",
    "-o",
    "fuzzmac.bc",
  ]);
  run("/usr/bin/rustc", ["--emit=llvm-bc", "--crate-type", "lib", "lib.rs", "-o", "fuzzrust.bc"]);
  const seeds = [readBytes("fuzz.bc"), readBytes("fuzzmac.bc"), readBytes("fuzzrust.bc")];
  // The header and identification block live in the first ~100 bytes: aim most flips there.
  const { reads: iterations, readable: survived } = fuzzSeeds(
    seeds,
    makeRandom(0x5eed),
    check,
    128,
  );
  assert.ok(iterations >= 12000);
  // Flips outside the identification block leave it readable: many inputs must survive.
  assert.ok(survived > 1000, `only ${survived} mutated inputs still had a producer`);
});

test("fuzz: random streams behind a valid magic", () => {
  // Often start with a plausible ENTER_SUBBLOCK of block 13 so the reader goes deeper.
  fuzzRandomStreams(makeRandom(42), { count: 5000, maxExtra: 200, minLength: 12 }, (bytes) => {
    bytes[4] = 0x35; // abbrev id 1, block id 13 (vbr8, low bits)
    bytes[5] = (bytes[5] & 0xc0) | 0x14; // rest of block id, width 5
  }, check);
});
