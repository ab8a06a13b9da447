// Output robustness: the output is written atomically (temporary file + rename), so
// parallel links, readers racing writers and links killed with SIGKILL never see or leave a
// partial output; failures leave nothing behind; LLVM fatal errors are one clean line.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";

import {
  compileC,
  linkerCommand,
  makeArchive,
  repoRoot,
  runLinker,
  symbols,
  tempDir,
} from "./support/tools.ts";

const dir = tempDir("bpfl-emit-");
after(() => rmSync(dir, { recursive: true, force: true }));

const FIXTURES = join(repoRoot, "tests", "fixtures", "c");
const INCLUDE = ["-I", FIXTURES];

// ---------------------------------------------------------------------------------- helpers

interface Exit {
  status: number | null;
  signal: string | null;
  stderr: string;
}

/** Start the linker CLI without waiting for it. */
function startLinker(args: string[], cwd = dir) {
  const { command, args: prefix } = linkerCommand();
  const child = spawn(command, [...prefix, ...args], { cwd, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => (stderr += chunk));
  const done = new Promise<Exit>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (status, signal) => resolve({ status, signal, stderr }));
  });
  return { child, done };
}

function freshDir(name: string): string {
  const d = join(dir, name);
  rmSync(d, { recursive: true, force: true });
  mkdirSync(d);
  return d;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}

/** Deterministic PRNG (mulberry32), so the kill times are reproducible. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const tick = () => new Promise((resolve) => setImmediate(resolve));

/** `.<name>.<pid>.<rand>.tmp`, as src/emit.ts names its temporary files. */
function isTempName(file: string, output: string, pid?: number): boolean {
  const escaped = output.replace(/[.]/g, "\\.");
  return new RegExp(`^\\.${escaped}\\.${pid ?? "\\d+"}\\.[a-z0-9]+\\.tmp$`).test(file);
}

// ----------------------------------------------------------------------------- the inputs

const fixture = (name: string) => readFileSync(join(FIXTURES, `${name}.c`), "utf8");
const mainBc = compileC(dir, "xdp_main", fixture("xdp_main"), "bc", INCLUDE);
const weighBc = compileC(dir, "xdp_weigh", fixture("xdp_weigh"), "bc", INCLUDE);
const lib = makeArchive(dir, "libxdp.a", [
  compileC(dir, "xdp_lib_verdict", fixture("xdp_lib_verdict"), "bc", INCLUDE),
  compileC(dir, "xdp_lib_unused", fixture("xdp_lib_unused"), "bc", INCLUDE),
]);
const XDP_ARGS = ["--export", "xdp_score", mainBc, weighBc, lib];

/** Reference output of the XDP link, made by one plain sequential run. */
const reference = (() => {
  const out = join(dir, "reference.o");
  const r = runLinker(["-o", out, ...XDP_ARGS]);
  assert.equal(r.status, 0, r.stderr);
  return new Uint8Array(readFileSync(out));
})();

// A big generated program (1500 exported functions): a link takes about a second and its
// IR output is megabytes, so a kill can land in every phase, including the write.
const BIG_FUNCTIONS = 1500;
const bigC = Array.from(
  { length: BIG_FUNCTIONS },
  (_, i) =>
    `unsigned fn${i}(unsigned *p, unsigned x) { unsigned r = x; for (int i = 0; i < 8; i++) r = (r ^ p[i]) * ${
      2654435761 + i
    }u + ${i}; return r; }\n`,
).join("");
const bigBc = compileC(dir, "big", bigC);
const bigSymbols = join(dir, "big.syms");
writeFileSync(bigSymbols, Array.from({ length: BIG_FUNCTIONS }, (_, i) => `fn${i}`).join("\n"));

// -------------------------------------------------------------------------- parallel links

test("50 links started at once into one directory all produce the reference object", async () => {
  const d = freshDir("parallel");
  const runs = Array.from(
    { length: 50 },
    (_, i) => startLinker(["-o", join(d, `out${i}.o`), ...XDP_ARGS]),
  );
  const exits = await Promise.all(runs.map((r) => r.done));
  for (const [i, e] of exits.entries()) {
    assert.equal(e.status, 0, `link ${i}: ${e.signal ?? ""} ${e.stderr}`);
    assert.equal(e.stderr, "");
    assert.ok(
      equalBytes(readFileSync(join(d, `out${i}.o`)), reference),
      `out${i}.o equals the reference`,
    );
  }
  assert.deepEqual(
    readdirSync(d).sort(),
    Array.from({ length: 50 }, (_, i) => `out${i}.o`).sort(),
    "no temporary files left",
  );
});

