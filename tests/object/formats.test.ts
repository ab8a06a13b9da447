// The readers and writers behind the explain options, against real tools: the ELF
// reader (src/object/elf.ts) against llvm-readelf, both byte orders; the BTF decoder
// (btf.ts) against bpftool; the tar writer (tar.ts) against GNU tar, long names too;
// response-file quoting against our own tokenizer; module definitions
// (module_symbols.ts) against llvm-nm; the name rules of the BTF lint.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import {
  type Btf,
  BTF_KIND,
  type BtfType,
  parseBtf,
  parseBtfExtFuncInfo,
} from "../../src/object/btf.ts";
import { identifierProblem, lintBtf } from "../../src/object/btf_lint.ts";
import { ElfObject, SHF_EXECINSTR, symbolBindName, symbolTypeName } from "../../src/object/elf.ts";
import { moduleDefinitions } from "../../src/explain/module_symbols.ts";
import { Provenance } from "../../src/explain/provenance.ts";
import { bundlePath, quoteResponseArgument } from "../../src/explain/reproduce.ts";
import { makeTar } from "../../src/explain/tar.ts";
import { tokenizeResponseFile } from "../../src/response_file.ts";
import { btfDump, compileC, fileTempDir, LLVM_BIN, parseBtfDump, tool } from "../support/tools.ts";

const dir = fileTempDir("bpfl-formats-");

const SOURCE = `#define SEC(name) __attribute__((section(name), used))
struct xdp_md { unsigned data, data_end; };
struct pair { int a; int b; };
enum mode { OFF, ON = 5 };
typedef struct pair pair_t;
int counter = 1;
static int hidden = 2;
const char tag[8] = "abc";
__attribute__((noinline)) static int twice(const pair_t *p, enum mode m) { return p->a * 2 + m + hidden; }
__attribute__((noinline)) int helper(int x) { return x + counter; }
int bump(void) { return ++hidden; }
SEC("xdp") int prog(struct xdp_md *ctx) { pair_t p = {(int)ctx->data_end, 2}; return twice(&p, ON) + helper(tag[1]); }
char LICENSE[] SEC("license") = "GPL";
`;

/** SOURCE compiled for `endian` (once). */
function objectFor(endian: "bpfel" | "bpfeb"): string {
  const out = join(dir, `${endian}.o`);
  if (existsSync(out)) return out;
  const src = join(dir, `${endian}.c`);
  writeFileSync(src, SOURCE);
  tool("clang-22", ["-target", endian, "-O2", "-g", "-c", src, "-o", out]);
  return out;
}

