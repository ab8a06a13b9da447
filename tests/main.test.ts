// The bpf-linker command as a child process (src/main.ts under the runtime running the
// tests): every option of the README's command line against real clang inputs, judged by llvm-readelf,
// llvm-objdump and the kernel (bpftool); every kind of user error.
//
// Inputs are compiled once, at load time, into one scratch directory.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { spawnSync } from "node:child_process";

import {
  compileC,
  disassemble,
  LLVM_BIN,
  linkerWrapper,
  loadAndRun,
  makeArchive,
  MINIMAL_ENV,
  needsBpf,
  repoRoot,
  runLinker,
  runWithEnv,
  sectionNames,
  symbols,
  tempDir,
  tool,
} from "./support/tools.ts";
import { compileCFixture, xdpScorePacket, xdpScoreVerdict } from "./support/c_fixtures.ts";
import { SPEC_OPTION_SPELLINGS } from "./support/options.ts";

const dir = tempDir("bpfl-main-");
after(() => rmSync(dir, { recursive: true, force: true }));


// ---------------------------------------------------------------------------------- helpers

type Result = ReturnType<typeof runLinker>;

/** Run the linker in the scratch directory. */
function link(args: string[]): Result {
  return runLinker(args, { cwd: dir });
}

/** Run the linker; it must succeed without printing anything. Returns the output path. */
function linkOk(out: string, args: string[]): string {
  const path = join(dir, out);
  rmSync(path, { force: true });
  const r = link(["-o", path, ...args]);
  assert.equal(r.status, 0, `linker failed (${r.status}):\n${r.stderr}`);
  assert.equal(r.stderr, "", "a clean link prints nothing on stderr");
  assert.ok(existsSync(path), "output written");
  return path;
}

/** A fresh directory for a link that must fail. */
function freshDir(name: string): string {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  return d;
}

