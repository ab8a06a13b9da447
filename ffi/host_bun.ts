// Bun back end of ffi/host.ts: node:fs and `process`, which are native on Bun.
// node:fs is required when bunHost() runs, not imported: this module is also
// loaded under Deno, which must not evaluate a node: module.

import type { FileInfo, Host } from "./host.ts";
import { globNames } from "./glob.ts";
import { bunLibc } from "./libc_bun.ts";
import { hasPrefix } from "./name_prefix.ts";

/** The part of node:fs used here. */
interface NodeFs {
  readFileSync(path: string): Uint8Array;
  readFileSync(path: string, encoding: "utf8"): string;
  openSync(path: string, flags: string, mode?: number): number;
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number;
  writeSync(fd: number, data: string): number;
  writeSync(fd: number, data: Uint8Array, offset: number, length: number): number;
  closeSync(fd: number): void;
  appendFileSync(path: string, data: string): void;
  renameSync(from: string, to: string): void;
  unlinkSync(path: string): void;
  statSync(path: string): { isFile(): boolean; isDirectory(): boolean; size: number; mtimeMs: number };
  mkdirSync(path: string, options: { recursive: true }): void;
  existsSync(path: string): boolean;
  readdirSync(path: string): string[];
  realpathSync(path: string): string;
}

/** The part of Node's `process` used here. */
interface NodeProcess {
  argv: string[];
  env: Record<string, string | undefined>;
  pid: number;
  platform: string;
  arch: string;
  exitCode: number | undefined;
  cwd(): string;
  exit(code: number): never;
  resourceUsage?(): { maxRSS: number };
}

// Bun's require, which works in ES modules too: ~1 ms less start-up than
// process.getBuiltinModule("node:fs") in the compiled executable.
declare const require: (id: "node:fs") => NodeFs;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const O_RDONLY_CLOEXEC = 0o2000000;

/**
 * The first `limit` bytes of `path` (all of it: Infinity) through libc, for the
 * small files start-up reads (the discovery cache, libraries' heads) before
 * node:fs is needed; undefined without libc or on any failure, and the caller
 * asks node:fs, which also gives its error.
 */
function readThroughLibc(path: string, limit: number): Uint8Array | undefined {
  const libc = bunLibc();
  if (!libc) return undefined;
  const fd = libc.open(encoder.encode(`${path}\0`), O_RDONLY_CLOEXEC);
  if (fd < 0) return undefined;
  try {
    let buffer = new Uint8Array(Math.min(limit, 16384));
    let length = 0;
    for (;;) {
      if (length === buffer.length) {
        if (length >= limit) return buffer;
        const grown = new Uint8Array(Math.min(limit, buffer.length * 2));
        grown.set(buffer);
        buffer = grown;
      }
      const n = libc.read(fd, buffer.subarray(length), buffer.length - length);
      if (n < 0) return undefined;
      if (n === 0) return buffer.subarray(0, length);
      length += n;
    }
  } finally {
    libc.close(fd);
  }
}

export function bunHost(): Host {
  const proc = (globalThis as unknown as { process: NodeProcess }).process;
  // Required on first use: start-up reaches libLLVM's preload without it (~1.5 ms).
  let nodeFs: NodeFs | undefined;
  const fs = (): NodeFs => (nodeFs ??= require("node:fs"));
  const bun = (globalThis as unknown as {
    Bun: { version: string; unsafe: { setJITPolicy?(scale: number): void } };
  }).Bun;
  return {
    runtime: `bun ${bun.version}`,
    platform: proc.platform,
    arch: proc.arch,
    pid: proc.pid,
    args: () => proc.argv.slice(2),
    env: () => proc.env,
    cwd: () => proc.cwd(),
    exit: (code) => proc.exit(code),
    // JavaScriptCore's tier-up thresholds x30: most of a link's JS is glue run once or a
    // few thousand times, whose DFG/FTL compiles cost ~5 MiB of peak memory (the compilers'
    // code paged in, their heaps); the input readers' loops still get them (docs/ARCHITECTURE.md#ffi-and-ownership).
    tuneForOneShot: () => bun.unsafe.setJITPolicy?.(30),
    peakRssKiB: () => proc.resourceUsage?.().maxRSS,
    write: (fd, text) => void fs().writeSync(fd, text),
    readFile(path) {
      const bytes = fs().readFileSync(path); // a Buffer: handed on as a plain Uint8Array, as under Deno
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
    },
    readTextFile: (path) => {
      const bytes = readThroughLibc(path, Infinity);
      return bytes ? decoder.decode(bytes) : fs().readFileSync(path, "utf8");
    },
    readHead(path, length) {
      const head = readThroughLibc(path, length);
      if (head) return head;
      const fd = fs().openSync(path, "r");
      try {
        const buffer = new Uint8Array(length);
        return buffer.subarray(0, fs().readSync(fd, buffer, 0, length, 0));
      } finally {
        fs().closeSync(fd);
      }
    },
    appendTextFile: (path, text) => fs().appendFileSync(path, text),
    writeNewFile(path, bytes) {
      const fd = fs().openSync(path, "wx", 0o644);
      try {
        let offset = 0;
        while (offset < bytes.length) offset += fs().writeSync(fd, bytes, offset, bytes.length - offset);
      } finally {
        fs().closeSync(fd);
      }
    },
    rename: (from, to) => fs().renameSync(from, to),
    unlink: (path) => fs().unlinkSync(path),
    makeDirectory: (path) => void fs().mkdirSync(path, { recursive: true }),
    permits: () => true,
    stat(path): FileInfo {
      const info = fs().statSync(path);
      return { isFile: info.isFile(), isDirectory: info.isDirectory(), size: info.size, mtimeMs: info.mtimeMs };
    },
    exists: (path) => fs().existsSync(path),
    readDir: (path, prefix = "", nextOneOf) => {
      const libc = bunLibc();
      const found = libc &&
        globNames(path, prefix, nextOneOf, libc, (dir) => {
          try {
            return fs().statSync(dir).isDirectory();
          } catch {
            return false;
          }
        });
      if (found) return found.sort();
      const names = fs().readdirSync(path);
      return (prefix || nextOneOf !== undefined ? names.filter((name) => hasPrefix(name, prefix, nextOneOf)) : names).sort();
    },
    realPath: (path) => fs().realpathSync(path),
  };
}
