// Linking across LLVM versions: bitcode producers, discovery preference, and
// LLVM 19 as well as 22 linking objects the kernel loads.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { linkModules, newestProducerMajor } from "../src/link.ts";
import { Context } from "../ffi/context.ts";
import { ParseError } from "../src/errors.ts";
import { loadLlvm } from "../src/mod.ts";
import { collectModuleInputs } from "../src/pipeline.ts";
import { Logger, MemorySink } from "../src/log.ts";
import {
  compileC,
  LLVM_BIN,
  loadAndRun,
  makeArchive,
  needsBpf,
  run,
  runLinker,
  tempDir,
  tool,
} from "./support/tools.ts";
import { readFileSync, writeFileSync } from "node:fs";

const dir = tempDir();
const llvm = await loadLlvm();
/** XDP test runs need at least an Ethernet header's worth of bytes. */
const packet = (first: number) => Uint8Array.from({ length: 64 }, (_, i) => (i === 0 ? first : 0));
const PROGRAM = `
#define SEC(n) __attribute__((section(n), used))
struct xdp_md { unsigned data, data_end; };
int pick(unsigned char first);
SEC("xdp") int prog(struct xdp_md *ctx) {
  unsigned char *data = (unsigned char *)(long)ctx->data;
  if (data + 1 > (unsigned char *)(long)ctx->data_end) return 0;
  return pick(data[0]);
}
char LICENSE[] SEC("license") = "GPL";
`;
const LIBRARY = `__attribute__((noinline)) int pick(unsigned char first) { return first > 100 ? 1 : 2; }\n`;

function clang19(name: string, source: string): string {
  compileC(dir, `${name}19`, source); // writes the .c file
  const out = join(dir, `${name}19.bc`);
  tool("clang-19", ["-target", "bpf", "-O2", "-emit-llvm", "-c", join(dir, `${name}19.c`), "-o", out]);
  return out;
}

const prog22 = compileC(dir, "prog22", PROGRAM);
const lib22 = compileC(dir, "lib22", LIBRARY);
const prog19 = clang19("prog", PROGRAM);
const lib19 = clang19("lib", LIBRARY);

test("newestProducerMajor reads the producers of clang-19 and clang-22 bitcode", () => {
  const log = new Logger("off", new MemorySink());
  const inputs = (paths: string[]) =>
    collectModuleInputs(paths.map((p) => ({ path: p, bytes: readFileSync(p) })), log);
  assert.equal(newestProducerMajor(inputs([prog19, lib19])), 19);
  assert.equal(newestProducerMajor(inputs([prog19, lib22])), 22);
});

test("bitcode newer than the chosen libLLVM is one clear error naming both versions, no output", () => {
  const out = join(dir, "mismatch.o");
  const r = runLinker(["--llvm", "/usr/lib/llvm-19", "--export", "prog", prog22, lib22, "-o", out]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: .*prog22\.bc: bitcode produced by LLVM 22\.\d+\.\d+ .*libLLVM 19\.\d+\.\d+/);
  assert.equal(existsSync(out), false);
});

