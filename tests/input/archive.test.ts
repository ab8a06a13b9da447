// readArchive on archives made at test time by llvm-ar (GNU, BSD, Darwin) and binutils ar,
// checked against the original files, `llvm-ar t` and `llvm-nm --print-armap`; then
// malformed archives, each with the error it must produce.

import { test } from "node:test";
import assert from "node:assert/strict";

import { type Archive, readArchive } from "../../src/input/archive.ts";
import { ArchiveError } from "../../src/errors.ts";
import { bytesOf, toolTest, workspace } from "../support/tools.ts";

// ---------------------------------------------------------------------------
// Helpers: a scratch directory and the real tools

const { run, readBytes, writeText } = workspace("bpf-linker-archive-");

function textOf(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}

// ---------------------------------------------------------------------------
// Archive members made by clang and gcc, built once on first use

const LLVM_TOOLS = ["clang-22", "llvm-ar-22", "llvm-nm-22"];
const BINUTILS_TOOLS = ["clang-22", "gcc", "ar", "llvm-nm-22"];

/** Bitcode, a native object and an odd-sized text file; names of 4, 15, 16 and 30 chars. */
let memberFiles: string[] | undefined;

function makeMemberFiles(): string[] {
  if (memberFiles) return memberFiles;
  writeText("count.c", "int counter;\nint add_to_counter(int x) { return counter += x; }\n");
  writeText(
    "triple.c",
    "static int h(int y) { return y * 3; }\nint triple_it(int y) { return h(y); }\n",
  );
  writeText("native.c", "int native_answer(void) { return 42; }\nint native_data = 7;\n");
  const bpfBitcode = (source: string, output: string) =>
    run("clang-22", ["-target", "bpf", "-O2", "-emit-llvm", "-c", source, "-o", output]);
  bpfBitcode("count.c", "a.bc");
  bpfBitcode("triple.c", "fifteen_char.bc"); // 15 characters: the longest GNU short name
  bpfBitcode("count.c", "sixteen_chars.bc"); // 16 characters: needs the long-name table
  run("gcc", ["-c", "native.c", "-o", "native_object_with_long_name.o"]);
  writeText("odd.txt", "abc"); // odd size: the next header needs a padding byte
  memberFiles = [
    "a.bc",
    "fifteen_char.bc",
    "sixteen_chars.bc",
    "native_object_with_long_name.o",
    "odd.txt",
  ];
  return memberFiles;
}

/** `llvm-nm --print-armap`'s archive map as `symbol in member` lines. */
function armapOf(archive: string): string[] {
  const output = run("llvm-nm-22", ["--print-armap", archive]);
  if (!output.startsWith("Archive map\n")) return [];
  const map = output.slice("Archive map\n".length);
  return map.slice(0, map.indexOf("\n\n")).split("\n").filter((line) => line !== "");
}

function ourArmap(archive: Archive): string[] {
  const nameAt = new Map(archive.members.map((member) => [member.offset, member.name]));
  return archive.symbols.map((symbol) => `${symbol.name} in ${nameAt.get(symbol.memberOffset)}`);
}

function memberListOf(archive: string): string[] {
  return run("llvm-ar-22", ["t", archive]).split("\n").filter((line) => line !== "");
}

/** The raw 16-byte name field of the first member header. */
function firstNameField(bytes: Uint8Array): string {
  return textOf(bytes.subarray(8, 24)).trimEnd();
}

/**
 * Check members against the files they came from and the tools' view of the archive.
 * `padTo` is the alignment Darwin pads member data to (the padding counts as data).
 */
function checkArchive(archiveName: string, files: string[], padTo = 1): Archive {
  const bytes = readBytes(archiveName);
  const archive = readArchive(bytes, archiveName);
  assert.deepEqual(archive.members.map((member) => member.name), files);
  assert.deepEqual(archive.members.map((member) => member.name), memberListOf(archiveName));
  for (const [i, member] of archive.members.entries()) {
    const original = readBytes(files[i]);
    assert.deepEqual(member.data.subarray(0, original.length), original, member.name);
    const padding = member.data.subarray(original.length);
    assert.ok(padding.length < padTo || padding.length === 0, `${member.name} padding`);
    assert.ok(padding.every((byte) => byte === 0x0a), `${member.name} padding is not \\n`);
    assert.equal(member.data.buffer, bytes.buffer, "member data must be a view, not a copy");
    assert.equal(textOf(bytes.subarray(member.offset + 58, member.offset + 60)), "`\n");
  }
  assert.deepEqual(ourArmap(archive), armapOf(archiveName));
  return archive;
}

