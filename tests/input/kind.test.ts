// detectInputKind and extractElfBitcode on inputs made at test time by clang, gcc, llvm-ar
// and llvm-lipo; section contents are checked against llvm-readelf and llvm-objcopy.

import { test } from "node:test";
import assert from "node:assert/strict";

import { InputError } from "../../src/errors.ts";
import { detectInputKind, extractElfBitcode } from "../../src/input/kind.ts";
import { bytesOf, toolTest, workspace } from "../support/tools.ts";

// ---------------------------------------------------------------------------
// Helpers: a scratch directory and the real tools

const { run, readBytes, writeText } = workspace("bpf-linker-input-kind-");

const C_SOURCE = writeText(
  "counter.c",
  "int counter;\nint add_to_counter(int x) { return counter += x + 1; }\n",
);

function compile(target: string, extraArgs: string[], output: string): Uint8Array {
  run("clang-22", ["-target", target, "-O2", ...extraArgs, C_SOURCE, "-o", output]);
  return readBytes(output);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** The `.llvmbc` section's index, file offset and size as llvm-readelf reports them. */
function readelfBitcodeSection(file: string): { index: number; offset: number; size: number } {
  const listing = run("llvm-readelf-22", ["-S", "-W", file]);
  const match = /\[\s*(\d+)\]\s+\.llvmbc\s+\S+\s+[0-9a-f]+\s+([0-9a-f]+)\s+([0-9a-f]+)/.exec(
    listing,
  );
  assert.ok(match, `llvm-readelf shows no .llvmbc in ${file}:\n${listing}`);
  return {
    index: Number(match[1]),
    offset: parseInt(match[2], 16),
    size: parseInt(match[3], 16),
  };
}

/** The `.llvmbc` contents as llvm-objcopy dumps them. */
function objcopyBitcodeSection(file: string): Uint8Array {
  const dumped = `${file}.llvmbc`;
  run("llvm-objcopy-22", [`--dump-section=.llvmbc=${dumped}`, file, `${file}.copy`]);
  return readBytes(dumped);
}

function assertInputError(action: () => unknown, pattern: RegExp, label: string): void {
  const where = WHERE;
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof InputError, `${label}: expected InputError, got ${error}`);
    assert.equal(error.file, where.file);
    assert.equal(error.member, where.member);
    assert.ok(
      error.message.startsWith(`${where.file}(${where.member}): `),
      `message lacks location: ${error.message}`,
    );
    assert.match(error.detail, pattern, label);
    return true;
  }, label);
}

const WHERE = { file: "libprobe.a", member: "probe.o" };
const BITCODE_MAGIC = [0x42, 0x43, 0xc0, 0xde];

// ---------------------------------------------------------------------------
// detectInputKind

toolTest("detects bitcode made by clang -emit-llvm -c", ["clang-22"], () => {
  const bitcode = compile("bpf", ["-emit-llvm", "-c"], "counter.bc");
  assert.deepEqual(Array.from(bitcode.subarray(0, 4)), BITCODE_MAGIC);
  assert.equal(detectInputKind(bitcode), "bitcode");
});

toolTest("detects the bitcode wrapper clang makes for Apple targets", ["clang-22"], () => {
  const wrapped = compile("x86_64-apple-macos", ["-emit-llvm", "-c"], "counter-apple.bc");
  // clang wraps bitcode for Darwin targets: magic 0x0B17C0DE, stored little-endian.
  assert.deepEqual(Array.from(wrapped.subarray(0, 4)), [0xde, 0xc0, 0x17, 0x0b]);
  assert.equal(detectInputKind(wrapped), "bitcode");
});

toolTest("detects textual IR made by clang -S -emit-llvm", ["clang-22"], () => {
  const ir = compile("bpf", ["-S", "-emit-llvm"], "counter.ll");
  assert.equal(detectInputKind(ir), "ir");
});

toolTest("detects textual IR made by llvm-dis", ["clang-22", "llvm-dis-22"], () => {
  compile("bpf", ["-emit-llvm", "-c"], "dis-input.bc");
  run("llvm-dis-22", ["dis-input.bc", "-o", "dis-output.ll"]);
  assert.equal(detectInputKind(readBytes("dis-output.ll")), "ir");
});

