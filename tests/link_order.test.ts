// src/link.ts: the linked module is named `linked_module`, as the Rust
// bpf-linker names it, and its functions and globals come in the order
// llvm-link-22 gives for the same modules in the same order (one after another
// into an empty module, as the Rust linker links too). Real inputs: multi-file
// C from clang-22, a C archive of which some members are used, and what rustc
// hands its linker for the aya-style crate (the crate's object, core's and
// compiler_builtins' rlibs). llvm-link gets the modules we link, as files.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { Context } from "../ffi/context.ts";
import type { Module } from "../ffi/module.ts";
import { LINKED_MODULE_NAME, linkModules, sequentialPrefix, SEQUENTIAL_WORK_FACTOR } from "../src/link.ts";
import { collectModuleInputs, selectInputs } from "../src/pipeline.ts";
import type { ModuleInput } from "../src/input/files.ts";
import { Logger, MemorySink } from "../src/log.ts";
import { loadLlvm } from "../src/mod.ts";
import {
  compileC,
  LLVM_BIN,
  makeArchive,
  repoRoot,
  run,
  runLinker,
  rustSysroot,
  tempDir,
  tool,
} from "./support/tools.ts";

const dir = tempDir("bpfl-order-");
const llvm = await loadLlvm();

/** Globals, then functions, in module order; declarations marked. */
function orderOf(module: Module): string[] {
  return [
    ...module.globalVariables().map((g) => `@${g.name}${g.isDeclaration ? " (declaration)" : ""}`),
    ...module.functions().map((f) => `${f.name}${f.isDeclaration ? " (declaration)" : ""}`),
  ];
}

const unquote = (name: string) => name.replace(/^"(.*)"$/, "$1");

/** The same list read from `llvm-link-22 files... | llvm-dis-22`. */
function llvmLinkOrder(files: string[]): string[] {
  const linked = join(dir, `llvm-link-${Math.random().toString(36).slice(2)}.bc`);
  tool(`${LLVM_BIN}/llvm-link`, ["-o", linked, ...files]);
  const ir = tool(`${LLVM_BIN}/llvm-dis`, ["-o", "-", linked]);
  const globals: string[] = [];
  const functions: string[] = [];
  for (const line of ir.split("\n")) {
    let m = /^@("[^"]*"|[^ ]+) = (.*)$/.exec(line);
    if (m) {
      // A declaration is `@x = [dso_local ...] external global <type>`; definitions never say external.
      const declaration = /^(\w+ )*(external|extern_weak) /.test(m[2]);
      globals.push(`@${unquote(m[1])}${declaration ? " (declaration)" : ""}`);
      continue;
    }
    m = /^(define|declare) .*?@("[^"]*"|[^(]+)\(/.exec(line);
    if (m) functions.push(`${unquote(m[2])}${m[1] === "declare" ? " (declaration)" : ""}`);
  }
  return [...globals, ...functions];
}

/** Link `inputs` as the linker does; its order, and the module's name. */
function ourOrder(inputs: ModuleInput[]): { order: string[]; name: string } {
  const log = new Logger("warn", new MemorySink());
  using context = new Context(llvm, () => {});
  using module = linkModules(context, inputs, log);
  const ir = module.toIrText();
  return { order: orderOf(module), name: /^; ModuleID = '([^']*)'/.exec(ir)?.[1] ?? "" };
}

/** The modules the linker would link (archive members chosen as it chooses them), also as files for llvm-link. */
function modulesFor(paths: string[], exports: string[]): { inputs: ModuleInput[]; files: string[] } {
  const log = new Logger("warn", new MemorySink());
  const all = collectModuleInputs(paths.map((path) => ({ path, bytes: readFileSync(path) })), log);
  const inputs = selectInputs(all, new Set(exports), false, log).selected.map((s) => s.input);
  const files = inputs.map((input, i) => {
    if (input.member === undefined && input.format === "bitcode" && input.bytes.length === readFileSync(input.file).length) {
      return input.file;
    }
    const file = join(dir, `module-${i}-${Math.random().toString(36).slice(2)}.${input.format === "ir" ? "ll" : "bc"}`);
    writeFileSync(file, input.bytes);
    return file;
  });
  return { inputs, files };
}