/** A user error: exactly one `error: ` line naming every needle, exit 1, no stack, no output, no temp. */
function assertCleanError(r: Result, output: string | undefined, ...needles: string[]): void {
  assert.equal(r.status, 1, `expected exit 1, got ${r.status}; stderr:\n${r.stderr}`);
  const lines = r.stderr.replace(/\n$/, "").split("\n");
  assert.equal(lines.length, 1, `expected exactly one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^error: /);
  assert.doesNotMatch(lines[0], /internal error/);
  assert.doesNotMatch(r.stderr, /^\s+at /m, "no JS stack trace");
  for (const needle of needles) {
    assert.ok(lines[0].includes(needle), `error names '${needle}': ${lines[0]}`);
  }
  if (output !== undefined) {
    assert.ok(!existsSync(output), "no output file left");
    const temps = readdirSync(dirname(output)).filter((f) => f.endsWith(".tmp"));
    assert.deepEqual(temps, [], "no temporary file left");
  }
}

const objdump = (path: string) => disassemble(path);
const objdumpRelocs = (path: string) =>
  tool(join(LLVM_BIN, "llvm-objdump"), ["-dr", "--no-show-raw-insn", path]);
const readelfHeader = (path: string) => tool(join(LLVM_BIN, "llvm-readelf"), ["-h", path]);

/** Instructions in llvm-objdump -d output (one per `  N:` line). */
function instructionCount(asm: string): number {
  return asm.split("\n").filter((line) => /^\s+\d+:\s/.test(line)).length;
}

/** The body of one function in llvm-objdump -d output. */
function functionBody(asm: string, name: string): string {
  const start = asm.indexOf(`<${name}>:\n`);
  assert.ok(start >= 0, `function ${name} in the disassembly`);
  const end = asm.indexOf("\n\n", start);
  return asm.slice(start, end < 0 ? undefined : end);
}

function bytesStartWith(path: string, magic: number[]): boolean {
  const bytes = readFileSync(path);
  return magic.every((b, i) => bytes[i] === b);
}
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46];
const BITCODE_MAGIC = [0x42, 0x43, 0xc0, 0xde];

function same(a: string, b: string): boolean {
  return readFileSync(a).equals(readFileSync(b));
}

// ----------------------------------------------------------------------------- the inputs

// XDP program of several files plus a static library of bitcode (tests/fixtures/c).
const xdpMainBc = compileCFixture(dir, "xdp_main");
const xdpWeighBc = compileCFixture(dir, "xdp_weigh");
const libVerdictBc = compileCFixture(dir, "xdp_lib_verdict");
const libUnusedBc = compileCFixture(dir, "xdp_lib_unused");
const xdpLib = makeArchive(dir, "libxdp.a", [libVerdictBc, libUnusedBc]);
const xdpMainLl = compileCFixture(dir, "xdp_main", "ll");
const xdpWeighElf = compileCFixture(dir, "xdp_weigh", "embed");
const XDP_INPUTS = [xdpMainBc, xdpWeighBc, xdpLib];

const expectedVerdict = xdpScoreVerdict;
const packet = xdpScorePacket;
const PACKETS = [
  packet(1, 2, 3, 4, 5, 6, 7, 8),
  packet(1),
  packet(2),
  packet(0, 0, 0, 0, 0, 0, 0, 250),
];

// Simple arithmetic: 64-bit registers on v1, 32-bit subregisters with alu32 (v3).
const aluBc = compileC(dir, "alu", "int f(int a, int b) { return a * b + 3; }\n");
// The same source for big-endian BPF and for x86-64 (a non-BPF triple).
const aluEbBc = compileC(dir, "alu_eb", "int f(int a, int b) { return a * b + 3; }\n", "bc", [
  "-target",
  "bpfeb",
]);
const aluX86Bc = compileC(dir, "alu_x86", "int f(int a, int b) { return a * b + 3; }\n", "bc", [
  "-target",
  "x86_64-linux-gnu",
]);

// Distinguishes every optimization level: a mid-sized helper called three times (inlined at
// O1-O3, not at Os/Oz), and constant-trip loops only O3 unrolls fully. Unoptimized by clang.
const optBc = compileC(
  dir,
  "opt",
  `static unsigned mix(unsigned x, unsigned y) {
  unsigned h = x * 2654435761u;
  h ^= y + (h << 6) + (h >> 2);
  h = (h ^ (h >> 15)) * 0x85ebca6bu;
  h = (h ^ (h >> 13)) * 0xc2b2ae35u;
  h ^= h >> 16;
  if (h & 1) h += x * y; else h -= y;
  if (h & 2) h ^= 0x1234; else h ^= 0x4321;
  return h;
}
unsigned f(unsigned *p) { return mix(p[0], p[1]) + mix(p[2], p[3]) + mix(p[4], p[5]); }
unsigned g(unsigned x) { unsigned r = 0; for (int i = 0; i < 24; i++) r ^= (x >> (i & 15)) * 2654435761u + i; return r; }
unsigned k(unsigned x) { unsigned r = 0; for (int i = 0; i < 28; i++) r ^= (x >> (i & 15)) * 2654435761u + i; return r; }
`,
  "bc",
  ["-Xclang", "-disable-llvm-passes"],
);

// Exports and internalization: a helper in another file, a global, an extern kfunc.
const apiBc = compileC(
  dir,
  "api",
  `extern int bpf_test_kfunc(int x) __attribute__((section(".ksyms")));
int helper(int x);
int counter = 5;
int entry_one(int x) { return helper(x) + bpf_test_kfunc(x); }
int entry_two(int x) { return helper(x) * 2 + counter; }
`,
);
const helperBc = compileC(dir, "helper", "int helper(int x) { return x * 7 + 1; }\n");
const externBc = compileC(
  dir,
  "externs",
  `extern int bpf_test_kfunc(int x) __attribute__((section(".ksyms")));
extern int ext_counter;
int use_externs(int x) { return bpf_test_kfunc(x * 3) + ext_counter; }
`,
);

// A defined memcpy (and memset), which the linker keeps exported by default.
const memBc = compileC(
  dir,
  "mem",
  `void *memcpy(void *d, const void *s, unsigned long n) {
  volatile char *dd = d; const volatile char *ss = s;
  for (unsigned long i = 0; i < n; i++) dd[i] = ss[i];
  return d;
}
void *memset(void *d, int c, unsigned long n) {
  volatile char *dd = d;
  for (unsigned long i = 0; i < n; i++) dd[i] = (char)c;
  return d;
}
int user(int x) { return x + 1; }
`,
  "bc",
  ["-fno-builtin"],
);

// A loop with a runtime trip count.
const loopBc = compileC(
  dir,
  "loop",
  "unsigned sum(const unsigned *p, unsigned n) { unsigned s = 0; for (unsigned i = 0; i < n; i++) s += p[i] * 3 + 1; return s; }\n",
);

// noinline on a function and, separately, on a call site only.
const noinlineLl = join(dir, "noinline.ll");
writeFileSync(
  noinlineLl,
  `target triple = "bpf"

define i32 @helper_fn(i32 %x) #0 {
  %r = mul i32 %x, 7
  %s = add i32 %r, 3
  ret i32 %s
}

define i32 @helper_cs(i32 %x) {
  %r = mul i32 %x, 11
  %s = xor i32 %r, 5
  ret i32 %s
}

define i32 @entry(i32 %x) {
  %a = call i32 @helper_fn(i32 %x)
  %b = call i32 @helper_cs(i32 %a) #1
  ret i32 %b
}

attributes #0 = { noinline }
attributes #1 = { noinline }
`,
);

// The memory builtins, defined as Rust's compiler_builtins defines them: with them
// linked, --bpf-expand-memcpy-in-order is passed (it makes LLVM call them).
const builtinsBc = compileC(
  dir,
  "builtins",
  `void *memcpy(void *d, const void *s, unsigned long n) {
  volatile char *dd = d; const volatile char *ss = s;
  for (unsigned long i = 0; i < n; i++) dd[i] = ss[i];
  return d;
}
void *memmove(void *d, const void *s, unsigned long n) { return memcpy(d, s, n); }
void *memset(void *d, int c, unsigned long n) {
  volatile char *dd = d;
  for (unsigned long i = 0; i < n; i++) dd[i] = (char)c;
  return d;
}
int memcmp(const void *a, const void *b, unsigned long n) {
  const volatile unsigned char *x = a, *y = b;
  for (unsigned long i = 0; i < n; i++) if (x[i] != y[i]) return x[i] - y[i];
  return 0;
}
`,
  "bc",
  ["-fno-builtin"],
);

// A large struct copy, expanded by the BPF backend into loads and stores.
const memcpyBc = compileC(
  dir,
  "bigcopy",
  `struct big { unsigned long a[12]; unsigned char tail[5]; };
void copy(struct big *d, const struct big *s) { __builtin_memcpy(d, s, sizeof(*d)); }
`,
);

// An `unreachable` that survives optimization (a trap only with --allow-bpf-trap).
const trapBc = compileC(
  dir,
  "trap",
  "void never(void) { __builtin_unreachable(); }\nint fine(int x) { return x + 1; }\n",
);

// A cold and a hot function the optimizer keeps out of line (they read the context, so
// their results are not known at the call sites): rare() when the packet starts with 0xff.
const coldHotSource = `#define SEC(name) __attribute__((section(name), used))
struct xdp_md { unsigned data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
static __attribute__((cold, noinline)) int rare(struct xdp_md *ctx) { return ctx->ingress_ifindex == 12345 ? 0 : 1; }
static __attribute__((hot, noinline)) int common(struct xdp_md *ctx) { return ctx->rx_queue_index == 54321 ? 0 : 2; }
SEC("xdp") int xdp_cold_hot(struct xdp_md *ctx) {
  unsigned char *p = (unsigned char *)(long)ctx->data;
  if (p + 1 > (unsigned char *)(long)ctx->data_end) return 0;
  return p[0] == 0xff ? rare(ctx) : common(ctx);
}
char LICENSE[] SEC("license") = "GPL";
`;
const coldHotBc = compileC(dir, "cold_hot", coldHotSource);

// More than 5 arguments to a function that is not inlined: the BPF backend reports errors.
const manyArgsBc = compileC(
  dir,
  "many_args",
  `__attribute__((noinline)) int six(int a, int b, int c, int d, int e, int f) { return a + b * c - d * e + f; }
int caller(int x) { return six(x, x + 1, x + 2, x + 3, x + 4, x + 5); }
`,
);

// Variable-length memcpy/memset: the backend reports "A call to built-in function 'memcpy'
// is not supported.", which is no error when a linked module defines memcpy.
const varMemBc = compileC(
  dir,
  "var_mem",
  `void vcopy(char *d, const char *s, unsigned long n) { __builtin_memcpy(d, s, n); }
void vset(char *d, unsigned long n) { __builtin_memset(d, 0, n); }
`,
);

// A host object without bitcode (gcc), and an archive with a non-bitcode member.
const hostC = join(dir, "host.c");
writeFileSync(hostC, "int host_fn(int x) { return x; }\n");
const hostObj = join(dir, "host.o");
tool("gcc", ["-c", hostC, "-o", hostObj]);
const rmeta = join(dir, "lib.rmeta");
writeFileSync(rmeta, "rust metadata, not bitcode\n");
const rlib = makeArchive(dir, "libwithmeta.a", [aluBc, rmeta]);

/** Reference object: the plain `alu` link. */
const aluRef = linkOk("alu_ref.o", ["--export", "f", aluBc]);

// ------------------------------------------------------------------------- the kernel judge

test(
  "kernel: several C files plus a static library of bitcode load and compute the right verdicts",
  needsBpf(),
  () => {
    const out = linkOk("xdp.o", ["--export", "xdp_score", ...XDP_INPUTS]);
    const syms = symbols(out);
    assert.equal(syms.get("xdp_score")?.bind, "GLOBAL");
    assert.ok(!syms.has("lib_unused"), "the unreferenced archive member's function is dropped");
    const expected = PACKETS.map(expectedVerdict);
    assert.ok(new Set(expected).size >= 3, "the packets exercise different verdicts");
    for (const [i, p] of PACKETS.entries()) {
      assert.equal(loadAndRun(out, "xdp_score", p), expected[i], `packet ${i}`);
    }
  },
);

test(
  "kernel: C files plus a static library linked with no flag but --btf (no export list) load and run",
  needsBpf(),
  () => {
    const out = linkOk("xdp_plain.o", ["--btf", ...XDP_INPUTS]);
    const syms = symbols(out);
    // What clang -c leaves global stays global; the unneeded archive member is not linked.
    assert.equal(syms.get("xdp_score")?.bind, "GLOBAL");
    assert.ok(!syms.has("lib_unused"));
    for (const p of PACKETS) assert.equal(loadAndRun(out, "xdp_score", p), expectedVerdict(p));
  },
);

test(
  "kernel: IR text, an ELF with embedded bitcode and an archive mixed in one link",
  needsBpf(),
  () => {
    const out = linkOk("xdp_mixed.o", ["--export", "xdp_score", xdpMainLl, xdpWeighElf, xdpLib]);
    for (const p of PACKETS) assert.equal(loadAndRun(out, "xdp_score", p), expectedVerdict(p));
  },
);

// ---------------------------------------------------------------------------------- --emit

test("--emit obj, asm, llvm-ir and llvm-bc each produce their kind of output", () => {
  const obj = linkOk("emit.o", ["--emit", "obj", "--export", "f", aluBc]);
  assert.ok(bytesStartWith(obj, ELF_MAGIC));
  assert.ok(same(obj, aluRef), "obj is the default");

  const asm = readFileSync(linkOk("emit.s", ["--emit", "asm", "--export", "f", aluBc]), "utf8");
  assert.match(asm, /^\s*\.text/m);
  assert.match(asm, /^f:/m);
  assert.match(asm, /^\s+exit$/m);
  assert.match(asm, /r0 \*= r1|r0 \*= r2/);

  const ir = readFileSync(linkOk("emit.ll", ["--emit=llvm-ir", "--export", "f", aluBc]), "utf8");
  assert.match(ir, /^target triple = "bpf/m);
  assert.match(ir, /^define .*@f\(/m);

  const bc = linkOk("emit.bc", ["--emit", "llvm-bc", "--export", "f", aluBc]);
  assert.ok(bytesStartWith(bc, BITCODE_MAGIC));
  // The bitcode is a real module: it links again into the same object.
  assert.ok(same(linkOk("emit_bc_relinked.o", ["--export", "f", bc]), aluRef));
});

test("--emit: the first one given wins", () => {
  const out = linkOk("emit_first.out", [
    "--emit",
    "asm",
    "--emit",
    "llvm-ir",
    "--emit=obj",
    "--export",
    "f",
    aluBc,
  ]);
  const text = readFileSync(out, "utf8");
  assert.match(text, /^\s+exit$/m, "assembly");
  assert.doesNotMatch(text, /^define /m);
  const out2 = linkOk("emit_first2.out", [
    "--emit=llvm-bc",
    "--emit",
    "asm",
    "--export",
    "f",
    aluBc,
  ]);
  assert.ok(bytesStartWith(out2, BITCODE_MAGIC));
});

// -------------------------------------------------------------------------------- --target

test("--target bpfel/bpfeb set the ELF byte order; the default follows the input", () => {
  assert.match(readelfHeader(aluRef), /little endian/);
  assert.match(
    readelfHeader(linkOk("eb.o", ["--target", "bpfeb", "--export", "f", aluBc])),
    /big endian/,
  );
  assert.match(readelfHeader(linkOk("eb_default.o", ["--export", "f", aluEbBc])), /big endian/);
  const el = linkOk("el.o", ["--target=bpfel", "--export", "f", aluEbBc]);
  assert.match(readelfHeader(el), /little endian/);
  assert.equal(
    objdump(el).replace(/^.*file format.*$/m, ""),
    objdump(aluRef).replace(/^.*file format.*$/m, ""),
  );
});

test("--target: a non-BPF input triple is retargeted to bpf", () => {
  const out = linkOk("x86.o", ["--export", "f", aluX86Bc]);
  const header = readelfHeader(out);
  assert.match(header, /Machine:\s+EM_BPF/);
  assert.match(header, /little endian/);
  const ir = readFileSync(
    linkOk("x86.ll", ["--emit", "llvm-ir", "--export", "f", aluX86Bc]),
    "utf8",
  );
  assert.match(ir, /^target triple = "bpf"$/m);
});

test("--target: an unknown triple is an error naming it", () => {
  const d = freshDir("bad_target");
  const out = join(d, "out.o");
  assertCleanError(
    link(["--target", "nonsense-arch-triple", "-o", out, aluBc]),
    out,
    "nonsense-arch-triple",
  );
  assertCleanError(
    link(["--target", "x86_64-unknown-linux-gnu", "-o", out, aluBc]),
    out,
    "x86_64-unknown-linux-gnu",
  );
});

// ------------------------------------------------------------------------ --cpu, features

test("--cpu v1 uses 64-bit registers, v3 32-bit subregisters", () => {
  const v1 = objdump(linkOk("cpu_v1.o", ["--cpu", "v1", "--export", "f", aluBc]));
  const v3 = objdump(linkOk("cpu_v3.o", ["--cpu=v3", "--export", "f", aluBc]));
  assert.match(v1, /r0 \*= r/);
  assert.doesNotMatch(v1, /\bw0\b/);
  assert.match(v3, /w0 \*= w/);
  assert.ok(same(linkOk("cpu_generic.o", ["--cpu", "generic", "--export", "f", aluBc]), aluRef));
});

test("--cpu: code BPF v1 cannot express (a 32-bit atomic) is one error that points to --cpu v3", () => {
  const bc = compileC(dir, "atomic32", "int counter;\nint f(int x) { return __sync_fetch_and_sub(&counter, x); }\n");
  const d = freshDir("atomic32");
  const out = join(d, "out.o");
  assertCleanError(link(["--export", "f", "-o", out, bc]), out, "LLVM fatal error", "link with --cpu v3");
  linkOk("atomic32_v3.o", ["--cpu", "v3", "--export", "f", bc]);
});

test("--cpu: an unknown CPU is an error naming it", () => {
  const d = freshDir("bad_cpu");
  const out = join(d, "out.o");
  assertCleanError(link(["--cpu", "v9", "-o", out, aluBc]), out, "v9", "--cpu");
});

test("--cpu-features +alu32 enables 32-bit subregisters", () => {
  const plain = objdump(aluRef);
  const alu32 = objdump(linkOk("alu32.o", ["--cpu-features", "+alu32", "--export", "f", aluBc]));
  assert.doesNotMatch(plain, /\bw\d\b/);
  assert.match(alu32, /w0 \*= w/);
  // Also with --cpu v1, in the --opt=value form and as a list with a '-' feature.
  const listed = objdump(
    linkOk("alu32_list.o", [
      "--cpu",
      "v1",
      "--cpu-features=-dwarfris,+alu32",
      "--export",
      "f",
      aluBc,
    ]),
  );
  assert.match(listed, /w0 \*= w/);
});

// ------------------------------------------------------------------------------------ -O

test("-O: every level gives different code; -O0 behaves as -O1; the default is 2; the last wins", () => {
  const exp = ["--export", "f,g,k", optBc];
  const outs = Object.fromEntries(
    ["1", "2", "3", "s", "z"].map((o) => [o, linkOk(`opt_${o}.o`, [`-O${o}`, ...exp])]),
  );
  const contents = Object.values(outs).map((p) => readFileSync(p).toString("base64"));
  assert.equal(new Set(contents).size, 5, "O1, O2, O3, Os and Oz all differ");
  // Os/Oz keep the helper out of line; O3 unrolls the 28-iteration loop fully.
  assert.match(objdump(outs.s), /call/);
  assert.doesNotMatch(objdump(outs["2"]), /call/);
  assert.ok(
    instructionCount(functionBody(objdump(outs["3"]), "k")) >
      2 * instructionCount(functionBody(objdump(outs["2"]), "k")),
  );
  assert.ok(instructionCount(objdump(outs.z)) < instructionCount(objdump(outs.s)));

  assert.ok(same(linkOk("opt_0.o", ["-O0", ...exp]), outs["1"]), "-O0 is -O1");
  assert.ok(same(linkOk("opt_0b.o", ["-O", "0", ...exp]), outs["1"]), "-O 0 is -O1");
  assert.ok(same(linkOk("opt_default.o", exp), outs["2"]), "default is O2");
  assert.ok(same(linkOk("opt_last.o", ["-O3", "-Oz", "-O", "s", ...exp]), outs.s), "last -O wins");
});

test("-O: an unknown level is an error", () => {
  const d = freshDir("bad_opt");
  const out = join(d, "out.o");
  assertCleanError(link(["-O9", "-o", out, aluBc]), out, "'9'", "-O");
  assertCleanError(link(["-O", "fast", "-o", out, aluBc]), out, "'fast'");
});

// ------------------------------------------------------------------- exports, internalizing

test("--export keeps the named symbols GLOBAL and internalizes the rest", () => {
  const out = linkOk("exp.o", ["--export", "entry_one", apiBc, helperBc]);
  const syms = symbols(out);
  assert.equal(syms.get("entry_one")?.bind, "GLOBAL");
  for (const name of ["entry_two", "helper", "counter"]) {
    assert.notEqual(syms.get(name)?.bind, "GLOBAL", `${name} is not global`);
  }
  // helper is inlined into entry_one and gone; entry_two (unused) is dropped.
  assert.ok(!syms.has("helper"));
  assert.ok(!syms.has("entry_two"));
  assert.doesNotMatch(objdump(out), /<helper>:/);

  const both = symbols(
    linkOk("exp2.o", ["--export", "entry_one", "--export=entry_two,counter", apiBc, helperBc]),
  );
  for (const name of ["entry_one", "entry_two", "counter"]) {
    assert.equal(both.get(name)?.bind, "GLOBAL", name);
  }
  assert.ok(!both.has("helper"));
});

test("internalizing keeps declarations (an extern kfunc, an extern variable) undefined and global", () => {
  const syms = symbols(linkOk("kfunc.o", ["--export", "use_externs", externBc]));
  for (const name of ["bpf_test_kfunc", "ext_counter"]) {
    assert.equal(syms.get(name)?.section, "UND", `${name} stays undefined`);
    assert.equal(syms.get(name)?.bind, "GLOBAL", `${name} stays global`);
  }
  // In the IR: still external declarations with their signature (not internalized, so
  // not rewritten by dead-argument elimination or turned into a zero-initialized definition).
  const ir = readFileSync(
    linkOk("kfunc.ll", ["--emit", "llvm-ir", "--export", "use_externs", externBc]),
    "utf8",
  );
  assert.match(ir, /^declare (dso_local )?i32 @bpf_test_kfunc\(i32/m);
  assert.match(ir, /^@ext_counter = external /m);
  assert.match(ir, /call i32 @bpf_test_kfunc\(i32/);
});

test("--export-symbols reads one symbol per line", () => {
  const file = join(dir, "symbols.txt");
  writeFileSync(file, "entry_two\r\n\n  counter  \n");
  const syms = symbols(linkOk("expsyms.o", ["--export-symbols", file, apiBc, helperBc]));
  assert.equal(syms.get("entry_two")?.bind, "GLOBAL");
  assert.equal(syms.get("counter")?.bind, "GLOBAL");
  assert.ok(!syms.has("entry_one"));
  assert.ok(!syms.has("helper"));
});

test("--export-symbols: a missing file is an error naming it", () => {
  const d = freshDir("bad_expsyms");
  const out = join(d, "out.o");
  assertCleanError(
    link(["--export-symbols", join(d, "nope.syms"), "-o", out, aluBc]),
    out,
    "nope.syms",
  );
});

test("memory builtins are exported by default, not with --disable-memory-builtins", () => {
  const syms = symbols(linkOk("mem.o", ["--export", "user", memBc]));
  assert.equal(syms.get("memcpy")?.bind, "GLOBAL");
  assert.equal(syms.get("memset")?.bind, "GLOBAL");
  const off = symbols(
    linkOk("mem_off.o", ["--disable-memory-builtins", "--export", "user", memBc]),
  );
  assert.notEqual(off.get("memcpy")?.bind, "GLOBAL");
  assert.notEqual(off.get("memset")?.bind, "GLOBAL");
  assert.equal(off.get("user")?.bind, "GLOBAL");
});

// ------------------------------------------------------------------------- code generation

test("--unroll-loops unrolls a loop with a runtime trip count", () => {
  const plain = objdump(linkOk("loop.o", ["--export", "sum", loopBc]));
  const unrolled = objdump(
    linkOk("loop_unrolled.o", ["--unroll-loops", "--export", "sum", loopBc]),
  );
  const loads = (asm: string) => (asm.match(/= \*\(u32 \*\)/g) ?? []).length;
  assert.equal(loads(plain), 1);
  assert.ok(loads(unrolled) >= 4, `unrolled body has several loads:\n${unrolled}`);
  assert.ok(instructionCount(unrolled) > 2 * instructionCount(plain));
});

test("--ignore-inline-never removes noinline from functions and from call sites", () => {
  const plain = objdump(linkOk("noinline.o", ["--export", "entry", noinlineLl]));
  assert.equal(
    (functionBody(plain, "entry").match(/call/g) ?? []).length,
    2,
    "both calls stay without the flag",
  );
  const inlined = objdump(
    linkOk("noinline_ignored.o", ["--ignore-inline-never", "--export", "entry", noinlineLl]),
  );
  assert.doesNotMatch(inlined, /call/, `no call is left:\n${inlined}`);
  assert.doesNotMatch(inlined, /<helper_fn>|<helper_cs>/);
});

/** Offsets of the stores of the expanded memcpy, in program order. */
function storeOffsets(asm: string): number[] {
  return [...asm.matchAll(/^\s*\*\(u64 \*\)\(r1 \+ (\d+)\) = /gm)].map((m) => Number(m[1]));
}

test("--disable-expand-memcpy-in-order changes the order of a large struct copy", () => {
  const inOrder = storeOffsets(
    readFileSync(linkOk("copy.s", ["--emit", "asm", "--export", "copy", memcpyBc, builtinsBc]), "utf8"),
  );
  assert.equal(inOrder.length, 13);
  assert.deepEqual(inOrder, [...inOrder].sort((a, b) => a - b), "ascending offsets by default");
  const other = storeOffsets(
    readFileSync(
      linkOk("copy_other.s", [
        "--disable-expand-memcpy-in-order",
        "--emit",
        "asm",
        "--export",
        "copy",
        memcpyBc,
        builtinsBc,
      ]),
      "utf8",
    ),
  );
  assert.equal(other.length, 13);
  assert.notDeepEqual(other, inOrder);
  // Without a module defining memset, memmove and memcmp, the option is not passed.
  const alone = storeOffsets(readFileSync(linkOk("copy_alone.s", ["--emit", "asm", "--export", "copy", memcpyBc]), "utf8"));
  assert.deepEqual(alone, other);
});

test("--allow-bpf-trap turns an unreachable into a trap call", () => {
  const plain = objdumpRelocs(linkOk("trap.o", ["--export", "never,fine", trapBc]));
  assert.doesNotMatch(plain, /__bpf_trap|call/);
  const trap = objdumpRelocs(
    linkOk("trap_allowed.o", ["--allow-bpf-trap", "--export", "never,fine", trapBc]),
  );
  assert.match(trap, /call/);
  assert.match(trap, /__bpf_trap/);
});

test("functions marked cold or hot stay in .text, where libbpf takes static functions", needsBpf(), () => {
  // clang's own object: code generation's placement, which libbpf refuses to open.
  const clangOwn = compileC(dir, "cold_hot_clang", coldHotSource, "embed");
  assert.ok(sectionNames(clangOwn).includes(".text.unlikely."), sectionNames(clangOwn).join(" "));
  assert.ok(sectionNames(clangOwn).includes(".text.hot."));
  const out = linkOk("cold_hot.o", ["--btf", coldHotBc]);
  const sections = sectionNames(out);
  assert.deepEqual(sections.filter((n) => n.startsWith(".text")), [".text"]);
  const table = symbols(out);
  for (const name of ["rare", "common"]) assert.equal(table.get(name)?.section, String(sections.indexOf(".text")), name);
  const packet = new Uint8Array(64);
  assert.equal(loadAndRun(out, "xdp_cold_hot", packet), 2);
  packet[0] = 0xff;
  assert.equal(loadAndRun(out, "xdp_cold_hot", packet), 1);
  // LLVM's own placement, on request.
  const placed = linkOk("cold_hot_placed.o", ["--btf", "--llvm-args=--profile-guided-section-prefix=true", coldHotBc]);
  assert.ok(sectionNames(placed).includes(".text.unlikely."));
});

test("--llvm-args passes a real LLVM option", () => {
  const base = ["--emit", "asm", "--export", "copy", memcpyBc, builtinsBc];
  const viaArgs = linkOk("copy_llvmargs.s", [
    "--llvm-args=--bpf-expand-memcpy-in-order=false",
    ...base,
  ]);
  const viaFlag = linkOk("copy_flag.s", ["--disable-expand-memcpy-in-order", ...base]);
  assert.ok(same(viaArgs, viaFlag));
  assert.notDeepEqual(
    storeOffsets(readFileSync(viaArgs, "utf8")),
    storeOffsets(readFileSync(linkOk("copy_base.s", base), "utf8")),
  );
  // Two options in one comma-separated list, plus another --llvm-args.
  const unrolled = objdump(
    linkOk("loop_llvmargs.o", [
      "--llvm-args",
      "--unroll-runtime,--unroll-threshold=1000",
      "--llvm-args=--unroll-count=4",
      "--export",
      "sum",
      loopBc,
    ]),
  );
  assert.ok(
    (unrolled.match(/= \*\(u32 \*\)/g) ?? []).length >= 4,
    `unrolled by the LLVM options:\n${unrolled}`,
  );
});

test("--llvm-args: an unknown LLVM option is an error naming it", () => {
  const d = freshDir("bad_llvm_args");
  const out = join(d, "out.o");
  assertCleanError(
    link(["--llvm-args=--no-such-llvm-option-xyz", "-o", out, aluBc]),
    out,
    "--no-such-llvm-option-xyz",
  );
  assertCleanError(
    link(["--llvm-args", "--inline-threshold=10,--another-bogus-option", "-o", out, aluBc]),
    out,
    "--another-bogus-option",
  );
});

// ---------------------------------------------------------------------- dump, logs, errors

test("--dump-module writes the final IR to a file", () => {
  const dump = join(dir, "dump.ll");
  rmSync(dump, { force: true });
  linkOk("dump.o", ["--dump-module", dump, "--export", "entry_one", apiBc, helperBc]);
  const ir = readFileSync(dump, "utf8");
  const emitted = readFileSync(
    linkOk("dump_ref.ll", ["--emit", "llvm-ir", "--export", "entry_one", apiBc, helperBc]),
    "utf8",
  );
  assert.equal(ir, emitted, "the dump is the module that was compiled");
  assert.match(ir, /^define .*@entry_one\(/m);
  assert.doesNotMatch(ir, /@helper\(/, "after optimization: helper inlined");
  assert.match(ir, /^target triple = "bpf"$/m);
});

test("--dump-module into a directory writes the final IR there", () => {
  const d = freshDir("dump_dir");
  linkOk("dump_dir_out.o", ["--dump-module", d, "--export", "entry_one", apiBc, helperBc]);
  const files = readdirSync(d);
  assert.equal(files.length, 1, `one file in the dump directory: ${files}`);
  assert.match(files[0], /\.ll$/);
  const ir = readFileSync(join(d, files[0]), "utf8");
  assert.match(ir, /^define .*@entry_one\(/m);
  assert.match(ir, /^target triple = "bpf"$/m);
});

test("--log-file and --log-level: debug messages go to the file; by default nothing is printed", () => {
  const log = join(dir, "debug.log");
  rmSync(log, { force: true });
  const out = join(dir, "log.o");
  const r = link(["--log-file", log, "--log-level", "debug", "--export", "f", "-o", out, aluBc]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  const text = readFileSync(log, "utf8");
  assert.match(text, /^debug: /m);
  assert.ok(same(out, aluRef), "logging does not change the output");

  const quiet = link(["--export", "f", "-o", join(dir, "quiet.o"), aluBc]);
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, "", "no logging by default");
  assert.equal(quiet.stdout, "");

  const info = link(["--log-level=info", "--export", "f", "-o", join(dir, "info.o"), aluBc]);
  assert.equal(info.status, 0);
  assert.match(info.stderr, /^info: /m, "info goes to stderr without --log-file");
  assert.doesNotMatch(info.stderr, /^debug: /m);
});

test("--log-level: an unknown level is an error", () => {
  const d = freshDir("bad_log_level");
  const out = join(d, "out.o");
  assertCleanError(link(["--log-level", "loud", "-o", out, aluBc]), out, "'loud'", "--log-level");
});

test("--fatal-errors: a BPF backend error fails the link by default, not with false", () => {
  const d = freshDir("fatal");
  const out = join(d, "out.o");
  const r = link(["--export", "six,caller", "-o", out, manyArgsBc]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: .*(too many arguments|stack arguments)/m);
  assert.ok(!existsSync(out), "no output on failure");

  const ok = link(["--fatal-errors", "false", "--export", "six,caller", "-o", out, manyArgsBc]);
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(bytesStartWith(out, ELF_MAGIC));
  assert.doesNotMatch(ok.stderr, /^error:/m);
  const explicit = link([
    "--fatal-errors=true",
    "--export",
    "six,caller",
    "-o",
    join(d, "out2.o"),
    manyArgsBc,
  ]);
  assert.equal(explicit.status, 1);
});

test("an LLVM error diagnostic is reported as exactly one error line", () => {
  const d = freshDir("diag_one_line");
  const out = join(d, "out.o");
  assertCleanError(link(["--export", "six,caller", "-o", out, manyArgsBc]), out, "six");
});

test("--fatal-errors: an invalid value is an error", () => {
  const d = freshDir("bad_fatal");
  const out = join(d, "out.o");
  assertCleanError(link(["--fatal-errors", "maybe", "-o", out, aluBc]), out, "'maybe'");
});

test("built-in calls (variable-length memcpy/memset) link only when a linked module defines the builtins", () => {
  const d = freshDir("builtin_calls");
  const out = join(d, "out.o");
  const r = link(["--export", "vcopy,vset", "-o", out, varMemBc, builtinsBc]);
  assert.equal(r.status, 0, `the builtin-call error must be ignored when memcpy is linked:\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^error:/m);
  const asm = objdumpRelocs(out);
  assert.match(asm, /call.*\n.*memcpy|<memcpy>/, "vcopy calls the linked memcpy");
  // Nothing defines them: the object could not load, so there is none.
  const failed = join(d, "failed.o");
  const alone = link(["--export", "vcopy,vset", "-o", failed, varMemBc]);
  assertCleanError(alone, failed, "'vcopy'", "'memcpy'", "no linked module defines");
  const lists = link(["--export", "vset", "-o", failed, varMemBc]);
  assertCleanError(lists, failed, "'vset'", "'memset'");
});

