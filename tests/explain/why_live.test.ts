// --why-live <symbol> (src/explain/why_live.ts, ffi/uses.ts): the chain of references
// that kept a symbol, walked on LLVM's use lists in the final module, or why the
// symbol is gone: inlined away or dead after internalization, its archive member never
// loaded, or never defined. A C program built to exercise every case; then the log
// file, the library API, and a Rust crate linked by rustc.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import { link } from "../../src/mod.ts";
import { clangBitcode, rustForTests } from "../support/explain.ts";
import { compileC, fileTempDir, makeArchive, runLinker, symbols } from "../support/tools.ts";

const dir = fileTempDir("bpfl-whylive-");

compileC(
  dir,
  "prog",
  `struct xdp_md { unsigned data, data_end; };
#define SEC(name) __attribute__((section(name), used))
unsigned table[4] = {1, 2, 3, 4};
extern unsigned ext_fn(unsigned);
unsigned lib_helper(unsigned);
__attribute__((noinline)) unsigned helper(unsigned i) { return table[i & 3]; }
unsigned inlined_away(unsigned x) { return x + 1; }
unsigned dead_code(unsigned x) { return x * 9; }
__attribute__((noinline)) unsigned via_table(unsigned x) { return x ^ 0x55; }
unsigned (*ops[1])(unsigned) = { via_table };
SEC("xdp") int xdp_prog(struct xdp_md *ctx) {
  return helper(ctx->data) + inlined_away(ctx->data_end) + ext_fn(ctx->data) + lib_helper(2);
}
char LICENSE[] SEC("license") = "GPL";
`,
);
compileC(dir, "used", "unsigned lib_helper(unsigned x) { return x * 7; }\n");
compileC(dir, "unused", "unsigned lib_unused(unsigned x) { return x * 11; }\n");
makeArchive(dir, "liblive.a", [join(dir, "used.bc"), join(dir, "unused.bc")]);

const ASKED = [
  "xdp_prog",
  "helper",
  "table",
  "inlined_away",
  "dead_code",
  "via_table",
  "ext_fn",
  "LICENSE",
  "lib_helper",
  "lib_unused",
  "nowhere",
];
const EXPECTED = [
  "xdp_prog: xdp_prog (exported)",
  "helper: xdp_prog (exported) -> helper",
  "table: xdp_prog (exported) -> helper -> table",
  // clang inlined it into xdp_prog already: in the linked module nothing calls it any more.
  "inlined_away: removed as dead code: internalized (not exported) and nothing references it",
  "dead_code: removed as dead code: internalized (not exported) and nothing references it",
  "via_table: ops (exported) -> via_table",
  "ext_fn: xdp_prog (exported) -> ext_fn",
  "LICENSE: LICENSE (llvm.compiler.used)",
  // Called from another input: inlined by the link's optimizer.
  "lib_helper: removed by the optimizer: internalized (not exported), then inlined or folded into its users",
  "lib_unused: never linked: defined only in liblive.a(unused.bc), an archive member no linked module needed",
  "nowhere: not defined by any input",
];
const LINK = ["--export", "xdp_prog,ops", "prog.bc", "liblive.a"];

