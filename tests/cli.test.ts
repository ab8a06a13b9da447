// The command line (README "Command line", rustc's spellings): every option, every convention, every error message.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { type CommandLine, helpText, parseCommandLine, parseCommandTokens, parseExportSymbols } from "../src/cli.ts";
import { LinkerError, UsageError } from "../src/errors.ts";
import { type CliOptions, CPU_NAMES, EMIT_KINDS, LOG_LEVELS } from "../src/options.ts";
import { expandResponseFiles } from "../src/response_file.ts";
import { ALL_OPTION_SPELLINGS } from "./support/options.ts";

/** Parse `args` plus the output and input every link needs. */
function parseWith(...args: string[]): CommandLine {
  return parseCommandLine([...args, "-o", "out.o", "in.o"]);
}

function assertUsageError(args: string[], message: string): void {
  assert.throws(
    () => parseCommandLine(args),
    (error: unknown) => {
      assert.ok(error instanceof UsageError, `expected a UsageError, got ${error}`);
      assert.ok(error instanceof LinkerError);
      assert.equal(error.message, message);
      return true;
    },
  );
}

// ---------------------------------------------------------------- defaults, output, inputs

test("defaults: only output and one input given", () => {
  const expected: CommandLine = {
    emit: "obj",
    target: undefined,
    cpu: "generic",
    cpuFeatures: "",
    optLevel: "2",
    exports: [],
    exportAll: true,
    btf: false,
    allowBpfTrap: false,
    unrollLoops: false,
    ignoreInlineNever: false,
    disableExpandMemcpyInOrder: false,
    disableMemoryBuiltins: false,
    llvmArgs: [],
    dumpModule: undefined,
    fatalErrors: true,
    wholeArchive: false,
    output: "out.o",
    inputs: ["in.o"],
    exportSymbolsFiles: [],
    libraryPaths: [],
    logFile: undefined,
    logLevel: undefined,
    llvmPath: undefined,
    time: false,
    help: false,
    version: false,
    printLlvm: false,
    map: undefined,
    whyExtract: undefined,
    whyLive: [],
    reproduce: undefined,
  };
  assert.deepEqual(parseCommandLine(["-o", "out.o", "in.o"]), expected);
});

test("-o and --output in every spelling", () => {
  for (
    const args of [
      ["-o", "x.o"],
      ["-ox.o"],
      ["-o=x.o"],
      ["--output", "x.o"],
      ["--output=x.o"],
    ]
  ) {
    assert.equal(parseCommandLine([...args, "in.o"]).output, "x.o", args.join(" "));
  }
});

test("--output given twice: the last wins", () => {
  assert.equal(parseCommandLine(["-o", "a", "--output", "b", "in.o"]).output, "b");
});

test("missing --output is an error", () => {
  assertUsageError(["in.o"], "option '--output' is required");
});

test("no inputs is an error", () => {
  assertUsageError(["-o", "out.o"], "no input files");
  assertUsageError([], "no input files");
});

test("empty output value is an error", () => {
  assertUsageError(["--output=", "in.o"], "option '--output' needs a value");
  assertUsageError(["-o", "", "in.o"], "option '-o' needs a value");
});

test("empty input name is an error", () => {
  assertUsageError(["-o", "out", ""], "empty input file name");
});

test("inputs keep command-line order, interleaved with options", () => {
  const options = parseCommandLine(["c.o", "--btf", "a.o", "-o", "out", "lib.a", "-O3", "b.bc"]);
  assert.deepEqual(options.inputs, ["c.o", "a.o", "lib.a", "b.bc"]);
});

test("a bare - is an input", () => {
  assert.deepEqual(parseCommandLine(["-o", "out", "-"]).inputs, ["-"]);
});

test("-- ends options: everything after it is an input", () => {
  const options = parseCommandLine(["-o", "out", "a.o", "--", "--btf", "-O3", "--", "-x"]);
  assert.deepEqual(options.inputs, ["a.o", "--btf", "-O3", "--", "-x"]);
  assert.equal(options.btf, false);
  assert.equal(options.optLevel, "2");
});