test("detects IR by each of its possible starts, after whitespace and a BOM", () => {
  const starts = [
    "; ModuleID = 'x.c'",
    'source_filename = "x.c"',
    'target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"',
    'target triple = "bpf"',
    "define i32 @f() {\n  ret i32 0\n}",
    "declare void @g()",
    '!llvm.module.flags = !{!0}\n!0 = !{i32 1, !"wchar_size", i32 4}',
  ];
  const leaders = ["", " ", "\n\n", "\t \r\n", "\v\f ", "\uFEFF", "\uFEFF  \n"];
  for (const start of starts) {
    for (const leader of leaders) {
      assert.equal(detectInputKind(bytesOf(leader + start)), "ir", JSON.stringify(leader + start));
    }
  }
});

test("does not take text that merely resembles IR for IR", () => {
  const lookalikes = [
    "",
    "\n \t",
    "; a comment",
    ";ModuleID",
    "define",
    "definitely not IR",
    "declared",
    "target",
    "target architecture",
    "!llv",
    "int main(void) { return 0; }",
    "source_file",
    "\uFEFF\uFEFF; ModuleID", // only one BOM is skipped
    "x; ModuleID",
  ];
  for (const text of lookalikes) {
    assert.equal(detectInputKind(bytesOf(text)), "unknown", JSON.stringify(text));
  }
});

toolTest(
  "detects GNU, BSD and Darwin archives and thin archives made by llvm-ar",
  ["clang-22", "llvm-ar-22"],
  () => {
    compile("bpf", ["-emit-llvm", "-c"], "member.bc");
    for (const format of ["gnu", "bsd", "darwin"]) {
      run("llvm-ar-22", ["rcs", `--format=${format}`, `lib-${format}.a`, "member.bc"]);
      assert.equal(detectInputKind(readBytes(`lib-${format}.a`)), "archive", format);
    }
    run("llvm-ar-22", ["rcsT", "lib-thin.a", "member.bc"]);
    assert.equal(detectInputKind(readBytes("lib-thin.a")), "thin-archive");
  },
);

toolTest("detects an archive made by binutils ar", ["gcc", "ar"], () => {
  run("gcc", ["-c", C_SOURCE, "-o", "native-member.o"]);
  run("ar", ["rcs", "lib-binutils.a", "native-member.o"]);
  assert.equal(detectInputKind(readBytes("lib-binutils.a")), "archive");
});

toolTest("detects ELF objects: BPF in both byte orders and native", ["clang-22", "gcc"], () => {
  assert.equal(detectInputKind(compile("bpf", ["-c"], "counter-bpfel.o")), "elf");
  assert.equal(detectInputKind(compile("bpfeb", ["-c"], "counter-bpfeb.o")), "elf");
  run("gcc", ["-c", C_SOURCE, "-o", "counter-native.o"]);
  assert.equal(detectInputKind(readBytes("counter-native.o")), "elf");
});

toolTest("detects Mach-O objects, 32 and 64-bit, and a fat file", [
  "clang-22",
  "llvm-lipo-22",
], () => {
  const x86 = compile("x86_64-apple-macos", ["-c"], "counter-x86_64.macho.o");
  const arm = compile("arm64-apple-macos", ["-c"], "counter-arm64.macho.o");
  const i386 = compile("i386-apple-macos10.6", ["-c"], "counter-i386.macho.o");
  for (const object of [x86, arm, i386]) assert.equal(detectInputKind(object), "macho");
  run("llvm-lipo-22", [
    "-create",
    "counter-x86_64.macho.o",
    "counter-arm64.macho.o",
    "-output",
    "counter-fat.macho",
  ]);
  const fat = readBytes("counter-fat.macho");
  assert.deepEqual(Array.from(fat.subarray(0, 4)), [0xca, 0xfe, 0xba, 0xbe]);
  assert.equal(detectInputKind(fat), "macho");
});

test("detects every Mach-O magic in both byte orders", () => {
  const magics = [
    [0xfe, 0xed, 0xfa, 0xce],
    [0xce, 0xfa, 0xed, 0xfe],
    [0xfe, 0xed, 0xfa, 0xcf],
    [0xcf, 0xfa, 0xed, 0xfe],
    [0xca, 0xfe, 0xba, 0xbe],
  ];
  for (const magic of magics) {
    assert.equal(detectInputKind(Uint8Array.from([...magic, 0, 0, 0, 0])), "macho");
  }
});