for (const endian of ["bpfel", "bpfeb"] as const) {
  test(`ELF reader (${endian}): sections, symbols and relocations as llvm-readelf sees them`, () => {
    const obj = objectFor(endian);
    const elf = new ElfObject(readFileSync(obj));
    assert.equal(elf.littleEndian, endian === "bpfel");
    assert.equal(elf.machine, 247); // EM_BPF
    const readelf = (args: string[]) => tool(join(LLVM_BIN, "llvm-readelf"), [...args, "-W", obj]);
    const sections = [
      ...readelf(["-S"]).matchAll(/^\s*\[\s*(\d+)\]\s+(\S*)\s+(\S+)\s+\S+\s+(\S+)\s+(\S+)/gm),
    ]
      .filter((m) => m[1] !== "0") // the null section has no name column
      .map((m) => ({
        index: Number(m[1]),
        name: m[2],
        offset: parseInt(m[4], 16),
        size: parseInt(m[5], 16),
      }));
    assert.deepEqual(
      elf.sections.slice(1).map((s) => ({
        index: s.index,
        name: s.name,
        offset: s.offset,
        size: s.size,
      })),
      sections,
    );
    const symbols = readelf(["-s"]).split("\n").map((l) => l.trim().split(/\s+/)).filter((f) =>
      /^\d+:$/.test(f[0])
    )
      .map((f) => `${f[1]} ${Number(f[2])} ${f[3]} ${f[4]} ${f[6]} ${f[7] ?? ""}`.trim());
    assert.deepEqual(
      elf.symbols.map((s) =>
        `${s.value.toString(16).padStart(16, "0")} ${s.size} ${symbolTypeName(s.type)} ${
          symbolBindName(s.bind)
        } ${s.shndx === 0 ? "UND" : s.shndx === 0xfff1 ? "ABS" : s.shndx} ${
          s.type === 3 ? elf.sections[s.shndx].name : s.name
        }`.trim() // SECTION symbols: readelf shows the section
      ),
      symbols,
    );
    // Relocations of the program section: llvm-readelf -r lists the same offsets.
    const xdp = elf.section("xdp")!;
    assert.ok((xdp.flags & SHF_EXECINSTR) !== 0);
    const relocs = elf.relocationsFor(xdp.index).map((r) =>
      `${r.offset.toString(16).padStart(16, "0")} ${
        elf.symbols[r.symbol].name || elf.sections[elf.symbols[r.symbol].shndx].name
      }`
    );
    const text = readelf(["-r"]);
    const block = text.slice(
      text.indexOf("'.relxdp'"),
      text.indexOf("\n\n", text.indexOf("'.relxdp'")),
    );
    const expected = [...block.matchAll(/^([0-9a-f]{16})\s+\S+\s+\S+\s+[0-9a-f]+\s+(\S+)/gm)].map((
      m,
    ) => `${m[1]} ${m[2]}`);
    assert.ok(expected.length > 0);
    assert.deepEqual(relocs, expected);
  });

  test(`BTF decoder (${endian}): every type as bpftool dumps it, and the functions of .BTF.ext`, () => {
    const obj = objectFor(endian);
    const elf = new ElfObject(readFileSync(obj));
    const btf = parseBtf(elf.section(".BTF")!.data);
    assert.equal(btf.littleEndian, endian === "bpfel");
    const dumped = parseBtfDump(btfDump(obj));
    assert.equal(btf.types.length - 1, dumped.length);
    for (const t of dumped) {
      const ours = btf.types[t.id];
      assert.equal(ours.kindName, t.kind, t.line);
      assert.equal(ours.name || "(anon)", t.name, t.line);
      const names = ours.kind === BTF_KIND.ENUM || ours.kind === BTF_KIND.ENUM64
        ? ours.values.map((v) => v.name)
        : ours.members.map((m) => m.name);
      if (t.kind !== "DATASEC") {
        assert.deepEqual(
          names.map((n) => n || "(anon)"),
          t.members.map((m) => /^'([^']*)'/.exec(m)?.[1] ?? ""),
          t.line,
        );
      }
    }
    const find = (kind: number, name: string) =>
      btf.types.find((t) => t.kind === kind && t.name === name)!;
    assert.deepEqual(find(BTF_KIND.ENUM, "mode").values.map((v) => [v.name, v.value]), [
      ["OFF", 0n],
      ["ON", 5n],
    ]);
    assert.deepEqual(find(BTF_KIND.STRUCT, "pair").members.map((m) => m.offset), [0, 32]);
    assert.equal(find(BTF_KIND.FUNC, "prog").vlen, 1); // global
    assert.equal(find(BTF_KIND.FUNC, "twice").vlen, 0); // static
    // func_info: each function's section and offset, as the symbol table has them.
    const info = parseBtfExtFuncInfo(elf.section(".BTF.ext")!.data, btf);
    const where = (name: string) => info.find((f) => btf.types[f.typeId].name === name);
    assert.deepEqual(where("prog"), {
      section: "xdp",
      offset: 0,
      typeId: find(BTF_KIND.FUNC, "prog").id,
    });
    for (const name of ["twice", "helper"]) {
      const symbol = elf.symbols.find((s) => s.name === name)!;
      assert.deepEqual(where(name), {
        section: ".text",
        offset: symbol.value,
        typeId: find(BTF_KIND.FUNC, name).id,
      });
    }
  });
}

