// The library API (src/mod.ts, README "Library API"): link() on in-memory inputs gives the
// bytes the command gives on the same inputs, errors are LinkerError
// subclasses that say where, one libLLVM serves every call, and a hundred
// links in one process give the same bytes without memory growing unbounded.
// Also runs examples/library.ts under the current runtime.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  ArchiveError,
  InputError,
  link,
  LinkerError,
  LinkError,
  llvmInfo,
  loadLlvm,
  type OptLevel,
  ParseError,
  UsageError,
} from "../src/mod.ts";
import {
  assertXdpVerdicts,
  compileC,
  compileXdpExample,
  fileTempDir,
  isBun,
  makeArchive,
  needsBpf,
  repoRoot,
  run,
  runLinker,
  runWithEnv,
  tool,
} from "./support/tools.ts";

const dir = fileTempDir("bpfl-mod-");

const ex = compileXdpExample(dir);
// classify.c once more, as IR text: the library takes IR as a string.
const classifyLl = join(dir, "classify.ll");
tool("clang-22", [
  "-target",
  "bpf",
  "-O2",
  "-g",
  "-emit-llvm",
  "-S",
  join(repoRoot, "examples", "xdp", "classify.c"),
  "-o",
  classifyLl,
]);

/** The inputs as a library user holds them: bitcode bytes, IR text, archive bytes. */
function memoryInputs() {
  return [
    { name: ex.main, bytes: new Uint8Array(readFileSync(ex.main)) },
    { name: classifyLl, bytes: readFileSync(classifyLl, "utf8") },
    { name: ex.lib, bytes: new Uint8Array(readFileSync(ex.lib)) },
  ];
}
const CLI_INPUTS = () => [ex.main, classifyLl, ex.lib];

function cliLink(name: string, args: string[]): Uint8Array {
  const out = join(dir, name);
  const r = runLinker([...args, "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  return new Uint8Array(readFileSync(out));
}

function sameBytes(a: Uint8Array, b: Uint8Array, what: string) {
  assert.ok(a.length > 0, `${what}: empty`);
  assert.ok(
    Buffer.compare(a, b) === 0,
    `${what}: library ${a.length} bytes, command ${b.length} bytes`,
  );
}

/** Capture what a call throws (assert.rejects cannot hand the error back). */
async function thrown(promise: Promise<unknown>): Promise<LinkerError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(e instanceof LinkerError, `not a LinkerError: ${(e as Error)?.stack ?? e}`);
    return e;
  }
  assert.fail("expected the link to fail");
}

// ------------------------------------------------------------------ one libLLVM

test("loadLlvm returns the same libLLVM every time, the one the command finds", async () => {
  const a = await loadLlvm();
  const b = await loadLlvm();
  assert.equal(a, b);
  assert.equal(loadLlvm(), loadLlvm(), "the same promise, not a second load");
  const info = await llvmInfo();
  assert.equal(info.path, a.path);
  assert.equal(info.version, a.versionString);
  const cli = runLinker(["--version"]);
  assert.ok(
    cli.stdout.includes(`LLVM ${info.version} (${info.path})`),
    `command: ${cli.stdout}; library: ${info.path}`,
  );
});

// A fresh process per case: the first link of a process chooses its libLLVM.
const bc22 = compileC(dir, "producer22", "int f(int x) { return x + 1; }\n");
const bc19 = join(dir, "producer19.bc");
tool("clang-19", ["-target", "bpf", "-O2", "-emit-llvm", "-c", join(dir, "producer22.c"), "-o", bc19]);
const FRESH_SCRIPT = join(dir, "fresh.ts");
writeFileSync(
  FRESH_SCRIPT,
  `import { readFileSync } from "node:fs";
import { link, LinkerError, llvmInfo, LlvmLoadError } from ${JSON.stringify(join(repoRoot, "src", "mod.ts"))};
// Arguments: [--llvm PATH] INPUT...: each input linked alone, in order, in this one process;
// PATH is given to the first link only.
const args = process.argv.slice(2);
const llvmPath = args[0] === "--llvm" ? args.splice(0, 2)[1] : undefined;
for (const [i, path] of args.entries()) {
  try {
    await link([{ name: path, bytes: readFileSync(path) }], { exports: ["f"], llvmPath: i === 0 ? llvmPath : undefined });
    console.log(\`linked with LLVM \${(await llvmInfo()).version}\`);
  } catch (e) {
    const kind = e instanceof LlvmLoadError && e instanceof LinkerError ? \`LlvmLoadError \${JSON.stringify(e.attempts)}\`
      : e instanceof LinkerError ? e.name : "not a LinkerError";
    console.log(\`\${kind}: \${e.message}\`);
  }
}
`,
);

