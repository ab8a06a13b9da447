// libLLVM discovery (docs/ARCHITECTURE.md#libllvm-discovery): the ordered list of candidate files and the
// cheap checks that reject a file before dlopen is tried. Probing (the version
// check) and the choice are in ffi/probe.ts.

import { host, type HostError } from "./host.ts";
import { basename, delimiter, dirname, join } from "./path.ts";

export interface Candidate {
  path: string;
  /** Where discovery got it from, e.g. `--llvm`, `LLVM_PREFIX`, `llvm-config`, `system`. */
  source: string;
  /** Version parsed from the file name, if any (major, minor...). */
  nameVersion?: number[];
}

/** Environment variables discovery reads (passed in so tests can control them). */
export type DiscoveryEnv = Record<string, string | undefined>;

const LIB_NAME = /^libLLVM(?:-(\d+(?:\.\d+)*)(?:-rust-[^/]*)?)?\.(?:so|dylib)(?:\.(\d+(?:\.\d+)*))?$/;
// rustup ships libLLVM.so.22.1-rust-1.95.0-stable (the library) and
// libLLVM-22-rust-1.95.0-stable.so (a linker script pointing at it).
const RUST_LIB_NAME = /^libLLVM(?:-(\d+(?:\.\d+)*)-rust-.*\.(?:so|dylib)|\.so\.(\d+(?:\.\d+)*)-rust-.*)$/;

/** Parse the version out of a libLLVM file name; undefined for a bare `libLLVM.so`. */
export function versionFromName(name: string): number[] | undefined {
  const m = LIB_NAME.exec(name) ?? RUST_LIB_NAME.exec(name);
  if (!m) return undefined;
  const text = m[1] ?? m[2] ?? m[3];
  // libLLVM.so.1 (Debian's soname alias) carries no LLVM version.
  if (!text || (m[1] === undefined && !text.includes("."))) return undefined;
  return text.split(".").map(Number);
}

/** What every name LIB_NAME or RUST_LIB_NAME matches begins with: not libLLVMSupport.a and the like. */
const LIBRARY_PREFIX = ["libLLVM", "-."] as const;

export function isLibLlvmName(name: string): boolean {
  // The prefix test first: system directories hold thousands of other names.
  return name.startsWith("libLLVM") && (LIB_NAME.test(name) || RUST_LIB_NAME.test(name));
}

