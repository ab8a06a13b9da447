// Test support: real producers (clang, llvm-ar), the linker as a child process
// under the runtime running the tests, and the kernel as judge (bpftool).

import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const isBun = "Bun" in globalThis;
export const CLANG = "clang-22";
export const LLVM_BIN = "/usr/lib/llvm-22/bin";

export function tempDir(prefix = "bpfl-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function run(command: string, args: string[], options: { cwd?: string; input?: string } = {}) {
  const r = spawnSync(command, args, { cwd: options.cwd, input: options.input, encoding: "utf8", maxBuffer: 1 << 28 });
  return { status: r.status ?? -1, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Run a tool, throwing with its stderr if it fails. */
export function tool(command: string, args: string[], cwd?: string): string {
  const r = run(command, args, { cwd });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

export type CKind = "bc" | "ll" | "embed";

/** Compile C source text for BPF with clang-22: bitcode, IR text, or an ELF with .llvmbc. */
export function compileC(
  dir: string,
  name: string,
  source: string,
  kind: CKind = "bc",
  extra: string[] = [],
): string {
  const src = join(dir, `${name}.c`);
  writeFileSync(src, source);
  const target = extra.includes("-target") ? [] : ["-target", "bpf"];
  const out = join(dir, `${name}.${kind === "bc" ? "bc" : kind === "ll" ? "ll" : "o"}`);
  const mode = kind === "bc" ? ["-emit-llvm", "-c"] : kind === "ll" ? ["-emit-llvm", "-S"] : ["-fembed-bitcode", "-c"];
  tool(CLANG, [...target, "-O2", ...mode, ...extra, src, "-o", out]);
  return out;
}

export function makeArchive(dir: string, name: string, members: string[], flags = "rcs"): string {
  const out = join(dir, name);
  tool(join(LLVM_BIN, "llvm-ar"), [flags, out, ...members]);
  return out;
}

/** Command prefix that runs src/main.ts under the current runtime. */
export function linkerCommand(): { command: string; args: string[] } {
  const main = join(repoRoot, "src", "main.ts");
  return isBun
    ? { command: process.execPath, args: [main] }
    : { command: process.execPath, args: ["run", "--allow-ffi", "--allow-read", "--allow-write", "--allow-env", main] };
}

/** Run the linker CLI as a child process. */
export function runLinker(args: string[], options: { cwd?: string } = {}) {
  const { command, args: prefix } = linkerCommand();
  return run(command, [...prefix, ...args], options);
}

/** Sections of an ELF object as llvm-readelf sees them. */
export function sectionNames(obj: string): string[] {
  const out = tool(join(LLVM_BIN, "llvm-readelf"), ["-S", "-W", obj]);
  return [...out.matchAll(/^\s*\[\s*\d+\]\s+(\S+)/gm)].map((m) => m[1]);
}

/** Symbols of an ELF object: name -> binding (LOCAL/GLOBAL/WEAK) and type. */
export function symbols(obj: string): Map<string, { bind: string; type: string; section: string }> {
  const out = tool(join(LLVM_BIN, "llvm-readelf"), ["-s", "-W", obj]);
  const map = new Map<string, { bind: string; type: string; section: string }>();
  for (const line of out.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && /^\d+:$/.test(f[0]) && f[7]) map.set(f[7], { type: f[3], bind: f[4], section: f[6] });
  }
  return map;
}

export function disassemble(obj: string): string {
  return tool(join(LLVM_BIN, "llvm-objdump"), ["-d", "--no-show-raw-insn", obj]);
}

// ---- the kernel as judge

function probeBpf(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: cannot load BPF programs";
  if (run("bpftool", ["version"]).status !== 0) return "bpftool not installed";
  if (!readFileSync("/proc/mounts", "utf8").includes(" /sys/fs/bpf bpf ")) return "/sys/fs/bpf is not mounted";
  return undefined;
}

/** Why BPF programs cannot be loaded here, or undefined when they can. */
export const bpfUnavailable: string | undefined = probeBpf();

/** node:test options that skip (loudly) when the kernel cannot be used. */
export function needsBpf(): { skip?: string } {
  if (bpfUnavailable) {
    process.stderr.write(`SKIP: kernel test: ${bpfUnavailable}\n`);
    return { skip: bpfUnavailable };
  }
  return {};
}

let pinCounter = 0;

/**
 * Load every program of `obj` through the verifier (bpftool prog loadall) and
 * run `program` once on `packet` (BPF_PROG_TEST_RUN); returns its return value.
 */
export function loadAndRun(obj: string, program: string, packet: Uint8Array = new Uint8Array(64)): number {
  const pin = `/sys/fs/bpf/bpfl_test_${process.pid}_${pinCounter++}`;
  const data = join(tempDir(), "packet");
  writeFileSync(data, packet);
  try {
    tool("bpftool", ["prog", "loadall", obj, pin]);
    const out = tool("bpftool", ["-j", "prog", "run", "pinned", join(pin, program), "data_in", data, "repeat", "1"]);
    return JSON.parse(out).retval;
  } finally {
    rmSync(pin, { recursive: true, force: true });
    rmSync(dirname(data), { recursive: true, force: true });
  }
}

/** Load through the verifier only; returns bpftool's stderr on failure. */
export function verifierAccepts(obj: string): { ok: boolean; log: string } {
  const pin = `/sys/fs/bpf/bpfl_test_${process.pid}_${pinCounter++}`;
  try {
    const r = run("bpftool", ["prog", "loadall", obj, pin]);
    return { ok: r.status === 0, log: r.stderr };
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
}

export { existsSync, readFileSync };
