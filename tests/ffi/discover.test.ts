// libLLVM discovery: candidate order, file checks, and loading real libraries.

import assert from "node:assert/strict";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { expandUserPath, listCandidates, rejectLibraryFile, versionFromName } from "../../ffi/discover.ts";
import { Llvm, LlvmNotFound } from "../../ffi/llvm.ts";
import { tempDir, tool } from "../support/tools.ts";

const LLVM22 = "/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1";
const LLVM19 = "/usr/lib/x86_64-linux-gnu/libLLVM.so.19.1";

test("versionFromName reads Debian, Fedora, Homebrew and rustup names", () => {
  assert.deepEqual(versionFromName("libLLVM.so.22.1"), [22, 1]);
  assert.deepEqual(versionFromName("libLLVM-19.so"), [19]);
  assert.deepEqual(versionFromName("libLLVM-14.0.6.so.1"), [14, 0, 6]);
  assert.deepEqual(versionFromName("libLLVM-21.dylib"), [21]);
  assert.deepEqual(versionFromName("libLLVM.so.22.1-rust-1.95.0-stable"), [22, 1]);
  assert.deepEqual(versionFromName("libLLVM-22-rust-1.95.0-stable.so"), [22]);
  assert.equal(versionFromName("libLLVM.so"), undefined);
  assert.equal(versionFromName("libLLVM.so.1"), undefined);
  assert.equal(versionFromName("libLLVMCore.a"), undefined);
});

test("rejectLibraryFile accepts a real libLLVM and rejects archives, scripts, 32-bit and missing files", () => {
  assert.equal(rejectLibraryFile(LLVM22), undefined);
  assert.match(rejectLibraryFile("/usr/lib/llvm-22/lib/libLLVMCore.a")!, /static archive/);
  const dir = tempDir();
  const script = join(dir, "libLLVM-22.so");
  writeFileSync(script, "INPUT(libLLVM.so.22.1)\n");
  assert.match(rejectLibraryFile(script)!, /linker script/);
  writeFileSync(join(dir, "e.c"), "int f(void) { return 1; }\n");
  tool("gcc", ["-m32", "-shared", "-nostdlib", "-o", join(dir, "libLLVM.so.22.1"), join(dir, "e.c")]);
  assert.match(rejectLibraryFile(join(dir, "libLLVM.so.22.1"))!, /32-bit/);
  tool("gcc", ["-c", "-o", join(dir, "rel.o"), join(dir, "e.c")]);
  assert.match(rejectLibraryFile(join(dir, "rel.o"))!, /not a shared library/);
  assert.match(rejectLibraryFile(join(dir, "nope.so"))!, /does not exist/);
});

test("an explicit path or prefix is the only candidate", () => {
  const env = { PATH: "/usr/bin", LLVM_PREFIX: "/usr/lib/llvm-19" };
  assert.deepEqual(listCandidates(env, LLVM19).map((c) => c.path), [LLVM19]);
  const fromPrefix = listCandidates(env, "/usr/lib/llvm-22");
  assert.ok(fromPrefix.length > 0 && fromPrefix.every((c) => c.path.startsWith("/usr/lib/llvm-22/lib/")));
  assert.equal(listCandidates({ BPF_LINKER_LLVM: LLVM19 })[0].source, "BPF_LINKER_LLVM");
});

test("LLVM_PREFIX and LLVM_SYS_*_PREFIX come before system libraries, system ones newest first", () => {
  const candidates = listCandidates({ PATH: "", LLVM_PREFIX: "/usr/lib/llvm-19", LLVM_SYS_221_PREFIX: "/usr/lib/llvm-22" });
  assert.equal(candidates[0].source, "LLVM_PREFIX");
  assert.ok(candidates[0].path.startsWith("/usr/lib/llvm-19/"));
  const sys = candidates.findIndex((c) => c.source === "LLVM_SYS_221_PREFIX");
  assert.ok(sys > 0);
  // Each library is tried once: the system list no longer repeats 19 and 22.
  assert.equal(candidates.filter((c) => c.nameVersion?.[0] === 22).length, 1);
  const system = listCandidates({ PATH: "" }).filter((c) => c.source === "system" && c.nameVersion);
  const majors = system.map((c) => c.nameVersion![0]);
  assert.deepEqual(majors, [...majors].sort((a, b) => b - a), "system candidates newest first");
  assert.equal(majors[0], 22);
});

