// --map and --why-extract (src/explain/link_map.ts, why_extract.ts): examples/xdp
// (main.bc, classify.bc, libcsum.a = checksum.bc + unused.bc) linked by the CLI in
// its own directory so the names are stable, every line of both reports checked;
// the symbols against llvm-readelf. Then the pseudo-references of why-extract,
// static functions of the same name in several inputs, the map of --emit llvm-ir,
// the library API, and a Rust crate linked by rustc.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { link } from "../../src/mod.ts";
import { linkIn, rustForTests } from "../support/explain.ts";
import {
  compileC,
  compileXdpExample,
  fileTempDir,
  LLVM_BIN,
  makeArchive,
  runLinker,
  tool,
} from "../support/tools.ts";

const dir = fileTempDir("bpfl-map-");
compileXdpExample(dir);
const XDP_INPUTS = ["main.bc", "classify.bc", "libcsum.a"];
const MEMORY_BUILTINS = ["bcmp", "memcmp", "memcpy", "memmove", "memset"];

/** Run the CLI in `dir`; it must succeed quietly. */
function linkOk(args: string[], cwd = dir): void {
  assert.equal(linkIn(cwd, args), "", "nothing on stderr");
}

/** FUNC and OBJECT symbols of an object as llvm-readelf shows them, in the map's order and format. */
function readelfSymbolLines(obj: string, from: Record<string, string>): string[] {
  const sections = new Map<string, string>();
  for (
    const m of tool(join(LLVM_BIN, "llvm-readelf"), ["-S", "-W", obj]).matchAll(
      /^\s*\[\s*(\d+)\]\s+(\S+)/gm,
    )
  ) {
    sections.set(m[1], m[2]);
  }
  const rows: { ndx: number; value: number; line: string }[] = [];
  for (const line of tool(join(LLVM_BIN, "llvm-readelf"), ["-s", "-W", obj]).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (
      f.length < 8 || !/^\d+:$/.test(f[0]) || !["FUNC", "OBJECT"].includes(f[3]) || f[6] === "UND"
    ) continue;
    const value = parseInt(f[1], 16);
    rows.push({
      ndx: Number(f[6]),
      value,
      line: [sections.get(f[6]), `0x${value.toString(16)}`, f[2], f[3], f[4], f[7], from[f[7]]]
        .join("\t"),
    });
  }
  return rows.sort((a, b) => a.ndx - b.ndx || a.value - b.value).map((r) => r.line);
}

test("--map of examples/xdp: every line", () => {
  linkOk(["--export", "xdp_filter", "-o", "xdp.o", "--map", "xdp.map", ...XDP_INPUTS]);
  const lines = readFileSync(join(dir, "xdp.map"), "utf8").split("\n");
  const symbols = readelfSymbolLines(join(dir, "xdp.o"), {
    xdp_filter: "main.bc",
    LICENSE: "main.bc",
    classify: "classify.bc",
    checksum16: "libcsum.a(checksum.bc)",
  });
  // classify stays a function (noinline); checksum16 is inlined into xdp_filter.
  assert.deepEqual(symbols.map((l) => l.split("\t")[5]).sort(), [
    "LICENSE",
    "classify",
    "xdp_filter",
  ]);
  assert.deepEqual(lines, [
    "# bpf-linker link map of xdp.o",
    "",
    "Inputs (input, status, why):",
    "main.bc\tlinked\tnamed on the command line",
    "classify.bc\tlinked\tnamed on the command line",
    "libcsum.a(checksum.bc)\tlinked\tdefines checksum16, referenced by main.bc",
    "libcsum.a(unused.bc)\tskipped\tnothing references a symbol it defines",
    "",
    "Symbols (section, offset, size, type, binding, symbol, from):",
    ...symbols,
    "",
    "Undefined (symbol):",
    "",
    "Exported (symbol, status):",
    ...MEMORY_BUILTINS.map((name) => `${name}\tnot defined by any input`),
    "xdp_filter\tin the output",
    "",
  ]);
  // The sections are the object's: the program in `xdp`, the licence in `license`.
  assert.ok(
    symbols.some((l) =>
      l.startsWith("xdp\t0x0\t") && l.includes("\tFUNC\tGLOBAL\txdp_filter\tmain.bc")
    ),
  );
  assert.ok(
    symbols.some((l) =>
      l.startsWith("license\t0x0\t4\tOBJECT\t") && l.endsWith("\tLICENSE\tmain.bc")
    ),
  );
});

test("--why-extract of examples/xdp: lld's format, one line per member loaded", () => {
  linkOk(["--export", "xdp_filter", "-o", "xdp2.o", "--why-extract", "why.txt", ...XDP_INPUTS]);
  assert.equal(
    readFileSync(join(dir, "why.txt"), "utf8"),
    "reference\textracted\tsymbol\nmain.bc\tlibcsum.a(checksum.bc)\tchecksum16\n",
  );
});

