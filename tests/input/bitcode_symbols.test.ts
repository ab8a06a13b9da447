// readBitcodeSymbols on bitcode made at test time — clang-22/19 for BPF (functions, statics,
// externs, weak, aliases, common, used, sections, maps, module asm), llvm-as-22/19 of
// hand-written IR (every linkage), the Darwin wrapper, -fembed-bitcode, llvm-cat, rustc —
// checked against llvm-nm-22/-19; the record layouts checked against llvm-bcanalyzer-22/-19;
// hand-built bitstreams for what real producers do not write; deterministic fuzzing; and the
// time taken on a big module, next to LLVM's own.

import { test } from "node:test";
import assert from "node:assert/strict";

import {
  ASK_THE_READER,
  type BitcodeSymbols,
  mayDefineAnyOf,
  quickKeepFlags,
  readBitcodeSymbols,
  readKeepFlags,
  readKeepFlagsWithReader,
} from "../../src/input/bitcode_symbols.ts";
import { ARRAY, BitWriter, CHAR6, FIXED, VBR } from "../support/bitwriter.ts";
import { fuzzRandomStreams, fuzzSeeds, makeRandom, readsWithoutThrowing } from "../support/fuzz.ts";
import { rustSysroot, toolTest, workspace } from "../support/tools.ts";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { modulesOf } from "../../src/input/files.ts";
import { Logger, MemorySink } from "../../src/log.ts";

// ---------------------------------------------------------------------------
// Helpers: a scratch directory and the real tools

const { path, run, readBytes, writeText: write } = workspace("bpf-linker-symbols-");

interface NmSymbols {
  defined: string[];
  undefined: string[];
}

/**
 * llvm-nm's view: defined = upper-case types other than U (T, D, B, R, C, W, V, ...),
 * undefined = U, w, v; local (other lower-case) symbols are left out. `prefix` is the
 * object format's global prefix ("_" on Mach-O), which nm adds and the IR names lack.
 */
function nmSymbols(nm: string, file: string, prefix = ""): NmSymbols {
  const defined: string[] = [];
  const undefinedNames: string[] = [];
  for (const line of run(nm, [file]).split("\n")) {
    if (line === "") continue;
    const match = /^[0-9a-fA-F-]*\s+(\S) (.+)$/.exec(line);
    assert.ok(match, `unexpected llvm-nm line: ${JSON.stringify(line)}`);
    const [, type, raw] = match;
    if (prefix && !raw.startsWith(prefix)) assert.fail(`${raw} lacks the prefix ${prefix}`);
    const name = raw.slice(prefix.length);
    if (type === "U" || type === "w" || type === "v") undefinedNames.push(name);
    else if (type >= "A" && type <= "Z") defined.push(name);
  }
  return { defined: defined.sort(), undefined: undefinedNames.sort() };
}

function read(file: string): BitcodeSymbols {
  const got = readBitcodeSymbols(readBytes(file));
  assert.ok(got, `readBitcodeSymbols could not read ${file}`);
  return got;
}

/** Our sets equal llvm-nm's (minus `asmOnly`, symbols nm takes from module asm). */
function checkAgainstNm(
  nm: string,
  file: string,
  options: { prefix?: string; asmOnly?: string[] } = {},
): BitcodeSymbols {
  const got = read(file);
  const expected = nmSymbols(nm, path(file), options.prefix);
  const asmOnly = new Set(options.asmOnly ?? []);
  assert.deepEqual([...got.defined].sort(), expected.defined.filter((n) => !asmOnly.has(n)));
  assert.deepEqual([...got.undefined].sort(), expected.undefined.filter((n) => !asmOnly.has(n)));
  for (const name of asmOnly) {
    assert.ok(
      expected.defined.includes(name) || expected.undefined.includes(name),
      `llvm-nm does not list the asm symbol ${name}`,
    );
  }
  return got;
}

const sorted = (names: readonly string[]) => [...names].sort();

// ---------------------------------------------------------------------------
// Inputs

const BPF_C = `
#define SEC(name) __attribute__((section(name), used))
struct bpf_map_def { unsigned int type, key_size, value_size, max_entries; };
struct bpf_map_def my_map SEC(".maps") = { 1, 4, 8, 16 };
char LICENSE[] SEC("license") = "GPL";

extern int ext_fn(int);                       /* declared and called: U */
extern int ext_unused(int);                   /* declared, never used: not in the module */
extern int ext_var;                           /* extern global used: U */
extern int weak_ext(int) __attribute__((weak)); /* extern_weak: w */
int init_var = 5;                             /* D */
int uninit_var;                               /* common with -fcommon: C */
int zero_var = 0;                             /* B without -fcommon... D/B either way */
const int ro_var = 42;                        /* R */
static int static_var = 3;                    /* local */
static int used_static __attribute__((used)) = 7; /* local, in llvm.compiler.used */

static int static_fn(int x) { return x * 2 + static_var++; }
static inline int inline_fn(int x) { return x + 1; }
int ext_def(int x) {
  return static_fn(x) + inline_fn(x) + ext_fn(x) + ext_var + ro_var +
         (weak_ext ? weak_ext(x) : 0);
}
__attribute__((weak)) int weak_def(int x) { return x - 1; }
int alias_fn(int) __attribute__((alias("ext_def")));
extern int alias_var __attribute__((alias("init_var")));

SEC("xdp") int prog(void *ctx) { return ext_def(1) + uninit_var + init_var + zero_var; }
`;

