// The link pipeline through the library API (src/mod.ts `link()`), in process: in-memory
// inputs of every kind, judged by the kernel, llvm-readelf and llvm-objdump, compared with
// the CLI; errors as typed LinkerError subclasses.
//
// LLVM's options are process-wide: every link() here uses the default LLVM options
// (no unrollLoops / allowBpfTrap / disableExpandMemcpyInOrder / llvmArgs); tests of those
// run the CLI as a child process (tests/main.test.ts).

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import {
  ArchiveError,
  InputError,
  link,
  LinkerError,
  type LinkerOptions,
  LinkError,
  type LinkInput,
  LlvmError,
  llvmInfo,
  ParseError,
  TargetError,
  UsageError,
} from "../src/mod.ts";
import {
  compileC,
  disassemble,
  LLVM_BIN,
  loadAndRun,
  makeArchive,
  needsBpf,
  runLinker,
  symbols,
  tempDir,
  tool,
} from "./support/tools.ts";
import { compileCFixture, xdpScorePacket, xdpScoreVerdict } from "./support/c_fixtures.ts";

const dir = tempDir("bpfl-linker-");
after(() => rmSync(dir, { recursive: true, force: true }));


// ---------------------------------------------------------------------------------- helpers

const bytesOf = (path: string): Uint8Array => new Uint8Array(readFileSync(path));
const textOf = (path: string): string => readFileSync(path, "utf8");
const input = (name: string, path: string): LinkInput => ({ name, bytes: bytesOf(path) });

let outCounter = 0;
/** Write `bytes` to a fresh file in the scratch directory (for llvm-readelf, bpftool). */
function toFile(bytes: Uint8Array, name = `out${outCounter++}.o`): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Await `promise`, which must reject with an instance of `type`; returns the error. */
async function rejects<T extends LinkerError>(
  promise: Promise<unknown>,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  try {
    await promise;
  } catch (e) {
    assert.ok(
      e instanceof type,
      `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${e}`,
    );
    assert.ok(e instanceof LinkerError);
    assert.ok(e instanceof Error);
    assert.equal(e.name, e.constructor.name);
    return e;
  }
  assert.fail(`expected a ${type.name}`);
}

// ----------------------------------------------------------------------------- the inputs

const SOURCES = ["xdp_main", "xdp_weigh", "xdp_lib_verdict", "xdp_lib_unused"] as const;
type Source = (typeof SOURCES)[number];
const bc = {} as Record<Source, string>;
const ll = {} as Record<Source, string>;
const elf = {} as Record<Source, string>;
for (const name of SOURCES) {
  bc[name] = compileCFixture(dir, name, "bc");
  ll[name] = compileCFixture(dir, name, "ll");
  elf[name] = compileCFixture(dir, name, "embed");
}
const libBc = makeArchive(dir, "libbc.a", [bc.xdp_lib_verdict, bc.xdp_lib_unused]);
const libLl = makeArchive(dir, "libll.a", [ll.xdp_lib_verdict, ll.xdp_lib_unused]);
const libElf = makeArchive(dir, "libelf.a", [elf.xdp_lib_verdict, elf.xdp_lib_unused]);

const XDP: LinkerOptions = { exports: ["xdp_score"] };

const expectedVerdict = xdpScoreVerdict;
const packet = xdpScorePacket;
const PACKETS = [
  packet(1, 2, 3, 4, 5, 6, 7, 8),
  packet(1),
  packet(2),
  packet(9, 9, 9, 9, 9, 9, 9, 9),
];

function assertVerdicts(obj: Uint8Array): void {
  const path = toFile(obj);
  const expected = PACKETS.map(expectedVerdict);
  assert.ok(new Set(expected).size >= 3);
  for (const [i, p] of PACKETS.entries()) {
    assert.equal(loadAndRun(path, "xdp_score", p), expected[i], `packet ${i}`);
  }
}

/** The bitcode inputs of the XDP program, in memory. */
const bcInputs = (): LinkInput[] => [
  input("xdp_main.bc", bc.xdp_main),
  input("xdp_weigh.bc", bc.xdp_weigh),
  input("libbc.a", libBc),
];