test("struct s v = {} links to a loadable object without flags: memset expanded inline", () => {
  const src = `struct big { long a[12]; };
__attribute__((noinline)) long use(struct big *p) { return p->a[0] + p->a[1] + p->a[7]; }
long prog(int x) { struct big v = {}; v.a[1] = x; return use(&v); }
`;
  const bc = compileC(dir, "zero_init", src);
  const out = linkOk("zero_init.o", ["--export", "prog,use", bc]);
  const asm = objdumpRelocs(out);
  assert.doesNotMatch(asm, /memset/, `no call to memset:\n${asm}`);
  // --llvm-args can still ask for the in-order expansion; then the missing memset is an error.
  const d = freshDir("zero_init_inorder");
  const r = link(["--llvm-args=--bpf-expand-memcpy-in-order", "--export", "prog,use", "-o", join(d, "o.o"), bc]);
  assertCleanError(r, join(d, "o.o"), "'prog'", "'memset'", "--disable-expand-memcpy-in-order");
});

// ------------------------------------------------------------------------ rustc conventions

test("-L, --debug and -flavor are accepted and change nothing", () => {
  const out = linkOk("compat.o", [
    "-L",
    "/nonexistent/dir",
    "-L/another",
    "--debug",
    "-flavor",
    "wasm",
    "--export",
    "f",
    aluBc,
  ]);
  assert.ok(same(out, aluRef));
});

