// ffi/host.ts: the runtime-neutral host, under whichever runtime runs the suite.
// Its file calls fail with Node's codes and messages on both runtimes, and the
// command's module graph never loads a node: module (Deno's Node layer costs
// every run tens of milliseconds).

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type FileInfo, host, type HostError } from "../../ffi/host.ts";
import { isBun, repoRoot, tempDir } from "../support/tools.ts";

function thrown(fn: () => unknown): HostError {
  try {
    fn();
  } catch (e) {
    return e as HostError;
  }
  assert.fail("no error thrown");
}

test("the process: runtime, platform, arch, pid, cwd, environment", () => {
  assert.match(host.runtime, isBun ? /^bun \d+\.\d+\.\d+/ : /^deno \d+\.\d+\.\d+/);
  assert.equal(host.platform, process.platform);
  assert.equal(host.arch, process.arch);
  assert.equal(host.pid, process.pid);
  assert.equal(host.cwd(), process.cwd());
  process.env.BPFL_HOST_TEST = "x y";
  assert.equal(host.env().BPFL_HOST_TEST, "x y");
  delete process.env.BPFL_HOST_TEST;
  assert.equal(host.env().BPFL_HOST_TEST, undefined);
  const peak = host.peakRssKiB();
  assert.ok(peak !== undefined && peak > 10_000 && peak < 4_000_000, `peak RSS ${peak} KiB`);
});