const PROGRAM_A = `
#define SEC(x) __attribute__((section(x), used))
struct xdp_md { unsigned data, data_end, data_meta, ingress_ifindex, rx_queue_index; };
int ext(int);
int ext2(int);
static int counter;
static const char msg[] = "hello";
static __attribute__((noinline)) int local_a(int x) { counter += x; return x * 3 + msg[x & 3]; }
SEC("xdp") int xdp_one(struct xdp_md *ctx) { return ext(local_a(ctx->ingress_ifindex)); }
__attribute__((noinline)) int other(int x) { return x + ext2(x); }
static __attribute__((noinline)) int local_b(int x) { return x ^ 7; }
SEC("xdp") int xdp_two(struct xdp_md *ctx) { return local_b(ctx->rx_queue_index) + other(1); }
int global_data = 5;
char LICENSE[] SEC("license") = "GPL";
`;
const PROGRAM_B = `
#define SEC(x) __attribute__((section(x), used))
struct xdp_md { unsigned data, data_end, data_meta, ingress_ifindex, rx_queue_index; };
static __attribute__((noinline)) int local_c(int x) { return x ^ 9; }
SEC("xdp") int xdp_three(struct xdp_md *ctx) { return local_c(ctx->rx_queue_index); }
static int b_static;
int b_fn(int x) { b_static += x; return b_static; }
`;
const LIBRARY = `
static int helper_counter;
static __attribute__((noinline)) int helper(int x) { helper_counter++; return x + 1; }
int unused_here(int x) { return x * 2; }
int ext(int x) { return helper(x) + 2; }
int table2[4] = {1, 2, 3, 4};
`;
const LIBRARY_2 = `
extern int table2[4];
static int helper(int x) { return table2[x & 3]; }
int ext2(int x) { return helper(x) * 5; }
int (*pointers[2])(int) = { ext2, 0 };
`;
const UNUSED = `int never_called(int x) { return x - 1; }\n`;

const a = compileC(dir, "prog_a", PROGRAM_A, "bc", ["-g"]);
const b = compileC(dir, "prog_b", PROGRAM_B, "bc", ["-g"]);
const lib = compileC(dir, "lib", LIBRARY, "bc", ["-g"]);
const lib2 = compileC(dir, "lib2", LIBRARY_2, "bc", ["-g"]);
const unused = compileC(dir, "unused", UNUSED, "bc", ["-g"]);

test("the linked module is named linked_module, as the Rust bpf-linker's", () => {
  const { inputs } = modulesFor([a, lib, lib2], []);
  assert.equal(ourOrder(inputs).name, LINKED_MODULE_NAME);
  assert.equal(LINKED_MODULE_NAME, "linked_module");
});

test("multi-file C: functions and globals in llvm-link-22's order (local functions after their first user)", () => {
  const { inputs, files } = modulesFor([a, b, lib, lib2], []);
  const ours = ourOrder(inputs).order;
  assert.deepEqual(ours, llvmLinkOrder(files));
  // The order is not each file's own: xdp_two comes before local_a, which xdp_one alone uses.
  assert.ok(ours.indexOf("xdp_two") < ours.indexOf("local_a"), ours.join(", "));
  // And another input order gives another, still llvm-link's, order.
  const reversed = modulesFor([lib2, lib, b, a], []);
  assert.deepEqual(ourOrder(reversed.inputs).order, llvmLinkOrder(reversed.files));
});

test("a C program and an archive of which two of three members are used: llvm-link-22's order of those modules", () => {
  const archive = makeArchive(dir, "libparts.a", [unused, lib, lib2]);
  const { inputs, files } = modulesFor([a, b, archive], []);
  assert.deepEqual(inputs.map((i) => i.member ?? "-"), ["-", "-", "lib.bc", "lib2.bc"]);
  assert.deepEqual(ourOrder(inputs).order, llvmLinkOrder(files));
});