test("-h lists every option", () => {
  for (const flag of ["-h", "--help"]) {
    const r = link([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stderr, "");
    for (const option of SPEC_OPTION_SPELLINGS) {
      const escaped = option.replace(/[-]/g, "\\-");
      assert.match(
        r.stdout,
        new RegExp(`(^|[\\s,])${escaped}([\\s,=]|$)`, "m"),
        `help mentions ${option}`,
      );
    }
    for (const value of ["obj", "asm", "llvm-ir", "llvm-bc", "v1", "v3", "probe"]) {
      assert.ok(r.stdout.includes(value), value);
    }
  }
});

test("-V prints the version and the libLLVM in use (path and version)", () => {
  for (const flag of ["-V", "--version"]) {
    const r = link([flag]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /bpf-linker \d+\.\d+\.\d+/);
    const m = /LLVM (\d+)\.(\d+)\.(\d+)\S* \(([^)]+)\)/.exec(r.stdout);
    assert.ok(m, `names LLVM version and path: ${r.stdout}`);
    const [, major, minor, patch, path] = m;
    assert.ok(existsSync(path) && statSync(path).isFile(), `the library ${path} exists`);
    assert.match(basename(path), /LLVM/);
    assert.ok(Number(major) >= 19);
    const config = join(dirname(path), "..", "bin", "llvm-config");
    if (existsSync(config)) {
      assert.equal(tool(config, ["--version"]).trim(), `${major}.${minor}.${patch}`);
    }
  }
});

