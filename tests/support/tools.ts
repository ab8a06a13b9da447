// Test support: real producers (clang, llvm-ar), the linker as a child process
// under the runtime running the tests, and the kernel as judge (bpftool).

import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, test } from "node:test";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const isBun = "Bun" in globalThis;
export const CLANG = "clang-22";
export const LLVM_BIN = "/usr/lib/llvm-22/bin";

const createdDirs: string[] = [];
function removeCreatedDirs() {
  if (process.env.BPFL_KEEP) return; // keep scratch files for debugging
  for (const dir of createdDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}
// Bun fires process "exit"; deno test does not, but fires "unload".
process.on("exit", removeCreatedDirs);
globalThis.addEventListener?.("unload", removeCreatedDirs);

/** A scratch directory, removed when the test process ends (unless BPFL_KEEP is set). */
export function tempDir(prefix = "bpfl-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  createdDirs.push(dir);
  return dir;
}

/**
 * A scratch directory for one test file: a tempDir() that is also removed as soon as the
 * file's tests are done (node:test `after`; Deno skips that hook once a test was skipped,
 * and then the end-of-process removal of tempDir() does it). BPFL_KEEP keeps it.
 */
export function fileTempDir(prefix = "bpfl-"): string {
  const dir = tempDir(prefix);
  after(() => {
    if (!process.env.BPFL_KEEP) rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** A test file's scratch directory (fileTempDir) and the real tools run in it. */
export interface Workspace {
  dir: string;
  /** `name` inside the directory. */
  path(name: string): string;
  /** Run a tool in the directory and return its stdout; throws (with its stderr) if it fails. */
  run(command: string, args: string[], env?: Record<string, string>): string;
  /** A fresh Uint8Array (not a pooled Buffer) so deepEqual compares plain bytes. */
  readBytes(name: string): Uint8Array;
  /** Write `text` to `name`; returns `name`. */
  writeText(name: string, text: string): string;
}

/** fileTempDir(prefix) with its helpers; the functions may be destructured. */
export function workspace(prefix: string): Workspace {
  const dir = fileTempDir(prefix);
  const path = (name: string) => join(dir, name);
  return {
    dir,
    path,
    run: (command, args, env) =>
      execFileSync(command, args, {
        cwd: dir,
        stdio: ["ignore", "pipe", "pipe"],
        maxBuffer: 1 << 28,
        ...(env ? { env: { ...process.env, ...env } } : {}),
      }).toString(),
    readBytes: (name) => new Uint8Array(readFileSync(path(name))),
    writeText: (name, text) => {
      writeFileSync(path(name), text);
      return name;
    },
  };
}

const toolPresence = new Map<string, boolean>();

/** Whether `command --version` runs (asked once per command). */
export function toolAvailable(command: string): boolean {
  if (!toolPresence.has(command)) {
    try {
      execFileSync(command, ["--version"], { stdio: "ignore" });
      toolPresence.set(command, true);
    } catch {
      toolPresence.set(command, false);
    }
  }
  return toolPresence.get(command)!;
}

/**
 * Under CI=true a check that cannot run is a failure, not a skip: after scripts/setup
 * nothing should be missing, so a skip there means set-up is incomplete. (scripts/test
 * also counts every remaining skip as failed under CI.)
 */
export const skipsFail = process.env.CI === "true";

/**
 * A test that needs real tools; skipped loudly (a SKIP line on stderr) when one is not
 * installed, or failed under CI (skipsFail).
 */
export function toolTest(name: string, tools: string[], body: () => void): void {
  const missing = tools.filter((command) => !toolAvailable(command));
  if (missing.length === 0) {
    test(name, body);
    return;
  }
  const reason = `${missing.join(", ")} not installed`;
  if (skipsFail) {
    test(name, () => {
      throw new Error(`${reason} (CI=true: scripts/setup must install it)`);
    });
    return;
  }
  console.error(`SKIP: ${name}: ${reason}`);
  test(name, { skip: reason }, () => {});
}

/** UTF-8 bytes of `text`. */
export function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
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

// ---- the single executable and the example program (tests/dist.test.ts,
// tests/container.test.ts, tests/mod.test.ts)

/**
 * Run a command with exactly the environment `env`, nothing inherited. Goes
 * through `env -i`: Deno's node:child_process merges an `env` option into the
 * parent's environment instead of replacing it.
 */
export function runWithEnv(
  command: string,
  args: string[],
  options: { cwd?: string; env: Record<string, string>; timeout?: number },
) {
  const assignments = Object.entries(options.env).map(([k, v]) => `${k}=${v}`);
  const r = spawnSync("/usr/bin/env", ["-i", ...assignments, command, ...args], {
    cwd: options.cwd,
    encoding: "utf8",
    maxBuffer: 1 << 28,
    timeout: options.timeout,
  });
  return { status: r.status ?? -1, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** The environment of a minimal shell: PATH only. */
export const MINIMAL_ENV: Record<string, string> = { PATH: "/usr/bin:/bin" };

let builtExe: string | undefined;

/**
 * Build dist/bpf-linker with scripts/build (once per process) and return a
 * private copy of it, alone in an otherwise empty temporary directory. The
 * build and the copy happen under a lock, so the Deno and Bun runs of the
 * suite (or two suites) never build over each other or copy a half-written file.
 */
export function builtExecutable(): string {
  if (builtExe) return builtExe;
  const dir = tempDir("bpfl-exe-");
  const copy = join(dir, "bpf-linker");
  const lock = join(tmpdir(), "bpf-linker-build.lock");
  const r = run("flock", [lock, "sh", "-c", 'bash scripts/build && cp dist/bpf-linker "$1"', "sh", copy], {
    cwd: repoRoot,
  });
  if (r.status !== 0 || !existsSync(copy)) {
    throw new Error(`scripts/build failed (${r.status}):\n${r.stderr}`);
  }
  // Bun runs "exit" handlers at the end of `bun test`; `deno test` only dispatches "unload".
  const remove = () => rmSync(dir, { recursive: true, force: true });
  process.on("exit", remove);
  globalThis.addEventListener?.("unload", remove);
  builtExe = copy;
  return copy;
}

/** examples/xdp compiled like its Makefile does: two bitcode files and libcsum.a. */
export interface XdpExample {
  main: string;
  classify: string;
  /** libcsum.a: checksum.bc and unused.bc. */
  lib: string;
  /** The inputs in link order. */
  inputs: string[];
}

/** Compile examples/xdp into `dir` with `clang` (clang-22 or clang-19). */
export function compileXdpExample(dir: string, clang = CLANG): XdpExample {
  const src = join(repoRoot, "examples", "xdp");
  const bc = (name: string) => {
    const out = join(dir, `${name}.bc`);
    tool(clang, ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", join(src, `${name}.c`), "-o", out]);
    return out;
  };
  const main = bc("main");
  const classify = bc("classify");
  const lib = makeArchive(dir, "libcsum.a", [bc("checksum"), bc("unused")]);
  return { main, classify, lib, inputs: [main, classify, lib] };
}

/** 64-byte packets for examples/xdp: the first 16 bytes sum to 136 (XDP_PASS, 2) or 126 (XDP_DROP, 1). */
export function xdpPacket(kind: "pass" | "drop"): Uint8Array {
  const p = new Uint8Array(64);
  for (let i = 0; i < 16; i++) p[i] = i + 1;
  if (kind === "drop") p[15] = 6;
  return p;
}
export const XDP_PASS = 2;
export const XDP_DROP = 1;

/** The kernel runs `program` of an object linked from examples/xdp: XDP_PASS, then XDP_DROP. */
export function assertXdpVerdicts(obj: string, program = "xdp_filter"): void {
  assert.equal(loadAndRun(obj, program, xdpPacket("pass")), XDP_PASS);
  assert.equal(loadAndRun(obj, program, xdpPacket("drop")), XDP_DROP);
}

let containerRootMade: { root?: string; skip?: string } | undefined;

/**
 * The minimal Debian trixie root with libLLVM 21 (scripts/container-root: made once per
 * machine, a few minutes, then cached), or why there is none. Made by whichever test
 * file asks first, so the LLVM 21 tests never depend on the order files run in.
 */
export function containerRoot(): { root?: string; skip?: string } {
  if (containerRootMade) return containerRootMade;
  if (process.getuid?.() !== 0) return containerRootMade = { skip: "not root: chroot and mounting /proc need root" };
  for (const command of ["/usr/sbin/chroot", "/usr/bin/unshare", "/usr/bin/flock"]) {
    if (!existsSync(command)) return containerRootMade = { skip: `${command} is missing` };
  }
  process.stderr.write(
    "container: scripts/container-root (cached; the first run on a machine debootstraps, ~1-5 min)\n",
  );
  const made = run("bash", [join(repoRoot, "scripts", "container-root")]);
  const root = made.stdout.trim().split("\n").pop() ?? "";
  if (made.status !== 0 || !root || !existsSync(root)) {
    const why = made.stderr.trim().split("\n").slice(-3).join(" | ");
    return containerRootMade = {
      skip: `the Debian trixie root could not be made (scripts/container-root exit ${made.status}): ${why}`,
    };
  }
  return containerRootMade = { root };
}

/**
 * Run `args` (a path inside the root first) chrooted into `root` (the Debian
 * root of scripts/container-root), with PATH as the whole environment and /proc
 * mounted for the duration: Bun's executable aborts without /proc. The mount
 * lives in a private mount namespace made for this one command, so it goes
 * away with it and can never be left behind.
 */
export function runInRoot(root: string, args: string[]) {
  return run("unshare", [
    "--mount",
    "--propagation",
    "private",
    "--",
    "sh",
    "-c",
    'mount -t proc proc "$0/proc" && exec env -i PATH=/usr/bin:/bin /usr/sbin/chroot "$0" "$@"',
    root,
    ...args,
  ]);
}

// ---- Rust for BPF and BTF (tests/rust.test.ts, tests/btf/sanitize.test.ts)

/**
 * The bpfel sysroot from scripts/build-sysroot (built once, then cached under
 * .cache/sysroot), or why there is none: only a machine that cannot install
 * rustc-web gets a skip reason.
 */
export function rustSysroot(): { root?: string; skip?: string } {
  const r = run("bash", [join(repoRoot, "scripts", "build-sysroot"), "--target", "bpfel-unknown-none"]);
  if (r.status !== 0) {
    if (/installing rustc-web needs root|apt-get is not available|Unable to locate package|E: /.test(r.stderr)) {
      return { skip: `rustc-web cannot be installed: ${r.stderr.trim().split("\n").pop()}` };
    }
    throw new Error(`scripts/build-sysroot failed (${r.status}):\n${r.stderr}`);
  }
  return { root: r.stdout.trim().split("\n").pop() };
}

/**
 * The rustc arguments every BPF build shares: edition 2021, bpfel-unknown-none
 * against `sysroot` (rustSysroot().root), panic=abort, opt-level=3.
 */
export function rustcBpfArgs(sysroot: string): string[] {
  return [
    "--edition",
    "2021",
    "--target",
    "bpfel-unknown-none",
    "--sysroot",
    sysroot,
    "-C",
    "panic=abort",
    "-C",
    "opt-level=3",
  ];
}

/** scripts/bpf-linker (Bun) or scripts/bpf-linker-deno, matching the runtime running the tests. */
export function linkerWrapper(): string {
  return join(repoRoot, "scripts", isBun ? "bpf-linker" : "bpf-linker-deno");
}

/** `bpftool btf dump file obj` (raw format). */
export function btfDump(obj: string): string {
  return tool("bpftool", ["btf", "dump", "file", obj]);
}

/** One type of a raw `bpftool btf dump`: `[id] KIND 'name' ...` and its indented member lines. */
export interface BtfType {
  id: number;
  kind: string;
  name: string;
  line: string;
  members: string[];
}

export function parseBtfDump(text: string): BtfType[] {
  const out: BtfType[] = [];
  for (const line of text.split("\n")) {
    const m = /^\[(\d+)\] (\S+) '([^']*)'(.*)$/.exec(line);
    if (m) out.push({ id: Number(m[1]), kind: m[2], name: m[3], line, members: [] });
    else if (/^\s/.test(line) && out.length > 0 && line.trim()) out[out.length - 1].members.push(line.trim());
  }
  return out;
}

/** The number of CO-RE relocation records in an object's .BTF.ext section (0 when there is none). */
export function btfExtCoreRelocs(obj: string): number {
  const dir = tempDir("bpfl-btfext-");
  try {
    const out = join(dir, "btf.ext");
    const r = run(join(LLVM_BIN, "llvm-objcopy"), ["--dump-section", `.BTF.ext=${out}`, obj, join(dir, "copy.o")]);
    if (r.status !== 0 || !existsSync(out)) return 0;
    const bytes = readFileSync(out);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint16(0, true) !== 0xeb9f) throw new Error(".BTF.ext: bad magic");
    const hdrLen = view.getUint32(4, true);
    if (hdrLen < 32) return 0;
    const coreOff = view.getUint32(24, true);
    const coreLen = view.getUint32(28, true);
    // core_relo section: u32 record size, then per ELF section: u32 sec_name_off, u32 count, records.
    let at = hdrLen + coreOff;
    const end = at + coreLen;
    if (coreLen === 0) return 0;
    const recordSize = view.getUint32(at, true);
    at += 4;
    let count = 0;
    while (at < end) {
      const n = view.getUint32(at + 4, true);
      count += n;
      at += 8 + n * recordSize;
    }
    return count;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