/** Run the script above under this runtime in a new process, with LLVM 19 found first (LLVM_PREFIX). */
function freshProcess(args: string[]): string[] {
  const runtime = isBun ? [FRESH_SCRIPT] : ["run", "-A", FRESH_SCRIPT];
  const r = runWithEnv(process.execPath, [...runtime, ...args], {
    cwd: dir,
    env: { PATH: "/usr/bin:/bin", HOME: process.env.HOME ?? "/root", LLVM_PREFIX: "/usr/lib/llvm-19" },
  });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trimEnd().split("\n");
}

test("the first link() of a process prefers the libLLVM its inputs' producer needs; later ones reuse it", () => {
  // LLVM 22 bitcode first: the LLVM 19 of LLVM_PREFIX is passed over, as the command does.
  const newer = freshProcess([bc22, bc19]);
  assert.equal(newer.length, 2, newer.join("\n"));
  assert.match(newer[0], /^linked with LLVM 22\./);
  assert.match(newer[1], /^linked with LLVM 22\./);
  // LLVM 19 bitcode first: LLVM 19 is loaded and kept; LLVM 22 bitcode then gets the usual error.
  const older = freshProcess([bc19, bc22]);
  assert.equal(older.length, 2, older.join("\n"));
  assert.match(older[0], /^linked with LLVM 19\./);
  assert.match(
    older[1],
    /^ParseError: .*producer22\.bc: bitcode produced by LLVM 22\.\d+\.\d+ .*cannot be read by the loaded libLLVM 19\./,
  );
});

test("no libLLVM at llvmPath is an LlvmLoadError (a LinkerError) with the command's message; a later link loads", () => {
  const missing = join(dir, "no-such-dir", "libLLVM.so");
  const lines = freshProcess(["--llvm", missing, bc22, bc22]);
  assert.equal(lines.length, 2, lines.join("\n"));
  const expected = `no usable libLLVM (need LLVM 19 or newer); tried: ${missing} [--llvm]: does not exist`;
  const attempts = [{ path: missing, source: "--llvm", outcome: "does not exist" }];
  assert.equal(lines[0], `LlvmLoadError ${JSON.stringify(attempts)}: ${expected}`);
  // The failed load is not kept: the next call of the same process (llvmPath unset) loads one.
  assert.match(lines[1], /^linked with LLVM 22\./);
  const cli = runLinker(["--llvm", missing, bc22, "-o", join(dir, "never.o")]);
  assert.equal(cli.status, 1);
  assert.equal(cli.stderr, `error: ${expected}\n`);
});

// ------------------------------------------------------------------ same bytes as the command

test("link() on in-memory bitcode, IR text and archive bytes gives the command's bytes (obj, asm, IR, bitcode)", async () => {
  for (const emit of ["obj", "asm", "llvm-ir", "llvm-bc"] as const) {
    const { output } = await link(memoryInputs(), { exports: ["xdp_filter"], emit });
    sameBytes(
      output,
      cliLink(`cli.${emit}`, ["--emit", emit, "--export", "xdp_filter", ...CLI_INPUTS()]),
      emit,
    );
  }
});

