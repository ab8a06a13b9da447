// --print-llvm (ffi/survey.ts, src/explain/llvm_report.ts): every libLLVM candidate
// discovery lists, probed in order, with its version and verdict; the one loading
// would choose; the LLVM that produced each input module (archive members too).
// The system's LLVM 22 and 19 with the right outcomes, with and without inputs that
// need 22; bad candidates rejected for the right reason; the library API.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { listCandidates } from "../../ffi/discover.ts";
import { Llvm } from "../../ffi/llvm.ts";
import { surveyLlvm } from "../../ffi/survey.ts";
import { readBitcodeProducer } from "../../src/input/bitcode_producer.ts";
import { llvmReport } from "../../src/mod.ts";
import { clangBitcode } from "../support/explain.ts";
import {
  compileC,
  fileTempDir,
  linkerCommand,
  makeArchive,
  runLinker,
  runWithEnv,
  tool,
} from "../support/tools.ts";

const LLVM22 = "/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1";
const LLVM19 = "/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1";
const LLVM22_DIR = "/usr/lib/llvm-22";
const LLVM19_DIR = "/usr/lib/llvm-19";

const dir = fileTempDir("bpfl-printllvm-");

const main22 = compileC(dir, "main22", "int f(int x) { return x + 1; }\n");
const main19 = join(dir, "main19.bc");
clangBitcode("clang-19", join(dir, "main22.c"), main19);
const ir = compileC(dir, "text", "int g(int x) { return x * 2; }\n", "ll");
writeFileSync(join(dir, "notes.txt"), "not bitcode\n");
makeArchive(dir, "libmix.a", [main22, join(dir, "notes.txt")]);
const PRODUCER_22 = readBitcodeProducer(readFileSync(main22))!;
const VERSION_22 = Object.values(PRODUCER_22.llvmVersion!).join(".");

/**
 * The environment of these tests: PATH, HOME (for Deno's cache) and no rustup
 * toolchain, whose libLLVM discovery would put before the system's of the same
 * major (tests/dist.test.ts has that case).
 */
const ENV = {
  PATH: "/usr/bin:/bin",
  HOME: process.env.HOME ?? "/root",
  RUSTUP_HOME: join(dir, "no-rustup"),
};

