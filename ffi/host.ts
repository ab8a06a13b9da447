// The runtime-neutral host (docs/ARCHITECTURE.md#ffi-and-ownership): everything src/ and ffi/
// use of the process and the file system. host_deno.ts (Deno's own API) and
// host_bun.ts (node:fs and process, native on Bun) implement it; nothing else
// touches `process`, `Deno.*` files or `node:` modules. Under Deno that keeps
// its Node compatibility layer unloaded, which costs every run ~20-35 ms.

import { bunHost } from "./host_bun.ts";
import { denoHost } from "./host_deno.ts";

export interface FileInfo {
  readonly isFile: boolean;
  readonly isDirectory: boolean;
  readonly size: number;
  /** Last modification, in ms since the epoch (to the ms under Deno, finer under Bun). */
  readonly mtimeMs: number;
}

/**
 * What the file calls throw on both runtimes: Node's `code` (`ENOENT`, ...) and
 * message (`ENOENT: no such file or directory, open 'x'`).
 */
export type HostError = Error & { code?: string };

export interface Host {
  /** `bun 1.4.5`, `deno 2.9.6`. */
  readonly runtime: string;
  /** Node's names: `linux`, `darwin`. */
  readonly platform: string;
  /** Node's names: `x64`, `arm64`. */
  readonly arch: string;
  readonly pid: number;
  /** The command's arguments, without the runtime's and the script's. */
  args(): string[];
  /** The environment as it is now. */
  env(): Record<string, string | undefined>;
  cwd(): string;
  exit(code: number): never;
  /**
   * For a process that runs one command and exits: make the JIT's optimizing
   * tiers reluctant (docs/ARCHITECTURE.md#ffi-and-ownership). Nothing under Deno.
   */
  tuneForOneShot(): void;
  /** Peak resident memory so far (getrusage's maxrss), where the runtime tells. */
  peakRssKiB(): number | undefined;
  /** All of `text` to stdout (1) or stderr (2). */
  write(fd: 1 | 2, text: string): void;
  readFile(path: string): Uint8Array;
  readTextFile(path: string): string;
  /** The first `length` bytes of a file (fewer if it is shorter), from one read. */
  readHead(path: string, length: number): Uint8Array;
  appendTextFile(path: string, text: string): void;
  /** Create `path`, which must not exist yet, with mode 0644 (less the umask) and `bytes`. */
  writeNewFile(path: string, bytes: Uint8Array): void;
  rename(from: string, to: string): void;
  unlink(path: string): void;
  /** Create the directory `path` and any missing parents (none of it an error when they exist). */
  makeDirectory(path: string): void;
  /**
   * Whether this process may read or write `path` without asking: under Deno,
   * whether that permission is granted (an optional file is skipped rather than
   * prompted for); always under Bun.
   */
  permits(access: "read" | "write", path: string): boolean;
  /** Follows symbolic links. */
  stat(path: string): FileInfo;
  exists(path: string): boolean;
  /**
   * Entry names, sorted: the same order on every runtime and file system.
   * With `prefix`, only names that start with it and, with `nextOneOf`, go on
   * with one of its characters (filtered before sorting: discovery looks for
   * `libLLVM-*` and `libLLVM.*` in directories of a thousand libraries, and in
   * LLVM's own next to two hundred `libLLVMSupport.a`-like archives).
   */
  readDir(path: string, prefix?: string, nextOneOf?: string): string[];
  realPath(path: string): string;
}

// Both back ends are plain objects made on demand: host_bun.ts fetches node:fs
// only when bunHost() runs, so Deno never evaluates a node: module.
export const host: Host = "Bun" in globalThis ? bunHost() : denoHost();
