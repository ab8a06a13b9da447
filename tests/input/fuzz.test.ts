// Deterministic fuzzing of the input layer. Real archives (llvm-ar GNU/BSD/Darwin, /SYM64/,
// binutils ar) and real ELF objects with .llvmbc are mutated thousands of times with a seeded
// PRNG: truncations at every header boundary and at random points, bit flips, size fields
// overwritten with huge/negative/non-decimal values, bogus long-name offsets, bogus symbol
// counts and ELF header/section fields set to extremes. Every call must return (with a
// consistent result) or throw an InputError/ArchiveError: never anything else.

import { test } from "node:test";
import assert from "node:assert/strict";

import { type ArchiveMember, readArchive } from "../../src/input/archive.ts";
import { ArchiveError, InputError } from "../../src/errors.ts";
import { detectInputKind, extractElfBitcode, type InputKind } from "../../src/input/kind.ts";
import { flipBits, makeRandom, type Random } from "../support/fuzz.ts";
import { toolTest, workspace } from "../support/tools.ts";

// ---------------------------------------------------------------------------
// Helpers: scratch directory, tools, PRNG

const { run, readBytes, writeText } = workspace("bpf-linker-input-fuzz-");

function latin1(bytes: Uint8Array): string {
  return String.fromCharCode(...bytes);
}

function asciiBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0));
}

/** Overwrite a fixed-width, space-padded text field of an ar header. */
function setTextField(bytes: Uint8Array, at: number, width: number, text: string): void {
  bytes.set(asciiBytes(text.padEnd(width, " ").slice(0, width)), at);
}

function setUint(
  bytes: Uint8Array,
  at: number,
  width: 2 | 4 | 8,
  value: bigint,
  littleEndian: boolean,
): void {
  if (at < 0 || at + width > bytes.length) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const masked = BigInt.asUintN(width * 8, value);
  if (width === 2) view.setUint16(at, Number(masked), littleEndian);
  else if (width === 4) view.setUint32(at, Number(masked), littleEndian);
  else view.setBigUint64(at, masked, littleEndian);
}

// ---------------------------------------------------------------------------
// The oracle: return or throw an InputError, and whatever returns is consistent

const INPUT_KINDS: readonly InputKind[] = [
  "archive",
  "thin-archive",
  "bitcode",
  "elf",
  "macho",
  "ir",
  "unknown",
];

/** Run `action`; an InputError (of `errorClass`) is fine, anything else fails the test. */
function returnsOrInputError<T>(
  action: () => T,
  errorClass: typeof InputError,
  label: string,
): T | undefined {
  try {
    return action();
  } catch (error) {
    if (error instanceof errorClass) return undefined;
    assert.fail(`${label}: expected ${errorClass.name}, got ${(error as Error)?.stack ?? error}`);
  }
}

function assertViewInside(view: Uint8Array, outer: Uint8Array, label: string): void {
  assert.equal(view.buffer, outer.buffer, `${label}: result is not a view of the input`);
  assert.ok(view.byteOffset >= outer.byteOffset, `${label}: view starts before the input`);
  assert.ok(
    view.byteOffset + view.length <= outer.byteOffset + outer.length,
    `${label}: view ends after the input`,
  );
}

/** Whether some entry of the section header table has exactly this offset and size. */
function describedBySectionHeader(elf: Uint8Array, offset: number, size: number): boolean {
  const view = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const is64 = elf[4] === 2;
  const littleEndian = elf[5] === 1;
  const tableOffset = is64
    ? Number(view.getBigUint64(40, littleEndian))
    : view.getUint32(32, littleEndian);
  const entrySize = view.getUint16(is64 ? 58 : 46, littleEndian);
  const word = (at: number) =>
    is64 ? Number(view.getBigUint64(at, littleEndian)) : view.getUint32(at, littleEndian);
  const [offsetField, sizeField] = is64 ? [24, 32] : [16, 20];
  for (let at = tableOffset; entrySize > 0 && at + sizeField + 8 <= elf.length; at += entrySize) {
    if (word(at + offsetField) === offset && word(at + sizeField) === size) return true;
  }
  return false;
}

function checkElf(bytes: Uint8Array, label: string, member?: string): void {
  const where = { file: "fuzz.o", member };
  const section = returnsOrInputError(() => extractElfBitcode(bytes, where), InputError, label);
  if (!section) return;
  assertViewInside(section, bytes, label);
  const offset = section.byteOffset - bytes.byteOffset;
  assert.ok(describedBySectionHeader(bytes, offset, section.length), `${label}: no such section`);
}