// ---------------------------------------------------------------- --help, --version

test("-h and --help need no output or inputs", () => {
  for (const flag of ["-h", "--help"]) {
    const options = parseCommandLine([flag]);
    assert.equal(options.help, true, flag);
    assert.equal(options.version, false, flag);
  }
});

test("-V and --version need no output or inputs", () => {
  for (const flag of ["-V", "--version"]) {
    const options = parseCommandLine([flag]);
    assert.equal(options.version, true, flag);
    assert.equal(options.help, false, flag);
  }
});

test("--help does not excuse an unknown option", () => {
  assertUsageError(["--help", "--frobnicate"], "unknown option '--frobnicate'");
});

// ---------------------------------------------------------------- --emit

test("--emit accepts every kind, separate or with =", () => {
  for (const kind of EMIT_KINDS) {
    assert.equal(parseWith("--emit", kind).emit, kind);
    assert.equal(parseWith(`--emit=${kind}`).emit, kind);
  }
});

test("--emit given several times: the first wins", () => {
  assert.equal(parseWith("--emit", "asm", "--emit", "llvm-ir", "--emit=obj").emit, "asm");
  assert.equal(parseWith("--emit=llvm-bc", "--emit", "asm").emit, "llvm-bc");
});

test("--emit rejects a bad value, even after a good one", () => {
  const expected = "invalid value 'elf' for '--emit' (expected one of: obj, asm, llvm-ir, llvm-bc)";
  assertUsageError(["--emit", "elf", "-o", "x", "a.o"], expected);
  assertUsageError(["--emit", "asm", "--emit=elf", "-o", "x", "a.o"], expected);
});

test("--emit without a value", () => {
  assertUsageError(["-o", "x", "a.o", "--emit"], "option '--emit' needs a value");
  assertUsageError(["-o", "x", "a.o", "--emit="], "option '--emit' needs a value");
});

// ---------------------------------------------------------------- --target, --cpu, --cpu-features

test("--target sets the triple", () => {
  assert.equal(parseWith("--target", "bpfeb-unknown-none").target, "bpfeb-unknown-none");
  assert.equal(parseWith("--target=bpfel").target, "bpfel");
});

test("--target needs a non-empty value", () => {
  assertUsageError(["-o", "x", "a.o", "--target"], "option '--target' needs a value");
  assertUsageError(["--target=", "-o", "x", "a.o"], "option '--target' needs a value");
});

test("--cpu accepts generic, probe, v1, v2, v3", () => {
  for (const cpu of CPU_NAMES) {
    assert.equal(parseWith("--cpu", cpu).cpu, cpu);
    assert.equal(parseWith(`--cpu=${cpu}`).cpu, cpu);
  }
  assert.equal(parseWith("--cpu", "v3", "--cpu", "v1").cpu, "v1", "the last wins");
});

test("--cpu rejects anything else", () => {
  const expected = "invalid value 'v9' for '--cpu' (expected one of: generic, probe, v1, v2, v3)";
  assertUsageError(["--cpu", "v9", "-o", "x", "a.o"], expected);
  assertUsageError(
    ["--cpu=", "-o", "x", "a.o"],
    "option '--cpu' needs a value",
  );
});

test("--cpu-features takes a list, even one starting with -", () => {
  assert.equal(parseWith("--cpu-features", "+alu32,-dwarfris").cpuFeatures, "+alu32,-dwarfris");
  assert.equal(parseWith("--cpu-features=+alu32").cpuFeatures, "+alu32");
  const options = parseCommandLine(["--cpu-features", "-dwarfris", "a.o", "-o", "x"]);
  assert.equal(options.cpuFeatures, "-dwarfris");
  assert.deepEqual(options.inputs, ["a.o"]);
});