test("reading: whole files, text, the first bytes; a directory listing, sorted", () => {
  const dir = tempDir();
  const bytes = new Uint8Array(1000).map((_, i) => i & 0xff);
  writeFileSync(join(dir, "b.bin"), bytes);
  writeFileSync(join(dir, "a.txt"), "héllo\n");
  mkdirSync(join(dir, "C"));
  symlinkSync("b.bin", join(dir, "link"));
  assert.deepEqual(host.readFile(join(dir, "b.bin")), bytes);
  // A plain Uint8Array on both runtimes (Bun's node:fs gives a Buffer).
  assert.equal(Object.getPrototypeOf(host.readFile(join(dir, "b.bin"))), Uint8Array.prototype);
  assert.equal(host.readTextFile(join(dir, "a.txt")), "héllo\n");
  assert.deepEqual(host.readHead(join(dir, "b.bin"), 64), bytes.subarray(0, 64));
  assert.deepEqual(host.readHead(join(dir, "a.txt"), 64), new TextEncoder().encode("héllo\n"));
  // Longer than one read's buffer (Bun reads small files through libc before node:fs is loaded).
  const long = "ünïcode ".repeat(10_000);
  writeFileSync(join(dir, "C", "long.txt"), long);
  assert.equal(host.readTextFile(join(dir, "C", "long.txt")), long);
  assert.deepEqual(host.readHead(join(dir, "C", "long.txt"), 40_000), new Uint8Array(readFileSync(join(dir, "C", "long.txt"))).subarray(0, 40_000));
  assert.equal(host.readTextFile(join(dir, "C", "..", "a.txt")), "héllo\n");
  assert.deepEqual(host.readDir(dir), ["C", "a.txt", "b.bin", "link"]);
  assert.deepEqual(host.readDir(dir, "b"), ["b.bin"]);
  assert.deepEqual(host.readDir(dir, "z"), []);
  // Names and directories with glob's special characters (both hosts list by prefix with glob(3)).
  const odd = join(dir, "odd [dir]*?");
  mkdirSync(odd);
  for (const name of ["lib[1].so", "lib*x", "lib?", "lib\\n", "libz", ".libhidden", "other"]) writeFileSync(join(odd, name), "");
  assert.deepEqual(host.readDir(odd, "lib["), ["lib[1].so"]);
  assert.deepEqual(host.readDir(odd, "lib*"), ["lib*x"]);
  assert.deepEqual(host.readDir(odd, "lib"), ["lib*x", "lib?", "lib[1].so", "lib\\n", "libz"]);
  assert.deepEqual(host.readDir(odd, ".lib"), [".libhidden"]);
  // A prefix and a set of next characters (a bracket expression to glob).
  for (const name of ["libLLVM.so.22.1", "libLLVM-19.so", "libLLVMCore.a", "libLLVM", "libLLVM]x", "libLLVM^x"]) {
    writeFileSync(join(odd, name), "");
  }
  assert.deepEqual(host.readDir(odd, "libLLVM", "-."), ["libLLVM-19.so", "libLLVM.so.22.1"]);
  assert.deepEqual(host.readDir(odd, "libLLVM", ".-"), ["libLLVM-19.so", "libLLVM.so.22.1"]);
  assert.deepEqual(host.readDir(odd, "libLLVM", "]^"), ["libLLVM]x", "libLLVM^x"]);
  assert.deepEqual(host.readDir(odd, "lib", "*?"), ["lib*x", "lib?"]);
  assert.deepEqual(host.readDir(odd, "libLLVM", ""), []);
  assert.deepEqual(host.readDir(odd, "libLLVM", "Q"), []);
  // A big system directory, by prefix, as a full listing filtered gives it.
  const system = ["/usr/lib/x86_64-linux-gnu", "/usr/lib"].find((d) => existsSync(d))!;
  const expected = readdirSync(system).filter((name) => name.startsWith("lib") && "cm".includes(name[3] ?? "")).sort();
  assert.ok(expected.length > 0, system);
  assert.deepEqual(host.readDir(system, "lib", "cm"), expected);
  assert.equal(thrown(() => host.readDir(join(dir, "missing"), "lib", "-.")).code, "ENOENT");
  assert.equal(thrown(() => host.readDir(join(dir, "b.bin"), "x")).code, "ENOTDIR");
  const kind = ({ isFile, isDirectory, size }: FileInfo) => ({ isFile, isDirectory, size });
  assert.deepEqual(kind(host.stat(join(dir, "link"))), { isFile: true, isDirectory: false, size: 1000 });
  assert.deepEqual(kind(host.stat(join(dir, "C"))), { isFile: false, isDirectory: true, size: statSync(join(dir, "C")).size });
  // To the millisecond at least (Deno's stat gives no finer).
  assert.equal(Math.floor(host.stat(join(dir, "C")).mtimeMs), Math.floor(statSync(join(dir, "C")).mtimeMs));
  const nested = join(dir, "made", "two", "deep");
  host.makeDirectory(nested);
  host.makeDirectory(nested); // already there: not an error
  assert.equal(host.stat(nested).isDirectory, true);
  assert.equal(host.realPath(join(dir, "link")), realpathSync(join(dir, "b.bin")));
  assert.equal(host.exists(join(dir, "link")), true);
  assert.equal(host.exists(join(dir, "missing")), false);
  assert.equal(host.exists(join(dir, "C")), true);
  symlinkSync("missing", join(dir, "dangling"));
  assert.equal(host.exists(join(dir, "dangling")), false, "links are followed, as stat does");
  assert.equal(host.exists(join(dir, "b.bin", "x")), false, "below a file");
});

test("writing: a new file only, appends, rename and unlink", () => {
  const dir = tempDir();
  const path = join(dir, "new.o");
  const bytes = new Uint8Array(300_000).map((_, i) => (i * 13) & 0xff);
  host.writeNewFile(path, bytes);
  assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
  assert.equal(statSync(path).mode & 0o777, 0o644 & ~process.umask());
  const exists = thrown(() => host.writeNewFile(path, bytes));
  assert.equal(exists.code, "EEXIST");
  assert.equal(exists.message, `EEXIST: file already exists, open '${path}'`);
  host.appendTextFile(join(dir, "log"), "one\n");
  host.appendTextFile(join(dir, "log"), "two\n");
  assert.equal(readFileSync(join(dir, "log"), "utf8"), "one\ntwo\n");
  host.rename(path, join(dir, "renamed.o"));
  assert.equal(existsSync(path), false);
  host.unlink(join(dir, "renamed.o"));
  assert.equal(existsSync(join(dir, "renamed.o")), false);
});