test("link() with --btf, -O3 and a cpu gives the command's bytes", async () => {
  const { output } = await link(memoryInputs(), {
    exports: ["xdp_filter"],
    btf: true,
    optLevel: "3",
    cpu: "v3",
  });
  const cli = cliLink("cli-btf.o", [
    "--btf",
    "-O3",
    "--cpu",
    "v3",
    "--export",
    "xdp_filter",
    ...CLI_INPUTS(),
  ]);
  sameBytes(output, cli, "btf");
});

test("the kernel runs the object link() made in memory", needsBpf(), async () => {
  const { output } = await link(memoryInputs(), { exports: ["xdp_filter"] });
  const obj = join(dir, "lib-kernel.o");
  writeFileSync(obj, output);
  assertXdpVerdicts(obj);
});

test("input names are only names: the same bytes under other names link the same", async () => {
  const named = memoryInputs().map((input, i) => ({ ...input, name: `input-${i}` }));
  const a = await link(named, { exports: ["xdp_filter"] });
  const b = await link(memoryInputs(), { exports: ["xdp_filter"] });
  sameBytes(a.output, b.output, "renamed inputs");
});

// ------------------------------------------------------------------ errors

test("a broken archive member is a LinkerError naming the archive (.file) and member (.member)", async () => {
  const broken = join(dir, "broken.bc");
  const good = readFileSync(ex.main);
  writeFileSync(broken, good.subarray(0, Math.floor(good.length / 2))); // truncated bitcode
  const archive = makeArchive(dir, "libbroken.a", [ex.classify, broken]);
  const e = await thrown(link([{ name: "main.bc", bytes: readFileSync(ex.main) }, {
    name: "libbroken.a",
    bytes: readFileSync(archive),
  }], { exports: ["xdp_filter"] }));
  assert.ok(e instanceof ParseError || e instanceof InputError, e.name);
  assert.equal(e.file, "libbroken.a");
  assert.equal(e.member, "broken.bc");
  assert.match(e.message, /^libbroken\.a\(broken\.bc\): /);
});

test("unrecognized input and malformed archive: InputError / ArchiveError with .file", async () => {
  const garbage = await thrown(
    link([{ name: "notes.txt", bytes: new TextEncoder().encode("hello\n") }]),
  );
  assert.ok(garbage instanceof InputError, garbage.name);
  assert.equal(garbage.file, "notes.txt");
  assert.equal(garbage.member, undefined);

  const truncated = await thrown(
    link([{ name: "lib.a", bytes: new TextEncoder().encode("!<arch>\nshort") }]),
  );
  assert.ok(truncated instanceof ArchiveError, truncated.name);
  assert.equal(truncated.file, "lib.a");
});

test("IR text with a syntax error is a ParseError naming the input", async () => {
  const e = await thrown(link([{ name: "bad.ll", bytes: "define i32 @f( {\n" }]));
  assert.ok(e instanceof ParseError, e.name);
  assert.equal(e.file, "bad.ll");
});

test("a symbol defined twice is a LinkError with .symbol and the file", async () => {
  const twice = compileC(dir, "twice", "int classify(unsigned s) { return s & 1; }\n");
  const e = await thrown(link([
    { name: "classify.bc", bytes: readFileSync(ex.classify) },
    { name: "twice.bc", bytes: readFileSync(twice) },
  ]));
  assert.ok(e instanceof LinkError, e.name);
  assert.equal(e.symbol, "classify");
  assert.ok(e.file === "twice.bc" || e.file === "classify.bc", `file ${e.file}`);
});

test("no inputs is a LinkError; LLVM options other than the process's first set are a UsageError", async () => {
  const none = await thrown(link([]));
  assert.ok(none instanceof LinkError, none.name);
  // Process-wide LLVM options: the first link of this process used the defaults.
  await link(memoryInputs(), { exports: ["xdp_filter"] });
  const other = await thrown(link(memoryInputs(), { exports: ["xdp_filter"], unrollLoops: true }));
  assert.ok(other instanceof UsageError, other.name);
  // ...and the library still works with the first set afterwards.
  const { output } = await link(memoryInputs(), { exports: ["xdp_filter"] });
  assert.ok(output.length > 0);
});

