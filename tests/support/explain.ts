// Set-up the explain tests (tests/explain/*.test.ts) share: the CLI run in a scratch
// directory, C compiled to bitcode by a given clang, and the Rust crates of
// tests/fixtures/rust built by rustc for bpfel-unknown-none with our linker.

import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { join } from "node:path";

import {
  linkerWrapper,
  repoRoot,
  run,
  runLinker,
  rustcBpfArgs,
  rustSysroot,
  tool,
} from "./tools.ts";

/** Run the CLI in `cwd`; the link must succeed. Returns its stderr. */
export function linkIn(cwd: string, args: string[]): string {
  const r = runLinker(args, { cwd });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

/** `clang -target bpf -O2 <extra> -emit-llvm -c src -o out` with the given clang (clang-19, clang-22). */
export function clangBitcode(
  clang: string,
  src: string,
  out: string,
  extra: string[] = [],
): string {
  tool(clang, ["-target", "bpf", "-O2", ...extra, "-emit-llvm", "-c", src, "-o", out]);
  return out;
}

// ---- Rust

/** tests/fixtures/rust/crates. */
export const RUST_CRATES = join(repoRoot, "tests", "fixtures", "rust", "crates");

/** rustc for BPF in one directory, the netdep rlib already built there. */
export interface RustWithNetdep {
  /** rustc (as rustcBpf, with the builder's flags first); it must succeed. Returns its stderr. */
  rustc(args: string[]): string;
  /**
   * Build crate `name` (xdp_bin by default) into `out` with our linker, each of `linkArgs`
   * as `-C link-arg=...`, and `-W linker-messages` when `messages`. Returns rustc's stderr.
   */
  crate(
    out: string,
    linkArgs: string[],
    options?: { messages?: boolean; kind?: string; name?: string; source?: string },
  ): string;
}

/**
 * The bpfel sysroot (rustSysroot()) for a file's Rust tests; without one, a SKIP line
 * naming `what` goes to stderr and `needsRust()` gives the node:test skip option.
 * `rustWithNetdep(d, flags)` makes `d`, builds the netdep rlib there with
 * `flags` (e.g. `-C debuginfo=2`) and returns rustc for the crates that use it.
 */
export function rustForTests(what: string): {
  sysroot: { root?: string; skip?: string };
  needsRust: () => { skip?: string };
  rustWithNetdep: (d: string, flags?: string[]) => RustWithNetdep;
} {
  const sysroot = rustSysroot();
  if (sysroot.skip) process.stderr.write(`SKIP: ${what}: ${sysroot.skip}\n`);
  const rustWithNetdep = (d: string, flags: string[] = []): RustWithNetdep => {
    mkdirSync(d, { recursive: true });
    const rustc = (args: string[]) => rustcBpf(sysroot.root!, [...flags, ...args]);
    rustc(netdepRlibArgs(d));
    return {
      rustc,
      crate: (out, linkArgs, { messages, kind, name, source } = {}) =>
        rustc([
          ...withLinker(linkArgs),
          ...(messages ? ["-W", "linker-messages"] : []),
          ...crateArgs(d, out, kind, name, source),
        ]),
    };
  };
  return { sysroot, needsRust: () => (sysroot.skip ? { skip: sysroot.skip } : {}), rustWithNetdep };
}

/** `/usr/bin/rustc` with rustcBpfArgs(sysroot) and then `args`; it must succeed. Returns its stderr. */
export function rustcBpf(sysroot: string, args: string[]): string {
  const r = run("/usr/bin/rustc", [...rustcBpfArgs(sysroot), ...args]);
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

/** rustc arguments that build the netdep crate as an rlib into `outDir`. */
export function netdepRlibArgs(outDir: string): string[] {
  return [
    "--crate-type",
    "rlib",
    "--crate-name",
    "netdep",
    "--out-dir",
    outDir,
    join(RUST_CRATES, "netdep", "src", "lib.rs"),
  ];
}

/**
 * rustc arguments that build crate `name` (xdp_bin by default) of kind `kind` into `out`,
 * against the netdep rlib in `deps`.
 */
export function crateArgs(
  deps: string,
  out: string,
  kind = "bin",
  name = "xdp_bin",
  source = "main.rs",
): string[] {
  return [
    "--crate-type",
    kind,
    "--crate-name",
    name,
    "-L",
    deps,
    "--extern",
    `netdep=${join(deps, "libnetdep.rlib")}`,
    "-o",
    out,
    join(RUST_CRATES, name, "src", source),
  ];
}

/** `-C linker=<our wrapper>` and each of `linkArgs` as `-C link-arg=...`. */
export function withLinker(linkArgs: string[]): string[] {
  return ["-C", `linker=${linkerWrapper()}`, ...linkArgs.flatMap((a) => ["-C", `link-arg=${a}`])];
}