/** A member's data is exactly what its header's size (less a BSD `#1/LEN` name) says. */
function assertMatchesHeader(member: ArchiveMember, bytes: Uint8Array, label: string): void {
  const header = bytes.subarray(member.offset, member.offset + 60);
  const nameField = latin1(header.subarray(0, 16)).trimEnd();
  const declaredSize = Number(latin1(header.subarray(48, 58)).trimEnd());
  const nameLength = nameField.startsWith("#1/") ? Number(nameField.slice(3)) : 0;
  assert.equal(member.data.byteOffset, bytes.byteOffset + member.offset + 60 + nameLength, label);
  assert.equal(member.data.length, declaredSize - nameLength, label);
}

/** Feed one (mutated) input to every entry point of the input layer. */
function checkInput(bytes: Uint8Array, label: string): void {
  assert.ok(INPUT_KINDS.includes(detectInputKind(bytes)), label);
  checkElf(bytes, label);
  const archive = returnsOrInputError(() => readArchive(bytes, "fuzz.a"), ArchiveError, label);
  if (!archive) return;
  const memberOffsets = new Set<number>();
  for (const member of archive.members) {
    assert.ok(member.name.length > 0, `${label}: empty member name`);
    assert.ok(member.offset >= 8 && member.offset + 60 <= bytes.length, `${label}: offset`);
    assertViewInside(member.data, bytes, `${label} (${member.name})`);
    assertMatchesHeader(member, bytes, `${label} (${member.name})`);
    memberOffsets.add(member.offset);
    const kind = detectInputKind(member.data);
    assert.ok(INPUT_KINDS.includes(kind), label);
    if (kind === "elf") checkElf(member.data, `${label} (${member.name})`, member.name);
  }
  for (const symbol of archive.symbols) {
    assert.ok(memberOffsets.has(symbol.memberOffset), `${label}: symbol '${symbol.name}'`);
  }
}

/** Runs each mutation of a seed input on a fresh copy; returns how many ran. */
class Mutator {
  count = 0;
  constructor(readonly seed: Uint8Array, readonly seedName: string) {}

  mutate(description: string, edit: (bytes: Uint8Array) => Uint8Array | void): void {
    const copy = this.seed.slice();
    const mutated = edit(copy) ?? copy;
    this.count++;
    checkInput(mutated, `${this.seedName}: ${description}`);
  }

  truncate(at: number): void {
    if (at < 0 || at > this.seed.length) return;
    this.mutate(`truncated to ${at} bytes`, (bytes) => bytes.subarray(0, at));
  }
}

// ---------------------------------------------------------------------------
// Archive mutations

interface RawHeader {
  offset: number;
  nameField: string;
  size: number;
  dataStart: number;
}

/** Every member header of a valid archive, including symbol and long-name tables. */
function listHeaders(bytes: Uint8Array): RawHeader[] {
  const headers: RawHeader[] = [];
  let offset = 8;
  while (offset + 60 <= bytes.length) {
    const nameField = latin1(bytes.subarray(offset, offset + 16)).trimEnd();
    const size = Number(latin1(bytes.subarray(offset + 48, offset + 58)).trim());
    headers.push({ offset, nameField, size, dataStart: offset + 60 });
    offset += 60 + size;
    if (offset % 2 === 1) offset++;
  }
  return headers;
}

const BOGUS_SIZES = [
  "0",
  "1",
  "-1",
  "-0",
  "abc",
  "12a",
  "0x10",
  "1e3",
  "",
  " 1",
  "1 1",
  "+4",
  "4294967296",
  "9999999999",
  "18446744073",
  "\0\0\0",
];

const BOGUS_NAMES = [
  "/",
  "//",
  "/SYM64/",
  "/0",
  "/1",
  "/9999999",
  "/-1",
  "/ab",
  "#1/0",
  "#1/1",
  "#1/99999",
  "#1/x",
  "__.SYMDEF",
  "__.SYMDEF SORTED",
  "__.SYMDEF_64",
  "",
  "a/",
];

const EXTREME_WORDS = [0n, 1n, 7n, 8n, 0x7fffffffn, 0xffffffffn, 1n << 32n, (1n << 64n) - 1n];