test("--cpu-features accepts an empty value (older rustc passed one)", () => {
  const options = parseCommandLine(["--cpu-features", "", "a.o", "-o", "x"]);
  assert.equal(options.cpuFeatures, "");
  assert.deepEqual(options.inputs, ["a.o"]);
  assertUsageError(["-o", "x", "a.o", "--cpu-features"], "option '--cpu-features' needs a value");
});

// ---------------------------------------------------------------- -O

test("-O attached and separate, every level", () => {
  for (const level of ["1", "2", "3", "s", "z"]) {
    assert.equal(parseWith(`-O${level}`).optLevel, level);
    assert.equal(parseWith("-O", level).optLevel, level);
    assert.equal(parseWith(`-O=${level}`).optLevel, level);
  }
});

test("-O0 behaves as -O1", () => {
  assert.equal(parseWith("-O0").optLevel, "1");
  assert.equal(parseWith("-O", "0").optLevel, "1");
});

test("-O is repeatable and the last wins", () => {
  assert.equal(parseWith("-O3", "-Os", "-O1").optLevel, "1");
  assert.equal(parseWith("-Oz", "-O", "3").optLevel, "3");
});

test("-O rejects other levels", () => {
  const expected = (value: string) =>
    `invalid value '${value}' for '-O' (expected one of: 0, 1, 2, 3, s, z)`;
  assertUsageError(["-O4", "-o", "x", "a.o"], expected("4"));
  assertUsageError(["-O", "fast", "-o", "x", "a.o"], expected("fast"));
  assertUsageError(["-O22", "-o", "x", "a.o"], expected("22"));
  assertUsageError(["-o", "x", "a.o", "-O"], "option '-O' needs a value");
});

// ---------------------------------------------------------------- exports

test("--export splits on commas and is repeatable", () => {
  const options = parseWith("--export", "a,b", "--export=c", "--export", "d,,e,");
  assert.deepEqual(options.exports, ["a", "b", "c", "d", "e"]);
});

test("an export list, even an empty one, internalizes the rest; without one every definition stays", () => {
  assert.equal(parseCommandLine(["a.o", "-o", "x"]).exportAll, true);
  assert.equal(parseWith("--export", "a").exportAll, false);
  assert.equal(parseWith("--export=").exportAll, false);
  assert.deepEqual(parseWith("--export=").exports, []);
  assert.equal(parseWith("--export-symbols", "list.txt").exportAll, false);
});

test("--export never swallows the following inputs", () => {
  const options = parseCommandLine(["--export", "foo", "a.o", "b.o", "-o", "x"]);
  assert.deepEqual(options.exports, ["foo"]);
  assert.deepEqual(options.inputs, ["a.o", "b.o"]);
});

test("--export without a value", () => {
  assertUsageError(["-o", "x", "a.o", "--export"], "option '--export' needs a value");
});

test("--export-symbols collects every path, in order", () => {
  const options = parseCommandLine([
    "--export-symbols",
    "/tmp/rustc1/symbols",
    "a.o",
    "--export-symbols=more.txt",
    "b.o",
    "-o",
    "x",
  ]);
  assert.deepEqual(options.exportSymbolsFiles, ["/tmp/rustc1/symbols", "more.txt"]);
  assert.deepEqual(options.inputs, ["a.o", "b.o"]);
  assertUsageError(
    ["-o", "x", "a.o", "--export-symbols"],
    "option '--export-symbols' needs a value",
  );
});

test("parseExportSymbols: one per line, trimmed, empty lines skipped", () => {
  assert.deepEqual(parseExportSymbols("foo\nbar\n"), ["foo", "bar"]);
  assert.deepEqual(parseExportSymbols("  foo  \r\n\r\n\tbar\n\n   \nbaz"), ["foo", "bar", "baz"]);
  assert.deepEqual(parseExportSymbols(""), []);
  assert.deepEqual(parseExportSymbols("\n\n"), []);
});

// ---------------------------------------------------------------- flags