test("@response-file arguments are expanded", () => {
  const out = join(dir, "resp out.o");
  rmSync(out, { force: true });
  const resp = join(dir, "args.rsp");
  writeFileSync(resp, `--export xdp_score\n-o "${out}"\n'${xdpMainBc}' ${xdpWeighBc}\n${xdpLib}\n`);
  const r = link([`@${resp}`]);
  assert.equal(r.status, 0, r.stderr);
  assert.ok(same(out, linkOk("resp_ref.o", ["--export", "xdp_score", ...XDP_INPUTS])));
});

test("-- ends the options: a following input may start with '-'", () => {
  const d = freshDir("dashdash");
  writeFileSync(join(d, "-f.bc"), readFileSync(aluBc));
  const out = join(d, "out.o");
  const r = runLinker(["--export", "f", "-o", out, "--", "-f.bc"], { cwd: d });
  assert.equal(r.status, 0, r.stderr);
  assert.ok(same(out, aluRef));
  const bad = runLinker(["--export", "f", "-o", join(d, "out2.o"), "-f.bc"], { cwd: d });
  assert.equal(bad.status, 1, "without --, -f.bc is an (unknown) option");
});

test("an option value never swallows the inputs that follow it", () => {
  const out = linkOk("swallow.o", ["--export", "xdp_score", xdpMainBc, xdpWeighBc, xdpLib]);
  assert.equal(symbols(out).get("xdp_score")?.bind, "GLOBAL");
});