test("failures carry Node's code and message on both runtimes", () => {
  const dir = tempDir();
  const missing = join(dir, "missing");
  for (const [call, syscall] of [
    [() => host.readFile(missing), "open"],
    [() => host.readTextFile(missing), "open"],
    [() => host.readHead(missing, 64), "open"],
    [() => host.stat(missing), "stat"],
    [() => host.readDir(missing), "scandir"],
    [() => host.readDir(missing, "lib"), "scandir"],
    [() => host.realPath(missing), "(realpath|lstat)"], // Node's realpathSync says lstat
    [() => host.unlink(missing), "unlink"],
  ] as const) {
    const e = thrown(call);
    assert.equal(e.code, "ENOENT");
    assert.match(e.message, new RegExp(`^ENOENT: no such file or directory, ${syscall} '${missing}'$`));
  }
  const e = thrown(() => host.rename(missing, join(dir, "b")));
  assert.equal(e.message, `ENOENT: no such file or directory, rename '${missing}' -> '${join(dir, "b")}'`);
  assert.equal(thrown(() => host.writeNewFile(join(dir, "no", "x"), new Uint8Array(1))).code, "ENOENT");
  assert.equal(thrown(() => host.readTextFile(dir)).code, "EISDIR");
  assert.equal(thrown(() => host.readHead(dir, 64)).code, "EISDIR");
});

test("Deno's host tells the permissions it was not given, and the linker asks for none (no prompt)", () => {
  const deno = join(repoRoot, "node_modules", ".bin", "deno");
  const dir = tempDir();
  const script = join(dir, "permits.ts");
  writeFileSync(
    script,
    `import { host } from ${JSON.stringify(join(repoRoot, "ffi", "host.ts"))};\n` +
      `console.log(JSON.stringify([host.permits("read", ${JSON.stringify(dir)}), host.permits("write", "/etc"), ` +
      `host.permits("read", "/etc/hostname")]));\n`,
  );
  const r = spawnSync(deno, ["run", "--quiet", "--no-prompt", `--allow-read=${dir},${repoRoot}`, script], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [true, false, false]);
  assert.equal(host.permits("read", dir), true, "this test's own process may read");
});