test("--why-live explains every kind of presence and absence, on stderr", () => {
  const r = runLinker([...LINK, "-o", "live.o", ...ASKED.flatMap((s) => ["--why-live", s])], {
    cwd: dir,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stderr.trimEnd().split("\n"), EXPECTED.map((l) => `why-live: ${l}`));
  // What the chains claim is what the object holds.
  const syms = symbols(join(dir, "live.o"));
  for (const present of ["xdp_prog", "helper", "table", "via_table", "ops", "LICENSE"]) {
    assert.ok(syms.has(present), `${present} in the object`);
  }
  for (const absent of ["inlined_away", "dead_code", "lib_helper", "lib_unused"]) {
    assert.ok(!syms.has(absent), `${absent} not in the object`);
  }
  assert.equal(syms.get("ext_fn")?.section, "UND");
});

test("--why-live does not change the output", () => {
  const plain = runLinker([...LINK, "-o", "plain.o"], { cwd: dir });
  assert.equal(plain.status, 0, plain.stderr);
  const asked = runLinker([...LINK, "-o", "asked.o", "--why-live", "table"], { cwd: dir });
  assert.equal(asked.status, 0, asked.stderr);
  assert.ok(readFileSync(join(dir, "plain.o")).equals(readFileSync(join(dir, "asked.o"))));
});

test("--why-live with --log-file writes the lines to the log", () => {
  const r = runLinker(
    [...LINK, "-o", "logged.o", "--log-file", "link.log", "--why-live", "table"],
    { cwd: dir },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.equal(
    readFileSync(join(dir, "link.log"), "utf8"),
    "why-live: table: xdp_prog (exported) -> helper -> table\n",
  );
});

test("--why-live on a symbol whose member was pulled in and kept", () => {
  // Exported, lib_helper stays: its member was loaded for xdp_prog's reference.
  const r = runLinker([
    "--export",
    "xdp_prog,ops,lib_helper",
    "prog.bc",
    "liblive.a",
    "-o",
    "kept.o",
    "--why-live",
    "lib_helper",
  ], {
    cwd: dir,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "why-live: lib_helper: lib_helper (exported)\n");
});

test("library API: whyLive lines come back with the output", async () => {
  const inputs = ["prog.bc", "liblive.a"].map((name) => ({
    name,
    bytes: readFileSync(join(dir, name)),
  }));
  const result = await link(inputs, { exports: ["xdp_prog", "ops"], whyLive: ASKED });
  assert.deepEqual(result.whyLive, EXPECTED);
  assert.ok(result.output.length > 0);
  assert.equal((await link(inputs, { exports: ["xdp_prog", "ops"] })).whyLive, undefined);
});

test("--why-live and --map with LLVM 19 on clang-19 bitcode", () => {
  const d = join(dir, "llvm19");
  mkdirSync(d);
  for (const name of ["prog", "used", "unused"]) {
    clangBitcode("clang-19", join(dir, `${name}.c`), join(d, `${name}.bc`));
  }
  makeArchive(d, "liblive.a", [join(d, "used.bc"), join(d, "unused.bc")]);
  const r = runLinker(
    [
      "--llvm",
      "/usr/lib/llvm-19",
      ...LINK,
      "-o",
      "live19.o",
      "--map",
      "live19.map",
      ...ASKED.flatMap((s) => ["--why-live", s]),
    ],
    { cwd: d },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stderr.trimEnd().split("\n"), EXPECTED.map((l) => `why-live: ${l}`));
  const map = readFileSync(join(d, "live19.map"), "utf8");
  assert.ok(
    map.includes("\nliblive.a(used.bc)\tlinked\tdefines lib_helper, referenced by prog.bc\n"),
    map,
  );
  assert.ok(map.includes("\nliblive.a(unused.bc)\tskipped\t"), map);
  assert.match(map, /\n\.text\t0x[0-9a-f]+\t\d+\tFUNC\tLOCAL\thelper\tprog\.bc\n/);
  assert.match(map, /\nUndefined \(symbol\):\next_fn\n/);
});

// ------------------------------------------------------------------------------- Rust

const { needsRust, rustWithNetdep } = rustForTests("Rust --why-live tests");

test(
  "rustc -C link-arg=--why-live: the program, and netdep's helper it calls",
  needsRust(),
  () => {
    const d = join(dir, "rust");
    const rust = rustWithNetdep(d);
    const build = (extra: string[]) => rust.crate(join(d, "bin.o"), extra, { messages: true });
    build([]);
    // netdep::weigh is #[inline(never)]: a function of its own, called by prog.
    const weigh = [...symbols(join(d, "bin.o")).keys()].find((name) =>
      name.startsWith("_ZN6netdep5weigh")
    );
    assert.ok(weigh, "netdep::weigh in the object");
    const stderr = build(["--why-live=prog", `--why-live=${weigh}`, "--why-live=no_such_fn"]);
    const lines = stderr.split("\n").map((l) => l.trim()).filter((l) => l.includes("why-live: "))
      .map((l) => l.slice(l.indexOf("why-live: ")));
    assert.deepEqual(lines, [
      "why-live: prog: prog (exported)",
      `why-live: ${weigh}: prog (exported) -> ${weigh}`,
      "why-live: no_such_fn: not defined by any input",
    ]);
  },
);