const ASM_C = `
asm(".globl asm_defined\\nasm_defined:\\n\\tr0 = 0\\n\\texit\\n");
asm(".globl asm_declared");
int plain(int x) { return x; }
`;

const HAND_LL = `
target triple = "bpf"
$comdat_fn = comdat any
@llvm.used = appending global [1 x ptr] [ptr @used_fn], section "llvm.metadata"
@llvm.global_ctors = appending global [1 x { i32, ptr, ptr }] [{ i32, ptr, ptr } { i32 65535, ptr @ctor, ptr null }]
@ext_weak_var = extern_weak global i32
@avail_var = available_externally global i32 3
@priv_var = private global i32 1
@internal_var = internal global i32 1
@weak_var = weak global i32 2
@weak_odr_var = weak_odr global i32 2
@linkonce_var = linkonce global i32 2
@linkonce_odr_var = linkonce_odr global i32 2
@common_var = common global i32 0
@decl_var = external global i32
@hidden_var = hidden global i32 4
@0 = private global i32 5
@"quoted name with spaces" = global i32 6
@"\\C3\\BCnicode" = global i32 7
@alias_weak = weak alias i32, ptr @weak_var
@alias_priv = private alias i32, ptr @weak_var
@ifunc_sym = ifunc void (), ptr @resolver

define linkonce_odr i32 @lo_fn() { ret i32 1 }
define available_externally i32 @ae_fn() { ret i32 2 }
declare extern_weak i32 @ew_fn()
define private i32 @priv_fn() { ret i32 3 }
define internal void @ctor() { ret void }
define void @used_fn() { ret void }
define ptr @resolver() { ret ptr @used_fn }
define i32 @comdat_fn() comdat { ret i32 0 }
declare void @llvm.trap()
declare i32 @decl_fn(i32)
define i32 @caller() {
  call void @llvm.trap()
  %a = call i32 @decl_fn(i32 1)
  %b = call i32 @lo_fn()
  %c = call i32 @ae_fn()
  %d = call i32 @ew_fn()
  %e = call i32 @priv_fn()
  ret i32 %a
}
`;

const HAND_DEFINED = [
  "weak_var",
  "weak_odr_var",
  "linkonce_var",
  "linkonce_odr_var",
  "common_var",
  "hidden_var",
  "quoted name with spaces",
  "ünicode",
  "lo_fn",
  "used_fn",
  "resolver",
  "comdat_fn",
  "caller",
  "alias_weak",
  "ifunc_sym",
];
const HAND_UNDEFINED = ["ext_weak_var", "avail_var", "decl_var", "ae_fn", "ew_fn", "decl_fn"];

const RUST_LIB = `
#![no_std]
use core::sync::atomic::{AtomicU32, Ordering};
#[no_mangle] pub static mut COUNTER: u32 = 0;
#[no_mangle] pub static TABLE: [u32; 4] = [1, 2, 3, 4];
pub static ATOMIC: AtomicU32 = AtomicU32::new(0);
extern "C" { fn ext_c(x: u32) -> u32; static EXT_STATIC: u32; }
#[inline(never)] pub fn generic<T: Copy + Into<u64>>(x: T) -> u64 { x.into() * 3 }
pub fn never_instantiated<T: Default>() -> T { T::default() }
#[no_mangle] pub extern "C" fn api(x: u32) -> u64 {
  unsafe { COUNTER += ext_c(x) + EXT_STATIC; }
  generic(x) + generic(x as u8) + TABLE[x as usize & 3] as u64 +
    ATOMIC.fetch_add(1, Ordering::Relaxed) as u64
}
pub fn not_exported(x: u32) -> u32 { x.wrapping_mul(7) }
#[no_mangle] #[used] static USED_STATIC: u32 = 9;
#[inline] pub fn inline_pub(x: u32) -> u32 { x + 1 }
`;

write("bpf.c", BPF_C);
write("asm.c", ASM_C);
write("hand.ll", HAND_LL);
write("lib.rs", RUST_LIB);
write(
  "mac.c",
  "extern int ext(int);\nint g = 1;\nint f(int x) { return ext(x) + g; }\n" +
    "static int s(int x) { return x; }\nint h(int x) { return s(x); }\n",
);

function clangBpf(clang: string, out: string, extra: string[] = []): void {
  run(clang, ["-target", "bpf", "-O2", "-emit-llvm", "-c", ...extra, "bpf.c", "-o", out]);
}

/** mac.c as clang-22 -target x86_64-apple-macos bitcode: the Darwin wrapper. */
function clangMac(out: string): void {
  run("clang-22", ["-target", "x86_64-apple-macos", "-O2", "-emit-llvm", "-c", "mac.c", "-o", out]);
}

// ---------------------------------------------------------------------------
// Real producers against llvm-nm