// ---------------------------------------------------------------------------- user errors

test("error: a missing input names the file", () => {
  const d = freshDir("e_missing");
  const out = join(d, "out.o");
  assertCleanError(link(["-o", out, aluBc, join(d, "missing.bc")]), out, "missing.bc");
});

test("error: a directory as input names it", () => {
  const d = freshDir("e_directory");
  const out = join(d, "out.o");
  mkdirSync(join(d, "subdir"));
  assertCleanError(link(["-o", out, join(d, "subdir")]), out, "subdir");
});

test("error: an input of unknown format (a text file) names it", () => {
  const d = freshDir("e_text");
  const out = join(d, "out.o");
  const text = join(d, "notes.txt");
  writeFileSync(text, "hello, this is not bitcode\n");
  assertCleanError(link(["-o", out, aluBc, text]), out, "notes.txt");
});

test("error: truncated bitcode names the file", () => {
  const d = freshDir("e_truncated_bc");
  const out = join(d, "out.o");
  const bc = join(d, "cut.bc");
  writeFileSync(bc, readFileSync(xdpWeighBc).subarray(0, 300));
  assertCleanError(link(["-o", out, xdpMainBc, bc]), out, "cut.bc");
});

test("error: a truncated archive names the archive", () => {
  const d = freshDir("e_truncated_ar");
  const out = join(d, "out.o");
  const lib = join(d, "libcut.a");
  const bytes = readFileSync(xdpLib);
  writeFileSync(lib, bytes.subarray(0, Math.floor(bytes.length / 2)));
  assertCleanError(link(["-o", out, xdpMainBc, lib]), out, "libcut.a");
});