test("reports unknown for empty, truncated-magic and unrelated content", () => {
  const unknowns = [
    new Uint8Array(0),
    bytesOf("!<arch>"), // magic without its newline
    bytesOf("!<arch>\r\n"),
    bytesOf("!<thin"),
    Uint8Array.from([0x42, 0x43, 0xc0]),
    Uint8Array.from([0x7f, 0x45, 0x4c]),
    Uint8Array.from([0xde, 0xc0, 0x17]),
    Uint8Array.from([0xfe, 0xed, 0xfa]),
    bytesOf("rust metadata blob"),
    Uint8Array.from({ length: 256 }, (_, i) => (i * 37 + 11) & 0xff),
  ];
  for (const bytes of unknowns) assert.equal(detectInputKind(bytes), "unknown", String(bytes));
});

test("detects by the bytes of a subarray, not of the buffer around it", () => {
  const surrounding = concat(bytesOf("garbage"), bytesOf("\x7FELF\x02\x01\x01"), bytesOf("!"));
  assert.equal(detectInputKind(surrounding), "unknown");
  assert.equal(detectInputKind(surrounding.subarray(7)), "elf");
});

// ---------------------------------------------------------------------------
// extractElfBitcode

/** Compile with -fembed-bitcode and check the section against llvm-readelf and llvm-objcopy. */
function checkEmbeddedBitcode(target: string, output: string): void {
  const object = compile(target, ["-fembed-bitcode", "-c"], output);
  const expected = readelfBitcodeSection(output);
  const section = extractElfBitcode(object, WHERE);
  assert.ok(section, `no .llvmbc found in ${output}`);
  assert.equal(section.length, expected.size);
  assert.equal(section.buffer, object.buffer, "not a zero-copy view");
  assert.equal(section.byteOffset, object.byteOffset + expected.offset);
  assert.deepEqual(Array.from(section.subarray(0, 4)), BITCODE_MAGIC);
  assert.deepEqual(section, objcopyBitcodeSection(output));
}

const ELF_TOOLS = ["clang-22", "llvm-readelf-22", "llvm-objcopy-22"];

toolTest("extracts .llvmbc from a 64-bit little-endian BPF object", ELF_TOOLS, () => {
  checkEmbeddedBitcode("bpf", "embed-bpfel.o");
});

toolTest("extracts .llvmbc from a 64-bit big-endian BPF object", ELF_TOOLS, () => {
  checkEmbeddedBitcode("bpfeb", "embed-bpfeb.o");
});

toolTest("extracts .llvmbc from a 32-bit little-endian object (i386)", ELF_TOOLS, () => {
  checkEmbeddedBitcode("i386-linux-gnu", "embed-i386.o");
});

toolTest("extracts .llvmbc from a 32-bit big-endian object (armeb)", ELF_TOOLS, () => {
  checkEmbeddedBitcode("armebv7-linux-gnueabi", "embed-armeb.o");
});

toolTest("returns undefined for a native gcc object without .llvmbc", ["gcc"], () => {
  run("gcc", ["-c", C_SOURCE, "-o", "plain-native.o"]);
  assert.equal(extractElfBitcode(readBytes("plain-native.o"), WHERE), undefined);
});

toolTest("returns undefined for a BPF object compiled without -fembed-bitcode", [
  "clang-22",
], () => {
  assert.equal(extractElfBitcode(compile("bpf", ["-c"], "plain-bpf.o"), WHERE), undefined);
});

toolTest("extracts from an ELF that is a view into a larger buffer", ELF_TOOLS, () => {
  const object = compile("bpf", ["-fembed-bitcode", "-c"], "embed-inner.o");
  const expected = readelfBitcodeSection("embed-inner.o");
  // An odd prefix puts the ELF at an unaligned offset, as an archive member can be.
  const outer = concat(bytesOf("!<arch>\nxyz"), object, bytesOf("tail"));
  const inner = outer.subarray(11, 11 + object.length);
  const section = extractElfBitcode(inner, WHERE);
  assert.ok(section);
  assert.equal(section.buffer, outer.buffer);
  assert.equal(section.byteOffset, 11 + expected.offset);
  assert.deepEqual(section, objcopyBitcodeSection("embed-inner.o"));
});

// ELF64 header and section header field offsets, for editing real objects below.
const E_SHOFF = 40;
const E_SHENTSIZE = 58;
const E_SHNUM = 60;
const E_SHSTRNDX = 62;
const SH_NAME = 0;
const SH_OFFSET = 24;
const SH_SIZE = 32;
const SH_LINK = 40;

interface EditableElf {
  bytes: Uint8Array;
  view: DataView;
  sectionAt: (index: number) => number;
  bitcode: { index: number; offset: number; size: number };
}