/** Run `bpf-linker --print-llvm ...` with exactly `env` (plus ENV). */
function printLlvm(args: string[], env: Record<string, string> = {}) {
  const { command, args: prefix } = linkerCommand();
  const r = runWithEnv(command, [...prefix, "--print-llvm", ...args], {
    cwd: dir,
    env: { ...ENV, ...env },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

interface Line {
  path: string;
  source: string;
  version?: string;
  verdict: string;
}

/** The numbered candidate lines of a report. */
function candidates(report: string): Line[] {
  return [
    ...report.matchAll(/^ {2}\d+\. (\S+) \[([^\]]+)\](?: (\S+)(?: \(file name\))?)?: (.+)$/gm),
  ].map((m) => ({
    path: m[1],
    source: m[2],
    version: m[3],
    verdict: m[4],
  }));
}

function entryIn(lines: Line[], prefix: string): Line {
  const line = lines.find((l) => l.path.startsWith(prefix));
  assert.ok(line, `a candidate under ${prefix} in:\n${lines.map((l) => l.path).join("\n")}`);
  return line;
}

test("--print-llvm lists the system's LLVM 22 (chosen) and 19 (usable), without -o or inputs, exit 0", async () => {
  const report = printLlvm([]);
  const lines = candidates(report);
  assert.match(
    report,
    /^bpf-linker \d+\.\d+\.\d+\n\nlibLLVM candidates, in discovery order \(LLVM 19 or newer\):\n/,
  );
  // Every candidate discovery lists, in its order, each with a verdict.
  const env = ENV;
  assert.deepEqual(lines.map((l) => l.path), listCandidates(env).map((c) => c.path));
  const v22 = entryIn(lines, `${LLVM22_DIR}/`);
  assert.match(v22.version!, /^22\.\d+\.\d+$/);
  assert.equal(v22.verdict, "chosen");
  const v19 = entryIn(lines, `${LLVM19_DIR}/`);
  assert.match(v19.version!, /^19\.\d+\.\d+$/);
  assert.equal(v19.verdict, "usable, not chosen: an earlier candidate is");
  assert.ok(report.includes(`\nchosen: ${v22.path} (LLVM ${v22.version})\n`));
  // Anything older than 19 is rejected as too old; the chosen one is what loading picks.
  for (const l of lines.filter((l) => l.version && Number(l.version.split(".")[0]) < 19)) {
    assert.match(l.verdict, /^rejected: too old \(LLVM \d+; need 19 or newer\)$/, l.path);
  }
  assert.equal((await Llvm.load({ env })).path, v22.path);
  assert.ok(!report.includes("inputs ("), "no input section without inputs");
});

test("inputs from LLVM 22 pass over an LLVM 19 found first; their producers are listed, members too", () => {
  const report = printLlvm(["main22.bc", "libmix.a", "text.ll", "nope.bc"], {
    LLVM_PREFIX: LLVM19_DIR,
  });
  const lines = candidates(report);
  assert.equal(lines[0].source, "LLVM_PREFIX");
  assert.ok(lines[0].path.startsWith(`${LLVM19_DIR}/lib/`));
  assert.equal(lines[0].verdict, "usable, but older than the input bitcode (LLVM 22)");
  assert.equal(entryIn(lines, `${LLVM22_DIR}/`).verdict, "chosen");
  assert.match(report, /LLVM 19 or newer; the inputs need 22\):/);
  const inputs = report.slice(report.indexOf("\ninputs (")).trim().split("\n");
  assert.deepEqual(inputs, [
    "inputs (the LLVM that wrote each module):",
    `  main22.bc: LLVM ${VERSION_22} (producer '${PRODUCER_22.producer}')`,
    `  libmix.a(main22.bc): LLVM ${VERSION_22} (producer '${PRODUCER_22.producer}')`,
    "  libmix.a(notes.txt): not LLVM bitcode, skipped",
    "  text.ll: LLVM IR text (it records no producer)",
    "  nope.bc: no such file",
  ]);
});

test("inputs from LLVM 19 and LLVM_PREFIX=llvm-19: 19 is chosen, 22 is usable", () => {
  const report = printLlvm(["main19.bc"], { LLVM_PREFIX: LLVM19_DIR });
  const lines = candidates(report);
  assert.equal(lines[0].verdict, "chosen");
  assert.match(lines[0].version!, /^19\./);
  assert.equal(
    entryIn(lines, `${LLVM22_DIR}/`).verdict,
    "usable, not chosen: an earlier candidate is",
  );
  assert.match(report, /main19\.bc: LLVM 19\.\d+\.\d+ \(producer 'LLVM19\.\d+\.\d+'\)/);
});

test("--llvm names the only candidate: LLVM 19 is chosen for LLVM 22 bitcode, with a warning", () => {
  const report = printLlvm(["--llvm", LLVM19, "main22.bc"]);
  const lines = candidates(report);
  assert.equal(lines.length, 1);
  assert.deepEqual(lines[0], {
    path: LLVM19,
    source: "--llvm",
    version: lines[0].version,
    verdict: "chosen, though older than the input bitcode (LLVM 22): no newer libLLVM found",
  });
  assert.match(
    report,
    /\nwarning: the chosen libLLVM \(19\.\d+\.\d+\) cannot read bitcode from LLVM 22\n$/,
  );
});

test("bad candidates are rejected for what they are, and probing leaves the choice to Llvm.load's rules", async () => {
  const d = join(dir, "bad");
  mkdirSync(d);
  writeFileSync(join(d, "libLLVM-22.so"), "INPUT(libLLVM.so.22.1)\n");
  writeFileSync(join(d, "e.c"), "int f(void) { return 1; }\n");
  tool("gcc", ["-c", "-o", join(d, "rel.o"), join(d, "e.c")]);
  tool("gcc", ["-shared", "-o", join(d, "libnotllvm.so"), join(d, "e.c")]);
  tool("gcc", ["-m32", "-shared", "-nostdlib", "-o", join(d, "lib32.so"), join(d, "e.c")]);
  // Libraries that answer LLVMGetVersion and nothing else: an old one, and a "22" without the C API.
  for (const [name, major] of [["libold.so", 17], ["libfake22.so", 22]] as const) {
    writeFileSync(
      join(d, `${name}.c`),
      `void LLVMGetVersion(unsigned *a, unsigned *b, unsigned *c) { *a = ${major}; *b = 1; *c = 0; }\n`,
    );
    tool("gcc", ["-shared", "-fPIC", "-o", join(d, name), join(d, `${name}.c`)]);
  }
  const list = [
    { path: join(d, "libLLVM-22.so"), source: "test" },
    { path: `${LLVM22_DIR}/lib/libLLVMCore.a`, source: "test" },
    { path: join(d, "missing.so"), source: "test" },
    { path: join(d, "rel.o"), source: "test" },
    { path: join(d, "libnotllvm.so"), source: "test" },
    { path: join(d, "lib32.so"), source: "test" },
    { path: "/usr/lib/x86_64-linux-gnu/libLLVM-15.so", source: "test", nameVersion: [15] },
    { path: join(d, "libold.so"), source: "test" },
    { path: join(d, "libfake22.so"), source: "test" },
    { path: LLVM19, source: "test" },
    { path: LLVM22, source: "test" },
  ];
  const survey = await surveyLlvm({ candidates: list, preferMajor: 22 });
  // A shared library that is not libLLVM: the loader's own words, naming the missing symbol.
  assert.match(survey.entries[4].reason, /^cannot be loaded: .*LLVMGetVersion/);
  assert.match(survey.entries[8].reason, /^lacks LLVM-C symbols: .*LLVM\w+/);
  const dlopenMessage = (reason: string) =>
    reason.replace(/^cannot be loaded: .*$/, "cannot be loaded: <message>")
      .replace(/^lacks LLVM-C symbols: .*$/, "lacks LLVM-C symbols: <message>");
  assert.deepEqual(survey.entries.map((e) => [e.verdict, dlopenMessage(e.reason)]), [
    ["rejected", "linker script, not a shared library"],
    ["rejected", "static archive, not a shared library"],
    ["rejected", "does not exist"],
    ["rejected", "not a shared library"],
    ["rejected", "cannot be loaded: <message>"],
    ["rejected", "32-bit library"],
    ["rejected", "too old (LLVM 15; need 19 or newer)"],
    ["rejected", "too old (LLVM 17; need 19 or newer)"],
    ["rejected", "lacks LLVM-C symbols: <message>"],
    ["usable", "usable, but older than the input bitcode (LLVM 22)"],
    ["chosen", "chosen"],
  ]);
  assert.equal(survey.chosen?.path, LLVM22);
  assert.equal((await Llvm.load({ candidates: list, preferMajor: 22 })).path, LLVM22);
  // Without inputs the first usable one wins, as when loading.
  const plain = await surveyLlvm({ candidates: list });
  assert.equal(plain.chosen?.path, LLVM19);
  assert.equal(plain.entries[10].reason, "usable, not chosen: an earlier candidate is");
  assert.deepEqual(survey.entries.slice(7, 9).map((e) => e.version), ["17.1.0", "22.1.0"]);
});

test("library API: llvmReport gives the text --print-llvm prints, and the survey", async () => {
  const inputs = [{ name: "main22.bc", bytes: readFileSync(main22) }, {
    name: "text.ll",
    bytes: readFileSync(ir, "utf8"),
  }];
  const { text, survey } = await llvmReport(inputs);
  const cli = runLinker(["--print-llvm", "main22.bc", "text.ll"], { cwd: dir });
  assert.equal(cli.status, 0, cli.stderr);
  assert.equal(text, cli.stdout);
  assert.equal(survey.preferMajor, 22);
  assert.equal(survey.chosen?.verdict, "chosen");
  assert.equal(survey.entries.filter((e) => e.verdict === "chosen").length, 1);
});
