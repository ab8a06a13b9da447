// Discovery decided once (ffi/probe.ts, docs/ARCHITECTURE.md#libllvm-discovery): the one
// rule Llvm.load and surveyLlvm both choose by, and probing that leaves no library it
// opened loaded unless it is the one chosen. Stand-in libLLVMs built here with gcc (not
// linked with -z nodelete, as Debian's real ones are) show whether a library is still
// mapped after probing, in /proc/self/maps.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import type { Candidate } from "../../ffi/discover.ts";
import { listCandidates } from "../../ffi/discover.ts";
import { discoveryCacheFile } from "../../ffi/discovery_cache.ts";
import { ffiBackend, Llvm, preloadLlvm } from "../../ffi/llvm.ts";
import { chooseLlvm, type Probe } from "../../ffi/probe.ts";
import { surveyLlvm } from "../../ffi/survey.ts";
import { symbolsForVersion } from "../../ffi/symbols.ts";
import { fileTempDir, tool } from "../support/tools.ts";

const LLVM22 = "/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1";

const dir = fileTempDir("bpfl-probe-");

/**
 * A shared library answering LLVMGetVersion with `major`.1.0; with `complete`, it
 * also exports every LLVM-C symbol of that version (as stubs never called), so
 * probing finds it usable.
 */
function standIn(name: string, major: number, complete: boolean): string {
  const stubs = complete
    ? Object.keys(symbolsForVersion(major)).filter((n) => n !== "LLVMGetVersion").map((n) => `void ${n}(void) {}`)
    : [];
  const source = join(dir, `${name}.c`);
  writeFileSync(
    source,
    [`void LLVMGetVersion(unsigned *a, unsigned *b, unsigned *c) { *a = ${major}; *b = 1; *c = 0; }`, ...stubs]
      .join("\n") + "\n",
  );
  const library = join(dir, name);
  tool("gcc", ["-shared", "-fPIC", "-o", library, source]);
  return library;
}

const mapped = (path: string) => readFileSync("/proc/self/maps", "utf8").includes(path);
const candidates = (...paths: string[]): Candidate[] => paths.map((path) => ({ path, source: "test" }));

function fakeProbe(path: string, major?: number): Probe {
  const candidate = { path, source: "test" };
  return major === undefined
    ? { candidate, rejected: { reason: "does not exist" } }
    : { candidate, version: `${major}.1.0`, usable: { major, minor: 1, patch: 0 } };
}

test("chooseLlvm: the first usable one at least as new as the inputs, else the first usable one", () => {
  const list = [fakeProbe("a"), fakeProbe("b", 19), fakeProbe("c", 20), fakeProbe("d", 22), fakeProbe("e", 23)];
  let read = 0;
  function* lazily() {
    for (const probe of list) {
      read++;
      yield probe;
    }
  }
  const newEnough = chooseLlvm(lazily(), 22);
  assert.equal(newEnough.chosen?.candidate.path, "d");
  assert.equal(newEnough.older, false);
  // Reading stopped at the deciding candidate: later sources are never probed.
  assert.equal(read, 4);
  assert.deepEqual(newEnough.probed.map((p) => p.candidate.path), ["a", "b", "c", "d"]);

  read = 0;
  const any = chooseLlvm(lazily());
  assert.equal(any.chosen?.candidate.path, "b");
  assert.equal(read, 2);

  const fallback = chooseLlvm(list, 24);
  assert.equal(fallback.chosen?.candidate.path, "b");
  assert.equal(fallback.older, true);
  assert.equal(fallback.probed.length, 5);

  const none = chooseLlvm([fakeProbe("a"), fakeProbe("x")], 22);
  assert.equal(none.chosen, undefined);
  assert.equal(none.older, false);
});

test("surveyLlvm leaves no library it probed loaded, usable or not", async () => {
  const usable = standIn("libsurvey-usable.so", 20, true);
  const lacking = standIn("libsurvey-lacking.so", 21, false);
  const survey = await surveyLlvm({ candidates: candidates(usable, lacking, LLVM22), preferMajor: 22 });
  assert.deepEqual(survey.entries.map((e) => e.verdict), ["usable", "rejected", "chosen"]);
  assert.equal(survey.entries[0].reason, "usable, but older than the input bitcode (LLVM 22)");
  assert.match(survey.entries[1].reason, /^lacks LLVM-C symbols: /);
  assert.equal(mapped(usable), false, `${usable} is still loaded after the survey`);
  assert.equal(mapped(lacking), false, `${lacking} is still loaded after the survey`);
});

test("Llvm.load closes a library it passes over and keeps the one it chooses", async () => {
  const passed = standIn("libload-passed.so", 20, true);
  const llvm = await Llvm.load({ candidates: candidates(passed, LLVM22), preferMajor: 22 });
  assert.equal(llvm.path, LLVM22);
  assert.deepEqual(llvm.attempts.map((a) => a.outcome), ["older than the input bitcode (LLVM 22)", "chosen"]);
  assert.equal(mapped(passed), false, `${passed} is still loaded after Llvm.load passed over it`);

  // Nothing newer: the older one is chosen and stays bound (and mapped).
  const only = standIn("libload-only.so", 20, true);
  const fallback = await Llvm.load({ candidates: candidates(only), preferMajor: 22 });
  assert.equal(fallback.path, only);
  assert.deepEqual(fallback.attempts.map((a) => a.outcome), ["chosen (no newer libLLVM found)"]);
  assert.equal(mapped(only), true, `the chosen ${only} is not loaded`);
});

