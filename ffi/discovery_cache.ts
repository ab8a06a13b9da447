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

/** The last discovery remembered for an environment, read but not yet checked against the file system. */
export interface RecalledDiscovery {
  readonly file: string;
  readonly key: string;
  /** The remembered candidates: a guess (what to start loading early) until `stillValid()`. */
  readonly candidates: readonly Candidate[];
  /** Whether everything the discovery was read from still reads the same. */
  stillValid(): boolean;
}

/**
 * What discovery remembered for `env`, unchecked; undefined when nothing is
 * remembered or nothing may be (an explicit path, `BPF_LINKER_LLVM`, a prefix,
 * no cache): its candidates are what to start loading ahead (ffi/llvm.ts
 * preloadLlvm); rememberedCandidates still checks them before they count.
 */
export function recallDiscovery(env: DiscoveryEnv, explicitPath?: string): RecalledDiscovery | undefined {
  const slot = cacheSlot(env, explicitPath);
  if (!slot) return undefined;
  const { file, key } = slot;
  const remembered = readRemembered(file, key);
  return remembered && {
    file,
    key,
    candidates: remembered.candidates,
    stillValid: () => stillReadsTheSame(remembered),
  };
}

/**
 * discoverCandidates, remembered: the last full discovery's candidates while
 * everything they were read from reads the same, else a new discovery, which
 * is remembered once its last source is listed (best effort: a file that
 * cannot be written is no error). An explicit path (`--llvm`,
 * `BPF_LINKER_LLVM`) is never remembered: it is the only candidate. `recalled`:
 * recallDiscovery's answer for the same arguments when the caller has it
 * (null: it found nothing), not to read the file twice.
 */
export function* rememberedCandidates(
  env: DiscoveryEnv,
  explicitPath?: string,
  recalled: RecalledDiscovery | null = recallDiscovery(env, explicitPath) ?? null,
): Generator<Candidate> {
  if (recalled?.stillValid()) return yield* recalled.candidates;
  const slot = recalled ?? cacheSlot(env, explicitPath);
  if (!slot) return yield* discoverCandidates(env, explicitPath);
  const { file, key } = slot;
  const reads = new DiscoveryReads();
  yield* discoverCandidates(env, undefined, reads, (candidates) => remember(file, key, reads, candidates));
}

/** Where discovery for `env` is remembered, and under which key; undefined: it is not. */
function cacheSlot(env: DiscoveryEnv, explicitPath?: string): { file: string; key: string } | undefined {
  const key = explicitPath || env.BPF_LINKER_LLVM ? undefined : keyOf(env);
  const file = fileFor(env, key);
  return file && key ? { file, key } : undefined;
}

/** The remembered discovery in `file`, if it is there and this one's (`key`, the format). */
function readRemembered(file: string, key: string): Remembered | undefined {
  let remembered: Remembered;
  // Deno asks for a permission it was not given: an optional file is not worth asking for.
  if (!host.permits("read", file)) return undefined;
  try {
    remembered = JSON.parse(host.readTextFile(file));
  } catch {
    return undefined;
  }
  return remembered?.format === FORMAT && remembered.key === key ? remembered : undefined;
}

/** Whether every directory and path `remembered` was read from reads the same now. */
function stillReadsTheSame(remembered: Remembered): boolean {
  const reads = new DiscoveryReads();
  for (const [dir, time] of remembered.directories) {
    if (modified(dir) !== time) return false;
  }
  for (const [path, real] of remembered.resolved) {
    if ((reads.realPath(path) ?? null) !== real) return false;
  }
  return true;
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
