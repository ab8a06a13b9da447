// Archive members are linked only when needed (src/input/member_selection.ts), and
// the result is byte-identical to linking every member.

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { readBitcodeSymbols } from "../../src/input/bitcode_symbols.ts";
import { modulesOf } from "../../src/input/files.ts";
import { Logger, MemorySink } from "../../src/log.ts";
import { selectModules } from "../../src/input/member_selection.ts";
import { compileC, makeArchive, runLinker, tempDir } from "../support/tools.ts";

const dir = tempDir();
const SEC = `#define SEC(n) __attribute__((section(n), used))\n`;
const main = compileC(dir, "main", `${SEC}int f(int); SEC("xdp") int prog(void *ctx) { return f(1); }\n`);
const f = compileC(dir, "f", `int g(int); int f(int x) { return g(x) + 1; }\n`);
const g = compileC(dir, "g", `int g(int x) { return x * 2; }\n`);
const unused = compileC(dir, "unused", `int unused(int x) { return x - 1; }\n`);
const rootDef = compileC(dir, "rootdef", `int other_root(int x) { return x + 40; }\n`);
const usedList = compileC(dir, "usedlist", `__attribute__((used)) static int keep_me(void) { return 5; }\n`);
const moduleAsm = compileC(dir, "asm", `asm(".globl marker"); int asm_neighbour(void) { return 1; }\n`);
const irMember = compileC(dir, "irmember", `int from_ir(void) { return 7; }\n`, "ll");

// g comes before f in its archive and f's archive comes last: selection must not depend on order.
const libG = makeArchive(dir, "libg.a", [g, unused]);
const libF = makeArchive(dir, "libf.a", [f, rootDef, usedList, moduleAsm]);
const libIr = makeArchive(dir, "libir.a", [irMember]);

function select(paths: string[], roots: string[], wholeArchive = false) {
  const log = new Logger("off", new MemorySink());
  const inputs = paths.flatMap((path) => modulesOf({ path, bytes: readFileSync(path) }, log));
  return selectModules(inputs, new Set(roots), (i) => readBitcodeSymbols(i.bytes), wholeArchive);
}

const label = (m: { input: { member?: string; file: string } }) => m.input.member ?? m.input.file.split("/").pop();

test("members are loaded for undefined symbols, transitively and across archive order", () => {
  const { selected, skipped } = select([main, libG, libF], ["prog"]);
  const reasons = Object.fromEntries(selected.map((s) => [label(s), s.reason]));
  assert.deepEqual(reasons["f.bc"], { kind: "undefined-symbol", symbol: "f", referencedBy: main });
  assert.deepEqual(reasons["g.bc"], { kind: "undefined-symbol", symbol: "g", referencedBy: `${libF}(f.bc)` });
  assert.deepEqual(skipped.map((s) => s.member), ["unused.bc", "rootdef.bc"]);
});

test("members that define a root, carry llvm.used or module asm are always loaded", () => {
  const { selected } = select([main, libG, libF], ["prog", "other_root"]);
  const reasons = Object.fromEntries(selected.map((s) => [label(s), s.reason.kind]));
  assert.equal(reasons["rootdef.bc"], "root");
  assert.equal(reasons["usedlist.bc"], "used-list");
  assert.equal(reasons["asm.bc"], "module-asm");
});

test("an IR text member is loaded, and since its references are unknown every member is", () => {
  const { selected, skipped } = select([main, libG, libF, libIr], ["prog"]);
  const reasons = Object.fromEntries(selected.map((s) => [label(s), s.reason.kind]));
  assert.equal(reasons["irmember.ll"], "unreadable");
  assert.equal(reasons["unused.bc"], "all-members");
  assert.deepEqual(skipped, []);
});

test("the archive index, where present, decides as reading every member would", () => {
  // llvm-ar S: no symbol index, so every member's symbols are read from its bitcode.
  const unindexed = [
    makeArchive(dir, "libg-noindex.a", [g, unused], "rcS"),
    makeArchive(dir, "libf-noindex.a", [f, rootDef, usedList, moduleAsm], "rcS"),
  ];
  const log = new Logger("off", new MemorySink());
  const indexedInputs = [libG, libF].flatMap((path) => modulesOf({ path, bytes: readFileSync(path) }, log));
  for (const input of indexedInputs) {
    // llvm-ar lists every member that defines a symbol (usedlist.bc defines only a static).
    const defined = readBitcodeSymbols(input.bytes)!.defined;
    assert.deepEqual(input.indexedDefinitions ?? [], defined, input.member);
  }
  const plainInputs = unindexed.flatMap((path) => modulesOf({ path, bytes: readFileSync(path) }, log));
  assert.ok(plainInputs.every((i) => i.indexedDefinitions === undefined));
  const summary = (paths: string[], roots: string[]) => {
    const { selected, skipped } = select(paths, roots);
    return {
      selected: selected.map((s) => [label(s), s.reason.kind === "undefined-symbol" ? s.reason.symbol : s.reason.kind]),
      skipped: skipped.map((s) => s.member),
    };
  };
  for (const roots of [["prog"], ["prog", "other_root"], ["prog", "unused"]]) {
    assert.deepEqual(summary([main, ...unindexed], roots), summary([main, libG, libF], roots), roots.join(","));
  }
});

test("--whole-archive keeps every member", () => {
  const { selected, skipped } = select([main, libG, libF], ["prog"], true);
  assert.equal(skipped.length, 0);
  assert.equal(selected.length, 7);
});

test("an input whose references cannot be read (IR text) makes every member load", () => {
  const ir = compileC(dir, "irmain", `int f(int); int prog2(void) { return f(2); }\n`, "ll");
  const { skipped, selected } = select([ir, libG, libF], ["prog2"]);
  assert.deepEqual(skipped, []);
  const reasons = Object.fromEntries(selected.map((s) => [label(s), s.reason.kind]));
  assert.equal(reasons["f.bc"], "all-members");
  assert.equal(reasons["unused.bc"], "all-members");
});

function linkBoth(args: string[]) {
  const lazy = join(dir, `lazy-${args.length}.o`);
  const whole = join(dir, `whole-${args.length}.o`);
  const a = runLinker([...args, "-o", lazy]);
  const b = runLinker([...args, "--whole-archive", "-o", whole]);
  assert.equal(a.status, 0, a.stderr);
  assert.equal(b.status, 0, b.stderr);
  return { lazy: readFileSync(lazy), whole: readFileSync(whole) };
}

test("lazy member loading gives the same object as linking every member (C program + two archives)", () => {
  const { lazy, whole } = linkBoth(["--export", "prog", main, libG, libF]);
  assert.deepEqual(lazy, whole);
});

test("lazy member loading gives the same object on the README example, also with --btf", () => {
  const exdir = tempDir();
  const objs = ["main", "classify", "checksum", "unused"].map((n) =>
    compileC(exdir, n, readFileSync(join("examples", "xdp", `${n}.c`), "utf8"), "bc", ["-g", "-I", join("examples", "xdp")])
  );
  const lib = makeArchive(exdir, "libcsum.a", [objs[2], objs[3]]);
  for (const extra of [[], ["--btf"]]) {
    const { lazy, whole } = linkBoth([...extra, "--export", "xdp_filter", objs[0], objs[1], lib]);
    assert.deepEqual(lazy, whole);
  }
});