test("error: corrupt bitcode inside an archive names lib.a(member.bc)", () => {
  const d = freshDir("e_bad_member");
  const out = join(d, "out.o");
  const bad = join(d, "broken.bc");
  writeFileSync(bad, readFileSync(xdpWeighBc).subarray(0, 300));
  const lib = makeArchive(d, "libbroken.a", [libVerdictBc, bad]);
  assertCleanError(link(["-o", out, xdpMainBc, lib]), out, `${lib}(broken.bc)`);
});

test("error: a symbol defined in two inputs names the symbol and both files", () => {
  const d = freshDir("e_duplicate");
  const out = join(d, "out.o");
  const dup = compileC(d, "dup_helper", "int helper(int x) { return x - 1; }\n");
  assertCleanError(
    link(["-o", out, apiBc, helperBc, dup]),
    out,
    "helper",
    "dup_helper.bc",
    "helper.bc",
  );
});

test("error: a thin archive names it", () => {
  const d = freshDir("e_thin");
  const out = join(d, "out.o");
  const thin = makeArchive(d, "libthin.a", [libVerdictBc], "rcT");
  assertCleanError(link(["-o", out, xdpMainBc, thin]), out, "libthin.a");
});

test("error: bad flag values and unknown flags", () => {
  const d = freshDir("e_flags");
  const out = join(d, "out.o");
  assertCleanError(link(["--emit", "exe", "-o", out, aluBc]), out, "'exe'", "--emit");
  assertCleanError(link(["--no-such-flag", "-o", out, aluBc]), out, "--no-such-flag");
  assertCleanError(link(["-o", out, aluBc, "--export"]), out, "--export");
  assertCleanError(link(["--unroll-loops=yes", "-o", out, aluBc]), out, "--unroll-loops");
});