test("the object (no BTF) is the LLVM 22 pipeline's, llvm-link then opt then llc, but for the FILE symbol: linked_module", () => {
  const archive = makeArchive(dir, "libobj.a", [unused, lib, lib2]);
  const exports = "xdp_one,xdp_two,xdp_three";
  const ours = join(dir, "ours.o");
  const r = runLinker(["--export", exports, a, b, archive, "-o", ours]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "", "a successful default link prints nothing");
  // The pipeline gets the modules our link used (unused.bc is not among them), in the same order.
  const { files } = modulesFor([a, b, archive], exports.split(","));
  const linked = join(dir, "pipeline.bc");
  const optimized = join(dir, "pipeline-opt.bc");
  const theirs = join(dir, "pipeline.o");
  tool(`${LLVM_BIN}/llvm-link`, ["-o", linked, ...files]);
  tool(`${LLVM_BIN}/opt`, [
    "-passes=internalize,default<O2>,dce",
    `-internalize-public-api-list=${exports},memcpy,memmove,memset,memcmp,bcmp`,
    "-cold-callsite-rel-freq=0",
    "--strip-debug",
    linked,
    "-o",
    optimized,
  ]);
  tool(`${LLVM_BIN}/llc`, [
    "-march=bpf",
    "-mcpu=generic",
    "-O3",
    "-filetype=obj",
    "-bpf-disable-trap-unreachable",
    "-profile-guided-section-prefix=false",
    "-bpf-expand-memcpy-in-order",
    optimized,
    "-o",
    theirs,
  ]);
  const table = (obj: string) => tool(`${LLVM_BIN}/llvm-readelf`, ["-s", "-W", obj]);
  assert.match(table(ours), / FILE +LOCAL +DEFAULT +ABS linked_module$/m);
  assert.match(table(theirs), / FILE +LOCAL +DEFAULT +ABS llvm-link$/m);
  assert.equal(table(ours).replace(/ linked_module$/m, " llvm-link"), table(theirs));
  const code = (obj: string) => tool(`${LLVM_BIN}/llvm-objdump`, ["-d", "-r", obj]).split("\n").slice(2).join("\n");
  assert.equal(code(ours), code(theirs));
});

const sysroot = rustSysroot();
if (sysroot.skip) process.stderr.write(`SKIP: link order of rustc's inputs: ${sysroot.skip}\n`);

test(
  "what rustc hands its linker (crate object, core and compiler_builtins rlibs): llvm-link-22's order",
  sysroot.skip ? { skip: sysroot.skip } : {},
  () => {
    const capture = join(dir, "capture");
    const r = run("env", [
      `BENCH_CAPTURE_DIR=${capture}`,
      "/usr/bin/rustc",
      "--edition=2021",
      "--target=bpfel-unknown-none",
      "--sysroot",
      sysroot.root!,
      "-C",
      "panic=abort",
      "-C",
      "opt-level=3",
      "-C",
      "debuginfo=2",
      "-C",
      `linker=${join(repoRoot, "bench", "capture-linker")}`,
      "--crate-type=bin",
      "--crate-name=aya_style",
      "-o",
      join(dir, "aya_style.o"),
      join(repoRoot, "tests", "fixtures", "rust", "crates", "aya_style", "src", "main.rs"),
    ]);
    assert.equal(r.status, 0, r.stderr);
    const args = readFileSync(join(capture, "args"), "utf8").trim().split("\n");
    const inputs = args.filter((a) => a.startsWith("link/") && !a.endsWith("/symbols")).map((a) => join(capture, a.slice(5)));
    assert.ok(inputs.some((p) => p.endsWith("libcore.rlib")), args.join(" "));
    const exports = readFileSync(join(capture, "symbols"), "utf8").trim().split("\n");
    const modules = modulesFor(inputs, [...exports, "memcpy", "memmove", "memset", "memcmp", "bcmp"]);
    assert.ok(modules.inputs.some((i) => i.file.endsWith("libcompiler_builtins.rlib")));
    const ours = ourOrder(modules.inputs).order;
    assert.deepEqual(ours, llvmLinkOrder(modules.files));
    // rustc's crate object lists the helper before the program; linked, it follows its caller.
    const helper = ours.findIndex((n) => /aya_style7verdict/.test(n));
    assert.ok(ours.indexOf("aya_style") < helper, ours.join(", "));
  },
);

test("inputs are linked one after another while that work stays within 8x their size", () => {
  assert.equal(SEQUENTIAL_WORK_FACTOR, 8);
  assert.equal(sequentialPrefix([100]), 1);
  // Equal sizes: the k-th link walks k-1 inputs; 17 of them cost 136 <= 8 * 17.
  assert.equal(sequentialPrefix(Array(17).fill(10)), 17);
  assert.equal(sequentialPrefix(Array(500).fill(10)), 89);
  // A big first input (a crate object) followed by small members: each member walks it.
  assert.equal(sequentialPrefix([1000, ...Array(20).fill(1)]), 9);
  // Small inputs before a big one (rustc's crate object, then the members it needs): all of them.
  assert.equal(sequentialPrefix([5, 1, 1, 1, 10000]), 5);
});