test("Llvm.load with versionOnly keeps nothing open until the API is first used", async () => {
  const lazy = standIn("libload-lazy.so", 20, true);
  const llvm = await Llvm.load({ candidates: candidates(lazy), versionOnly: true });
  assert.deepEqual(llvm.version, { major: 20, minor: 1, patch: 0 });
  assert.equal(mapped(lazy), false, `${lazy} is still loaded after reading its version`);
  assert.equal(typeof llvm.api.LLVMContextCreate, "function");
  assert.equal(mapped(lazy), true, `${lazy} is not loaded once its API is used`);
});

test("preloadLlvm: the first candidate loads on another thread before Llvm.load, which still chooses", async () => {
  const first = standIn("libpreload-first.so", 20, true);
  const ffi = await ffiBackend();
  const { candidates: list, loading } = preloadLlvm(ffi, { explicitPath: first });
  // Deno: a nonblocking dlopen; Bun: a thread of its own, on x86-64 (ffi/libc_bun.ts).
  const expected = "Deno" in globalThis || process.arch === "x64";
  assert.equal(loading !== undefined, expected, "the back end preloads where it can");
  if (loading) {
    await loading;
    assert.equal(mapped(first), true, `${first} was not loaded by the preload`);
  } else {
    assert.equal(mapped(first), false);
  }
  const llvm = await Llvm.load({ candidates: list, preferMajor: 20 });
  assert.equal(llvm.path, first);
  assert.deepEqual(llvm.attempts.map((a) => a.outcome), ["chosen"]);
});

test("a preload of a file dlopen refuses settles, and the load then reports the refusal", async () => {
  const broken = join(dir, "libLLVM-broken.so");
  writeFileSync(broken, Uint8Array.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, ...new Array(56).fill(0)]));
  const ffi = await ffiBackend();
  const loading = ffi.preload?.(broken);
  if (loading) await loading; // settles whatever dlopen returned
  assert.equal(mapped(broken), false);
  await assert.rejects(Llvm.load({ candidates: candidates(broken) }), /cannot be loaded|not a shared library/);
});

test("preloadLlvm: a candidate the file checks refuse is not preloaded; the candidates are read once, in order", async () => {
  const script = join(dir, "not-a-library.so");
  writeFileSync(script, "/* GNU ld script */\nGROUP ( libLLVM.so.1 )\n");
  const prefix = join(dir, "prefix");
  tool("mkdir", ["-p", join(prefix, "lib")]);
  const second = join(prefix, "lib", "libLLVM-20.so");
  tool("cp", [standIn("libpreload-second.so", 20, true), second]);
  tool("cp", [script, join(prefix, "lib", "libLLVM-21.so")]);
  const env = { LLVM_PREFIX: prefix, PATH: "" };
  const { candidates: list, loading } = preloadLlvm(await ffiBackend(), { env });
  await loading;
  // The linker script (named newer, so listed first) is passed over; the library after it is preloaded.
  assert.equal(mapped(second), loading !== undefined);
  assert.equal(loading !== undefined, "Deno" in globalThis || process.arch === "x64");
  const once = [...list].map((c) => c.path);
  assert.deepEqual([...list].map((c) => c.path), once, "iterated again: the same candidates");
  assert.deepEqual(once, listCandidates(env).map((c) => c.path));
  assert.deepEqual(once.slice(0, 2), [join(prefix, "lib", "libLLVM-21.so"), second]);
});

test("preloadLlvm: the last run's choice starts loading before its discovery is checked; a stale one is passed over", async () => {
  const home = join(dir, "home");
  const toolchains = join(home, ".rustup", "toolchains");
  const anHourAgo = new Date(Date.now() - 3600_000);
  const addToolchain = (name: string) => {
    const lib = join(toolchains, name, "lib");
    mkdirSync(lib, { recursive: true });
    const path = join(lib, `libLLVM.so.20.1-rust-1.90.0-${name}`);
    tool("cp", [standIn(`libtoolchain-${name}.so`, 20, true), path]);
    utimesSync(lib, anHourAgo, anHourAgo);
    return path;
  };
  const alpha = addToolchain("alpha");
  utimesSync(toolchains, anHourAgo, anHourAgo);
  const env = { HOME: home, PATH: "", XDG_CACHE_HOME: join(home, "cache") };
  const ffi = await ffiBackend();
  const preloads = "Deno" in globalThis || process.arch === "x64";

  // The first run discovers, and remembers once its candidates are all read.
  const first = preloadLlvm(ffi, { env });
  await first.loading;
  assert.ok([...first.candidates].some((c) => c.path === alpha), "the toolchain is found");
  const file = discoveryCacheFile(env)!;
  assert.ok(existsSync(file), "remembered");

  // The remembered choice is a library that is no longer there to be found (a
  // stand-in edited into the file), and a new toolchain changed a directory read:
  // the guess loads; the checked discovery (which finds the new toolchain) is what the load chooses from.
  const guess = standIn("libguess.so", 20, true);
  const remembered = JSON.parse(readFileSync(file, "utf8"));
  remembered.candidates = [{ path: guess, source: "rust toolchain", nameVersion: [20, 1] }];
  writeFileSync(file, JSON.stringify(remembered));
  const beta = addToolchain("beta");
  const { candidates: list, loading } = preloadLlvm(ffi, { env });
  assert.equal(loading !== undefined, preloads);
  await loading;
  assert.equal(mapped(guess), preloads, `${guess}: the guess is loaded where the back end preloads`);
  const checked = [...list].map((c) => c.path);
  assert.ok(checked.includes(beta) && !checked.includes(guess), checked.join("\n"));
  const llvm = await Llvm.load({ candidates: list });
  assert.ok(checked.includes(llvm.path), llvm.path);
});