test("concurrent links to one output path: readers only ever see a complete file", async () => {
  const d = freshDir("same_path");
  const out = join(d, "shared.o");
  const runs = Array.from({ length: 16 }, () => startLinker(["-o", out, ...XDP_ARGS]));
  let finished = false;
  const all = Promise.all(runs.map((r) => r.done)).finally(() => (finished = true));
  let reads = 0;
  while (!finished) {
    try {
      const bytes = readFileSync(out);
      reads++;
      assert.ok(
        equalBytes(bytes, reference),
        `read #${reads} saw a partial or wrong file (${bytes.length} bytes)`,
      );
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    }
    await tick();
  }
  for (const e of await all) assert.equal(e.status, 0, e.stderr);
  assert.ok(equalBytes(readFileSync(out), reference));
  assert.deepEqual(readdirSync(d), ["shared.o"], "no temporary files left");
});

// ------------------------------------------------------------------------------- SIGKILL

test("a link killed with SIGKILL at random times never leaves a partial output", async () => {
  const d = freshDir("killed");
  const refOut = join(d, "big_ref.o");
  // The reference link's duration spreads the kill times over a whole link; no
  // assertion on it (wall time depends on the machine).
  const started = performance.now();
  const ref = await startLinker(["--export-symbols", bigSymbols, "-o", refOut, bigBc]).done;
  const duration = performance.now() - started;
  assert.equal(ref.status, 0, ref.stderr);
  const expected = readFileSync(refOut);

  const random = prng(20240611);
  const runs: { name: string; pid?: number }[] = [];
  let killed = 0;
  for (let attempt = 0; attempt < 5; attempt++) {
    const name = `big${attempt}.o`;
    const out = join(d, name);
    const run = startLinker(["--export-symbols", bigSymbols, "-o", out, bigBc]);
    runs.push({ name, pid: run.child.pid });
    await sleep(random() * duration * 1.1);
    run.child.kill("SIGKILL");
    const exit = await run.done;
    if (existsSync(out)) {
      // The kill may land after the rename, while the process exits: the
      // output must then be complete, whatever the exit status says.
      assert.ok(exit.status === 0 || exit.signal === "SIGKILL", `unexpected exit ${exit.status}`);
      assert.ok(
        equalBytes(readFileSync(out), expected),
        `attempt ${attempt}: the output is complete`,
      );
    } else {
      assert.equal(exit.signal, "SIGKILL");
      killed++;
    }
    for (const file of readdirSync(d)) {
      if (!file.startsWith(".")) continue;
      assert.ok(
        runs.some((r) => isTempName(file, r.name, r.pid)),
        `leftover ${file} is a temp file of a killed link`,
      );
    }
  }
  assert.ok(killed > 0, "at least one link was killed before it finished");
});

test("a link killed while writing leaves only its temporary file, never the output", async () => {
  let caught = 0;
  for (let attempt = 0; attempt < 4 && caught < 2; attempt++) {
    const d = freshDir(`killed_writing${attempt}`);
    const out = join(d, "out.ll");
    // The IR output is megabytes: the window between creating the temp file and the
    // rename is wide enough to be seen by polling the directory.
    const run = startLinker([
      "--export-symbols",
      bigSymbols,
      "--emit",
      "llvm-ir",
      "-o",
      out,
      bigBc,
    ]);
    let seen: string | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const files = readdirSync(d);
      seen = files.find((f) => f.endsWith(".tmp"));
      if (seen !== undefined) {
        run.child.kill("SIGKILL");
        break;
      }
      if (files.includes("out.ll")) break;
    }
    const exit = await run.done;
    if (seen === undefined) continue; // finished before we saw it: try again
    caught++;
    assert.ok(isTempName(seen, "out.ll", run.child.pid), `temp file name ${seen}`);
    if (!existsSync(out)) {
      assert.equal(exit.signal, "SIGKILL", "no output, so the link was killed");
    } else {
      // It got to the rename first (the kill may still land while it exits, as in
      // the test above): then the output must be complete.
      assert.ok(exit.status === 0 || exit.signal === "SIGKILL", `unexpected exit ${exit.status}`);
      assert.match(readFileSync(out, "utf8"), new RegExp(`define .*@fn${BIG_FUNCTIONS - 1}\\(`));
    }
  }
  assert.ok(caught > 0, "the temporary file was observed at least once");
});

// ------------------------------------------------------------------- replacing, failing