function mutateArchive(seed: Uint8Array, seedName: string, randomSeed: number): number {
  const random = makeRandom(randomSeed);
  const mutator = new Mutator(seed, seedName);
  const headers = listHeaders(seed);
  assert.ok(headers.length >= 3, `${seedName}: too few members to fuzz`);

  // Truncation at and around every header boundary and field, and at random points.
  for (const header of headers) {
    const at = header.offset;
    for (const delta of [-1, 0, 1, 15, 16, 47, 48, 57, 58, 59, 60, 61, 63, 64]) {
      mutator.truncate(at + delta);
    }
    const dataEnd = header.dataStart + header.size;
    for (const delta of [-1, 0, 1]) mutator.truncate(dataEnd + delta);
  }
  for (let i = 0; i < 300; i++) mutator.truncate(random.below(seed.length));

  for (const header of headers) {
    // Size fields: bogus text, and off-by-a-few sizes that misalign the next header.
    for (const size of BOGUS_SIZES) {
      mutator.mutate(`size '${size}' at ${header.offset}`, (bytes) => {
        setTextField(bytes, header.offset + 48, 10, size);
      });
    }
    for (const delta of [-61, -60, -3, -2, -1, 1, 2, 3, 60, 61, 1000]) {
      const size = String(Math.max(0, header.size + delta));
      mutator.mutate(`size ${size} at ${header.offset}`, (bytes) => {
        setTextField(bytes, header.offset + 48, 10, size);
      });
    }
    // Names: special names in the wrong place, bogus long-name offsets and BSD lengths.
    for (const name of BOGUS_NAMES) {
      mutator.mutate(`name '${name}' at ${header.offset}`, (bytes) => {
        setTextField(bytes, header.offset, 16, name);
      });
    }
    for (let i = 0; i < 6; i++) {
      const name = random.pick(["/", "#1/"]) + String(random.below(i < 3 ? 200 : 1 << 20));
      mutator.mutate(`name '${name}' at ${header.offset}`, (bytes) => {
        setTextField(bytes, header.offset, 16, name);
      });
    }
    // Terminator.
    mutator.mutate(`terminator at ${header.offset}`, (bytes) => {
      bytes.set(asciiBytes(random.pick(["\n`", "  ", "`\0", "\0\0"])), header.offset + 58);
    });
    // Bit flips inside this header.
    for (let i = 0; i < 20; i++) {
      mutator.mutate(`header flips at ${header.offset} #${i}`, (bytes) => {
        flipBits(bytes, random, 1 + random.below(3), header.offset, header.offset + 60);
      });
    }
  }

  mutateSymbolTable(mutator, headers, random);

  // Random bit flips anywhere, and in the first kilobyte where the tables are.
  for (let i = 0; i < 400; i++) {
    mutator.mutate(`random flips #${i}`, (bytes) => {
      flipBits(bytes, random, 1 + random.below(4), 0, i % 2 ? bytes.length : 1024);
    });
  }
  return mutator.count;
}

/** Counts, sizes and offsets of whichever symbol table the archive starts with. */
function mutateSymbolTable(mutator: Mutator, headers: RawHeader[], random: Random): void {
  const table = headers[0];
  const bsdNameLength = table.nameField.startsWith("#1/") ? Number(table.nameField.slice(3)) : 0;
  const start = table.dataStart + bsdNameLength;
  const isGnu = table.nameField === "/" || table.nameField === "/SYM64/";
  const wordSize = table.nameField === "/SYM64/" ||
      latin1(mutator.seed.subarray(table.dataStart, start)).startsWith("__.SYMDEF_64")
    ? 8
    : 4;
  const littleEndian = !isGnu;
  const words = Math.floor((table.size - bsdNameLength) / wordSize);
  const word = (index: number) => start + index * wordSize;

  // The count (GNU) or the entries' byte size (BSD) in the first word.
  const values = [...EXTREME_WORDS];
  for (let i = 0; i < 10; i++) values.push(BigInt(random.below(4096)));
  for (const value of values) {
    mutator.mutate(`symbol table first word ${value}`, (bytes) => {
      setUint(bytes, word(0), wordSize, value, littleEndian);
    });
  }
  // Every other word: member offsets, name offsets, the BSD string table size.
  for (let i = 1; i < words; i++) {
    for (let j = 0; j < 3; j++) {
      const value = j === 0
        ? random.pick(EXTREME_WORDS)
        : BigInt(random.below(mutator.seed.length + 100));
      mutator.mutate(`symbol table word ${i} = ${value}`, (bytes) => {
        setUint(bytes, word(i), wordSize, value, littleEndian);
      });
    }
  }
  // Remove the NULs that end symbol names.
  for (let i = 0; i < 20; i++) {
    mutator.mutate(`symbol names lose a NUL #${i}`, (bytes) => {
      const names = bytes.subarray(start, table.dataStart + table.size);
      const nul = names.indexOf(0, random.below(names.length));
      if (nul >= 0) names[nul] = 0x41;
    });
  }
}

// ---------------------------------------------------------------------------
// ELF mutations