function compareVersionsDesc(a?: number[], b?: number[]): number {
  if (!a && !b) return 0;
  if (!a) return 1;
  if (!b) return -1;
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? 0) - (a[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/**
 * The directory listings and link resolutions of one discovery, each made
 * once: sources overlap (llvm-config's lib directory is also a system one,
 * /usr/lib is listed for llvm-* and for libLLVM*, every candidate is resolved
 * to drop duplicates).
 */
export class DiscoveryReads {
  readonly #listings = new Map<string, string[]>();
  readonly #realPaths = new Map<string, string | undefined>();
  /** Directories whose entries an answer came from (listed, or looked up by name). */
  readonly #directories = new Set<string>();

  /** host.readDir's names (sorted); none if `dir` cannot be listed. */
  list(dir: string, prefix = "", nextOneOf?: string): string[] {
    const key = `${prefix}\0${nextOneOf}\0${dir}`;
    let names = this.#listings.get(key);
    if (!names) {
      this.#directories.add(dir);
      try {
        // Most system directories of other platforms are missing here: a failed
        // listing costs an exception (two under Deno), a check does not.
        names = host.exists(dir) ? host.readDir(dir, prefix, nextOneOf) : [];
      } catch {
        names = [];
      }
      this.#listings.set(key, names);
    }
    return [...names];
  }

  /** Whether `path` exists (following links). */
  exists(path: string): boolean {
    this.#directories.add(dirname(path));
    return host.exists(path);
  }

  /** Every directory read so far, whose entries the answers depend on (ffi/discovery_cache.ts). */
  directories(): string[] {
    return [...this.#directories];
  }

  /** Every path resolved so far, with its answer. */
  resolved(): [string, string | undefined][] {
    return [...this.#realPaths];
  }

  /** `path` with every link resolved; undefined if it does not exist (or dangles). */
  realPath(path: string): string | undefined {
    if (!this.#realPaths.has(path)) {
      let real: string | undefined;
      try {
        real = host.realPath(path);
      } catch {
        // missing, or a dangling link
      }
      this.#realPaths.set(path, real);
    }
    return this.#realPaths.get(path);
  }
}

function isDirectory(path: string): boolean {
  try {
    return host.stat(path).isDirectory;
  } catch {
    return false;
  }
}

/** libLLVM files in one directory, newest first. */
export function librariesIn(dir: string, source: string, reads = new DiscoveryReads()): Candidate[] {
  return reads.list(dir, ...LIBRARY_PREFIX)
    .filter(isLibLlvmName)
    .map((name) => ({ path: join(dir, name), source, nameVersion: resolvedVersion(join(dir, name), reads) }))
    .sort((a, b) => compareVersionsDesc(a.nameVersion, b.nameVersion));
}

/** Version from the name, following symlinks for unversioned names (libLLVM.so -> libLLVM.so.22.1). */
function resolvedVersion(path: string, reads: DiscoveryReads): number[] | undefined {
  const own = versionFromName(basename(path));
  if (own) return own;
  const real = reads.realPath(path);
  return real === undefined ? undefined : versionFromName(basename(real));
}

/** A user-given file or prefix: the file itself, or the libraries under prefix/lib, lib64, itself. */
export function expandUserPath(path: string, source: string, reads = new DiscoveryReads()): Candidate[] {
  if (!isDirectory(path)) return [{ path, source, nameVersion: resolvedVersion(path, reads) }];
  const found = [join(path, "lib"), join(path, "lib64"), path].flatMap((d) => librariesIn(d, source, reads));
  return found.length > 0 ? found : [{ path: join(path, "lib", "libLLVM.so"), source }];
}

function findOnPath(command: string, env: DiscoveryEnv, reads: DiscoveryReads): string | undefined {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (!dir) continue;
    const full = join(dir, command);
    if (reads.exists(full)) return full;
  }
  return undefined;
}

const MULTIARCH: Record<string, string> = { x64: "x86_64-linux-gnu", arm64: "aarch64-linux-gnu" };

/** Directories where distributions and package managers put libLLVM, newest LLVM first. */
function systemDirectories(reads: DiscoveryReads): string[] {
  const versioned = (parent: string, prefix: string, pattern: RegExp) =>
    reads.list(parent, prefix)
      .map((name) => ({ name, m: pattern.exec(name) }))
      .filter((e) => e.m)
      .sort((a, b) => Number(b.m![1]) - Number(a.m![1]))
      .map((e) => join(parent, e.name, "lib"));
  const dirs = [
    ...versioned("/usr/lib", "llvm-", /^llvm-(\d+)$/), // Debian, Ubuntu
    ...versioned("/usr/lib/llvm", "", /^(\d+)$/), // Gentoo
    ...versioned("/usr/lib64", "llvm", /^llvm(\d+)$/), // Fedora compat packages
    ...versioned("/opt/homebrew/opt", "llvm@", /^llvm@(\d+)$/),
    ...versioned("/usr/local/opt", "llvm@", /^llvm@(\d+)$/),
    "/opt/homebrew/opt/llvm/lib",
    "/usr/local/opt/llvm/lib",
  ];
  const multiarch = MULTIARCH[host.arch];
  if (multiarch) dirs.push(join("/usr/lib", multiarch));
  dirs.push("/usr/lib64", "/usr/lib", "/usr/local/lib");
  return dirs;
}

/**
 * Where a Rust toolchain keeps its libLLVM: `<sysroot>/lib` of the rustc on
 * PATH (what `rustc --print sysroot` says for a plain install; found without
 * spawning it), then every rustup toolchain.
 */
function rustToolchainDirectories(env: DiscoveryEnv, reads: DiscoveryReads): string[] {
  const dirs: string[] = [];
  const rustc = findOnPath("rustc", env, reads);
  const realRustc = rustc && reads.realPath(rustc); // undefined: a dangling symlink
  if (realRustc) dirs.push(join(dirname(dirname(realRustc)), "lib"));
  const home = env.RUSTUP_HOME ?? (env.HOME ? join(env.HOME, ".rustup") : undefined);
  if (home) {
    const toolchains = join(home, "toolchains");
    dirs.push(...reads.list(toolchains).reverse().map((t) => join(toolchains, t, "lib")));
  }
  return dirs;
}

/**
 * Every candidate in discovery order. An explicit path (`--llvm` or
 * `BPF_LINKER_LLVM`) is the only candidate when given: the user's choice wins.
 */
export function listCandidates(env: DiscoveryEnv, explicitPath?: string): Candidate[] {
  return [...discoverCandidates(env, explicitPath)];
}

/**
 * The candidates of listCandidates, one group of sources at a time: a caller
 * that stops at the first usable library never scans the later sources (the
 * rustup toolchains, say). The same file reached twice (symlinks) is given once.
 * `reads` records what was read; `whenAllListed` gets every candidate once the
 * last source is listed.
 */
export function* discoverCandidates(
  env: DiscoveryEnv,
  explicitPath?: string,
  reads = new DiscoveryReads(),
  whenAllListed?: (candidates: Candidate[]) => void,
): Generator<Candidate> {
  const seen = new Set<string>();
  const fresh = (c: Candidate) => {
    // A missing file is kept under its own name, so the error lists it.
    const key = reads.realPath(c.path) ?? c.path;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const groups = candidateGroups(env, reads, explicitPath);
  const listed: Candidate[] = [];
  for (const [i, group] of groups.entries()) {
    const candidates = group().filter(fresh);
    listed.push(...candidates);
    // The last source is listed: every candidate is known, whether or not the caller reads on.
    if (i === groups.length - 1) whenAllListed?.(listed);
    yield* candidates;
  }
}

/** Sources in priority order, each listed only when the ones before did not suffice. */
function candidateGroups(env: DiscoveryEnv, reads: DiscoveryReads, explicitPath?: string): (() => Candidate[])[] {
  if (explicitPath) return [() => expandUserPath(explicitPath, "--llvm", reads)];
  if (env.BPF_LINKER_LLVM) return [() => expandUserPath(env.BPF_LINKER_LLVM!, "BPF_LINKER_LLVM", reads)];
  const sysPrefixes = Object.keys(env)
    .filter((k) => /^LLVM_SYS_\d+_PREFIX$/.test(k) && env[k])
    .sort((a, b) => Number(b.split("_")[2]) - Number(a.split("_")[2]));
  return [
    () => (env.LLVM_PREFIX ? expandUserPath(env.LLVM_PREFIX, "LLVM_PREFIX", reads) : []),
    ...sysPrefixes.map((key) => () => expandUserPath(env[key]!, key, reads)),
    // llvm-config's --libdir is <its real bin dir>/../lib; resolving the symlink
    // avoids spawning it (start-up time, and Deno's --allow-run).
    () => {
      const llvmConfig = findOnPath("llvm-config", env, reads);
      const real = llvmConfig && reads.realPath(llvmConfig); // undefined: a dangling symlink
      return real ? librariesIn(join(dirname(dirname(real)), "lib"), "llvm-config", reads) : [];
    },
    // One list, newest LLVM first; at the same major version a Rust toolchain's
    // library comes first (docs/ARCHITECTURE.md#libllvm-discovery).
    () => {
      const system = systemDirectories(reads).flatMap((d) => librariesIn(d, "system", reads));
      return [...system, ...rustToolchainLibraries(env, reads)].sort(compareCandidates);
    },
  ];
}

const RUST_TOOLCHAIN = "rust toolchain";

function rustToolchainLibraries(env: DiscoveryEnv, reads: DiscoveryReads): Candidate[] {
  return rustToolchainDirectories(env, reads).flatMap((dir) =>
    reads.list(dir, ...LIBRARY_PREFIX).filter((n) => RUST_LIB_NAME.test(n)).map((n) => ({
      path: join(dir, n),
      source: RUST_TOOLCHAIN,
      nameVersion: versionFromName(n),
    }))
  );
}

/**
 * Newest major version first; within one, a Rust toolchain's library before
 * the system's (rustc's LLVM is built with profile-guided and post-link
 * optimization and needs no other library: it loads in a third of the time
 * and links ~20% faster, with the same output), then the newest version.
 * Equal ones keep their order (the sort is stable).
 */
function compareCandidates(a: Candidate, b: Candidate): number {
  const major = compareVersionsDesc(a.nameVersion?.slice(0, 1), b.nameVersion?.slice(0, 1));
  if (major !== 0 || !a.nameVersion) return major;
  const rust = Number(b.source === RUST_TOOLCHAIN) - Number(a.source === RUST_TOOLCHAIN);
  return rust || compareVersionsDesc(a.nameVersion, b.nameVersion);
}

const ELF_MACHINE: Record<string, number> = { x64: 62, arm64: 183, riscv64: 243, ppc64: 21, s390x: 22 };

/**
 * Why `path` cannot be this process's libLLVM, judged from its first bytes;
 * undefined when it looks loadable.
 */
export function rejectLibraryFile(path: string): string | undefined {
  let head: Uint8Array;
  try {
    head = host.readHead(path, 64);
  } catch (e) {
    return (e as HostError).code === "ENOENT" ? "does not exist" : "cannot be read";
  }
  const text = new TextDecoder().decode(head.subarray(0, 16));
  if (text.startsWith("!<arch>")) return "static archive, not a shared library";
  if (/^\s*(\/\*|INPUT|GROUP|OUTPUT_FORMAT)/.test(text)) return "linker script, not a shared library";
  if (head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46) {
    if (head.length < 20) return "truncated ELF file";
    if (head[4] !== 2) return "32-bit library";
    const littleEndian = head[5] === 1;
    const view = new DataView(head.buffer, head.byteOffset, head.length);
    const type = view.getUint16(16, littleEndian);
    const machine = view.getUint16(18, littleEndian);
    if (type !== 3) return "not a shared library";
    const want = ELF_MACHINE[host.arch];
    if (want !== undefined && machine !== want) return `wrong architecture (ELF machine ${machine})`;
    return undefined;
  }
  const magic = head.length >= 4 ? new DataView(head.buffer, head.byteOffset).getUint32(0, false) : 0;
  if ([0xfeedfacf, 0xcffaedfe, 0xcafebabe].includes(magic)) return undefined; // Mach-O / fat
  return "not a shared library";
}