/** Compile a little-endian ELF64 BPF object with .llvmbc once; each call edits a fresh copy. */
function editableBpfObjects(name: string): () => EditableElf {
  const original = compile("bpf", ["-fembed-bitcode", "-c"], name);
  const bitcode = readelfBitcodeSection(name);
  return () => {
    const bytes = original.slice();
    const view = new DataView(bytes.buffer);
    const sectionTable = Number(view.getBigUint64(E_SHOFF, true));
    return { bytes, view, sectionAt: (index) => sectionTable + index * 64, bitcode };
  };
}

toolTest("reads extended section numbering (e_shnum 0, e_shstrndx SHN_XINDEX)", ELF_TOOLS, () => {
  const { bytes, view, sectionAt, bitcode } = editableBpfObjects("embed-xindex.o")();
  const count = view.getUint16(E_SHNUM, true);
  const namesIndex = view.getUint16(E_SHSTRNDX, true);
  view.setUint16(E_SHNUM, 0, true);
  view.setUint16(E_SHSTRNDX, 0xffff, true);
  view.setBigUint64(sectionAt(0) + SH_SIZE, BigInt(count), true);
  view.setUint32(sectionAt(0) + SH_LINK, namesIndex, true);
  const section = extractElfBitcode(bytes, WHERE);
  assert.ok(section);
  assert.equal(section.byteOffset, bitcode.offset);
  assert.equal(section.length, bitcode.size);
});

toolTest("returns undefined for an ELF without a section table", ["clang-22"], () => {
  const bytes = compile("bpf", ["-fembed-bitcode", "-c"], "embed-noshdr.o").slice();
  new DataView(bytes.buffer).setBigUint64(E_SHOFF, 0n, true);
  assert.equal(extractElfBitcode(bytes, WHERE), undefined);
});

toolTest(
  "reports corrupt ELF headers and section tables as InputErrors naming file and member",
  ELF_TOOLS,
  () => {
    const editable = editableBpfObjects("embed-corrupt.o");
    const sectionTable = Number(editable().view.getBigUint64(E_SHOFF, true));
    const corruptions: [string, (edit: EditableElf) => Uint8Array, RegExp][] = [
      ["cut in e_ident", (e) => e.bytes.subarray(0, 10), /truncated ELF identification/],
      ["cut in the header", (e) => e.bytes.subarray(0, 40), /truncated ELF header/],
      ["bad class", (e) => (e.bytes[4] = 3, e.bytes), /invalid ELF class 3/],
      ["bad data encoding", (e) => (e.bytes[5] = 0, e.bytes), /invalid ELF data encoding 0/],
      [
        "cut in the section table",
        (e) => e.bytes.subarray(0, sectionTable + 100),
        /truncated ELF section header table/,
      ],
      [
        "section table beyond the end",
        (e) => (e.view.setBigUint64(E_SHOFF, 1n << 40n, true), e.bytes),
        /beyond the end of the file/,
      ],
      [
        "tiny section header size",
        (e) => (e.view.setUint16(E_SHENTSIZE, 10, true), e.bytes),
        /invalid ELF section header size 10/,
      ],
      [
        "name table index out of range",
        (e) => (e.view.setUint16(E_SHSTRNDX, 500, true), e.bytes),
        /section name table index 500 is out of range/,
      ],
      [
        ".llvmbc beyond the end",
        (
          e,
        ) => (e.view.setBigUint64(e.sectionAt(e.bitcode.index) + SH_SIZE, 1n << 62n, true),
          e.bytes),
        /section \.llvmbc .* extends beyond the end of the file/,
      ],
      [
        ".llvmbc offset beyond the end",
        (
          e,
        ) => (e.view.setBigUint64(e.sectionAt(e.bitcode.index) + SH_OFFSET, 0xffffffffn, true),
          e.bytes),
        /section \.llvmbc .* extends beyond the end of the file/,
      ],
      [
        "section name outside the name table",
        (e) => (e.view.setUint32(e.sectionAt(1) + SH_NAME, 0x7fffffff, true), e.bytes),
        /section name offset 2147483647 is outside the section name table/,
      ],
      ["not ELF at all", (e) => (e.bytes[0] = 0, e.bytes), /not an ELF file/],
    ];
    for (const [label, corrupt, pattern] of corruptions) {
      assertInputError(() => extractElfBitcode(corrupt(editable()), WHERE), pattern, label);
    }
  },
);

test("an ELF error without a member names just the file", () => {
  assert.throws(
    () => extractElfBitcode(bytesOf("\x7FELF"), { file: "probe.o" }),
    (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.equal(error.message, "probe.o: truncated ELF identification (4 bytes)");
      return true;
    },
  );
});