test("tar writer: GNU tar lists and extracts it, long names through pax, directories", () => {
  const long = `${"deep/".repeat(40)}${"n".repeat(120)}.bc`; // no ustar split fits
  const split = `${"d".repeat(90)}/${"e".repeat(90)}.bc`; // fits prefix + name
  const entries = [
    { path: "response.txt", data: new TextEncoder().encode("-o\nx.o\n") },
    { path: "dump/" },
    { path: split, data: new Uint8Array([1, 2, 3]) },
    { path: long, data: new Uint8Array(1000).fill(7) },
    { path: "empty", data: new Uint8Array(0) },
  ];
  const tar = join(dir, "t.tar");
  writeFileSync(tar, makeTar(entries));
  assert.deepEqual(tool("tar", ["-tf", tar]).trimEnd().split("\n"), [
    "response.txt",
    "dump/",
    split,
    long,
    "empty",
  ]);
  const out = join(dir, "untar");
  mkdirSync(out);
  tool("tar", ["-xf", tar, "-C", out]);
  assert.equal(readFileSync(join(out, "response.txt"), "utf8"), "-o\nx.o\n");
  assert.deepEqual([...readFileSync(join(out, split))], [1, 2, 3]);
  assert.ok(readFileSync(join(out, long)).equals(Buffer.alloc(1000, 7)));
  assert.equal(readFileSync(join(out, "empty")).length, 0);
  // Same entries, same bytes; a size that is a multiple of 512 ends with two zero blocks.
  assert.ok(Buffer.from(makeTar(entries)).equals(readFileSync(tar)));
  assert.equal(readFileSync(tar).length % 512, 0);
});

test("response.txt quoting reads back through the response-file tokenizer", () => {
  const args = [
    "-o",
    "x y.o",
    "",
    "it's",
    'say "hi"',
    "back\\slash",
    "tab\there",
    "new\nline",
    "plain-arg_1.bc",
    "=,:",
  ];
  const text = args.map(quoteResponseArgument).join("\n");
  assert.deepEqual(tokenizeResponseFile(text, "r"), args);
  assert.equal(quoteResponseArgument("tmp/a/main.bc"), "tmp/a/main.bc");
  assert.equal(bundlePath("../x/./y.bc", "/work/a"), "work/x/y.bc");
  assert.equal(bundlePath("/abs/z.bc", "/elsewhere"), "abs/z.bc");
});

test("module definitions: global and local ones as llvm-nm sees them, bitcode and IR", () => {
  const bc = compileC(dir, "defs", SOURCE);
  const ll = compileC(dir, "defs_ir", SOURCE, "ll");
  const nm = tool(join(LLVM_BIN, "llvm-nm"), [bc]).trim().split("\n").map((l) =>
    l.trim().split(/\s+/)
  );
  const defined = nm.filter((f) => f.length === 3);
  const global = defined.filter((f) => f[1] === f[1].toUpperCase()).map((f) => f[2]).sort();
  const local = defined.filter((f) => f[1] === f[1].toLowerCase()).map((f) => f[2]).sort();
  for (const path of [bc, ll]) {
    const bytes = readFileSync(path);
    const input = {
      file: path,
      format: path.endsWith(".ll") ? "ir" as const : "bitcode" as const,
      bytes,
    };
    const defs = moduleDefinitions(input)!;
    assert.deepEqual([...defs.global].sort(), global, path);
    assert.deepEqual([...defs.local].sort(), local, path);
  }
  assert.deepEqual(global, ["LICENSE", "bump", "counter", "helper", "prog", "tag"]);
  assert.deepEqual(local, ["hidden", "twice"]);
});