// ---------------------------------------------------------------------------
// Archives made by real tools

toolTest("reads a GNU archive from llvm-ar: long-name table and / symbol table", LLVM_TOOLS, () => {
  const files = makeMemberFiles();
  run("llvm-ar-22", ["rcs", "--format=gnu", "gnu.a", ...files]);
  const bytes = readBytes("gnu.a");
  assert.equal(firstNameField(bytes), "/");
  assert.ok(textOf(bytes).includes("//" + " ".repeat(14)), "expected a // long-name table");
  const archive = checkArchive("gnu.a", files);
  assert.ok(archive.symbols.some((symbol) => symbol.name === "native_answer"));
  assert.ok(archive.symbols.some((symbol) => symbol.name === "triple_it"));
});

toolTest("reads a BSD archive from llvm-ar: #1/ names and __.SYMDEF", LLVM_TOOLS, () => {
  const files = makeMemberFiles();
  run("llvm-ar-22", ["rcs", "--format=bsd", "bsd.a", ...files]);
  const bytes = readBytes("bsd.a");
  assert.equal(firstNameField(bytes), "#1/12");
  const archive = checkArchive("bsd.a", files);
  assert.ok(archive.symbols.length >= 4);
});

toolTest("reads a Darwin archive from llvm-ar, whose members are padded to 8", LLVM_TOOLS, () => {
  const files = makeMemberFiles();
  run("llvm-ar-22", ["rcs", "--format=darwin", "darwin.a", ...files]);
  const archive = checkArchive("darwin.a", files, 8);
  const odd = archive.members.find((member) => member.name === "odd.txt")!;
  assert.deepEqual(odd.data, bytesOf("abc\n\n\n\n\n"));
});

toolTest("reads a /SYM64/ symbol table (llvm-ar with SYM64_THRESHOLD=0)", LLVM_TOOLS, () => {
  const files = makeMemberFiles();
  run("llvm-ar-22", ["rcs", "--format=gnu", "gnu64.a", ...files], { SYM64_THRESHOLD: "0" });
  assert.equal(firstNameField(readBytes("gnu64.a")), "/SYM64/");
  assert.ok(checkArchive("gnu64.a", files).symbols.length >= 4);
});

toolTest("reads a __.SYMDEF_64 table (Darwin, SYM64_THRESHOLD=0)", LLVM_TOOLS, () => {
  const files = makeMemberFiles();
  run("llvm-ar-22", ["rcs", "--format=darwin", "darwin64.a", ...files], {
    SYM64_THRESHOLD: "0",
  });
  const bytes = readBytes("darwin64.a");
  assert.equal(textOf(bytes.subarray(68, 80)), "__.SYMDEF_64");
  assert.ok(checkArchive("darwin64.a", files, 8).symbols.length >= 4);
});

toolTest("reads a GNU archive made by binutils ar", BINUTILS_TOOLS, () => {
  const files = makeMemberFiles();
  run("ar", ["rcs", "binutils.a", ...files]);
  assert.equal(firstNameField(readBytes("binutils.a")), "/");
  const archive = checkArchive("binutils.a", files);
  assert.ok(archive.symbols.some((symbol) => symbol.name === "native_answer"));
});

toolTest("reads archives without a symbol table", [...LLVM_TOOLS, "ar"], () => {
  const files = makeMemberFiles();
  for (const format of ["gnu", "bsd", "darwin"]) {
    run("llvm-ar-22", ["rcS", `--format=${format}`, `nosym-${format}.a`, ...files]);
    const archive = checkArchive(`nosym-${format}.a`, files, format === "darwin" ? 8 : 1);
    assert.deepEqual(archive.symbols, [], format);
  }
  run("ar", ["rcS", "nosym-binutils.a", ...files]);
  assert.deepEqual(checkArchive("nosym-binutils.a", files).symbols, []);
});

toolTest("keeps duplicate members in order (llvm-ar q)", LLVM_TOOLS, () => {
  makeMemberFiles();
  run("llvm-ar-22", ["qc", "--format=gnu", "dup.a", "a.bc", "odd.txt", "a.bc"]);
  const archive = checkArchive("dup.a", ["a.bc", "odd.txt", "a.bc"]);
  assert.notEqual(archive.members[0].offset, archive.members[2].offset);
});

