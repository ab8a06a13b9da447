// ffi/discovery_cache.ts: a full libLLVM discovery is remembered, recalled
// while everything it read reads the same, and read again when anything
// changed. Homes made here hold fake rustup toolchains (discovery reads only
// file names); their directories are aged past SETTLED_MS so that a discovery
// of them is remembered.

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { type Candidate, listCandidates } from "../../ffi/discover.ts";
import { discoveryCacheFile, fnv1a, rememberedCandidates } from "../../ffi/discovery_cache.ts";
import { tempDir } from "../support/tools.ts";

const AN_HOUR_AGO = new Date(Date.now() - 3600_000);

/** A home with rustup toolchains `names` (each with a libLLVM), its directories aged unless `fresh`. */
function homeWith(names: string[], fresh = false): { env: Record<string, string>; toolchains: string } {
  const home = tempDir();
  const toolchains = join(home, ".rustup", "toolchains");
  for (const [i, name] of names.entries()) addToolchain(toolchains, name, 20 + i, !fresh);
  if (!fresh) utimesSync(toolchains, AN_HOUR_AGO, AN_HOUR_AGO);
  return { env: { HOME: home, PATH: "", XDG_CACHE_HOME: join(home, "cache") }, toolchains };
}

function addToolchain(toolchains: string, name: string, major: number, aged: boolean): void {
  const lib = join(toolchains, name, "lib");
  mkdirSync(lib, { recursive: true });
  writeFileSync(join(lib, `libLLVM.so.${major}.1-rust-1.90.0-${name}`), "");
  if (aged) utimesSync(lib, AN_HOUR_AGO, AN_HOUR_AGO);
}

const paths = (candidates: Iterable<Candidate>) => [...candidates].map((c) => c.path);

/** The remembered file, edited by `change`. */
function edit(file: string, change: (remembered: Record<string, unknown>) => void): void {
  const remembered = JSON.parse(readFileSync(file, "utf8"));
  change(remembered);
  writeFileSync(file, JSON.stringify(remembered));
}

const STAND_IN: Candidate[] = [{ path: "/remembered/libLLVM.so.22.1", source: "system", nameVersion: [22, 1] }];

test("a full discovery is remembered and recalled while nothing it read changed", () => {
  const { env, toolchains } = homeWith(["alpha", "beta"]);
  const file = discoveryCacheFile(env)!;
  const fresh = paths(listCandidates(env));
  assert.ok(fresh.some((p) => p.includes("alpha")) && fresh.some((p) => p.includes("beta")), fresh.join("\n"));
  assert.deepEqual(paths(rememberedCandidates(env)), fresh);
  assert.ok(existsSync(file), "remembered");
  assert.deepEqual(paths(rememberedCandidates(env)), fresh, "recalled: the same");
  // Recalled, not read again: a remembered list is given as it is.
  edit(file, (r) => (r.candidates = STAND_IN));
  assert.deepEqual(paths(rememberedCandidates(env)), [STAND_IN[0].path]);
  // A new toolchain changes the directory listed: discovery reads again, and finds it.
  addToolchain(toolchains, "gamma", 23, false);
  const again = paths(rememberedCandidates(env));
  assert.deepEqual(again, paths(listCandidates(env)));
  assert.ok(again.some((p) => p.includes("gamma")), again.join("\n"));
});

test("a discovery that read a directory changed in the last seconds is not remembered", () => {
  const { env } = homeWith(["alpha"], true);
  assert.deepEqual(paths(rememberedCandidates(env)), paths(listCandidates(env)));
  assert.equal(existsSync(discoveryCacheFile(env)!), false);
});

test("a remembered path that resolves elsewhere now, another environment, or another format: read again", () => {
  const { env } = homeWith(["alpha"]);
  const file = discoveryCacheFile(env)!;
  const fresh = paths(rememberedCandidates(env));
  assert.ok(existsSync(file));
  const original = readFileSync(file, "utf8");
  edit(file, (r) => {
    r.candidates = STAND_IN;
    (r.resolved as [string, string | null][])[0][1] = "/elsewhere";
  });
  assert.deepEqual(paths(rememberedCandidates(env)), fresh, "a resolved path changed");
  writeFileSync(file, original);
  edit(file, (r) => (r.candidates = STAND_IN));
  // Another environment's file, under this one's name: its key tells.
  const other = { ...env, RUSTUP_HOME: join(env.HOME, ".rustup") };
  writeFileSync(discoveryCacheFile(other)!, readFileSync(file));
  assert.deepEqual(paths(rememberedCandidates(other)), fresh);
  edit(file, (r) => (r.format = 0));
  assert.deepEqual(paths(rememberedCandidates(env)), fresh, "another format");
  writeFileSync(file, "{ not json");
  assert.deepEqual(paths(rememberedCandidates(env)), fresh, "unreadable");
});

test("an explicit path, an LLVM prefix or BPF_LINKER_NO_CACHE: nothing remembered", () => {
  for (const extra of [{ BPF_LINKER_NO_CACHE: "1" }, { LLVM_PREFIX: "/nonexistent/llvm" }, { BPF_LINKER_LLVM: "/x/libLLVM.so" }]) {
    const { env } = homeWith(["alpha"]);
    const all = { ...env, ...extra };
    assert.deepEqual(paths(rememberedCandidates(all)), paths(listCandidates(all)));
    assert.equal(existsSync(discoveryCacheFile(env)!), false, JSON.stringify(extra));
  }
  const { env } = homeWith(["alpha"]);
  assert.deepEqual(paths(rememberedCandidates(env, "/given/libLLVM.so.22.1")), ["/given/libLLVM.so.22.1"]);
  assert.equal(existsSync(discoveryCacheFile(env)!), false);
  // Without a home there is nowhere to remember; one file per set of variables discovery reads.
  assert.equal(discoveryCacheFile({ PATH: "" }), undefined);
  assert.match(discoveryCacheFile({ HOME: "/h" })!, /^\/h\/\.cache\/bpf-linker\/llvm-discovery-[0-9a-f]{8}\.json$/);
  assert.match(discoveryCacheFile({ HOME: "/h", XDG_CACHE_HOME: "/c" })!, /^\/c\/bpf-linker\/llvm-discovery-[0-9a-f]{8}\.json$/);
  assert.notEqual(discoveryCacheFile({ HOME: "/h", PATH: "/a" }), discoveryCacheFile({ HOME: "/h", PATH: "/b" }));
  assert.equal(discoveryCacheFile({ HOME: "/h", LLVM_PREFIX: "/p" }), undefined);
  assert.equal(fnv1a(""), "811c9dc5");
  assert.equal(fnv1a("a"), "e40c292c");
});
