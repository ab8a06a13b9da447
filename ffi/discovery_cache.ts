// libLLVM discovery remembered between runs (docs/ARCHITECTURE.md#libllvm-discovery):
// the candidate list of the last full discovery, with what it was read from
// (the directories' modification times, every path resolved and its answer),
// reused while all of that still reads the same. Listing ~15 directories and
// resolving ~10 links costs a one-shot process ~3 ms of cold JavaScript;
// checking a remembered list costs a fraction of that. Only the order of the
// candidates is remembered: each is still checked and probed when loaded.

import { type Candidate, type DiscoveryEnv, discoverCandidates, DiscoveryReads } from "./discover.ts";
import { host } from "./host.ts";
import { dirname, join } from "./path.ts";

/** Bumped whenever discovery's rules or this file's shape change: an older file is ignored. */
const FORMAT = 1;

/**
 * A directory changed this recently (ms) could change again within the same
 * tick of the file system's clock, keeping its time: such a discovery is not
 * remembered.
 */
export const SETTLED_MS = 2000;

interface Remembered {
  format: number;
  key: string;
  /** Each directory read, with its modification time; null: it did not exist. */
  directories: [string, number | null][];
  /** Each path resolved, with its answer; null: it did not exist. */
  resolved: [string, string | null][];
  candidates: Candidate[];
}

/**
 * Where discovery is remembered for `env`: `$XDG_CACHE_HOME/bpf-linker` (else
 * `~/.cache/bpf-linker`), one file per set of the variables it reads (rustc
 * runs the linker with its own directories added to PATH: a build and a shell
 * do not take turns overwriting one file), or nowhere with
 * `BPF_LINKER_NO_CACHE` set, no home, or an LLVM prefix given (keyOf).
 */
export function discoveryCacheFile(env: DiscoveryEnv): string | undefined {
  return fileFor(env, keyOf(env));
}

function fileFor(env: DiscoveryEnv, key: string | undefined): string | undefined {
  if (env.BPF_LINKER_NO_CACHE || key === undefined) return undefined;
  const base = env.XDG_CACHE_HOME || (env.HOME ? join(env.HOME, ".cache") : undefined);
  return base ? join(base, "bpf-linker", `llvm-discovery-${fnv1a(key)}.json`) : undefined;
}

/** FNV-1a, 32 bits, as 8 hex digits: a short file name for a key (the file holds the key itself). */
export function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0).toString(16).padStart(8, "0");
}

/**
 * What else discovery depends on: the variables it reads. Undefined where an
 * LLVM prefix is given (LLVM_PREFIX, LLVM_SYS_*_PREFIX): its files are read
 * directly, and cheaply; not remembered.
 */
function keyOf(env: DiscoveryEnv): string | undefined {
  if (env.LLVM_PREFIX || Object.keys(env).some((k) => /^LLVM_SYS_\d+_PREFIX$/.test(k) && env[k])) return undefined;
  return JSON.stringify([FORMAT, host.platform, host.arch, env.PATH ?? "", env.HOME ?? "", env.RUSTUP_HOME ?? ""]);
}

/**
 * discoverCandidates, remembered: the last full discovery's candidates while
 * everything they were read from reads the same, else a new discovery, which
 * is remembered once its last source is listed (best effort: a file that
 * cannot be written is no error). An explicit path (`--llvm`,
 * `BPF_LINKER_LLVM`) is never remembered: it is the only candidate.
 */
export function* rememberedCandidates(env: DiscoveryEnv, explicitPath?: string): Generator<Candidate> {
  const key = explicitPath || env.BPF_LINKER_LLVM ? undefined : keyOf(env);
  const file = fileFor(env, key);
  if (!file || !key) return yield* discoverCandidates(env, explicitPath);
  const recalled = recall(file, key);
  if (recalled) return yield* recalled;
  const reads = new DiscoveryReads();
  yield* discoverCandidates(env, undefined, reads, (candidates) => remember(file, key, reads, candidates));
}

/** The remembered candidates, if the file is there, this one's, and all it was read from reads the same. */
export function recall(file: string, key: string): Candidate[] | undefined {
  let remembered: Remembered;
  // Deno asks for a permission it was not given: an optional file is not worth asking for.
  if (!host.permits("read", file)) return undefined;
  try {
    remembered = JSON.parse(host.readTextFile(file));
  } catch {
    return undefined;
  }
  if (remembered?.format !== FORMAT || remembered.key !== key) return undefined;
  const reads = new DiscoveryReads();
  for (const [dir, time] of remembered.directories) {
    if (modified(dir) !== time) return undefined;
  }
  for (const [path, real] of remembered.resolved) {
    if ((reads.realPath(path) ?? null) !== real) return undefined;
  }
  return remembered.candidates;
}

/** A directory's modification time; null if it does not exist. */
function modified(dir: string): number | null {
  if (!host.exists(dir)) return null;
  try {
    // Whole ms: Deno tells no finer, and both runtimes read the same file.
    return Math.floor(host.stat(dir).mtimeMs);
  } catch {
    return null;
  }
}

function remember(file: string, key: string, reads: DiscoveryReads, candidates: Candidate[]): void {
  if (!host.permits("write", dirname(file))) return;
  const directories = reads.directories().map((dir): [string, number | null] => [dir, modified(dir)]);
  const now = Date.now();
  if (directories.some(([, time]) => time !== null && time > now - SETTLED_MS)) return;
  const resolved = reads.resolved().map(([path, real]): [string, string | null] => [path, real ?? null]);
  const remembered: Remembered = { format: FORMAT, key, directories, resolved, candidates };
  const temp = `${file}.${host.pid}.tmp`;
  try {
    host.makeDirectory(dirname(file));
    host.writeNewFile(temp, new TextEncoder().encode(JSON.stringify(remembered)));
    host.rename(temp, file);
  } catch {
    try {
      host.unlink(temp);
    } catch {
      // never created
    }
  }
}