test("the map and why-extract are the same for the same link, and the output is unchanged by them", () => {
  linkOk(["--export", "xdp_filter", "-o", "plain.o", ...XDP_INPUTS]);
  linkOk([
    "--export",
    "xdp_filter",
    "-o",
    "again.o",
    "-Map",
    "again.map",
    "--why-extract=again.why",
    ...XDP_INPUTS,
  ]);
  assert.ok(readFileSync(join(dir, "plain.o")).equals(readFileSync(join(dir, "again.o"))));
  linkOk(["--export", "xdp_filter", "-o", "again.o", "-Map=again2.map", ...XDP_INPUTS]);
  const strip = (text: string) => text.split("\n").slice(1).join("\n"); // the title names the output
  assert.equal(
    strip(readFileSync(join(dir, "again.map"), "utf8")),
    strip(readFileSync(join(dir, "xdp.map"), "utf8")),
  );
  assert.equal(
    readFileSync(join(dir, "again2.map"), "utf8"),
    readFileSync(join(dir, "again.map"), "utf8"),
  );
});

test("--why-extract names the pseudo-reference of members kept for other reasons", () => {
  const d = join(dir, "pseudo");
  tool("mkdir", ["-p", d]);
  compileC(d, "prog", "int lib_fn(int);\nint prog(int x) { return lib_fn(x) + 1; }\n");
  compileC(d, "libfn", "int lib_fn(int x) { return x * 5; }\n");
  compileC(d, "root", "int exported_root(int x) { return x - 1; }\n");
  compileC(d, "kept", "__attribute__((used)) static int marker = 7;\n");
  compileC(d, "idle", "int idle(int x) { return x; }\n");
  makeArchive(d, "libp.a", ["libfn.bc", "root.bc", "kept.bc", "idle.bc"].map((f) => join(d, f)));
  linkOk([
    "--export",
    "prog,exported_root",
    "-o",
    "p.o",
    "--why-extract",
    "p.why",
    "--map",
    "p.map",
    "prog.bc",
    "libp.a",
  ], d);
  assert.deepEqual(readFileSync(join(d, "p.why"), "utf8").split("\n"), [
    "reference\textracted\tsymbol",
    "prog.bc\tlibp.a(libfn.bc)\tlib_fn",
    "<export>\tlibp.a(root.bc)\texported_root",
    "<llvm.used>\tlibp.a(kept.bc)\t-",
    "",
  ]);
  const inputs = readFileSync(join(d, "p.map"), "utf8").split("\n\n")[1].split("\n");
  assert.deepEqual(inputs, [
    "Inputs (input, status, why):",
    "prog.bc\tlinked\tnamed on the command line",
    "libp.a(libfn.bc)\tlinked\tdefines lib_fn, referenced by prog.bc",
    "libp.a(root.bc)\tlinked\tdefines the exported symbol exported_root",
    "libp.a(kept.bc)\tlinked\thas llvm.used or llvm.compiler.used (always kept)",
    "libp.a(idle.bc)\tskipped\tnothing references a symbol it defines",
  ]);
  linkOk([
    "--whole-archive",
    "--export",
    "prog",
    "-o",
    "w.o",
    "--why-extract",
    "w.why",
    "prog.bc",
    "libp.a",
  ], d);
  assert.deepEqual(readFileSync(join(d, "w.why"), "utf8").trimEnd().split("\n").slice(1), [
    "<whole-archive>\tlibp.a(libfn.bc)\t-",
    "<whole-archive>\tlibp.a(root.bc)\t-",
    "<whole-archive>\tlibp.a(kept.bc)\t-",
    "<whole-archive>\tlibp.a(idle.bc)\t-",
  ]);
});

test("static functions of the same name in several inputs: each line names its input", () => {
  const d = join(dir, "statics");
  tool("mkdir", ["-p", d]);
  for (const [name, k] of [["a", 3], ["b", 5]] as const) {
    compileC(
      d,
      name,
      `__attribute__((noinline)) static int helper(int x) { return x * ${k} + ${k}; }
int entry_${name}(int x) { return helper(x) + 1; }\n`,
    );
  }
  linkOk(["--export", "entry_a,entry_b", "-o", "s.o", "--map", "s.map", "a.bc", "b.bc"], d);
  const symbols = readFileSync(join(d, "s.map"), "utf8").split("\n\n")[2].split("\n").slice(1);
  const from = Object.fromEntries(
    symbols.map((l) => l.split("\t")).map((f) => [f[5], `${f[4]} ${f[6]}`]),
  );
  // LLVM keeps the name for the first input and renames the second one's static function.
  assert.deepEqual(from, {
    entry_a: "GLOBAL a.bc",
    entry_b: "GLOBAL b.bc",
    helper: "LOCAL a.bc",
    "helper.1": "LOCAL b.bc",
  });
  // The disassembly agrees: helper multiplies by 3 (a.c), helper.1 by 5 (b.c).
  const text = tool(join(LLVM_BIN, "llvm-objdump"), ["-d", "--no-show-raw-insn", join(d, "s.o")]);
  assert.match(text, /<helper>:\n.*\n\s*\d+:\s+r0 \*= 0x3/);
  assert.match(text, /<helper\.1>:\n.*\n\s*\d+:\s+r0 \*= 0x5/);
});