const FLAGS: ReadonlyArray<readonly [string, keyof CliOptions]> = [
  ["--btf", "btf"],
  ["--allow-bpf-trap", "allowBpfTrap"],
  ["--unroll-loops", "unrollLoops"],
  ["--ignore-inline-never", "ignoreInlineNever"],
  ["--disable-expand-memcpy-in-order", "disableExpandMemcpyInOrder"],
  ["--disable-memory-builtins", "disableMemoryBuiltins"],
  ["--time", "time"],
];

for (const [flag, field] of FLAGS) {
  test(`flag ${flag} sets ${field}`, () => {
    assert.equal(parseCommandLine(["-o", "x", "a.o"])[field], false);
    const options = parseCommandLine([flag, "a.o", "-o", "x"]);
    assert.equal(options[field], true);
    assert.deepEqual(options.inputs, ["a.o"], "a flag takes no argument");
  });
}

test("a flag given a value is an error", () => {
  assertUsageError(["--btf=yes", "-o", "x", "a.o"], "option '--btf' takes no value");
  assertUsageError(["--help=1"], "option '--help' takes no value");
  assertUsageError(["--time=", "-o", "x", "a.o"], "option '--time' takes no value");
});

// ---------------------------------------------------------------- LLVM, logging, errors

test("--llvm-args splits on commas, is repeatable, keeps leading dashes", () => {
  const options = parseWith(
    "--llvm-args",
    "-unroll-threshold=1000,-bpf-stack-size=1024",
    "--llvm-args=--print-after-all",
    "--llvm-args",
    "-debug",
  );
  assert.deepEqual(options.llvmArgs, [
    "-unroll-threshold=1000",
    "-bpf-stack-size=1024",
    "--print-after-all",
    "-debug",
  ]);
  assertUsageError(["-o", "x", "a.o", "--llvm-args"], "option '--llvm-args' needs a value");
});

test("--dump-module takes a path", () => {
  assert.equal(parseWith("--dump-module", "final.ll").dumpModule, "final.ll");
  assert.equal(parseWith("--dump-module=/tmp/dir").dumpModule, "/tmp/dir");
  assertUsageError(["-o", "x", "a.o", "--dump-module"], "option '--dump-module' needs a value");
});

test("--log-file takes a path", () => {
  assert.equal(parseWith("--log-file", "link.log").logFile, "link.log");
  assert.equal(parseWith("--log-file=/tmp/l.log").logFile, "/tmp/l.log");
  assertUsageError(["-o", "x", "a.o", "--log-file"], "option '--log-file' needs a value");
});

test("--log-level accepts every level and nothing else", () => {
  for (const level of LOG_LEVELS) {
    assert.equal(parseWith("--log-level", level).logLevel, level);
    assert.equal(parseWith(`--log-level=${level}`).logLevel, level);
  }
  assertUsageError(
    ["--log-level", "verbose", "-o", "x", "a.o"],
    "invalid value 'verbose' for '--log-level' (expected one of: off, error, warn, info, debug, trace)",
  );
  assertUsageError(["-o", "x", "a.o", "--log-level"], "option '--log-level' needs a value");
});

test("--fatal-errors true|false", () => {
  assert.equal(parseWith("--fatal-errors", "false").fatalErrors, false);
  assert.equal(parseWith("--fatal-errors=false").fatalErrors, false);
  assert.equal(parseWith("--fatal-errors=false", "--fatal-errors", "true").fatalErrors, true);
  assertUsageError(
    ["--fatal-errors", "no", "-o", "x", "a.o"],
    "invalid value 'no' for '--fatal-errors' (expected one of: true, false)",
  );
  assertUsageError(["-o", "x", "a.o", "--fatal-errors"], "option '--fatal-errors' needs a value");
});

test("--llvm names the libLLVM file or prefix", () => {
  assert.equal(parseWith("--llvm", "/usr/lib/llvm-20").llvmPath, "/usr/lib/llvm-20");
  assert.equal(parseWith("--llvm=/opt/libLLVM.so.20.1").llvmPath, "/opt/libLLVM.so.20.1");
  assertUsageError(["-o", "x", "a.o", "--llvm"], "option '--llvm' needs a value");
});