test("Deno evaluates no node: module for the command or the library (deno info)", () => {
  const deno = join(repoRoot, "node_modules", ".bin", "deno");
  for (const entry of ["src/main.ts", "src/mod.ts"]) {
    const r = spawnSync(deno, ["info", "--json", join(repoRoot, entry)], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    type Dependency = { specifier: string; code?: { specifier: string }; isDynamic?: boolean };
    const modules = JSON.parse(r.stdout).modules as { specifier: string; dependencies?: Dependency[] }[];
    assert.ok(modules.length > 40, `${entry}: ${modules.length} modules`);
    const name = (specifier: string) => specifier.replace(/^file:\/\/.*\/(src|ffi)\//, "$1/");
    // Every import of a runtime's module, and every import of the Bun back ends.
    const runtimeImports = modules.flatMap((m) =>
      (m.dependencies ?? [])
        .filter((d) => !d.specifier.startsWith(".") || /_bun\.ts$/.test(d.specifier))
        .map((d) => `${name(m.specifier)} -> ${d.code ? name(d.code.specifier) : d.specifier}${d.isDynamic ? " (dynamic)" : ""}`)
    ).sort();
    // node:fs only in the Bun host's require(), bun:ffi only in the Bun FFI back end and in
    // the Bun libc's require(), all of which run only under Bun: the Bun back end is imported
    // dynamically, the Bun host's and libc's code that requires them is called only under Bun.
    assert.deepEqual(runtimeImports, [
      "ffi/backend_bun.ts -> bun:ffi",
      "ffi/backend_bun.ts -> ffi/libc_bun.ts",
      "ffi/host.ts -> ffi/host_bun.ts",
      "ffi/host_bun.ts -> ffi/libc_bun.ts",
      "ffi/host_bun.ts -> ffi/libc_files_bun.ts",
      "ffi/host_bun.ts -> node:fs (dynamic)",
      "ffi/libc_bun.ts -> bun:ffi (dynamic)",
      "ffi/libc_files_bun.ts -> ffi/libc_bun.ts",
      "ffi/llvm.ts -> ffi/backend_bun.ts (dynamic)",
    ], entry);
  }
});

test("only the runtime back ends in ffi/ touch the runtime: no process, Buffer or Deno file calls elsewhere", () => {
  const backEnds = [
    "ffi/host_bun.ts",
    "ffi/host_deno.ts",
    "ffi/backend_bun.ts",
    "ffi/backend_deno.ts",
    "ffi/libc_deno.ts",
  ];
  const sources = ["src", "ffi"].flatMap((dir) =>
    readdirSync(join(repoRoot, dir), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `${dir}/${f}`)
  );
  assert.ok(sources.length > 40, `${sources.length} sources`);
  const offenders = sources.filter((file) => !backEnds.includes(file)).flatMap((file) =>
    readFileSync(join(repoRoot, file), "utf8").split("\n").map((line, i) => ({ file, line: i + 1, text: line }))
      // Code, not comments: `process.` followed by a name, a Buffer, a Deno call, a node: import.
      .filter(({ text }) => !/^\s*(\/\/|\*|\/\*)/.test(text))
      .filter(({ text }) => /\bprocess\.[A-Za-z]|\bBuffer\b|\bDeno\.|from "node:/.test(text))
  );
  assert.deepEqual(offenders, []);
});

test("tuneForOneShot: under Bun, a warm function reaches the optimizing JIT much later", () => {
  // In a Bun child (the command's runtime; the suite may run under Deno): a
  // function is called in batches of 100 until JSC has compiled it with its
  // DFG tier. At the normal policy that takes ~3 batches, after tuneForOneShot
  // ~33. (Not "never": the hottest code still gets there.)
  const dir = tempDir();
  const script = join(dir, "jit.ts");
  writeFileSync(
    script,
    `import { noInline, numberOfDFGCompiles } from "bun:jsc";\n` +
      `import { host } from ${JSON.stringify(join(repoRoot, "ffi", "host.ts"))};\n` +
      `if (process.argv[2] === "tuned") host.tuneForOneShot();\n` +
      `const warm = (n: number) => (n * 3) % 7;\n` +
      `noInline(warm);\n` +
      `let sum = 0;\n` +
      `let batches = 0;\n` +
      `while (numberOfDFGCompiles(warm) === 0 && batches < 1000) {\n` +
      `  for (let i = 0; i < 100; i++) sum += warm(i);\n` +
      `  batches++;\n` +
      `  await Bun.sleep(2); // JSC compiles on another thread\n` +
      `}\n` +
      `console.log(batches, sum > 0);\n`,
  );
  const bun = join(repoRoot, "node_modules", ".bin", "bun");
  const batches = (mode: string) => {
    const r = spawnSync(bun, [script, mode], { encoding: "utf8", cwd: dir });
    assert.equal(r.status, 0, r.stderr);
    const [count, ran] = r.stdout.trim().split(" ");
    assert.equal(ran, "true");
    return Number(count);
  };
  const normal = batches("normal");
  const tuned = batches("tuned");
  assert.ok(normal < 1000, "compiled at the normal policy");
  assert.ok(tuned >= 15 && tuned >= 4 * normal, `batches before a DFG compile: ${normal} normal, ${tuned} tuned`);
});
