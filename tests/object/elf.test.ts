// The one ELF reader (src/object/elf.ts) on 32-bit objects, both byte orders,
// against llvm-readelf: the BPF objects it reads back are ELF64 (see
// formats.test.ts), but inputs may be any ELF a compiler made.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ElfFormatError, ElfObject, symbolBindName, symbolTypeName } from "../../src/object/elf.ts";
import { fileTempDir, LLVM_BIN, tool, toolTest } from "../support/tools.ts";

const dir = fileTempDir("bpfl-elf-");

const SOURCE = `int counter = 1;
static int hidden = 2;
extern int ext(int);
__attribute__((noinline)) int helper(int x) { return x + counter + ext(hidden); }
`;

for (
  const [target, littleEndian] of [["i386-linux-gnu", true], [
    "armeb-linux-gnueabi",
    false,
  ]] as const
) {
  toolTest(`ELF32 (${target}): sections, symbols and relocations as llvm-readelf sees them`, [
    "clang-22",
  ], () => {
    const src = join(dir, `${target}.c`);
    const obj = join(dir, `${target}.o`);
    writeFileSync(src, SOURCE);
    tool("clang-22", ["-target", target, "-O2", "-c", src, "-o", obj]);
    const elf = new ElfObject(readFileSync(obj));
    assert.equal(elf.is64, false);
    assert.equal(elf.littleEndian, littleEndian);
    const readelf = (args: string[]) => tool(join(LLVM_BIN, "llvm-readelf"), [...args, "-W", obj]);

    const sections = [
      ...readelf(["-S"]).matchAll(/^\s*\[\s*(\d+)\]\s+(\S+)\s+\S+\s+\S+\s+(\S+)\s+(\S+)/gm),
    ]
      .filter((m) => m[1] !== "0") // the null section has no name column
      .map((m) => `${m[1]} ${m[2]} ${parseInt(m[3], 16)} ${parseInt(m[4], 16)}`);
    assert.deepEqual(
      elf.sections.slice(1).map((s) => `${s.index} ${s.name} ${s.offset} ${s.size}`),
      sections,
    );

    const symbols = readelf(["-s"]).split("\n").map((l) => l.trim().split(/\s+/))
      .filter((f) => /^\d+:$/.test(f[0]))
      .map((f) => `${parseInt(f[1], 16)} ${f[2]} ${f[3]} ${f[4]} ${f[6]} ${f[7] ?? ""}`.trim());
    assert.ok(symbols.some((s) => s.endsWith(" helper")));
    assert.deepEqual(
      elf.symbols.map((s) =>
        `${s.value} ${s.size} ${symbolTypeName(s.type)} ${symbolBindName(s.bind)} ${
          elf.sectionNameOf(s) === "UND" ? "UND" : elf.sectionNameOf(s) === "ABS" ? "ABS" : s.shndx
        } ${s.type === 3 ? elf.sections[s.shndx].name : s.name}`.trim() // SECTION symbols: readelf shows the section
      ),
      symbols,
    );

    // .rel.text: llvm-readelf prints each entry's offset and r_info in hex.
    const text = readelf(["-r"]);
    const start = text.indexOf("'.rel.text'");
    const block = text.slice(start, text.indexOf("\n\n", start));
    const expected = [...block.matchAll(/^([0-9a-f]{8})\s+([0-9a-f]{8})\s/gm)]
      .map((m) => `${parseInt(m[1], 16)} ${parseInt(m[2], 16)}`);
    assert.ok(expected.length > 0);
    const relocations = elf.relocationsFor(elf.section(".text")!.index)
      .map((r) => `${r.offset} ${(r.symbol << 8 | r.type) >>> 0}`);
    assert.deepEqual(relocations, expected);
  });
}

toolTest("a malformed ELF is an ElfFormatError, never a crash", [], () => {
  const bytes = new Uint8Array(64);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  new DataView(bytes.buffer).setBigUint64(40, 1n << 40n, true); // e_shoff past the end
  new DataView(bytes.buffer).setUint16(58, 64, true);
  assert.throws(
    () => new ElfObject(bytes),
    (e: unknown) => e instanceof ElfFormatError && /beyond the end/.test(e.message),
  );
  assert.throws(
    () => new ElfObject(bytes.subarray(0, 10)),
    /truncated ELF identification \(10 bytes\)/,
  );
});