// ---------------------------------------------------------------- rustc / wasm-ld compatibility

test("-L collects directories, separate or attached", () => {
  const options = parseWith("-L", "/a", "-L/b", "-L=/c", "-L", "d e");
  assert.deepEqual(options.libraryPaths, ["/a", "/b", "/c", "d e"]);
  assert.deepEqual(options.inputs, ["in.o"]);
  assertUsageError(["-o", "x", "a.o", "-L"], "option '-L' needs a value");
});

test("--debug is accepted and ignored", () => {
  assert.deepEqual(parseWith("--debug"), parseWith());
  assertUsageError(["--debug=2", "-o", "x", "a.o"], "option '--debug' takes no value");
});

test("-flavor takes a value and is ignored", () => {
  assert.deepEqual(parseWith("-flavor", "wasm"), parseWith());
  assert.deepEqual(parseWith("-flavor=wasm"), parseWith());
  assert.deepEqual(parseWith("--flavor", "wasm"), parseWith());
  const options = parseCommandLine(["-flavor", "wasm", "a.o", "-o", "x"]);
  assert.deepEqual(options.inputs, ["a.o"], "the value is not an input");
  assertUsageError(["-o", "x", "a.o", "-flavor"], "option '-flavor' needs a value");
});

// ---------------------------------------------------------------- unknown options, conventions

test("unknown options are named", () => {
  assertUsageError(["--frobnicate", "-o", "x", "a.o"], "unknown option '--frobnicate'");
  assertUsageError(["--frobnicate=3", "-o", "x", "a.o"], "unknown option '--frobnicate'");
  assertUsageError(["-x", "-o", "x", "a.o"], "unknown option '-x'");
  assertUsageError(["-flavorwasm", "-o", "x", "a.o"], "unknown option '-flavorwasm'");
  assertUsageError(["-hV"], "unknown option '-hV'");
  assertUsageError(["--Output", "x", "a.o"], "unknown option '--Output'");
  assertUsageError(["--outp", "x", "a.o"], "unknown option '--outp'"); // no prefix guessing
});

test("the first mistake is the one reported", () => {
  assertUsageError(
    ["--cpu", "v9", "--frobnicate"],
    "invalid value 'v9' for '--cpu' (expected one of: generic, probe, v1, v2, v3)",
  );
  assertUsageError(["--frobnicate", "--cpu", "v9"], "unknown option '--frobnicate'");
});

test("a value option takes exactly the next argument, whatever it looks like", () => {
  // getopt behaviour: the argument after `-o` is the output even if it starts with a dash.
  const options = parseCommandLine(["-o", "--btf", "a.o"]);
  assert.equal(options.output, "--btf");
  assert.equal(options.btf, false);
  assert.deepEqual(options.inputs, ["a.o"]);
});

test("a value option never swallows more than one argument", () => {
  const options = parseCommandLine(["--cpu", "v2", "a.o", "--target", "bpfel", "b.o", "-o", "x"]);
  assert.equal(options.cpu, "v2");
  assert.equal(options.target, "bpfel");
  assert.deepEqual(options.inputs, ["a.o", "b.o"]);
});

test("a value containing = after --opt= keeps the rest", () => {
  assert.deepEqual(parseWith("--llvm-args=-foo=1").llvmArgs, ["-foo=1"]);
  assert.equal(parseWith("--target=a=b").target, "a=b");
});

// ---------------------------------------------------------------- rustc, for real