test("link() refuses option values the command line refuses, with a UsageError", async () => {
  // What the command line rejects (`--emit exe`, `-O9`, `--cpu v9`) must not get
  // through the library either: a JavaScript caller has no types to stop it.
  const bad: [string, Record<string, unknown>][] = [
    ["emit", { emit: "exe" }],
    ["optLevel", { optLevel: "9" }],
    ["cpu", { cpu: "v9" }],
  ];
  const problems: string[] = [];
  for (const [what, option] of bad) {
    try {
      const { output } = await link(memoryInputs(), { exports: ["xdp_filter"], ...option });
      problems.push(`${what} ${JSON.stringify(option)}: accepted, ${output.length} bytes out`);
    } catch (e) {
      if (!(e instanceof UsageError)) {
        problems.push(
          `${what} ${JSON.stringify(option)}: ${(e as Error).constructor.name}: ${
            (e as Error).message
          }`,
        );
      }
    }
  }
  assert.deepEqual(problems, []);
});

test("link() with optLevel '0' does what -O0 does on the command line (it means 1)", async () => {
  const zero = await link(memoryInputs(), { exports: ["xdp_filter"], optLevel: "0" as OptLevel });
  sameBytes(
    zero.output,
    cliLink("cli-O0.o", ["-O0", "--export", "xdp_filter", ...CLI_INPUTS()]),
    "optLevel 0",
  );
});

// ------------------------------------------------------------------ many links in one process

test("100 links in one process: identical bytes, bounded memory", async () => {
  const options = { exports: ["xdp_filter"] };
  const inputs = memoryInputs();
  const gc =
    () => (isBun
      ? (globalThis as unknown as { Bun: { gc(force: boolean): void } }).Bun.gc(true)
      : undefined);
  const first = (await link(inputs, options)).output;
  for (let i = 0; i < 20; i++) await link(inputs, options); // warm-up: JIT, allocator pools
  gc();
  const before = process.memoryUsage().rss;
  const start = performance.now();
  for (let i = 0; i < 100; i++) {
    const { output } = await link(inputs, options);
    assert.ok(Buffer.compare(output, first) === 0, `link ${i} gave other bytes`);
  }
  const ms = (performance.now() - start) / 100;
  gc();
  const afterRss = process.memoryUsage().rss;
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  process.stderr.write(
    `mod: rss ${mib(before)} MiB after warm-up, ${mib(afterRss)} MiB after 100 links ` +
      `(growth ${mib(afterRss - before)} MiB, ${ms.toFixed(1)} ms per link)\n`,
  );
  assert.ok(
    afterRss - before < 64 * 2 ** 20,
    `rss grew by ${mib(afterRss - before)} MiB over 100 links`,
  );
});

// ------------------------------------------------------------------ examples/library.ts

function runExample(args: string[]) {
  const script = join(repoRoot, "examples", "library.ts");
  return isBun
    ? run(process.execPath, [script, ...args])
    : run(process.execPath, ["run", "-A", script, ...args]);
}

test("examples/library.ts links examples/xdp and prints the object's size, as the command makes it", () => {
  const out = join(dir, "example.o");
  const r = runExample(["--export", "xdp_filter", "-o", out, ...ex.inputs]);
  assert.equal(r.status, 0, r.stderr);
  const cli = cliLink("example-cli.o", ["--export", "xdp_filter", ...ex.inputs]);
  assert.match(
    r.stdout,
    new RegExp(`^linked 3 inputs into a BPF object of ${cli.length} bytes \\(LLVM \\d+`),
  );
  sameBytes(new Uint8Array(readFileSync(out)), cli, "example");
});

test("examples/library.ts reports a bad input as one error line naming it", () => {
  const bad = join(dir, "bad-input.txt");
  writeFileSync(bad, "not bitcode\n");
  const r = runExample([bad]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: .*bad-input\.txt: .*\n$/);
});
