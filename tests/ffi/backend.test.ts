// The FFI back end's file mapping (inputs are read without copies), under
// whichever runtime runs the suite.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { cString } from "../../ffi/backend.ts";
import { ffiBackend, Llvm } from "../../ffi/llvm.ts";
import { LLVM_SYMBOLS } from "../../ffi/symbols.ts";
import { isBun, repoRoot, tempDir } from "../support/tools.ts";

const dir = tempDir();

test("mapFile: the file's bytes; nothing for an empty file, a directory or a missing path", async () => {
  const ffi = await ffiBackend();
  const path = join(dir, "input.bin");
  const bytes = new Uint8Array(70_000).map((_, i) => (i * 7) & 0xff);
  writeFileSync(path, bytes);
  assert.deepEqual(ffi.mapFile(path), bytes);
  writeFileSync(join(dir, "empty"), "");
  assert.equal(ffi.mapFile(join(dir, "empty")), undefined);
  mkdirSync(join(dir, "sub"));
  assert.equal(ffi.mapFile(join(dir, "sub")), undefined);
  assert.equal(ffi.mapFile(join(dir, "missing")), undefined);
});

test("viewBytes is the memory itself, not a copy; slice() of it is a copy", async () => {
  const ffi = await ffiBackend();
  const native = new Uint8Array(64).map((_, i) => i);
  const view = ffi.viewBytes(ffi.addressOf(native), native.length);
  const copy = view.slice();
  native[5] = 200;
  assert.equal(view[5], 200);
  assert.equal(copy[5], 5);
  assert.equal(ffi.viewBytes(ffi.addressOf(native), 0).length, 0);
});

test("a bound LLVM-C function answers alike on its first calls and its later ones", async () => {
  // Deno calls through a function pointer first and compiles a stub once the
  // function has had 16 calls and the library 2,000 (400 rounds of 7 calls
  // here): pointers, NULL, size_t and buffers must cross both paths alike.
  const { path } = await Llvm.load();
  const ffi = await ffiBackend();
  const names = [
    "LLVMContextCreate",
    "LLVMContextDispose",
    "LLVMModuleCreateWithNameInContext",
    "LLVMDisposeModule",
    "LLVMCreateMemoryBufferWithMemoryRange",
    "LLVMGetBufferStart",
    "LLVMGetBufferSize",
    "LLVMDisposeMemoryBuffer",
  ] as const;
  const lib = ffi.open(path, Object.fromEntries(names.map((n) => [n, LLVM_SYMBOLS[n]])));
  const api = lib.symbols as Record<(typeof names)[number], (...args: unknown[]) => unknown>;
  try {
    const data = new Uint8Array(64).fill(7);
    const start = ffi.addressOf(data);
    const context = api.LLVMContextCreate();
    assert.notEqual(context, null);
    for (let round = 1; round <= 400; round++) {
      const i = (round % data.length) + 1;
      const buffer = api.LLVMCreateMemoryBufferWithMemoryRange(start, i, cString(`b${i}`), 0);
      assert.notEqual(buffer, null, `call ${i}`);
      assert.equal(api.LLVMGetBufferSize(buffer), i, `call ${i}: size_t as a number`);
      assert.equal(api.LLVMGetBufferStart(buffer), start, `call ${i}: the same address`);
      assert.deepEqual(ffi.viewBytes(api.LLVMGetBufferStart(buffer) as never, i), data.subarray(0, i));
      api.LLVMDisposeMemoryBuffer(buffer);
      const module = api.LLVMModuleCreateWithNameInContext(cString(`m${i}`), context);
      assert.notEqual(module, null, `call ${i}`);
      api.LLVMDisposeModule(module);
    }
    api.LLVMContextDispose(context);
  } finally {
    lib.close();
  }
});

/** Resident KiB of the mappings of `path` (/proc/self/smaps). */
function residentKiB(path: string): number {
  let inside = false;
  let total = 0;
  for (const line of readFileSync("/proc/self/smaps", "utf8").split("\n")) {
    if (/^[0-9a-f]+-[0-9a-f]+ /.test(line)) inside = line.endsWith(` ${path}`);
    else if (inside && line.startsWith("Rss:")) total += Number(line.split(/\s+/)[1]);
  }
  return total;
}

test("releaseMappedPages: the pages of mapped inputs leave memory, the bytes stay readable", async () => {
  const ffi = await ffiBackend();
  const path = join(dir, "released.bin");
  const bytes = new Uint8Array(4 << 20).map((_, i) => (i * 13) & 0xff);
  writeFileSync(path, bytes);
  const mapped = ffi.mapFile(path)!;
  assert.deepEqual(mapped, bytes); // every page read, so resident
  assert.ok(residentKiB(path) >= 4096, `resident before: ${residentKiB(path)} KiB`);
  ffi.releaseMappedPages();
  assert.equal(residentKiB(path), 0);
  assert.deepEqual(mapped, bytes); // read back from the file
});

// A user's link reads rlibs of a system-wide Rust install, which they cannot
// write: mapping must not need write access (Bun.mmap does), or every such
// input would be copied into memory instead.
const setpriv = spawnSync("setpriv", ["--version"]).status === 0;
const asRoot = process.getuid?.() === 0;
const reason = !asRoot ? "needs root to run a child as another user" : !setpriv ? "setpriv not installed" : undefined;
if (reason) process.stderr.write(`SKIP: mapFile of a read-only file: ${reason}\n`);

test("mapFile maps a file the user can only read", { skip: reason }, () => {
  const shared = tempDir();
  chmodSync(shared, 0o755);
  const path = join(shared, "readonly.rlib");
  writeFileSync(path, new Uint8Array(4096).fill(0x5a));
  chmodSync(path, 0o444);
  const script = join(shared, "map.ts");
  writeFileSync(
    script,
    `import { ffiBackend } from ${JSON.stringify(join(repoRoot, "ffi", "llvm.ts"))};\n` +
      `const m = (await ffiBackend()).mapFile(${JSON.stringify(path)});\n` +
      `console.log(m ? "mapped " + m.length + " " + m[100] : "not mapped");\n`,
  );
  chmodSync(script, 0o644);
  const runtime = isBun ? [process.execPath, script] : [process.execPath, "run", "-A", "--no-lock", script];
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", ...runtime], {
    encoding: "utf8",
    env: { ...process.env, HOME: shared, DENO_DIR: join(shared, "deno"), XDG_CACHE_HOME: shared },
    cwd: shared,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "mapped 4096 90");
  assert.deepEqual(readFileSync(path).length, 4096);
});
