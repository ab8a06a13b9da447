// --reproduce <file.tar> (src/explain/reproduce.ts, tar.ts): the bundle holds every
// input as given, response.txt and version.txt; `tar -xf` in a fresh directory and
// `bpf-linker @response.txt` there gives the same bytes. It is written before the link,
// so a failed or crashed link still leaves it, and LLVM fatal errors say how to make one.
// Then the library API's reproduceBundle, and a Rust crate linked by rustc.

import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { link, reproduceBundle } from "../../src/mod.ts";
import { tokenizeResponseFile } from "../../src/response_file.ts";
import { rustForTests } from "../support/explain.ts";
import { compileXdpExample, fileTempDir, runLinker, tool } from "../support/tools.ts";

const dir = fileTempDir("bpfl-repro-");
const ex = compileXdpExample(dir);

/** Extract `tar` into a new empty directory and return it. */
function extract(tar: string, name: string): string {
  const out = join(dir, name);
  mkdirSync(out);
  tool("tar", ["-xf", tar, "-C", out]);
  return out;
}

function tarList(tar: string): string[] {
  return tool("tar", ["-tf", tar]).trimEnd().split("\n");
}

/** The linker's `--version` under this runtime. */
function versionOutput(): string {
  const r = runLinker(["--version"]);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

test("a bundle of examples/xdp relinks to the same bytes in a fresh directory", () => {
  const work = join(dir, "work");
  mkdirSync(work);
  writeFileSync(join(work, "exports.txt"), "xdp_filter\n");
  mkdirSync(join(work, "dumps"));
  // Relative and absolute paths, a response file, and files the link writes.
  writeFileSync(join(work, "args.rsp"), `-O3\n--btf\n'${ex.classify}'\n`);
  const args = [
    "--export-symbols",
    "exports.txt",
    "-o",
    "out/xdp.o",
    "--map=xdp.map",
    "--why-extract",
    "xdp.why",
    "--dump-module",
    "dumps",
    "--reproduce",
    "bundle.tar",
    ex.main,
    "@args.rsp",
    ex.lib,
  ];
  mkdirSync(join(work, "out"));
  const r = runLinker(args, { cwd: work });
  assert.equal(r.status, 0, r.stderr);
  const tar = join(work, "bundle.tar");
  const inBundle = (path: string) => path.replace(/^\/+/, "");
  assert.deepEqual(tarList(tar), [
    "response.txt",
    "version.txt",
    "dump/",
    inBundle(join(work, "exports.txt")),
    inBundle(ex.main),
    inBundle(ex.classify),
    inBundle(ex.lib),
  ]);
  const bundle = extract(tar, "fresh");
  // The command line, with bundle paths, --reproduce dropped, outputs next to response.txt.
  const response = readFileSync(join(bundle, "response.txt"), "utf8");
  assert.deepEqual(tokenizeResponseFile(response, "response.txt"), [
    "--export-symbols",
    inBundle(join(work, "exports.txt")),
    "-o",
    "xdp.o",
    "--map",
    "xdp.map",
    "--why-extract",
    "xdp.why",
    "--dump-module",
    "dump",
    inBundle(ex.main),
    "-O",
    "3",
    "--btf",
    inBundle(ex.classify),
    inBundle(ex.lib),
  ]);
  const version = readFileSync(join(bundle, "version.txt"), "utf8");
  assert.ok(version.startsWith(versionOutput()), version);
  assert.match(version, /runtime: (bun|deno) \d+\.\d+\.\d+/);
  // Inputs are byte for byte what the link read; the archive whole.
  assert.ok(readFileSync(join(bundle, inBundle(ex.lib))).equals(readFileSync(ex.lib)));

  const again = runLinker(["@response.txt"], { cwd: bundle });
  assert.equal(again.status, 0, again.stderr);
  assert.ok(
    readFileSync(join(bundle, "xdp.o")).equals(readFileSync(join(work, "out", "xdp.o"))),
    "same object",
  );
  // The reports name the inputs by their bundle paths: the same, less the leading `/`.
  const unrooted = (text: string) => text.replaceAll(dir, inBundle(dir));
  assert.equal(
    readFileSync(join(bundle, "xdp.why"), "utf8"),
    unrooted(readFileSync(join(work, "xdp.why"), "utf8")),
  );
  assert.equal(
    readFileSync(join(bundle, "xdp.map"), "utf8"),
    unrooted(readFileSync(join(work, "xdp.map"), "utf8")).replace(
      "map of out/xdp.o",
      "map of xdp.o",
    ),
  );
  assert.deepEqual(readdirSync(join(bundle, "dump")), ["xdp.ll"]);
  assert.equal(
    readFileSync(join(bundle, "dump", "xdp.ll"), "utf8"),
    unrooted(readFileSync(join(work, "dumps", "xdp.ll"), "utf8")),
  );
});

test("the bundle is written before linking: a failed link still leaves it", () => {
  const work = join(dir, "failing");
  mkdirSync(work);
  writeFileSync(
    join(work, "a.ll"),
    'target triple = "bpf"\ndefine i32 @twice() {\n  ret i32 1\n}\n',
  );
  writeFileSync(
    join(work, "b.ll"),
    'target triple = "bpf"\ndefine i32 @twice() {\n  ret i32 2\n}\n',
  );
  const r = runLinker(
    ["--export", "twice", "-o", "x.o", "--reproduce", "fail.tar", "a.ll", "b.ll"],
    { cwd: work },
  );
  assert.equal(r.status, 1);
  assert.match(r.stderr, /symbol 'twice' is defined more than once/);
  assert.ok(!existsSync(join(work, "x.o")));
  const bundle = extract(join(work, "fail.tar"), "fail-bundle");
  const again = runLinker(["@response.txt"], { cwd: bundle });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /symbol 'twice' is defined more than once/);
});

