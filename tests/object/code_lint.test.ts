// The code lint run after every object link (src/object/code_lint.ts): a function a
// program reaches that can run off its end gets one warning naming it and the program;
// the kernel confirms the verdict. Functions no program reaches are not judged.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";

import { lintCode } from "../../src/object/code_lint.ts";
import { compileC, disassemble, fileTempDir, needsBpf, runLinker, verifierAccepts } from "../support/tools.ts";

const dir = fileTempDir("bpfl-code-lint-");

// give_up() only calls spin(), which never returns: LLVM leaves the call as its last instruction.
const COMMON = `#define SEC(name) __attribute__((section(name), used))
struct xdp_md { unsigned data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
static __attribute__((noinline, noreturn)) void spin(void) { for (;;) {} }
__attribute__((noinline)) int give_up(void) { spin(); }
char LICENSE[] SEC("license") = "GPL";
`;

const reached = compileC(
  dir,
  "reached",
  `${COMMON}SEC("xdp") int prog(struct xdp_md *ctx) { return ctx->rx_queue_index == 777 ? give_up() : 2; }\n`,
);
const unreached = compileC(dir, "unreached", `${COMMON}SEC("xdp") int prog(struct xdp_md *ctx) { return 2; }\n`);

function link(name: string, input: string): { out: string; warnings: string[] } {
  const out = join(dir, `${name}.o`);
  const r = runLinker([input, "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  return { out, warnings: r.stderr.split("\n").filter((l) => l.startsWith("warning: ")) };
}

test("a function a program calls that runs off its end: one warning naming both", () => {
  const { out, warnings } = link("reached", reached);
  const line = "function 'give_up', which program 'prog' calls, ends with a call: the kernel refuses the program " +
    '("last insn is not an exit or jmp"). LLVM emits nothing after a call that never returns (a Rust panic, ' +
    "__builtin_unreachable()): keep such paths out of the program's reach";
  assert.deepEqual(warnings, [`warning: ${line}`]);
  assert.deepEqual(lintCode(readFileSync(out)), [line]);
});

test("the kernel agrees: it refuses the program that reaches it, loads the one that does not", needsBpf(), () => {
  const refused = verifierAccepts(link("reached", reached).out);
  assert.equal(refused.ok, false);
  assert.match(refused.log, /last insn is not an exit or jmp/);
  const { out, warnings } = link("unreached", unreached);
  assert.deepEqual(warnings, []);
  const loaded = verifierAccepts(out);
  assert.ok(loaded.ok, loaded.log);
});

test("the same function, global and called by no program, is not judged", () => {
  const { out, warnings } = link("unreached", unreached);
  assert.deepEqual(warnings, []);
  // It is still there (no export list: C's global functions stay), ending with its call.
  assert.match(disassemble(out), /<give_up>:\n\s+0:\s+call /);
  assert.deepEqual(lintCode(readFileSync(out)), []);
});

test("anything that is not an ELF object lints to nothing", () => {
  assert.deepEqual(lintCode(new TextEncoder().encode("not an object")), []);
});