test("--map of --emit llvm-ir lists the final module's symbols, without sizes", () => {
  linkOk([
    "--emit",
    "llvm-ir",
    "--export",
    "xdp_filter",
    "-o",
    "xdp.ll",
    "--map",
    "ir.map",
    ...XDP_INPUTS,
  ]);
  const symbols = readFileSync(join(dir, "ir.map"), "utf8").split("\n\n")[2].split("\n");
  assert.deepEqual(symbols, [
    "Symbols (section, offset, size, type, binding, symbol, from):",
    "-\t-\t-\tFUNC\tLOCAL\tclassify\tclassify.bc",
    "license\t-\t-\tOBJECT\tLOCAL\tLICENSE\tmain.bc",
    "xdp\t-\t-\tFUNC\tGLOBAL\txdp_filter\tmain.bc",
  ]);
});

test("a failed link writes no map and no why-extract file", () => {
  const r = runLinker([
    "--export",
    "xdp_filter",
    "-o",
    "bad.o",
    "--map",
    "bad.map",
    "--why-extract",
    "bad.why",
    "main.bc",
    "nope.bc",
  ], {
    cwd: dir,
  });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: nope\.bc: no such file/);
  assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith("bad") || f.includes(".tmp")), []);
});

test("library API: map and whyExtract come back with the output", async () => {
  const inputs = XDP_INPUTS.map((name) => ({ name, bytes: readFileSync(join(dir, name)) }));
  const result = await link(inputs, {
    exports: ["xdp_filter"],
    map: true,
    whyExtract: true,
    outputName: "xdp.o",
  });
  assert.ok(result.output.length > 0);
  assert.equal(result.map, readFileSync(join(dir, "xdp.map"), "utf8"));
  assert.equal(
    result.whyExtract,
    "reference\textracted\tsymbol\nmain.bc\tlibcsum.a(checksum.bc)\tchecksum16\n",
  );
  // Not asked: not made.
  const plain = await link(inputs, { exports: ["xdp_filter"] });
  assert.equal(plain.map, undefined);
  assert.equal(plain.whyExtract, undefined);
  assert.ok(plain.output.length > 0);
});

// ------------------------------------------------------------------------------- Rust

const { needsRust, rustWithNetdep } = rustForTests("Rust map tests");

test(
  "rustc -C link-arg=--map and --why-extract: rlib members and their symbols",
  needsRust(),
  () => {
    const d = join(dir, "rust");
    rustWithNetdep(d).crate(join(d, "bin.o"), [
      `--map=${join(d, "bin.map")}`,
      `--why-extract=${join(d, "bin.why")}`,
    ]);
    const map = readFileSync(join(d, "bin.map"), "utf8");
    const why = readFileSync(join(d, "bin.why"), "utf8").trimEnd().split("\n");
    assert.equal(why[0], "reference\textracted\tsymbol");
    // The crate's object pulls netdep's member in for a function it calls.
    const netdep = why.find((l) => l.includes("libnetdep.rlib(netdep."));
    assert.ok(netdep, why.join("\n"));
    const [reference, extracted, symbol] = netdep.split("\t");
    assert.match(reference, /bin\.xdp_bin\.[0-9a-f]+-cgu\.0\.rcgu\.o$/);
    assert.match(extracted, /libnetdep\.rlib\(netdep\.netdep\.[0-9a-f]+-cgu\.0\.rcgu\.o\)$/);
    assert.match(symbol, /^_ZN6netdep/);
    // compiler_builtins' members with the exported memory builtins are roots.
    for (const name of MEMORY_BUILTINS) {
      assert.ok(
        why.some((l) =>
          l.startsWith("<export>\t") && l.includes("libcompiler_builtins.rlib(") &&
          l.endsWith(`\t${name}`)
        ),
        name,
      );
    }
    // In the map: the program from the crate, netdep's helpers from the rlib member, libcore skipped.
    const symbolLines = map.split("\n\n")[2].split("\n");
    const prog = symbolLines.find((l) => l.split("\t")[5] === "prog");
    assert.ok(prog?.startsWith("xdp\t0x0\t"), prog);
    assert.match(prog!, /\tFUNC\tGLOBAL\tprog\t.*bin\.xdp_bin\.[0-9a-f]+-cgu\.0\.rcgu\.o$/);
    const weigh = symbolLines.find((l) => l.includes("5weigh"));
    assert.match(
      weigh!,
      /^\.text\t0x[0-9a-f]+\t\d+\tFUNC\tLOCAL\t_ZN6netdep5weigh\w+\t.*libnetdep\.rlib\(netdep\./,
    );
    assert.ok(map.split("\n").some((l) => /libcore\.rlib\(core\.[^)]*\)\tskipped\t/.test(l)));
    assert.ok(
      !symbolLines.some((l) => l.endsWith("\t(made by LLVM)") || l.endsWith("\t(unknown)")),
      map,
    );
  },
);