interface ElfShape {
  is64: boolean;
  littleEndian: boolean;
  sectionTable: number;
  entrySize: number;
  count: number;
}

function elfShape(bytes: Uint8Array): ElfShape {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const is64 = bytes[4] === 2;
  const littleEndian = bytes[5] === 1;
  const sectionTable = is64
    ? Number(view.getBigUint64(40, littleEndian))
    : view.getUint32(32, littleEndian);
  return {
    is64,
    littleEndian,
    sectionTable,
    entrySize: view.getUint16(is64 ? 58 : 46, littleEndian),
    count: view.getUint16(is64 ? 60 : 48, littleEndian),
  };
}

function mutateElf(seed: Uint8Array, seedName: string, randomSeed: number): number {
  const random = makeRandom(randomSeed);
  const mutator = new Mutator(seed, seedName);
  const shape = elfShape(seed);
  const { is64, littleEndian } = shape;
  const wordSize = is64 ? 8 : 4;
  const field = { shoff: is64 ? 40 : 32, shentsize: is64 ? 58 : 46, shnum: is64 ? 60 : 48 };
  const shstrndx = is64 ? 62 : 50;
  const sectionAt = (index: number) => shape.sectionTable + index * shape.entrySize;

  // Truncations: every byte of the ELF header, every section header boundary, random points.
  for (let at = 0; at <= (is64 ? 64 : 52); at++) mutator.truncate(at);
  for (let index = 0; index <= shape.count; index++) {
    for (const delta of [-1, 0, 1, 4, 20]) mutator.truncate(sectionAt(index) + delta);
  }
  for (let i = 0; i < 200; i++) mutator.truncate(random.below(seed.length));

  // Identification bytes: class and data encoding (also reading a file as the other class).
  for (const [at, values] of [[4, [0, 1, 2, 3, 255]], [5, [0, 1, 2, 3, 255]]] as const) {
    for (const value of values) {
      mutator.mutate(`e_ident[${at}] = ${value}`, (bytes) => {
        bytes[at] = value;
      });
    }
  }

  // Header fields at extremes and near their real values.
  const size = BigInt(seed.length);
  const shoffValues = [0n, 1n, size, size - 1n, BigInt(shape.sectionTable + 1), ...EXTREME_WORDS];
  for (const value of shoffValues) {
    mutator.mutate(`e_shoff = ${value}`, (bytes) => {
      setUint(bytes, field.shoff, wordSize, value, littleEndian);
    });
  }
  for (const value of [0, 1, 39, 40, 63, 64, 65, 128, 0xffff]) {
    mutator.mutate(`e_shentsize = ${value}`, (bytes) => {
      setUint(bytes, field.shentsize, 2, BigInt(value), littleEndian);
    });
  }
  for (const value of [0, 1, shape.count - 1, shape.count + 1, 0xff00, 0xffff]) {
    mutator.mutate(`e_shnum = ${value}`, (bytes) => {
      setUint(bytes, field.shnum, 2, BigInt(value), littleEndian);
    });
  }
  for (const value of [0, 1, shape.count - 1, shape.count, 0xff00, 0xffff]) {
    mutator.mutate(`e_shstrndx = ${value}`, (bytes) => {
      setUint(bytes, shstrndx, 2, BigInt(value), littleEndian);
    });
  }

  // Section header fields (name, type, offset, size, link) at extremes, for every section.
  const sectionFields = is64
    ? [[0, 4], [4, 4], [24, 8], [32, 8], [40, 4]] as const
    : [[0, 4], [4, 4], [16, 4], [20, 4], [24, 4]] as const;
  for (let index = 0; index < shape.count; index++) {
    for (const [offset, width] of sectionFields) {
      for (let i = 0; i < 3; i++) {
        const value = i === 0 ? random.pick(EXTREME_WORDS) : i === 1
          ? 8n // SHT_NOBITS, and small offsets
          : BigInt(random.below(seed.length + 64));
        mutator.mutate(`section ${index} field +${offset} = ${value}`, (bytes) => {
          setUint(bytes, sectionAt(index) + offset, width, value, littleEndian);
        });
      }
    }
  }

  // Bit flips: header, section table, anywhere.
  const tableEnd = sectionAt(shape.count);
  for (let i = 0; i < 600; i++) {
    mutator.mutate(`flips #${i}`, (bytes) => {
      const [from, to] = i % 3 === 0
        ? [0, is64 ? 64 : 52]
        : i % 3 === 1
        ? [shape.sectionTable, tableEnd]
        : [0, bytes.length];
      flipBits(bytes, random, 1 + random.below(3), from, to);
    });
  }
  return mutator.count;
}