const aluBc = compileC(dir, "alu", "int f(int a, int b) { return a * b + 3; }\n");
// A constant-trip loop that only O3 unrolls fully (unoptimized by clang).
const loopBc = compileC(
  dir,
  "loop28",
  "unsigned k(unsigned x) { unsigned r = 0; for (int i = 0; i < 28; i++) r ^= (x >> (i & 15)) * 2654435761u + i; return r; }\n",
  "bc",
  ["-Xclang", "-disable-llvm-passes"],
);

// -------------------------------------------------------------------------- kernel: inputs

test("kernel: bitcode files and an archive of bitcode, in memory", needsBpf(), async () => {
  const { output } = await link(bcInputs(), XDP);
  assertVerdicts(output);
});

test("kernel: IR text (strings) and an archive of IR members", needsBpf(), async () => {
  const { output } = await link(
    [
      { name: "xdp_main.ll", bytes: textOf(ll.xdp_main) },
      { name: "xdp_weigh.ll", bytes: textOf(ll.xdp_weigh) },
      input("libll.a", libLl),
    ],
    XDP,
  );
  assertVerdicts(output);
});

test("kernel: ELF objects with embedded bitcode and an archive of them", needsBpf(), async () => {
  const { output, log } = await link(
    [
      input("xdp_main.o", elf.xdp_main),
      input("xdp_weigh.o", elf.xdp_weigh),
      input("libelf.a", libElf),
    ],
    XDP,
  );
  assert.deepEqual(log.filter((l) => /^(warning|error)/.test(l)), []);
  assertVerdicts(output);
});

test("kernel: bitcode, IR, ELF and an archive mixed in one link", needsBpf(), async () => {
  const { output } = await link(
    [
      { name: "xdp_main.ll", bytes: textOf(ll.xdp_main) },
      input("xdp_weigh.o", elf.xdp_weigh),
      input("libbc.a", libBc),
    ],
    XDP,
  );
  assertVerdicts(output);
});

test("the linked object keeps the program global and drops what nothing uses", async () => {
  const { output } = await link(bcInputs(), XDP);
  const syms = symbols(toFile(output));
  assert.equal(syms.get("xdp_score")?.bind, "GLOBAL");
  assert.equal(syms.get("xdp_score")?.type, "FUNC");
  assert.notEqual(syms.get("weigh")?.bind, "GLOBAL", "weigh is internalized");
  assert.ok(!syms.has("lib_unused"));
  assert.ok(!syms.has("verdict"), "verdict is inlined");
  assert.match(tool(join(LLVM_BIN, "llvm-readelf"), ["-S", "-W", toFile(output)]), /\sxdp\s/);
});

// ------------------------------------------------------------------------ API equals the CLI

test("in-memory inputs give the same bytes as the CLI for the same inputs", async () => {
  const cases: { inputs: LinkInput[]; paths: string[] }[] = [
    { inputs: bcInputs(), paths: [bc.xdp_main, bc.xdp_weigh, libBc] },
    {
      inputs: [
        { name: ll.xdp_main, bytes: textOf(ll.xdp_main) },
        input(elf.xdp_weigh, elf.xdp_weigh),
        input(libLl, libLl),
      ],
      paths: [ll.xdp_main, elf.xdp_weigh, libLl],
    },
  ];
  for (const [i, { inputs, paths }] of cases.entries()) {
    const out = join(dir, `cli${i}.o`);
    const r = runLinker(["--export", "xdp_score", "-o", out, ...paths]);
    assert.equal(r.status, 0, r.stderr);
    const { output } = await link(inputs, XDP);
    assert.ok(equalBytes(output, bytesOf(out)), `case ${i}: library and CLI outputs are identical`);
  }
});

test("every emit kind equals the CLI's", async () => {
  for (const emit of ["obj", "asm", "llvm-ir", "llvm-bc"] as const) {
    const out = join(dir, `cli_emit.${emit}`);
    const r = runLinker([
      "--emit",
      emit,
      "--cpu",
      "v3",
      "-O",
      "s",
      "--export",
      "xdp_score",
      "-o",
      out,
      bc.xdp_main,
      bc.xdp_weigh,
      libBc,
    ]);
    assert.equal(r.status, 0, r.stderr);
    // IR names the first module: give the library the same name as the CLI's path.
    const inputs = [
      input(bc.xdp_main, bc.xdp_main),
      input(bc.xdp_weigh, bc.xdp_weigh),
      input(libBc, libBc),
    ];
    const { output } = await link(inputs, { ...XDP, emit, cpu: "v3", optLevel: "s" });
    assert.ok(equalBytes(output, bytesOf(out)), `--emit ${emit}`);
  }
});