toolTest("reads empty archives from llvm-ar and binutils ar", ["llvm-ar-22", "ar"], () => {
  run("llvm-ar-22", ["rcs", "empty-llvm.a"]);
  run("ar", ["rcs", "empty-binutils.a"]);
  for (const name of ["empty-llvm.a", "empty-binutils.a"]) {
    assert.deepEqual(readArchive(readBytes(name), name), { members: [], symbols: [] });
  }
});

toolTest(
  "member data are views at the right offsets, also inside a larger buffer",
  LLVM_TOOLS,
  () => {
    const files = makeMemberFiles();
    run("llvm-ar-22", ["rcs", "--format=bsd", "views.a", ...files]);
    const archiveBytes = readBytes("views.a");
    const outer = new Uint8Array(archiveBytes.length + 7);
    outer.set(archiveBytes, 3);
    const archive = readArchive(outer.subarray(3, 3 + archiveBytes.length), "views.a");
    for (const member of archive.members) {
      const bsdNameLength = Number(
        textOf(outer.subarray(3 + member.offset + 3, 3 + member.offset + 16)),
      );
      assert.equal(member.data.buffer, outer.buffer);
      assert.equal(member.data.byteOffset, 3 + member.offset + 60 + bsdNameLength);
    }
  },
);

toolTest("rejects a thin archive from llvm-ar rcsT as unsupported", LLVM_TOOLS, () => {
  makeMemberFiles();
  run("llvm-ar-22", ["rcsT", "thin.a", "a.bc"]);
  assertArchiveError(() => readArchive(readBytes("thin.a"), "thin.a"), {
    file: "thin.a",
    detail: "thin archives are not supported",
  });
});

// ---------------------------------------------------------------------------
// Hand-built and edited archives: every malformation is an ArchiveError

interface ExpectedError {
  file?: string;
  member?: string;
  detail: string | RegExp;
}

function assertArchiveError(action: () => unknown, expected: ExpectedError): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof ArchiveError, `expected ArchiveError, got ${error}`);
    assert.equal(error.file, expected.file ?? "lib.a");
    assert.equal(error.member, expected.member);
    if (typeof expected.detail === "string") assert.equal(error.detail, expected.detail);
    else assert.match(error.detail, expected.detail);
    return true;
  });
}

/** A 60-byte header: name, zero date/uid/gid, mode 644, size, terminator (each overridable). */
function header(name: string, size: number | string, terminator = "`\n"): string {
  const field = (text: string, width: number) => text.padEnd(width, " ").slice(0, width);
  return field(name, 16) + field("0", 12) + field("0", 6) + field("0", 6) + field("644", 8) +
    field(String(size), 10) + terminator;
}