// ---------------------------------------------------------------------------
// Seeds made by the real tools, once

const TOOLS = ["clang-22", "gcc", "ar", "llvm-ar-22"];

let seedFiles: string[] | undefined;

function makeMemberFiles(): string[] {
  if (seedFiles) return seedFiles;
  writeText("count.c", "int counter;\nint add(int x) { return counter += x; }\n");
  writeText("native.c", "int native_answer(void) { return 42; }\n");
  const bpf = ["-target", "bpf", "-O2"];
  run("clang-22", [...bpf, "-emit-llvm", "-c", "count.c", "-o", "a.bc"]);
  run("clang-22", [...bpf, "-fembed-bitcode", "-c", "count.c", "-o", "embedded_bitcode_object.o"]);
  run("gcc", ["-c", "native.c", "-o", "native_object_with_long_name.o"]);
  writeText("odd.txt", "abc");
  seedFiles = ["a.bc", "embedded_bitcode_object.o", "native_object_with_long_name.o", "odd.txt"];
  return seedFiles;
}

function makeArchive(name: string, args: string[], env: Record<string, string> = {}): Uint8Array {
  const files = makeMemberFiles();
  run(args[0], [...args.slice(1), name, ...files], env);
  const bytes = readBytes(name);
  // The unmutated seed must itself read cleanly.
  assert.equal(readArchive(bytes, name).members.length, files.length);
  return bytes;
}

function makeElf(target: string, name: string): Uint8Array {
  makeMemberFiles();
  run("clang-22", ["-target", target, "-O2", "-fembed-bitcode", "-c", "count.c", "-o", name]);
  const bytes = readBytes(name);
  assert.ok(extractElfBitcode(bytes, { file: name }), `${name} has no .llvmbc`);
  return bytes;
}

const ARCHIVE_SEEDS: [string, string[], Record<string, string>?][] = [
  ["gnu-llvm-ar.a", ["llvm-ar-22", "rcs", "--format=gnu"]],
  ["gnu-sym64.a", ["llvm-ar-22", "rcs", "--format=gnu"], { SYM64_THRESHOLD: "0" }],
  ["gnu-binutils.a", ["ar", "rcs"]],
  ["bsd.a", ["llvm-ar-22", "rcs", "--format=bsd"]],
  ["darwin.a", ["llvm-ar-22", "rcs", "--format=darwin"]],
  ["darwin-sym64.a", ["llvm-ar-22", "rcs", "--format=darwin"], { SYM64_THRESHOLD: "0" }],
];

for (const [index, [name, command, env]] of ARCHIVE_SEEDS.entries()) {
  toolTest(`fuzz: archive ${name} (${command.join(" ")})`, TOOLS, () => {
    const count = mutateArchive(makeArchive(name, command, env), name, 1000 + index);
    assert.ok(count >= 1000, `only ${count} mutations`);
  });
}

const ELF_SEEDS: [string, string][] = [
  ["bpf", "embed-bpfel.o"],
  ["bpfeb", "embed-bpfeb.o"],
  ["i386-linux-gnu", "embed-i386.o"],
  ["armebv7-linux-gnueabi", "embed-armeb.o"],
];

for (const [index, [target, name]] of ELF_SEEDS.entries()) {
  toolTest(`fuzz: ELF with .llvmbc for ${target}`, TOOLS, () => {
    const count = mutateElf(makeElf(target, name), name, 2000 + index);
    assert.ok(count >= 500, `only ${count} mutations`);
  });
}

test("fuzz: random bytes behind every magic", () => {
  const random = makeRandom(3000);
  const magics = [
    "!<arch>\n",
    "!<thin>\n",
    "!<arch>\n/               0           0     0     0       ",
    "!<arch>\n#1/20           0           0     0     644     40        `\n",
    "\x7FELF\x01\x01\x01",
    "\x7FELF\x01\x02\x01",
    "\x7FELF\x02\x01\x01",
    "\x7FELF\x02\x02\x01",
    "BC\xC0\xDE",
    "\xDE\xC0\x17\x0B",
    "\xEF\xBB\xBF; ModuleID",
  ];
  let count = 0;
  for (const magic of magics) {
    const prefix = asciiBytes(magic);
    for (let i = 0; i < 150; i++) {
      const bytes = new Uint8Array(prefix.length + random.below(i < 100 ? 128 : 2048));
      bytes.set(prefix);
      for (let at = prefix.length; at < bytes.length; at++) bytes[at] = random.below(256);
      checkInput(bytes, `random after ${JSON.stringify(magic)} #${i}`);
      count++;
    }
  }
  assert.ok(count >= 1000);
});