test("llvm-config on PATH contributes its lib directory", () => {
  // An LLVM prefix laid out here (whatever llvm-config the machine has, if any, is not
  // on this PATH): <prefix>/bin/llvm-config, reached through a symlink in another
  // directory as distributions link it, and <prefix>/lib with a real libLLVM 19.
  const dir = tempDir();
  const prefix = join(dir, "llvm");
  mkdirSync(join(prefix, "bin"), { recursive: true });
  mkdirSync(join(prefix, "lib"));
  mkdirSync(join(dir, "bin"));
  writeFileSync(join(prefix, "bin", "llvm-config"), "#!/bin/sh\necho 19.1.7\n", { mode: 0o755 });
  symlinkSync(LLVM19, join(prefix, "lib", "libLLVM.so.19.1"));
  symlinkSync(join(prefix, "bin", "llvm-config"), join(dir, "bin", "llvm-config"));
  const candidates = listCandidates({ PATH: join(dir, "bin") });
  assert.equal(candidates[0].source, "llvm-config");
  assert.equal(candidates[0].path, join(prefix, "lib", "libLLVM.so.19.1"));
  assert.deepEqual(candidates[0].nameVersion, [19, 1]);
});

test("a prefix without libraries yields its lib/libLLVM.so so the error names it", () => {
  const dir = tempDir();
  assert.deepEqual(expandUserPath(dir, "--llvm").map((c) => c.path), [join(dir, "lib", "libLLVM.so")]);
});

test("Llvm.load loads LLVM 22 and LLVM 19 by explicit path and reads their versions", async () => {
  const v22 = await Llvm.load({ explicitPath: LLVM22 });
  assert.equal(v22.version.major, 22);
  const v19 = await Llvm.load({ explicitPath: LLVM19 });
  assert.equal(v19.version.major, 19);
  assert.equal(v19.attempts.at(-1)!.outcome, "chosen");
});

test("Llvm.load with versionOnly chooses the same library and binds its symbols on first use", async () => {
  const full = await Llvm.load({ explicitPath: LLVM19 });
  const lazy = await Llvm.load({ explicitPath: LLVM19, versionOnly: true });
  assert.equal(lazy.path, full.path);
  assert.deepEqual(lazy.version, full.version);
  assert.equal(lazy.attempts.at(-1)!.outcome, "chosen");
  // The first use of the API binds it: a real call into the library works.
  const context = lazy.api.LLVMContextCreate();
  assert.ok(context !== null);
  lazy.api.LLVMContextDispose(context);
  assert.equal(lazy.api, lazy.api);
});

test("Llvm.load without hints picks the newest system libLLVM", async () => {
  const llvm = await Llvm.load({ env: { PATH: "" } });
  assert.equal(llvm.version.major, 22);
});

test("Llvm.load rejects a too-old libLLVM and lists every candidate it tried", async () => {
  const dir = tempDir();
  writeFileSync(join(dir, "libLLVM-22.so"), "INPUT(libLLVM.so.22.1)\n");
  await assert.rejects(
    Llvm.load({ candidates: [
      { path: "/usr/lib/x86_64-linux-gnu/libLLVM-15.so", source: "system", nameVersion: [15] },
      { path: join(dir, "libLLVM-22.so"), source: "system" },
      { path: join(dir, "missing.so"), source: "system" },
    ] }),
    (e: unknown) => {
      assert.ok(e instanceof LlvmNotFound);
      assert.match(e.message, /libLLVM-15\.so \[system\]: too old \(LLVM 15\)/);
      assert.match(e.message, /linker script/);
      assert.match(e.message, /missing\.so \[system\]: does not exist/);
      return true;
    },
  );
});

test("a Rust toolchain's libLLVM next to the rustc on PATH is a candidate", () => {
  // A plain (non-rustup) toolchain layout: <sysroot>/bin/rustc and <sysroot>/lib/libLLVM.so.N-rust-*.
  const sysroot = tempDir();
  mkdirSync(join(sysroot, "bin"));
  mkdirSync(join(sysroot, "lib"));
  writeFileSync(join(sysroot, "bin", "rustc"), "#!/bin/sh\n");
  // Listing only: the file is not loaded here (a real one would dedupe with the system's copy).
  writeFileSync(join(sysroot, "lib", "libLLVM.so.22.1-rust-1.96.0-stable"), "");
  const candidates = listCandidates({ PATH: join(sysroot, "bin") });
  const rust = candidates.filter((c) => c.source === "rust toolchain");
  assert.deepEqual(rust.map((c) => c.path), [join(sysroot, "lib", "libLLVM.so.22.1-rust-1.96.0-stable")]);
  assert.deepEqual(rust[0].nameVersion, [22, 1]);
});