for (const version of ["22", "19"]) {
  toolTest(`clang-${version} BPF C (-O2/-O0, -fcommon/-fno-common) matches llvm-nm-${version}`, [
    `clang-${version}`,
    `llvm-nm-${version}`,
  ], () => {
    for (
      const [tag, extra] of [
        ["o2-common", ["-fcommon"]],
        ["o2", []],
        ["o0-common", ["-O0", "-fcommon"]],
        ["g", ["-g"]],
      ] as const
    ) {
      const file = `bpf${version}-${tag}.bc`;
      clangBpf(`clang-${version}`, file, [...extra]);
      const got = checkAgainstNm(`llvm-nm-${version}`, file);
      assert.equal(got.hasUsedList, true, "SEC() and used put globals in llvm.compiler.used");
      assert.equal(got.hasModuleAsm, false);
      for (const name of ["my_map", "LICENSE", "init_var", "ext_def", "weak_def", "prog"]) {
        assert.ok(got.defined.includes(name), `${file}: ${name} defined`);
      }
      for (const name of ["alias_fn", "alias_var", "uninit_var", "ro_var"]) {
        assert.ok(got.defined.includes(name), `${file}: ${name} defined`);
      }
      assert.deepEqual(sorted(got.undefined), ["ext_fn", "ext_var", "weak_ext"], file);
      for (const name of ["static_var", "used_static", "static_fn", "inline_fn", "ext_unused"]) {
        assert.ok(!got.defined.includes(name) && !got.undefined.includes(name), `${file}: ${name}`);
      }
    }
  });
}

toolTest("module asm: hasModuleAsm, and every other symbol as llvm-nm-22 has it", [
  "clang-22",
  "llvm-nm-22",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-emit-llvm", "-c", "asm.c", "-o", "asm.bc"]);
  // llvm-nm parses the asm too; these names exist only there, and the caller loads a module
  // with asm conservatively.
  const got = checkAgainstNm("llvm-nm-22", "asm.bc", { asmOnly: ["asm_defined", "asm_declared"] });
  assert.equal(got.hasModuleAsm, true);
  assert.equal(got.hasUsedList, false);
  assert.deepEqual(got.defined, ["plain"]);
});

for (const version of ["22", "19"]) {
  toolTest(`llvm-as-${version} of hand-written IR, every linkage, matches llvm-nm-${version}`, [
    `llvm-as-${version}`,
    `llvm-nm-${version}`,
  ], () => {
    run(`llvm-as-${version}`, ["hand.ll", "-o", `hand${version}.bc`]);
    const got = checkAgainstNm(`llvm-nm-${version}`, `hand${version}.bc`);
    assert.deepEqual(sorted(got.defined), sorted(HAND_DEFINED));
    assert.deepEqual(sorted(got.undefined), sorted(HAND_UNDEFINED));
    assert.equal(got.hasUsedList, true, "llvm.used");
    assert.equal(got.hasModuleAsm, false);
  });
}