test("replacing an existing output is a rename: an open reader keeps the old contents", () => {
  const d = freshDir("replace");
  const out = join(d, "out.o");
  writeFileSync(out, "old contents, not an object\n");
  const before = statSync(out);
  const fd = openSync(out, "r");
  try {
    const r = runLinker(["-o", out, ...XDP_ARGS]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(equalBytes(readFileSync(out), reference));
    assert.notEqual(statSync(out).ino, before.ino, "a new file replaced the old one");
    const buffer = new Uint8Array(64);
    const n = readSync(fd, buffer, 0, 64, 0);
    assert.equal(new TextDecoder().decode(buffer.subarray(0, n)), "old contents, not an object\n");
  } finally {
    closeSync(fd);
  }
  assert.deepEqual(readdirSync(d), ["out.o"]);
});

test("an output in a missing directory is one clean error naming the path", () => {
  const d = freshDir("missing_dir");
  const out = join(d, "no", "such", "dir", "out.o");
  const r = runLinker(["-o", out, ...XDP_ARGS]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^error: /);
  assert.ok(lines[0].includes(out), lines[0]);
  // The reason is about the user's path, not the temporary file's name.
  assert.ok(lines[0].includes(`directory '${join(d, "no", "such", "dir")}' does not exist`), lines[0]);
  assert.ok(!lines[0].includes(".tmp"), lines[0]);
  assert.deepEqual(readdirSync(d), []);
});

test("an output path that is a directory is an error and the directory is left alone", () => {
  const d = freshDir("output_is_dir");
  const out = join(d, "out.o");
  mkdirSync(out);
  writeFileSync(join(out, "keep"), "x");
  const r = runLinker(["-o", out, ...XDP_ARGS]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: .*out\.o: cannot write output: it is a directory\n$/);
  assert.equal(r.stderr.trimEnd().split("\n").length, 1, r.stderr);
  assert.ok(statSync(out).isDirectory());
  assert.deepEqual(readdirSync(out), ["keep"]);
  assert.deepEqual(readdirSync(d), ["out.o"], "no temporary file left");
});

test("a failed link writes nothing and leaves no temporary file", () => {
  const d = freshDir("failed");
  const out = join(d, "out.o");
  const dumped = join(d, "dump.ll");
  const bad = join(d, "bad.bc");
  writeFileSync(bad, readFileSync(mainBc).subarray(0, 100));
  const r = runLinker(["--dump-module", dumped, "-o", out, mainBc, bad]);
  assert.equal(r.status, 1);
  assert.deepEqual(readdirSync(d), ["bad.bc"]);
});

test("an LLVM fatal error is one clean error line, exit 1, no crash report, no output", () => {
  const d = freshDir("llvm_fatal");
  // The BPF backend cannot return an i128: LLVM reports a fatal error during codegen.
  const ir = join(d, "wide.ll");
  writeFileSync(
    ir,
    `target triple = "bpf"

define i128 @wide_div(i128 %a, i128 %b) {
  %r = udiv i128 %a, %b
  ret i128 %r
}
`,
  );
  const out = join(d, "out.o");
  const r = runLinker(["--export", "wide_div", "-o", out, ir]);
  assert.equal(r.signal, null, `the linker crashed with ${r.signal}:\n${r.stderr}`);
  assert.equal(r.status, 1, `exit status ${r.status}:\n${r.stderr}`);
  const lines = r.stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `one line:\n${r.stderr}`);
  assert.match(lines[0], /^error: .*LLVM/);
  assert.deepEqual(readdirSync(d), ["wide.ll"], "no output and no temporary file");
});

// ---------------------------------------------------------------------------- many inputs

test("hundreds of inputs through a response file link into one object", () => {
  const d = freshDir("many_inputs");
  const count = 300;
  const inputs: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = join(d, `m${i}.ll`);
    const next = i + 1 < count
      ? `  %n = call i32 @step${i + 1}(i32 %y)\n  ret i32 %n`
      : "  ret i32 %y";
    const decl = i + 1 < count ? `declare i32 @step${i + 1}(i32)\n` : "";
    writeFileSync(
      path,
      `target triple = "bpf"\n${decl}define i32 @step${i}(i32 %x) {\n  %y = add i32 %x, ${i}\n${next}\n}\n`,
    );
    inputs.push(path);
  }
  const rsp = join(d, "inputs.rsp");
  writeFileSync(rsp, inputs.map((p) => `"${p}"`).join("\n"));
  const out = join(d, "many.o");
  const r = runLinker(["--export", "step0", "-o", out, `@${rsp}`]);
  assert.equal(r.status, 0, r.stderr);
  const syms = symbols(out);
  assert.equal(syms.get("step0")?.bind, "GLOBAL");
  assert.ok(!syms.has("step1"), "the chain is inlined into step0");
  // The IR output: step0 returns x + 0 + 1 + ... + 299.
  const irOut = join(d, "many.ll");
  assert.equal(
    runLinker(["--emit", "llvm-ir", "--export", "step0", "-o", irOut, `@${rsp}`]).status,
    0,
  );
  assert.match(
    readFileSync(irOut, "utf8"),
    new RegExp(`add i32 %x, ${(count * (count - 1)) / 2}\\b`),
  );
});