test("linking twice (and concurrently) gives identical bytes", async () => {
  const first = (await link(bcInputs(), XDP)).output;
  const second = (await link(bcInputs(), XDP)).output;
  assert.ok(equalBytes(first, second));
  const many = await Promise.all(Array.from({ length: 8 }, () => link(bcInputs(), XDP)));
  for (const { output } of many) assert.ok(equalBytes(output, first));
});

test("inputs are not modified, and views into larger buffers work", async () => {
  const reference = (await link(bcInputs(), XDP)).output;
  // Every input at an odd offset of a bigger buffer.
  const inputs = bcInputs().map(({ name, bytes }) => {
    const raw = bytes as Uint8Array;
    const big = new Uint8Array(raw.length + 11).fill(0xa5);
    big.set(raw, 3);
    return { name, bytes: big.subarray(3, 3 + raw.length), copy: raw.slice() };
  });
  const { output } = await link(inputs, XDP);
  assert.ok(equalBytes(output, reference));
  for (const i of inputs) assert.ok(equalBytes(i.bytes, i.copy), `${i.name} unchanged`);
});

// ---------------------------------------------------------------------------- options (API)

test("options: emit kinds, target, cpu, exports, optimization level", async () => {
  const alu = [input("alu.bc", aluBc)];
  const obj = (await link(alu, { exports: ["f"] })).output;
  assert.deepEqual([...obj.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  const asm = new TextDecoder().decode((await link(alu, { exports: ["f"], emit: "asm" })).output);
  assert.match(asm, /^\s+exit$/m);
  const ir = new TextDecoder().decode(
    (await link(alu, { exports: ["f"], emit: "llvm-ir" })).output,
  );
  assert.match(ir, /^define .*@f\(/m);
  const bcOut = (await link(alu, { exports: ["f"], emit: "llvm-bc" })).output;
  assert.deepEqual([...bcOut.subarray(0, 4)], [0x42, 0x43, 0xc0, 0xde]);

  const eb = toFile((await link(alu, { exports: ["f"], target: "bpfeb" })).output);
  assert.match(tool(join(LLVM_BIN, "llvm-readelf"), ["-h", eb]), /big endian/);
  assert.match(
    disassemble(toFile((await link(alu, { exports: ["f"], cpu: "v3" })).output)),
    /w0 \*= w/,
  );
  assert.match(
    disassemble(toFile((await link(alu, { exports: ["f"], cpuFeatures: "+alu32" })).output)),
    /w0 \*= w/,
  );
  assert.doesNotMatch(disassemble(toFile(obj)), /\bw0\b/);

  const loop = [input("loop28.bc", loopBc)];
  const o2 = (await link(loop, { exports: ["k"], optLevel: "2" })).output;
  const o3 = (await link(loop, { exports: ["k"], optLevel: "3" })).output;
  assert.ok(equalBytes(o2, (await link(loop, { exports: ["k"] })).output), "default is 2");
  assert.ok(o3.length > o2.length + 400, `O3 unrolls: ${o3.length} vs ${o2.length} bytes`);

  const none = symbols(toFile((await link(alu, { exports: [] })).output));
  assert.ok(!none.has("f"), "not exported: dropped");
  // No export list at all: every external definition stays global, as clang -c leaves it.
  assert.equal(symbols(toFile((await link(alu, {})).output)).get("f")?.bind, "GLOBAL");
  assert.equal(symbols(toFile(obj)).get("f")?.bind, "GLOBAL");
});

test("options: dumpModule writes the final IR, named after outputName in a directory", async () => {
  const dumpDir = join(dir, "dumps");
  rmSync(dumpDir, { recursive: true, force: true });
  mkdirSync(dumpDir);
  const { output } = await link([input("alu.bc", aluBc)], {
    exports: ["f"],
    dumpModule: dumpDir,
    outputName: "prog.o",
    emit: "llvm-ir",
  });
  const files = readdirSync(dumpDir);
  assert.equal(files.length, 1);
  assert.equal(textOf(join(dumpDir, files[0])), new TextDecoder().decode(output));
  const file = join(dir, "dump_file.ll");
  await link([input("alu.bc", aluBc)], { exports: ["f"], dumpModule: file });
  assert.match(textOf(file), /^define .*@f\(/m);
});

test("log: warnings are returned, debug lines with logLevel debug, phases are timed", async () => {
  const hostC = join(dir, "host.c");
  writeFileSync(hostC, "int host(int x) { return x; }\n");
  const hostObj = join(dir, "host.o");
  tool("gcc", ["-c", hostC, "-o", hostObj]);
  const r = await link([input("alu.bc", aluBc), input("host.o", hostObj)], { exports: ["f"] });
  assert.equal(r.log.length, 1, r.log.join("\n"));
  assert.match(r.log[0], /^warning: .*host\.o/);
  const quiet = await link([input("alu.bc", aluBc)], { exports: ["f"] });
  assert.deepEqual(quiet.log, []);
  const debug = await link([input("alu.bc", aluBc)], { exports: ["f"], logLevel: "debug" });
  assert.ok(debug.log.some((l) => l.startsWith("debug: ")), debug.log.join("\n"));
  assert.ok(r.phases.length > 0 && r.phases.every((p) => typeof p.name === "string" && p.ms >= 0));
});

test("fatalErrors: an LLVM error diagnostic throws LlvmError, or is a warning with fatalErrors false", async () => {
  const many = compileC(
    dir,
    "many_args",
    `__attribute__((noinline)) int six(int a, int b, int c, int d, int e, int f) { return a + b * c - d * e + f; }
int caller(int x) { return six(x, x + 1, x + 2, x + 3, x + 4, x + 5); }
`,
  );
  const inputs = [input("many_args.bc", many)];
  const e = await rejects(link(inputs, { exports: ["six", "caller"] }), LlvmError);
  assert.match(e.message, /stack arguments|too many arguments/);
  const r = await link(inputs, { exports: ["six", "caller"], fatalErrors: false });
  assert.deepEqual([...r.output.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
  assert.ok(
    r.log.some((l) => /^warning: .*(stack arguments|too many arguments)/.test(l)),
    r.log.join("\n"),
  );
});

test("llvmInfo names the loaded libLLVM", async () => {
  const info = await llvmInfo();
  assert.match(info.version, /^\d+\.\d+/);
  assert.ok(info.path.length > 0);
  assert.deepEqual([...readFileSync(info.path).subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
});

test("LLVM options cannot change within a process: UsageError", async () => {
  await link([input("alu.bc", aluBc)], { exports: ["f"] });
  await rejects(link([input("alu.bc", aluBc)], { exports: ["f"], unrollLoops: true }), UsageError);
  await rejects(
    link([input("alu.bc", aluBc)], { exports: ["f"], llvmArgs: ["--inline-threshold=1"] }),
    UsageError,
  );
  // The process still links with its options afterwards.
  await link([input("alu.bc", aluBc)], { exports: ["f"] });
  // A module that defines the memory builtins (as Rust's compiler_builtins) would get
  // --bpf-expand-memcpy-in-order, which this process was set up without: refused, saying
  // how to link both kinds in one process.
  const builtins = { name: "builtins.ll", bytes: BUILTINS_IR };
  const e = await rejects(link([input("alu.bc", aluBc), builtins], { exports: ["f"] }), UsageError);
  assert.match(e.message, /disableExpandMemcpyInOrder/);
  await link([input("alu.bc", aluBc), builtins], { exports: ["f"], disableExpandMemcpyInOrder: true });
});

/** IR that defines memset, memmove and memcmp (as compiler_builtins does), each trivially. */
const BUILTINS_IR = `target triple = "bpf"
define ptr @memset(ptr %d, i32 %c, i64 %n) { ret ptr %d }
define ptr @memmove(ptr %d, ptr %s, i64 %n) { ret ptr %d }
define i32 @memcmp(ptr %a, ptr %b, i64 %n) { ret i32 0 }
`;

// ---------------------------------------------------------------------------- errors (API)

test("errors: unknown input format is an InputError naming the input", async () => {
  const e = await rejects(
    link([input("alu.bc", aluBc), { name: "notes.txt", bytes: "just some text\n" }]),
    InputError,
  );
  assert.equal(e.file, "notes.txt");
  assert.equal(e.member, undefined);
  assert.match(e.message, /^notes\.txt: /);
});

test("errors: truncated bitcode is a ParseError naming the input", async () => {
  const e = await rejects(
    link([{ name: "cut.bc", bytes: bytesOf(aluBc).subarray(0, 200) }]),
    ParseError,
  );
  assert.ok(e instanceof InputError);
  assert.equal(e.file, "cut.bc");
});

test("errors: bad IR text is a ParseError naming the input", async () => {
  const e = await rejects(link([{ name: "bad.ll", bytes: "define i32 @f( {\n" }]), ParseError);
  assert.equal(e.file, "bad.ll");
});

test("errors: corrupt bitcode inside an archive names the archive and the member", async () => {
  const bad = join(dir, "broken.bc");
  writeFileSync(bad, bytesOf(bc.xdp_weigh).subarray(0, 300));
  const lib = makeArchive(dir, "libbroken.a", [bc.xdp_lib_verdict, bad]);
  const e = await rejects(
    link([input("xdp_main.bc", bc.xdp_main), input("libbroken.a", lib)], XDP),
    ParseError,
  );
  assert.equal(e.file, "libbroken.a");
  assert.equal(e.member, "broken.bc");
  assert.match(e.message, /^libbroken\.a\(broken\.bc\): /);
});

test("errors: a truncated archive is an ArchiveError naming it", async () => {
  const bytes = bytesOf(libBc);
  const e = await rejects(
    link([{ name: "libcut.a", bytes: bytes.subarray(0, bytes.length - 100) }]),
    ArchiveError,
  );
  assert.equal(e.file, "libcut.a");
});

test("errors: a thin archive is an InputError naming it", async () => {
  const thin = makeArchive(dir, "libthin.a", [bc.xdp_lib_verdict], "rcT");
  const e = await rejects(link([input("libthin.a", thin)]), InputError);
  assert.equal(e.file, "libthin.a");
});

test("errors: a duplicate symbol is a LinkError naming the symbol and both inputs", async () => {
  const dup = compileC(dir, "dup", "int verdict(unsigned s) { return 2; }\n");
  const inputs = [
    input("xdp_main.bc", bc.xdp_main),
    input("xdp_weigh.bc", bc.xdp_weigh),
    input("xdp_lib_verdict.bc", bc.xdp_lib_verdict),
    input("dup.bc", dup),
  ];
  const e = await rejects(link(inputs, XDP), LinkError);
  assert.equal(e.symbol, "verdict");
  assert.equal(e.file, "dup.bc");
  assert.match(e.message, /verdict/);
  assert.match(e.message, /xdp_lib_verdict\.bc/);
});

test("errors: an unknown target is a TargetError naming it", async () => {
  const e = await rejects(link([input("alu.bc", aluBc)], { target: "nonsense-arch" }), TargetError);
  assert.match(e.message, /nonsense-arch/);
});

test("errors: no inputs, or inputs without any bitcode, are a LinkError", async () => {
  await rejects(link([]), LinkError);
  const rmeta = join(dir, "lib.rmeta");
  writeFileSync(rmeta, "metadata\n");
  const onlyMeta = makeArchive(dir, "libmeta.a", [rmeta]);
  await rejects(link([input("libmeta.a", onlyMeta)]), LinkError);
});

test("errors leave the process able to link again", async () => {
  await rejects(link([{ name: "x.txt", bytes: "nope" }]), InputError);
  const { output } = await link(bcInputs(), XDP);
  assert.deepEqual([...output.subarray(0, 4)], [0x7f, 0x45, 0x4c, 0x46]);
});

test("inputs without any bitcode: the LinkError names them", async () => {
  await assert.rejects(
    link([{ name: "empty.a", bytes: new TextEncoder().encode("!<arch>\n") }]),
    (e: unknown) => e instanceof LinkError && /no LLVM bitcode in the inputs: empty\.a$/.test(e.message),
  );
});
