// Bun back end of ffi/host.ts: node:fs and `process`, which are native on Bun.
// node:fs is required on first use, not imported: this module is also loaded
// under Deno, which must not evaluate a node: module. The calls a successful
// link makes go through libc first (ffi/libc_files_bun.ts): it then needs no
// node:fs at all; node:fs gives the errors.

import type { FileInfo, Host } from "./host.ts";
import { globNames } from "./glob.ts";
import { bunLibc } from "./libc_bun.ts";
import {
  existsThroughLibc,
  readThroughLibc,
  realPathThroughLibc,
  renameThroughLibc,
  statThroughLibc,
  unlinkThroughLibc,
  writeNewThroughLibc,
} from "./libc_files_bun.ts";
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

const decoder = new TextDecoder();

export function bunHost(): Host {
  const proc = (globalThis as unknown as { process: NodeProcess }).process;
  // Required on first use: start-up reaches libLLVM's preload without it (~1.5 ms).
  let nodeFs: NodeFs | undefined;
  const fs = (): NodeFs => (nodeFs ??= require("node:fs"));
  const stat = (path: string): FileInfo => {
    const known = statThroughLibc(path);
    if (known) return known;
    const info = fs().statSync(path);
    return { isFile: info.isFile(), isDirectory: info.isDirectory(), size: info.size, mtimeMs: info.mtimeMs };
  };
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
      if (writeNewThroughLibc(path, bytes)) return;
      const fd = fs().openSync(path, "wx", 0o644);
      try {
        let offset = 0;
        while (offset < bytes.length) offset += fs().writeSync(fd, bytes, offset, bytes.length - offset);
      } finally {
        fs().closeSync(fd);
      }
    },
    rename: (from, to) => void (renameThroughLibc(from, to) || fs().renameSync(from, to)),
    unlink: (path) => void (unlinkThroughLibc(path) || fs().unlinkSync(path)),
    makeDirectory: (path) => void fs().mkdirSync(path, { recursive: true }),
    permits: () => true,
    stat,
    exists: (path) => existsThroughLibc(path) ?? fs().existsSync(path),
    readDir: (path, prefix = "", nextOneOf) => {
      const libc = bunLibc();
      const found = libc &&
        globNames(path, prefix, nextOneOf, libc, (dir) => {
          try {
            return stat(dir).isDirectory;
          } catch {
            return false;
          }
        });
      if (found) return found.sort();
      const names = fs().readdirSync(path);
      return (prefix || nextOneOf !== undefined ? names.filter((name) => hasPrefix(name, prefix, nextOneOf)) : names).sort();
    },
    realPath: (path) => realPathThroughLibc(path) ?? fs().realpathSync(path),
  };
}