test("provenance: first definer keeps a name, renamed locals go to the later ones, copies to their original", () => {
  const defs: Record<string, { global: string[]; local: string[] }> = {
    "a.bc": { global: ["entry_a"], local: ["helper", "only_a"] },
    "b.bc": { global: ["entry_b", "shared"], local: ["helper"] },
    "c.bc": { global: ["shared"], local: ["helper"] },
  };
  const inputs = Object.keys(defs).map((file) => ({
    file,
    format: "bitcode" as const,
    bytes: new Uint8Array(),
  }));
  const p = new Provenance(inputs, (input) => defs[input.file]);
  assert.equal(p.of("entry_b"), "b.bc");
  assert.equal(p.of("shared"), "b.bc"); // the first definition wins
  assert.equal(p.of("helper"), "a.bc");
  assert.equal(p.of("helper.1"), "one of b.bc, c.bc (static in each)");
  assert.equal(p.of("only_a.constprop.0"), "a.bc (copy of only_a)");
  assert.equal(p.of("__made_up"), "(made by LLVM)");
  const two = new Provenance(inputs.slice(0, 2), (input) => defs[input.file]);
  assert.equal(two.of("helper.1"), "b.bc");
});

// ------------------------------------------------------------- BTF name rules, on made-up BTF

/** A BTF blob with the given types (name offsets into `names`), little-endian. */
function btfOf(
  types: { kind: number; name: string; vlen?: number; type?: number; extra?: number[] }[],
): Btf {
  const strings = ["", ...new Set(types.map((t) => t.name).filter((n) => n !== ""))];
  const offsets = new Map<string, number>();
  let at = 0;
  for (const s of strings) {
    offsets.set(s, at);
    at += new TextEncoder().encode(s).length + 1;
  }
  const words: number[] = [];
  for (const t of types) {
    words.push(
      offsets.get(t.name)!,
      ((t.kind & 0x1f) << 24) | (t.vlen ?? 0),
      t.type ?? 0,
      ...(t.extra ?? []),
    );
  }
  const typeBytes = new Uint8Array(new Uint32Array(words).buffer);
  const stringBytes = new TextEncoder().encode(strings.map((s) => `${s}\0`).join(""));
  const header = new Uint32Array([
    0x0001eb9f,
    24,
    0,
    typeBytes.length,
    typeBytes.length,
    stringBytes.length,
  ]);
  const out = new Uint8Array(24 + typeBytes.length + stringBytes.length);
  out.set(new Uint8Array(header.buffer), 0);
  out.set(typeBytes, 24);
  out.set(stringBytes, 24 + typeBytes.length);
  return parseBtf(out);
}

test("BTF name rules: characters, leading digits, lengths, named pointers, section names", () => {
  assert.equal(identifierProblem("ok_name.with.dots"), undefined);
  assert.match(identifierProblem("Foo<u32>")!, /characters the kernel refuses in names: < >$/);
  assert.match(identifierProblem("9lives")!, /starts with a digit/);
  assert.match(
    identifierProblem("a".repeat(129))!,
    /129 bytes long: kernels before 6\.1 refuse names over 128/,
  );
  assert.equal(identifierProblem("a".repeat(128)), undefined);
  assert.match(
    identifierProblem("a".repeat(513))!,
    /513 bytes long: no kernel accepts names over 512/,
  );
  const btf = btfOf([
    { kind: BTF_KIND.INT, name: "unsigned int", type: 4, extra: [32] }, // 1: INT names are not checked
    { kind: BTF_KIND.PTR, name: "*mut u8", type: 1 }, // 2
    { kind: BTF_KIND.STRUCT, name: "S", vlen: 1, type: 4, extra: [0, /* name "" */ 1, 0] }, // 3
    { kind: BTF_KIND.TYPEDEF, name: "", type: 1 }, // 4: a typedef needs a name
    { kind: BTF_KIND.FUNC, name: "f::g", vlen: 0, type: 0 }, // 5
    { kind: BTF_KIND.DATASEC, name: ".data\x01", vlen: 0, type: 0 }, // 6
    { kind: BTF_KIND.VAR, name: "counter", type: 1, extra: [1] }, // 7: fine
  ]);
  assert.deepEqual(lintBtf(btf), [
    "BTF: pointer type 2 is named '*mut u8': the kernel refuses named pointer types",
    "BTF: anonymous typedef (BTF type 4) has no name, which the kernel requires",
    "BTF: function 'f::g': the name has characters the kernel refuses in names: :",
    "BTF: section '.data\\x01': the name has characters that are not printable",
  ]);
  const types: BtfType[] = btf.types;
  assert.equal(types.length, 8);
});