/** An archive from (name field, data) pairs, with `\n` padding to even offsets. */
function buildArchive(members: [string, Uint8Array | string][]): Uint8Array {
  let text = "!<arch>\n";
  for (const [name, data] of members) {
    const body = typeof data === "string" ? data : textOf(data);
    text += header(name, body.length) + body;
    if (text.length % 2 === 1) text += "\n";
  }
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

function be32(...values: number[]): string {
  return values.map((value) =>
    String.fromCharCode(value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff)
  ).join("");
}

function le32(...values: number[]): string {
  return values.map((value) =>
    String.fromCharCode(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24)
  ).join("");
}

const read = (bytes: Uint8Array) => () => readArchive(bytes, "lib.a");

test("reads a hand-built GNU archive with long names, padding and a symbol table", () => {
  const longNames = "a_rather_long_member_name.o/\nanother_long_member_name.o/\n";
  // Offsets: magic 8; `/` 60+23+pad -> 92; `//` 60+57+pad -> 210; members 66 and 64 bytes.
  const symbolTable = be32(2, 210, 276) + "alpha\0beta\0";
  const archive = readArchive(
    buildArchive([
      ["/", symbolTable],
      ["//", longNames],
      ["/0", "12345"],
      ["/29", "xyz"],
      ["short.o/", ""],
    ]),
    "lib.a",
  );
  assert.deepEqual(
    archive.members.map((member) => [member.name, member.offset, textOf(member.data)]),
    [
      ["a_rather_long_member_name.o", 210, "12345"],
      ["another_long_member_name.o", 276, "xyz"],
      ["short.o", 340, ""],
    ],
  );
  assert.deepEqual(archive.symbols, [
    { name: "alpha", memberOffset: 210 },
    { name: "beta", memberOffset: 276 },
  ]);
});

test("reads hand-built BSD short names and a __.SYMDEF SORTED table", () => {
  // Offsets: magic 8; table 60+4+16+4+8 -> 100; members 64 bytes each.
  const table = le32(16, 0, 100, 6, 100 + 60 + 4) + le32(8) + "first\0s\0";
  const archive = readArchive(
    buildArchive([["__.SYMDEF SORTED", table], ["one.o", "1111"], ["#1/8", "two.o\0\0\0" + "22"]]),
    "lib.a",
  );
  assert.deepEqual(archive.members.map((member) => [member.name, textOf(member.data)]), [
    ["one.o", "1111"],
    ["two.o", "22"],
  ]);
  assert.deepEqual(archive.symbols, [
    { name: "first", memberOffset: 100 },
    { name: "s", memberOffset: 164 },
  ]);
});

test("accepts a last member without its padding byte", () => {
  const padded = buildArchive([["odd.o/", "abc"]]);
  assert.equal(padded.at(-1), 0x0a);
  const unpadded = padded.subarray(0, padded.length - 1);
  assert.deepEqual(readArchive(unpadded, "lib.a").members.map((member) => member.name), ["odd.o"]);
});

test("rejects content without the archive magic", () => {
  assertArchiveError(read(bytesOf("!<arch>")), {
    detail: "not an archive (missing '!<arch>' magic)",
  });
  assertArchiveError(read(bytesOf("\x7FELF....")), { detail: /not an archive/ });
});

test("rejects a truncated member header", () => {
  const bytes = buildArchive([["one.o/", "1234"], ["two.o/", "5678"]]);
  assertArchiveError(read(bytes.subarray(0, 8 + 64 + 30)), {
    detail: "truncated archive member header at offset 72",
  });
  assertArchiveError(read(bytes.subarray(0, 8 + 59)), {
    detail: "truncated archive member header at offset 8",
  });
});

test("rejects a member whose size runs past the end", () => {
  const bytes = Uint8Array.from(
    "!<arch>\n" + header("foo.o/", 99999) + "0123456789",
    (c) => c.charCodeAt(0),
  );
  assertArchiveError(read(bytes), {
    member: "foo.o",
    detail: "member 'foo.o' claims 99999 bytes but only 10 remain",
  });
});

test("rejects size fields that are not decimal", () => {
  for (const size of ["-1", "12a", "0x10", "1e3", "", " 12", "1 2", "+5"]) {
    const bytes = Uint8Array.from(
      "!<arch>\n" + header("foo.o/", size) + "x".repeat(20),
      (c) => c.charCodeAt(0),
    );
    assertArchiveError(read(bytes), {
      member: "foo.o",
      detail: `invalid size field '${size.trimEnd()}' in archive member header at offset 8`,
    });
  }
});

test("rejects a header without the `\\n terminator", () => {
  const bytes = Uint8Array.from(
    "!<arch>\n" + header("foo.o/", 2, "\n`") + "xy",
    (c) => c.charCodeAt(0),
  );
  // A header without its terminator is probably not a header: it names no member.
  assertArchiveError(read(bytes), {
    detail: "invalid archive member header at offset 8: missing terminator",
  });
});

test("escapes control characters of broken names in messages", () => {
  const bytes = Uint8Array.from(
    "!<arch>\n" + header("a\x01\x7f.o/", 50) + "short",
    (c) => c.charCodeAt(0),
  );
  assertArchiveError(read(bytes), {
    member: "a\\x01\\x7f.o",
    detail: "member 'a\\x01\\x7f.o' claims 50 bytes but only 5 remain",
  });
});

test("rejects bad GNU long-name references", () => {
  const table: [string, string] = ["//", "long_member_name.o/\n"];
  assertArchiveError(read(buildArchive([table, ["/999", "x"]])), {
    member: "/999",
    detail: "long name offset 999 is beyond the long-name table (20 bytes)",
  });
  assertArchiveError(read(buildArchive([table, ["/5", "x"]])), {
    member: "/5",
    detail: "long name offset 5 is not the start of an entry in the long-name table",
  });
  assertArchiveError(read(buildArchive([["/0", "x"]])), {
    member: "/0",
    detail: "member name '/0' at offset 8 refers to a missing long-name table",
  });
  assertArchiveError(read(buildArchive([["//", "unterminated_name.o"], ["/0", "x"]])), {
    member: "/0",
    detail: "unterminated long name at offset 0",
  });
  assertArchiveError(read(buildArchive([table, table])), {
    detail: /^second long-name table at offset \d+$/,
  });
});

test("rejects bad member names", () => {
  assertArchiveError(read(buildArchive([["/abc", "x"]])), {
    member: "/abc",
    detail: "invalid member name '/abc' at offset 8",
  });
  assertArchiveError(read(buildArchive([["", "x"]])), { detail: "empty member name at offset 8" });
  assertArchiveError(read(buildArchive([["#1/0", "x"]])), {
    detail: "empty member name at offset 8",
  });
  assertArchiveError(read(buildArchive([["#1/x", "x"]])), {
    member: "#1/x",
    detail: "invalid BSD member name '#1/x' at offset 8",
  });
  assertArchiveError(read(buildArchive([["#1/99", "short"]])), {
    member: "#1/99",
    detail: "member name length 99 exceeds the member size 5",
  });
});

test("rejects GNU symbol tables that claim more than they hold", () => {
  assertArchiveError(read(buildArchive([["/", be32(0xffffffff, 8)]])), {
    detail: "symbol table claims 4294967295 symbols but has room for only 1",
  });
  assertArchiveError(read(buildArchive([["/", "\0\0"]])), {
    detail: "truncated symbol table (2 bytes)",
  });
  assertArchiveError(read(buildArchive([["/", be32(2, 88, 88) + "only_one\0"], ["x.o/", ""]])), {
    detail: "symbol table has names for only 1 of 2 symbols",
  });
  const bigCount = "\0\0\0\x01\0\0\0\0"; // 2^32 symbols in a 64-bit table
  assertArchiveError(read(buildArchive([["/SYM64/", bigCount + "\0".repeat(16)]])), {
    detail: "symbol table claims 4294967296 symbols but has room for only 2",
  });
});

test("rejects BSD symbol tables that claim more than they hold", () => {
  assertArchiveError(read(buildArchive([["__.SYMDEF", le32(800, 0, 8, 0)]])), {
    detail: "symbol table claims 100 symbols but has room for only 1",
  });
  assertArchiveError(read(buildArchive([["__.SYMDEF", le32(7, 0)]])), {
    detail: "symbol table entries size 7 is not a multiple of 8",
  });
  assertArchiveError(read(buildArchive([["__.SYMDEF", le32(8, 0, 8, 1000) + "a\0"]])), {
    detail: "symbol table claims 1000 bytes of names but only 2 remain",
  });
  assertArchiveError(read(buildArchive([["__.SYMDEF", le32(8, 5, 8, 2) + "a\0"]])), {
    detail: "symbol table name offset 5 is invalid",
  });
});

test("rejects a symbol that points at no member", () => {
  // The only member starts at 8 + 60 + 14 = 82; the symbol claims offset 80.
  const bytes = buildArchive([["/", be32(1, 80) + "sym\0\0\0"], ["x.o/", "data"]]);
  assert.throws(read(bytes), (error: unknown) => {
    assert.ok(error instanceof ArchiveError);
    assert.equal(error.symbol, "sym");
    assert.equal(
      error.detail,
      "symbol 'sym' refers to offset 80, which is not the start of a member",
    );
    return true;
  });
});

toolTest("edits of a real GNU archive produce the documented messages", LLVM_TOOLS, () => {
  const files = makeMemberFiles();
  run("llvm-ar-22", ["rcs", "--format=gnu", "edit.a", ...files]);
  const original = readBytes("edit.a");
  const archive = readArchive(original, "edit.a");
  const member = archive.members.find((m) => m.name === "sixteen_chars.bc")!;
  const sizeField = member.offset + 48;

  const huge = original.slice();
  huge.set(bytesOf("9999999999"), sizeField);
  const remaining = original.length - member.offset - 60;
  assertArchiveError(() => readArchive(huge, "edit.a"), {
    file: "edit.a",
    member: "sixteen_chars.bc",
    detail: `member 'sixteen_chars.bc' claims 9999999999 bytes but only ${remaining} remain`,
  });

  const cut = original.subarray(0, member.offset + 20);
  assertArchiveError(() => readArchive(cut, "edit.a"), {
    file: "edit.a",
    detail: `truncated archive member header at offset ${member.offset}`,
  });

  const badCount = original.slice();
  badCount.set([0x7f, 0xff, 0xff, 0xff], 68); // first word of the `/` table's data
  assertArchiveError(() => readArchive(badCount, "edit.a"), {
    file: "edit.a",
    detail: /^symbol table claims 2147483647 symbols but has room for only \d+$/,
  });
});