/** What rustc passes to a linker of flavor bpf (rustc_codegen_ssa back/link.rs + linker.rs). */
const RUSTC_ARGS = [
  "--export-symbols",
  "/tmp/rustcAbC123/symbols",
  "/tmp/rustcAbC123/symbols.o",
  "/home/u/prog/target/bpfel-unknown-none/release/deps/prog-0df4b88cd767cdfe.prog.9f2f50cf-cgu.0.rcgu.o",
  "-L",
  "/home/u/prog/target/bpfel-unknown-none/release/deps",
  "-L",
  "/home/u/prog/target/release/deps",
  "/home/u/prog/target/bpfel-unknown-none/release/deps/libaya_ebpf-1f2e3d4c5b6a7980.rlib",
  "/home/u/prog/target/bpfel-unknown-none/release/deps/libcore-0a1b2c3d4e5f6071.rlib",
  "/home/u/prog/target/bpfel-unknown-none/release/deps/libcompiler_builtins-abc.rlib",
  "--cpu",
  "generic",
  "--cpu-features",
  "+alu32",
  "-L",
  "/home/u/.rustup/toolchains/nightly-x86_64-unknown-linux-gnu/lib/rustlib/bpfel-unknown-none/lib",
  "-o",
  "/home/u/prog/target/bpfel-unknown-none/release/deps/prog-0df4b88cd767cdfe",
  "-O3",
  "--debug",
  // -C link-arg=... additions
  "--btf",
  "--log-level=info",
  "--log-file",
  "/tmp/bpf-linker.log",
];

test("a realistic rustc command line", () => {
  const options = parseCommandLine(RUSTC_ARGS);
  assert.equal(options.cpu, "generic");
  assert.equal(options.cpuFeatures, "+alu32");
  assert.equal(options.optLevel, "3");
  assert.equal(options.btf, true);
  assert.equal(options.logLevel, "info");
  assert.equal(options.logFile, "/tmp/bpf-linker.log");
  assert.deepEqual(options.exportSymbolsFiles, ["/tmp/rustcAbC123/symbols"]);
  assert.equal(
    options.output,
    "/home/u/prog/target/bpfel-unknown-none/release/deps/prog-0df4b88cd767cdfe",
  );
  assert.equal(options.libraryPaths.length, 3);
  assert.deepEqual(
    options.inputs.map((input) => input.slice(input.lastIndexOf("/") + 1)),
    [
      "symbols.o",
      "prog-0df4b88cd767cdfe.prog.9f2f50cf-cgu.0.rcgu.o",
      "libaya_ebpf-1f2e3d4c5b6a7980.rlib",
      "libcore-0a1b2c3d4e5f6071.rlib",
      "libcompiler_builtins-abc.rlib",
    ],
  );
});

test("an older rustc command line: -flavor wasm, empty --cpu-features, -Os", () => {
  const options = parseCommandLine([
    "-flavor",
    "wasm",
    "--export",
    "prog",
    "/tmp/rustcX/symbols.o",
    "deps/prog.prog.1-cgu.0.rcgu.o",
    "-L",
    "deps",
    "--cpu",
    "generic",
    "--cpu-features",
    "",
    "-o",
    "deps/prog",
    "-Os",
    "--debug",
  ]);
  assert.deepEqual(options.exports, ["prog"]);
  assert.equal(options.cpuFeatures, "");
  assert.equal(options.optLevel, "s");
  assert.deepEqual(options.inputs, ["/tmp/rustcX/symbols.o", "deps/prog.prog.1-cgu.0.rcgu.o"]);
});

/** How rustc writes a response file for a GNU-like linker: one argument per line, `\` and space escaped. */
function rustcResponseFile(args: readonly string[]): string {
  return args.map((arg) => arg.replace(/[\\ ]/g, "\\$&")).join("\n") + "\n";
}