toolTest("mayDefineAnyOf: false only when the string table holds none of the names", ["clang-22"], () => {
  const builtins = ["memset", "memmove", "memcmp"];
  const compile = (name: string, source: string) => {
    write(`${name}.c`, source);
    run("clang-22", ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", `${name}.c`, "-o", `${name}.bc`]);
    return readBytes(`${name}.bc`);
  };
  // A C program names none of them (its debug info's strings are not in the string table).
  const plain = compile("nomem", "int f(int x) { return x; }\nint memsetting = 1;\n");
  assert.equal(mayDefineAnyOf(plain, builtins), true, "'memsetting' holds 'memset': unsure");
  const none = compile("nomem2", "int f(int x) { return x; }\n");
  assert.equal(mayDefineAnyOf(none, builtins), false);
  // The intrinsic llvm.memset.* holds the name: unsure, so the symbols are read.
  const intrinsic = compile("usesmem", "void z(char *p, unsigned long n) { __builtin_memset(p, 0, n); }\n");
  assert.equal(mayDefineAnyOf(intrinsic, builtins), true);
  assert.ok(!read("usesmem.bc").defined.includes("memset"));
  const defines = compile("defmem", "void *memmove(void *d, const void *s, unsigned long n) { return d; }\n");
  assert.equal(mayDefineAnyOf(defines, builtins), true);
  // Not bitcode, or not understood: unsure.
  assert.equal(mayDefineAnyOf(new TextEncoder().encode("define void @memset() { ret void }\n"), builtins), true);
});

toolTest("no llvm.used or llvm.compiler.used: hasUsedList is false", ["llvm-as-22"], () => {
  write("plain.ll", "@g = global i32 1\ndefine i32 @f() { ret i32 0 }\ndeclare void @d()\n");
  run("llvm-as-22", ["plain.ll", "-o", "plain.bc"]);
  assert.deepEqual(read("plain.bc"), {
    defined: ["g", "f"],
    undefined: ["d"],
    local: [],
    hasUsedList: false,
    hasModuleAsm: false,
  });
  write(
    "cused.ll",
    '@x = global i32 1\n@llvm.compiler.used = appending global [1 x ptr] [ptr @x], section "llvm.metadata"\n',
  );
  run("llvm-as-22", ["cused.ll", "-o", "cused.bc"]);
  assert.deepEqual(read("cused.bc"), {
    defined: ["x"],
    undefined: [],
    local: [],
    hasUsedList: true,
    hasModuleAsm: false,
  });
});

toolTest("Darwin wrapper (0x0B17C0DE) from clang-22 -target x86_64-apple-macos", [
  "clang-22",
  "llvm-nm-22",
], () => {
  clangMac("mac.bc");
  const bytes = readBytes("mac.bc");
  assert.deepEqual([...bytes.subarray(0, 4)], [0xde, 0xc0, 0x17, 0x0b], "expected a wrapper");
  // llvm-nm prints Mach-O names with their "_"; the IR names have none.
  const got = checkAgainstNm("llvm-nm-22", "mac.bc", { prefix: "_" });
  assert.deepEqual(sorted(got.defined), ["f", "g", "h"]);
  assert.deepEqual(got.undefined, ["ext"]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = view.getUint32(8, true);
  const size = view.getUint32(12, true);
  assert.deepEqual(readBitcodeSymbols(bytes.slice(offset, offset + size)), got);
});

toolTest("the .llvmbc section of clang-22 -fembed-bitcode", [
  "clang-22",
  "llvm-objcopy-22",
  "llvm-nm-22",
], () => {
  run("clang-22", ["-target", "bpf", "-O2", "-fembed-bitcode", "-c", "bpf.c", "-o", "embed.o"]);
  run("llvm-objcopy-22", ["--dump-section", ".llvmbc=embed.bc", "embed.o", "embed.o.tmp"]);
  checkAgainstNm("llvm-nm-22", "embed.bc");
  assert.equal(readBitcodeSymbols(readBytes("embed.o")), undefined, "ELF is not bitcode");
});

toolTest("llvm-cat -b: the first module's symbols, names from the shared string table", [
  "clang-22",
  "llvm-as-22",
  "llvm-cat-22",
], () => {
  clangBpf("clang-22", "cat-a.bc", ["-fcommon"]);
  run("llvm-as-22", ["hand.ll", "-o", "cat-b.bc"]);
  run("llvm-cat-22", ["-b", "cat-a.bc", "cat-b.bc", "-o", "cat-ab.bc"]);
  run("llvm-cat-22", ["-b", "cat-b.bc", "cat-a.bc", "-o", "cat-ba.bc"]);
  const a = read("cat-a.bc");
  const b = read("cat-b.bc");
  const ab = read("cat-ab.bc");
  const ba = read("cat-ba.bc");
  assert.deepEqual(sorted(ab.defined), sorted(a.defined));
  assert.deepEqual(sorted(ab.undefined), sorted(a.undefined));
  assert.deepEqual(sorted(ba.defined), sorted(b.defined));
  assert.deepEqual(sorted(ba.undefined), sorted(b.undefined));
});

function rustcBitcode(rustc: string, out: string): void {
  run(rustc, ["--emit=llvm-bc", "--crate-type", "lib", "-C", "opt-level=2", "lib.rs", "-o", out]);
}

function checkRustc(rustc: string, out: string): void {
  rustcBitcode(rustc, out);
  const got = checkAgainstNm("llvm-nm-22", out);
  for (const name of ["api", "COUNTER", "TABLE", "USED_STATIC"]) {
    assert.ok(got.defined.includes(name), name);
  }
  assert.ok(got.defined.some((n) => n.includes("ATOMIC")), "mangled static");
  assert.ok(got.defined.some((n) => n.includes("generic")), "instantiated generic");
  assert.ok(!got.defined.some((n) => n.includes("never_instantiated")));
  for (const name of ["ext_c", "EXT_STATIC"]) assert.ok(got.undefined.includes(name), name);
  assert.equal(got.hasUsedList, true, "#[used]");
}

toolTest("rustc --emit=llvm-bc (/usr/bin/rustc) matches llvm-nm-22", [
  "/usr/bin/rustc",
  "llvm-nm-22",
], () => {
  checkRustc("/usr/bin/rustc", "rust.bc");
});

// ---------------------------------------------------------------------------
// Record layouts, as LLVM's own dumper shows them

/** Module-level symbol records of the first module, in order: [record name, ops]. */
function bcanalyzerModuleRecords(analyzer: string, file: string): [string, number[]][] {
  const dump = run(analyzer, ["-dump", path(file)]);
  const module = /<MODULE_BLOCK [^>]*>([\s\S]*?)\n<\/MODULE_BLOCK>/.exec(dump);
  assert.ok(module, `no MODULE_BLOCK in the dump of ${file}`);
  const records: [string, number[]][] = [];
  // Direct children only: two spaces of indentation.
  for (const match of module[1].matchAll(/^ {2}<(\w+)((?: [^/>]*)?)\/>/gm)) {
    if (!/^(GLOBALVAR|FUNCTION|ALIAS|IFUNC|UnknownCode18)$/.test(match[1])) continue;
    const ops = [...match[2].matchAll(/ op\d+=(\d+)/g)].map((m) => Number(m[1]));
    records.push([match[1] === "UnknownCode18" ? "IFUNC" : match[1], ops]);
  }
  return records;
}

// hand.ll's globals in the writer's order (variables, functions, aliases, ifuncs), with the
// encoded linkage (BitcodeWriter getEncodedLinkage) and declaration-ness we expect.
const HAND_RECORDS: [string, string, number, boolean][] = [
  ["GLOBALVAR", "llvm.used", 2, false],
  ["GLOBALVAR", "llvm.global_ctors", 2, false],
  ["GLOBALVAR", "ext_weak_var", 7, true],
  ["GLOBALVAR", "avail_var", 12, false],
  ["GLOBALVAR", "priv_var", 9, false],
  ["GLOBALVAR", "internal_var", 3, false],
  ["GLOBALVAR", "weak_var", 16, false],
  ["GLOBALVAR", "weak_odr_var", 17, false],
  ["GLOBALVAR", "linkonce_var", 18, false],
  ["GLOBALVAR", "linkonce_odr_var", 19, false],
  ["GLOBALVAR", "common_var", 8, false],
  ["GLOBALVAR", "decl_var", 0, true],
  ["GLOBALVAR", "hidden_var", 0, false],
  ["GLOBALVAR", "", 9, false],
  ["GLOBALVAR", "quoted name with spaces", 0, false],
  ["GLOBALVAR", "ünicode", 0, false],
  ["FUNCTION", "lo_fn", 19, false],
  ["FUNCTION", "ae_fn", 12, false],
  ["FUNCTION", "ew_fn", 7, true],
  ["FUNCTION", "priv_fn", 9, false],
  ["FUNCTION", "ctor", 3, false],
  ["FUNCTION", "used_fn", 0, false],
  ["FUNCTION", "resolver", 0, false],
  ["FUNCTION", "comdat_fn", 0, false],
  ["FUNCTION", "llvm.trap", 0, true],
  ["FUNCTION", "decl_fn", 0, true],
  ["FUNCTION", "caller", 0, false],
  ["ALIAS", "alias_weak", 16, false],
  ["ALIAS", "alias_priv", 9, false],
  ["IFUNC", "ifunc_sym", 0, false],
];

for (const version of ["22", "19"]) {
  toolTest(`record layouts (name, initid/isproto, linkage) per llvm-bcanalyzer-${version}`, [
    `llvm-as-${version}`,
    `llvm-bcanalyzer-${version}`,
  ], () => {
    run(`llvm-as-${version}`, ["hand.ll", "-o", `layout${version}.bc`]);
    const records = bcanalyzerModuleRecords(`llvm-bcanalyzer-${version}`, `layout${version}.bc`);
    assert.equal(records.length, HAND_RECORDS.length);
    const utf8 = new TextEncoder();
    records.forEach(([kind, ops], i) => {
      const [expectedKind, name, linkage, declaration] = HAND_RECORDS[i];
      const what = `${expectedKind} ${name || "@0"}`;
      assert.equal(kind, expectedKind, what);
      assert.equal(ops[1], utf8.encode(name).length, `${what}: op1 is the name's size`);
      assert.equal(ops[5], linkage, `${what}: op5 is the linkage`);
      if (kind === "GLOBALVAR") assert.equal(ops[4] === 0, declaration, `${what}: op4 initid`);
      if (kind === "FUNCTION") assert.equal(ops[4] !== 0, declaration, `${what}: op4 isproto`);
    });
    // The names themselves: op0 indexes the string table, which our reader resolves.
    assert.deepEqual(sorted(read(`layout${version}.bc`).defined), sorted(HAND_DEFINED));
  });
}

// ---------------------------------------------------------------------------
// Hand-built bitstreams: versions, encodings and linkages real producers rarely emit

const GLOBALVAR = 7, FUNCTION = 8, ALIAS_OLD = 9, ALIAS = 14, IFUNC = 18;

/** A module: VERSION `version`, then `body`; then a string table of `names`. */
function moduleWith(body: (w: BitWriter) => void, names = "", version: number | null = 2) {
  const w = new BitWriter().enter(8, 3);
  if (version !== null) w.unabbrev(1, [version]);
  body(w);
  w.end();
  if (names !== "") w.strtab(names);
  return w.bytes();
}

test("every encoded linkage, old and new, classified as LLVM decodes it", () => {
  // name i = "s<i>" at offset 3*i (names s00..s24, 3 bytes each).
  const names = Array.from({ length: 25 }, (_, i) => `s${String(i).padStart(2, "0")}`);
  const bytes = moduleWith((w) => {
    for (let linkage = 0; linkage < 25; linkage++) {
      // Functions with bodies: isproto 0.
      w.unabbrev(FUNCTION, [3 * linkage, 3, 0, 0, 0, linkage, 0, 0, 0, 0]);
    }
  }, names.join(""));
  const got = readBitcodeSymbols(bytes);
  assert.ok(got);
  const local = [2, 3, 9, 13, 14]; // appending, internal, private, old linker_private(_weak)
  const undefinedLinkages = [7, 12]; // extern_weak, available_externally
  const expectDefined = names.filter((_, i) =>
    !local.includes(i) && !undefinedLinkages.includes(i)
  );
  // 20..24 are unknown: LLVM reads them as external.
  assert.deepEqual(got.defined, expectDefined);
  assert.deepEqual(got.undefined, ["s07", "s12"]);
  assert.deepEqual(got.local, ["s03", "s09", "s13", "s14"]); // appending (2) is no symbol at all
});

test("declarations: GLOBALVAR initid 0, FUNCTION isproto 1; aliases and ifuncs define", () => {
  const bytes = moduleWith((w) => {
    w.unabbrev(GLOBALVAR, [0, 2, 0, 2, 0, 0]); // gv decl
    w.unabbrev(GLOBALVAR, [2, 2, 0, 2, 5, 0]); // gd with initializer
    w.unabbrev(FUNCTION, [4, 2, 0, 0, 1, 0, 0, 0]); // fv decl
    w.unabbrev(FUNCTION, [6, 2, 0, 0, 0, 0, 0, 0]); // fd body
    w.unabbrev(ALIAS, [8, 2, 0, 0, 3, 0, 0]); // al
    w.unabbrev(ALIAS_OLD, [10, 2, 0, 3, 16]); // ao, weak (old layout: linkage at op 4)
    w.unabbrev(IFUNC, [12, 2, 0, 0, 3, 0]); // if
    w.unabbrev(ALIAS_OLD, [14, 2, 0, 3, 3]); // ap, internal: a local definition
  }, "gvgdfvfdalaoifap");
  assert.deepEqual(readBitcodeSymbols(bytes), {
    defined: ["gd", "fd", "al", "ao", "if"],
    undefined: ["gv", "fv"],
    local: ["ap"],
    hasUsedList: false,
    hasModuleAsm: false,
  });
});

test("abbreviated GLOBALVAR records (as clang writes them) and a char6 ASM record", () => {
  const bytes = moduleWith((w) => {
    // GLOBALVAR: [vbr8 offset, vbr8 size, fixed type, vbr6 flags, vbr6 initid, fixed5 linkage,
    // literal alignment, literal section], like writeModuleInfo's SimpleGVarAbbrev.
    w.defineAbbrev([
      [true, GLOBALVAR],
      [false, VBR, 8],
      [false, VBR, 8],
      [false, FIXED, 3],
      [false, VBR, 6],
      [false, VBR, 6],
      [false, FIXED, 5],
      [true, 0],
      [true, 0],
    ]);
    w.fixed(4, 3).vbr(0, 8).vbr(5, 8).fixed(1, 3).vbr(2, 6).vbr(7, 6).fixed(0, 5); // first
    w.fixed(4, 3).vbr(5, 8).vbr(6, 8).fixed(1, 3).vbr(2, 6).vbr(0, 6).fixed(0, 5); // second (decl)
    w.fixed(4, 3).vbr(11, 8).vbr(18, 8).fixed(1, 3).vbr(2, 6).vbr(9, 6).fixed(2, 5); // llvm.compiler.used
    // ASM as a char6 array.
    w.defineAbbrev([[true, 4], [false, ARRAY], [false, CHAR6]]);
    w.fixed(5, 3).vbr(3, 6);
    for (const c of "nop") w.fixed(c.charCodeAt(0) - 97, 6); // char6: a..z are 0..25
  }, "firstsecondllvm.compiler.used");
  assert.deepEqual(readBitcodeSymbols(bytes), {
    defined: ["first"],
    undefined: ["second"],
    local: [],
    hasUsedList: true,
    hasModuleAsm: true,
  });
});

test("an empty ASM record is no module asm", () => {
  const bytes = moduleWith((w) => w.unabbrev(4, []).unabbrev(FUNCTION, [0, 1, 0, 0, 0, 0]), "f");
  assert.deepEqual(readBitcodeSymbols(bytes), {
    defined: ["f"],
    undefined: [],
    local: [],
    hasUsedList: false,
    hasModuleAsm: false,
  });
});

test("sub-blocks of the module, and blocks around it, are skipped by length", () => {
  const w = new BitWriter();
  w.enter(13, 5).unabbrev(1, [76, 76, 86, 77]).end(); // IDENTIFICATION
  w.enter(8, 3).unabbrev(1, [2]);
  w.enter(0, 2).unabbrev(1, [12]).defineAbbrev([[true, 1], [false, FIXED, 4]]).end(); // BLOCKINFO
  w.enter(17, 4).unabbrev(1, [1, 2, 3]).end(); // TYPE_BLOCK: not read
  w.unabbrev(FUNCTION, [0, 1, 0, 0, 0, 0]);
  w.enter(12, 4).fixed(4, 4).fixed(9, 4).end(); // a body using the BLOCKINFO abbreviation
  w.end();
  w.enter(25, 3).unabbrev(1, [9, 9]).end(); // SYMTAB, before STRTAB
  w.strtab("f");
  w.enter(23, 3).unabbrev(2, [0]).end(); // a second STRTAB: the first one after the module wins
  assert.deepEqual(readBitcodeSymbols(w.bytes())?.defined, ["f"]);
});

test("unreadable modules: undefined (the caller then loads the member anyway)", () => {
  const fn = (w: BitWriter) => w.unabbrev(FUNCTION, [0, 1, 0, 0, 0, 0]);
  const cases: [string, Uint8Array][] = [
    ["VERSION 1 (names in the VST)", moduleWith(fn, "f", 1)],
    ["VERSION 0", moduleWith(fn, "f", 0)],
    ["no VERSION", moduleWith(fn, "f", null)],
    ["VERSION after the first global", moduleWith((w) => fn(w).unabbrev(1, [2]), "f", null)],
    ["VERSION without operands", moduleWith((w) => w.unabbrev(1, []), "", null)],
    ["no string table", moduleWith(fn)],
    [
      "name past the string table",
      moduleWith((w) => w.unabbrev(FUNCTION, [0, 5, 0, 0, 0, 0]), "f"),
    ],
    ["FUNCTION record too short", moduleWith((w) => w.unabbrev(FUNCTION, [0, 1, 0, 0, 0]), "f")],
    ["GLOBALVAR record too short", moduleWith((w) => w.unabbrev(GLOBALVAR, [0, 1, 0, 0, 1]), "f")],
    ["ALIAS_OLD record too short", moduleWith((w) => w.unabbrev(ALIAS_OLD, [0, 1, 0, 0]), "f")],
    ["no module", new BitWriter().strtab("f").bytes()],
    ["not bitcode", new TextEncoder().encode("define void @f() { ret void }")],
    ["empty", new Uint8Array(0)],
    ["magic only", new Uint8Array([0x42, 0x43, 0xc0, 0xde])],
  ];
  for (const [name, bytes] of cases) assert.equal(readBitcodeSymbols(bytes), undefined, name);
});

test("a module with no named globals needs no string table", () => {
  const bytes = moduleWith((w) => w.unabbrev(GLOBALVAR, [0, 0, 0, 2, 1, 9]));
  assert.deepEqual(readBitcodeSymbols(bytes), {
    defined: [],
    undefined: [],
    local: [],
    hasUsedList: false,
    hasModuleAsm: false,
  });
});

toolTest("readKeepFlags: readBitcodeSymbols' flags, or undefined when a used list's name is in the string table", [
  "clang-22",
  "llvm-as-22",
], () => {
  const sources: Record<string, string> = {
    "kf_plain.c": "int g = 3; int f(int x) { return x + g; }\n",
    "kf_asm.c": 'asm(".globl marker"); int h(void) { return 1; }\n',
    "kf_used.c": "__attribute__((used)) static int keep(void) { return 5; }\n",
  };
  const flags = (file: string) => {
    const bytes = readBytes(file);
    const quick = readKeepFlags(bytes);
    assert.deepEqual(quick, readKeepFlagsWithReader(bytes), `${file}: quick path and reader`);
    return quick;
  };
  for (const [name, text] of Object.entries(sources)) {
    write(name, text);
    run("clang-22", ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", name, "-o", name.replace(".c", ".bc")]);
  }
  assert.deepEqual(flags("kf_plain.bc"), { hasUsedList: false, hasModuleAsm: false });
  assert.deepEqual(flags("kf_asm.bc"), { hasUsedList: false, hasModuleAsm: true });
  assert.equal(flags("kf_used.bc"), undefined, "llvm.compiler.used: unsure, the full read decides");
  assert.equal(read("kf_used.bc").hasUsedList, true);
  // A name that merely contains "llvm.used" is no used list, but only the full read can tell.
  write("kf_lookalike.ll", '@"xllvm.usedy" = global i32 1\n');
  run("llvm-as-22", ["kf_lookalike.ll", "-o", "kf_lookalike.bc"]);
  assert.equal(flags("kf_lookalike.bc"), undefined);
  assert.equal(read("kf_lookalike.bc").hasUsedList, false);
});

// ---------------------------------------------------------------------------
// Robustness: truncations and bit flips of real bitcode never throw, never hang

function check(bytes: Uint8Array, what: string): BitcodeSymbols | undefined {
  const flags = readsWithoutThrowing(what, () => readKeepFlags(bytes));
  if (flags !== undefined) assert.deepEqual(Object.keys(flags).sort(), ["hasModuleAsm", "hasUsedList"], what);
  // The quick path answers only as the reader would.
  assert.deepEqual(flags, readsWithoutThrowing(what, () => readKeepFlagsWithReader(bytes)), what);
  const result = readsWithoutThrowing(what, () => readBitcodeSymbols(bytes));
  if (result !== undefined) {
    for (const list of [result.defined, result.undefined]) {
      assert.ok(Array.isArray(list), what);
      for (const name of list) assert.equal(typeof name, "string", what);
    }
    assert.equal(typeof result.hasUsedList, "boolean", what);
    assert.equal(typeof result.hasModuleAsm, "boolean", what);
  }
  return result;
}

toolTest("truncations: undefined for every proper prefix (the string table is last)", [
  "clang-22",
], () => {
  clangBpf("clang-22", "trunc.bc", ["-fcommon"]);
  const bytes = readBytes("trunc.bc");
  const full = readBitcodeSymbols(bytes);
  assert.ok(full);
  for (let length = 0; length < bytes.length; length++) {
    assert.equal(check(bytes.subarray(0, length), `truncated to ${length}`), undefined);
  }
});

toolTest("fuzz: thousands of bit flips and overwrites of real bitcode", [
  "clang-22",
  "/usr/bin/rustc",
], () => {
  clangBpf("clang-22", "fuzz.bc", ["-fcommon"]);
  clangMac("fuzzmac.bc");
  rustcBitcode("/usr/bin/rustc", "fuzzrust.bc");
  const seeds = [readBytes("fuzz.bc"), readBytes("fuzzmac.bc"), readBytes("fuzzrust.bc")];
  const { reads: iterations, readable } = fuzzSeeds(seeds, makeRandom(0x5eed), check);
  assert.ok(iterations >= 12000);
  // Flips in function bodies, metadata and the like leave the symbols readable.
  assert.ok(readable > 1000, `only ${readable} mutated inputs were still readable`);
});

test("fuzz: random streams behind a valid magic, often opening a module block", () => {
  fuzzRandomStreams(makeRandom(42), { count: 5000, maxExtra: 300, minLength: 16 }, (bytes) => {
    // ENTER_SUBBLOCK (2 bits: 01), block id 8 (vbr8), abbrev width 3 (vbr4), then the
    // length word covering the rest, and VERSION 2 unabbreviated (width 3: id 3).
    bytes[4] = 0x01 | (8 << 2); // id bits 2..9: 8
    bytes[5] = 3 << 2; // block id high bits 0, width 3 in bits 10..13
    bytes[6] = 0;
    bytes[7] = 0;
  }, check);
});

// ---------------------------------------------------------------------------
// A big module (its reading speed is for scripts/bench, not for tests)

toolTest("a big generated module: read twice alike, and as llvm-nm-22 has it", [
  "clang-22",
  "llvm-nm-22",
], () => {
  const count = 4000;
  let source = "";
  for (let i = 0; i < count; i++) {
    source += `extern int ext_${i}(int);\nint gv_${i} = ${i};\nstatic int sv_${i};\n` +
      `int fn_${i}(int x) { sv_${i} += x; return ext_${i}(x * ${i}) + gv_${i} + sv_${i}; }\n`;
  }
  write("big.c", source);
  run("clang-22", ["-target", "bpf", "-O2", "-emit-llvm", "-c", "big.c", "-o", "big.bc"]);
  const bytes = readBytes("big.bc");
  const got = readBitcodeSymbols(bytes);
  assert.ok(got);
  assert.deepEqual(readBitcodeSymbols(bytes), got);
  assert.equal(got.defined.length, 2 * count);
  assert.equal(got.undefined.length, count);
  // The whole set still agrees with llvm-nm at this size.
  const expected = nmSymbols("llvm-nm-22", path("big.bc"));
  assert.deepEqual(sorted(got.defined), expected.defined);
  assert.deepEqual(sorted(got.undefined), expected.undefined);
});

// ---------------------------------------------------------------------------
// readKeepFlags against the full read, on real archives: the Rust sysroot's rlibs
// (every member of core and compiler_builtins, as rustc's LLVM wrote them)

const sysroot = rustSysroot();
if (sysroot.skip) process.stderr.write(`SKIP: readKeepFlags on the sysroot's rlibs: ${sysroot.skip}\n`);

test("readKeepFlags agrees with readBitcodeSymbols on every member of core and compiler_builtins", sysroot.skip ? { skip: sysroot.skip } : {}, () => {
  const libDir = join(sysroot.root!, "lib", "rustlib", "bpfel-unknown-none", "lib");
  const log = new Logger("off", new MemorySink());
  let compared = 0;
  let quick = 0;
  let members = 0;
  for (const name of readdirSync(libDir).filter((n) => n.endsWith(".rlib"))) {
    const file = join(libDir, name);
    for (const input of modulesOf({ path: file, bytes: new Uint8Array(readFileSync(file)) }, log)) {
      members++;
      if (quickKeepFlags(input.bytes) !== ASK_THE_READER) quick++;
      const flags = readKeepFlags(input.bytes);
      assert.deepEqual(flags, readKeepFlagsWithReader(input.bytes), `${name}(${input.member}): quick path and reader`);
      const full = readBitcodeSymbols(input.bytes);
      assert.ok(full, `${name}(${input.member})`);
      // Never a false "defines none of them" for a name the member defines.
      for (const defined of full.defined) {
        assert.ok(mayDefineAnyOf(input.bytes, [defined]), `${name}(${input.member}): ${defined}`);
      }
      if (flags === undefined) continue; // unsure: selection then reads it whole
      assert.deepEqual(flags, { hasUsedList: full.hasUsedList, hasModuleAsm: full.hasModuleAsm }, `${name}(${input.member})`);
      compared++;
    }
  }
  assert.ok(compared > 300, `${compared} members compared`);
  // rustc's LLVM lays bitcode out as the quick path expects: it answers for every member.
  assert.equal(quick, members, "members the quick path answered");
});