const WIDE_DIV = `target triple = "bpf"

define i128 @wide_div(i128 %a, i128 %b) {
  %r = udiv i128 %a, %b
  ret i128 %r
}
`;

test("an LLVM fatal error says how to make a bundle, on one line", () => {
  const work = join(dir, "fatal");
  mkdirSync(work);
  writeFileSync(join(work, "wide.ll"), WIDE_DIV);
  const r = runLinker(["--export", "wide_div", "-o", "out.o", "wide.ll"], { cwd: work });
  assert.equal(r.status, 1);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^error: LLVM fatal error: .+; to report it, rerun with --reproduce <file\.tar> and attach that file$/,
  );
  assert.deepEqual(readdirSync(work), ["wide.ll"]);
});

test("with --reproduce, an LLVM fatal error names the bundle, which reproduces the crash", () => {
  const work = join(dir, "fatal2");
  mkdirSync(work);
  writeFileSync(join(work, "wide.ll"), WIDE_DIV);
  const r = runLinker([
    "--export",
    "wide_div",
    "-o",
    "out.o",
    "--reproduce",
    "crash.tar",
    "wide.ll",
  ], { cwd: work });
  assert.equal(r.status, 1);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^error: LLVM fatal error: .+; the inputs and command line are in crash\.tar \(--reproduce\)$/,
  );
  assert.deepEqual(readdirSync(work).sort(), ["crash.tar", "wide.ll"]);
  const bundle = extract(join(work, "crash.tar"), "crash-bundle");
  const again = runLinker(["@response.txt"], { cwd: bundle });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /^error: LLVM fatal error: /);
});

test("library API: reproduceBundle gives a tar the CLI relinks to the library's bytes", async () => {
  const inputs = [
    { name: "main.bc", bytes: readFileSync(ex.main) },
    { name: "classify.bc", bytes: readFileSync(ex.classify) },
    { name: "libcsum.a", bytes: readFileSync(ex.lib) },
  ];
  const options = {
    exports: ["xdp_filter"],
    btf: true,
    optLevel: "3" as const,
    outputName: "xdp.o",
  };
  const { output } = await link(inputs, options);
  const tar = join(dir, "library.tar");
  writeFileSync(tar, await reproduceBundle(inputs, options));
  assert.deepEqual(tarList(tar), [
    "response.txt",
    "version.txt",
    "inputs/main.bc",
    "inputs/classify.bc",
    "inputs/libcsum.a",
  ]);
  const bundle = extract(tar, "library-bundle");
  assert.deepEqual(tokenizeResponseFile(readFileSync(join(bundle, "response.txt"), "utf8"), "r"), [
    "--output",
    "xdp.o",
    "-O",
    "3",
    "--export",
    "xdp_filter",
    "--btf",
    "inputs/main.bc",
    "inputs/classify.bc",
    "inputs/libcsum.a",
  ]);
  const r = runLinker(["@response.txt"], { cwd: bundle });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(readFileSync(join(bundle, "xdp.o")).equals(output));
});

// ------------------------------------------------------------------------------- Rust

const { needsRust, rustWithNetdep } = rustForTests("Rust --reproduce test");

test(
  "rustc -C link-arg=--reproduce: the bundle (rlibs, export list) relinks to the same bytes",
  needsRust(),
  () => {
    const d = join(dir, "rust");
    rustWithNetdep(d, ["-C", "debuginfo=2"]).crate(join(d, "bin.o"), [
      "--btf",
      `--reproduce=${join(d, "rust.tar")}`,
    ]);
    const files = tarList(join(d, "rust.tar"));
    // rustc's export list (deleted after the link) is in the bundle, and so are the rlibs.
    assert.ok(files.some((f) => /\/symbols$/.test(f)), files.join("\n"));
    for (const lib of ["libnetdep.rlib", "libcore.rlib", "libcompiler_builtins.rlib"]) {
      assert.ok(files.some((f) => f.endsWith(`/${lib}`)), lib);
    }
    const bundle = extract(join(d, "rust.tar"), "rust-bundle");
    const r = runLinker(["@response.txt"], { cwd: bundle });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(
      readFileSync(join(bundle, "bin.o")).equals(readFileSync(join(d, "bin.o"))),
      "same object",
    );
  },
);