test("a rustc command line through a response file (@file)", () => {
  const args = RUSTC_ARGS.map((arg) => arg.replace("/home/u/", "/home/u/my projects\\x/"))
    .filter((arg) => arg !== ""); // rustc writes an empty argument as an empty line: it would be lost
  const dir = mkdtempSync(join(tmpdir(), "bpf-linker-cli-test-"));
  try {
    const file = join(dir, "linker-arguments");
    writeFileSync(file, rustcResponseFile(args));
    const expanded = expandResponseFiles([`@${file}`], (path) => readFileSync(path, "utf8"));
    assert.deepEqual(expanded, args);
    assert.deepEqual(parseCommandLine(expanded), parseCommandLine(args));
    assert.ok(parseCommandLine(expanded).output.includes("my projects\\x"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- help

test("helpText names every option with its values and defaults", () => {
  const help = helpText();
  assert.match(help, /^Usage: bpf-linker /);
  for (const spelling of ALL_OPTION_SPELLINGS) {
    const pattern = new RegExp(`(^|[ ,])${spelling.replace(/[-]/g, "\\-")}([ ,=]|$)`, "m");
    assert.match(help, pattern, spelling);
  }
  for (const value of [...EMIT_KINDS, ...CPU_NAMES, ...LOG_LEVELS, "0, 1, 2, 3, s, z"]) {
    assert.ok(help.includes(value), value);
  }
  for (const defaultValue of ["obj", "generic", "2", "true"]) {
    assert.ok(help.includes(`[default: ${defaultValue}]`), defaultValue);
  }
  for (const line of help.split("\n")) assert.ok(line.length <= 100, line);
});

test("every option in the help is accepted by the parser", () => {
  // Each spelling, given a plausible value when it takes one, parses without error.
  const sampleValue: Record<string, string> = {
    "--emit": "asm",
    "--cpu": "v3",
    "-O": "3",
    "--log-level": "debug",
    "--fatal-errors": "false",
  };
  const takesValue = /^ +(-\S+(?:, -\S+)*) <[^>]+>/;
  const lines = helpText().split("\n").filter((line) => line.trimStart().startsWith("-"));
  for (const line of lines) {
    const withValue = takesValue.exec(line);
    const spellings = (withValue ? withValue[1] : line.trim().split(/\s{2,}/)[0]).split(", ");
    for (const spelling of spellings) {
      const args = withValue ? [spelling, sampleValue[spelling] ?? "v"] : [spelling];
      assert.doesNotThrow(() => parseWith(...args), spelling);
    }
  }
  assert.ok(lines.length >= 26);
});

// ------------------------------------------------------------------- explaining a link

test("--map, -Map and -Map=: the link map path in every spelling", () => {
  for (const args of [["--map", "m.txt"], ["--map=m.txt"], ["-Map", "m.txt"], ["-Map=m.txt"]]) {
    assert.equal(parseWith(...args).map, "m.txt", args.join(" "));
  }
});

test("--why-extract, --reproduce take a path; --why-live is repeatable", () => {
  const options = parseWith("--why-extract", "w.txt", "--reproduce=r.tar", "--why-live", "a", "--why-live=b");
  assert.equal(options.whyExtract, "w.txt");
  assert.equal(options.reproduce, "r.tar");
  assert.deepEqual(options.whyLive, ["a", "b"]);
  // The value never swallows the inputs after it.
  assert.deepEqual(parseCommandLine(["--why-live", "sym", "-o", "x.o", "a.o", "b.o"]).inputs, ["a.o", "b.o"]);
});

test("--print-llvm needs neither inputs nor an output, like --version", () => {
  assert.equal(parseCommandLine(["--print-llvm"]).printLlvm, true);
  assert.deepEqual(parseCommandLine(["--print-llvm", "a.bc"]).inputs, ["a.bc"]);
  assertUsageError(["--print-llvm=yes"], "option '--print-llvm' takes no value");
});

test("parseCommandTokens keeps every argument as given, in order", () => {
  const { tokens } = parseCommandTokens(["-O2", "a.bc", "--export=f", "-o", "x.o", "--", "-b.bc"]);
  assert.deepEqual(
    tokens.map((t) => (t.kind === "input" ? `input ${t.value}` : `${t.spelling} ${t.value ?? ""}`.trim())),
    ["-O 2", "input a.bc", "--export f", "-o x.o", "input -b.bc"],
  );
});