test("with LLVM 19 preferred by LLVM_PREFIX, LLVM 22 bitcode makes discovery pick 22 and say so", () => {
  const out = join(dir, "picked22.o");
  const r = run("env", [
    "LLVM_PREFIX=/usr/lib/llvm-19",
    ...linkerArgv(["--log-level", "info", "--export", "prog", prog22, lib22, "-o", out]),
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /passed over .*llvm-19/);
  assert.match(r.stderr, /using libLLVM 22\./);
  assert.ok(existsSync(out));
});

test("an archive member nothing needs does not decide the libLLVM: LLVM 19 stays chosen", () => {
  // LLVM 22 bitcode in the archive, but only the LLVM 19 member is linked.
  const unused22 = compileC(dir, "unused22", `int unused_helper(int x) { return x * 3; }\n`);
  const archive = makeArchive(dir, "libmixed.a", [lib19, unused22]);
  const out = join(dir, "picked19.o");
  const r = run("env", [
    "LLVM_PREFIX=/usr/lib/llvm-19",
    ...linkerArgv(["--log-level", "info", "--export", "prog", prog19, archive, "-o", out]),
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /using libLLVM 19\./);
  assert.doesNotMatch(r.stderr, /passed over/);
  assert.ok(existsSync(out));
});

function linkerArgv(args: string[]): string[] {
  const main = join(import.meta.dirname ?? ".", "..", "src", "main.ts");
  return "Bun" in globalThis
    ? [process.execPath, main, ...args]
    : [process.execPath, "run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env", main, ...args];
}

test("LLVM 19 links clang-19 bitcode into an object the kernel loads and runs", needsBpf(), () => {
  const out = join(dir, "llvm19.o");
  const r = runLinker(["--llvm", "/usr/lib/llvm-19", "--export", "prog", prog19, lib19, "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(loadAndRun(out, "prog", packet(200)), 1);
  assert.equal(loadAndRun(out, "prog", packet(7)), 2);
});

test("LLVM 19 refuses one of our LLVM options and still applies the others", needsBpf(), () => {
  // rare() is cold and common() hot: LLVM's code generation would put them in
  // .text.unlikely. and .text.hot. without --profile-guided-section-prefix=false.
  const coldHot = clang19(
    "cold_hot",
    `${PROGRAM}
static __attribute__((cold, noinline)) int rare(unsigned char first) { return first - 247; }
static __attribute__((hot, noinline)) int common(unsigned char first) { return first > 100 ? 1 : 2; }
int pick(unsigned char first) { return first >= 250 ? rare(first) : common(first); }
`,
  );
  const out = join(dir, "cold_hot19.o");
  const r = runLinker([
    "--llvm", "/usr/lib/llvm-19", "--export", "prog,LICENSE", "--log-level", "debug", coldHot, "-o", out,
  ]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /LLVM 19\.\d+\.\d+ does not know --bpf-disable-trap-unreachable; not passed/);
  const sections = tool("/usr/lib/llvm-22/bin/llvm-readelf", ["-S", "-W", out]);
  assert.doesNotMatch(sections, /\.text\.(unlikely|hot)\./);
  assert.equal(loadAndRun(out, "prog", packet(200)), 1);
  assert.equal(loadAndRun(out, "prog", packet(250)), 3);
});

test("LLVM 22 links the same program from clang-22 bitcode; the kernel gives the same answers", needsBpf(), () => {
  const out = join(dir, "llvm22.o");
  const r = runLinker(["--llvm", "/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1", "--export", "prog", prog22, lib22, "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(loadAndRun(out, "prog", packet(200)), 1);
  assert.equal(loadAndRun(out, "prog", packet(7)), 2);
});

// Sources are read lazily (src/link.ts): LLVM reads a function body when the
// link needs it, and the inputs are no longer verified on the way in.

/** FNENTRY offsets (32-bit words) of `bc`'s functions, from llvm-bcanalyzer. */
function functionBlockOffsets(bc: string): number[] {
  const dump = tool(join(LLVM_BIN, "llvm-bcanalyzer"), ["--dump", bc]);
  return [...dump.matchAll(/<FNENTRY [^>]*op1=(\d+)/g)].map((m) => Number(m[1])).sort((a, b) => a - b);
}

test("a function body that does not read is the same 'cannot read bitcode' error, naming the input, no output", () => {
  const good = compileC(dir, "lazy_body", `${PROGRAM}${LIBRARY}`, "bc", ["-g"]);
  const bytes = new Uint8Array(readFileSync(good));
  const [first] = functionBlockOffsets(good);
  assert.ok(first !== undefined && first * 4 + 96 < bytes.length, "a function block to damage");
  bytes.fill(0xff, first * 4 + 16, first * 4 + 96);
  const bad = join(dir, "lazy_body_bad.bc");
  writeFileSync(bad, bytes);

  // The premise: the module reads lazily, its function body does not.
  using context = new Context(llvm, () => {});
  assert.throws(() => context.parseBitcode(bytes, bad));
  context.parseBitcodeLazily(bytes, bad)[Symbol.dispose]();

  const log = new Logger("off", new MemorySink());
  const inputs = collectModuleInputs([{ path: bad, bytes }], log);
  assert.throws(() => linkModules(context, inputs, log), (e: unknown) => {
    assert.ok(e instanceof ParseError, String(e));
    assert.equal(e.file, bad);
    assert.match(e.message, /lazy_body_bad\.bc: cannot read bitcode: /);
    return true;
  });

  const out = join(dir, "lazy_body_bad.o");
  const r = runLinker(["--export", "prog", bad, "-o", out]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: [^\n]*lazy_body_bad\.bc: cannot read bitcode: [^\n]+\n$/);
  assert.ok(!existsSync(out));
});

test("bitcode that reads but is not valid IR is one error: the linked module is verified", () => {
  // llvm-as verifies before it writes unless told not to: a use before its definition.
  const ll = join(dir, "unverified.ll");
  writeFileSync(
    ll,
    `target triple = "bpf"
define i32 @f(i32 %a) {
entry:
  %x = add i32 %y, 1
  %y = add i32 %a, 1
  ret i32 %x
}
`,
  );
  const bc = join(dir, "unverified.bc");
  tool(join(LLVM_BIN, "llvm-as"), ["-disable-verify", ll, "-o", bc]);
  const out = join(dir, "unverified.o");
  const r = runLinker(["--export", "f", bc, "-o", out]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /^error: the linked module is not valid LLVM IR: Instruction does not dominate all uses!\n$/);
  assert.ok(!existsSync(out));
});