test("error: missing -o", () => {
  const r = link([aluBc]);
  assertCleanError(r, undefined, "--output");
});

test("error: no inputs", () => {
  const d = freshDir("e_no_inputs");
  const out = join(d, "out.o");
  assertCleanError(link(["-o", out]), out, "input");
  assertCleanError(link(["-o", out, "--export", "f"]), out, "input");
});

test("an ELF object without bitcode (gcc -c) is skipped with a warning", () => {
  const out = join(dir, "with_host.o");
  rmSync(out, { force: true });
  const r = link(["--export", "f", "-o", out, aluBc, hostObj]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^warning: .*host\.o/);
  assert.ok(same(out, aluRef));
});

test("an archive member that is not bitcode (lib.rmeta) is skipped silently", () => {
  const out = join(dir, "with_rmeta.o");
  rmSync(out, { force: true });
  const r = link(["--export", "f", "-o", out, rlib]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.ok(same(out, aluRef));
  assert.ok(sectionNames(out).includes(".text"));
});

test("the rustc wrapper ignores a .env and a bunfig.toml in the directory rustc runs it in", () => {
  const crate = join(dir, "crate-with-dotfiles");
  mkdirSync(crate, { recursive: true });
  writeFileSync(join(crate, ".env"), "BPF_LINKER_LLVM=/nonexistent/libLLVM.so\n");
  writeFileSync(join(crate, "bunfig.toml"), 'preload = ["./preload.ts"]\n');
  writeFileSync(join(crate, "preload.ts"), 'console.error("preloaded");\n');
  const r = runWithEnv(linkerWrapper(), ["--version"], { cwd: crate, env: MINIMAL_ENV });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^LLVM \d+\.\d+\.\d+ \(\//m);
});

test("deno run reads only the modules a command runs: deno.json asks for lazy dynamic imports, from any directory", () => {
  // Deno otherwise reads and parses every module a literal import() names (the
  // explain and BTF stages too) before the first line runs. It finds deno.json
  // next to the script, so a run from elsewhere (rustc's, in the crate) gets it too.
  const deno = join(repoRoot, "node_modules", ".bin", "deno");
  const elsewhere = tempDir();
  const fetched = (extra: string[]) => {
    const r = spawnSync(deno, ["run", "--log-level=debug", ...extra, "--allow-all", join(repoRoot, "src", "main.ts"), "--help"], {
      cwd: elsewhere,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    return [...r.stderr.matchAll(/fetch_no_follow - specifier: file:\/\/\S*\/(src\/\S+\.ts)/g)].map((m) => m[1]);
  };
  const lazy = fetched([]);
  assert.ok(lazy.includes("src/cli.ts"), lazy.join(" "));
  assert.ok(!lazy.includes("src/explain/explain.ts"), `read for --help: ${lazy.join(" ")}`);
  assert.ok(fetched(["--no-config"]).includes("src/explain/explain.ts"), "without deno.json every module is read");
});
