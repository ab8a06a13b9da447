// Deno back end of ffi/host.ts: Deno's own API only. A node: import or the
// `process` global would start Deno's Node compatibility layer on every run.

import type { FileInfo, Host, HostError } from "./host.ts";
import { denoLibc } from "./libc_deno.ts";
import { globNames } from "./glob.ts";
import { hasPrefix } from "./name_prefix.ts";

const encoder = new TextEncoder();
const F_OK = 0;

/** libuv's words for the codes users meet (Node's messages, as under Bun). */
const DESCRIPTION: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EEXIST: "file already exists",
  EISDIR: "illegal operation on a directory",
  ENOTDIR: "not a directory",
  ELOOP: "too many symbolic links encountered",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
};

/**
 * Run a file call; a failure is rethrown with Node's message (`ENOENT: no such
 * file or directory, open 'x'`) and code, so messages do not depend on the runtime.
 */
function fsCall<T>(syscall: string, path: string, call: () => T): T {
  try {
    return call();
  } catch (e) {
    const code = (e as HostError).code;
    if (!code) throw e; // not from the OS: Deno's permissions, a bug
    const reason = DESCRIPTION[code] ?? (e as Error).message.replace(/ \(os error \d+\).*$/s, "").toLowerCase();
    const error: HostError = new Error(`${code}: ${reason}, ${syscall} ${path}`, { cause: e });
    error.code = code;
    throw error;
  }
}

const quoted = (path: string) => `'${path}'`;

/** Write all of `bytes`: writeSync may write part of them. */
function writeAll(file: { writeSync(p: Uint8Array): number }, bytes: Uint8Array): void {
  for (let offset = 0; offset < bytes.length;) offset += file.writeSync(bytes.subarray(offset));
}

/**
 * getrusage's ru_maxrss through libc: Deno has no call for it, and reading
 * /proc/self/status needs --allow-all.
 */
function peakRssKiB(): number | undefined {
  const darwin = Deno.build.os === "darwin";
  try {
    const libc = Deno.dlopen(darwin ? "libSystem.B.dylib" : "libc.so.6", {
      getrusage: { parameters: ["i32", "buffer"], result: "i32" },
    });
    try {
      const usage = new BigInt64Array(18); // struct rusage: two timevals, then ru_maxrss, ...
      if (libc.symbols.getrusage(0, new Uint8Array(usage.buffer)) !== 0) return undefined; // RUSAGE_SELF
      return Number(usage[4]) / (darwin ? 1024 : 1); // bytes on macOS, KiB on Linux
    } finally {
      libc.close();
    }
  } catch {
    return undefined;
  }
}

/** The names in `dir` with the prefix, from glob(3) through libc (ffi/glob.ts); undefined where it cannot say. */
function globbed(dir: string, prefix: string, nextOneOf: string | undefined): string[] | undefined {
  const libc = Deno.build.os === "linux" ? denoLibc() : null;
  if (!libc) return undefined;
  return globNames(dir, prefix, nextOneOf, {
    glob: libc.glob,
    globfree: libc.globfree,
    stringAt: (array, index) =>
      Deno.UnsafePointerView.getCString(new Deno.UnsafePointerView(Deno.UnsafePointer.create(array)!).getPointer(index * 8)!),
  }, (path) => {
    try {
      return Deno.statSync(path).isDirectory;
    } catch {
      return false;
    }
  });
}

const ARCH: Record<string, string> = { x86_64: "x64", aarch64: "arm64" };

export function denoHost(): Host {
  return {
    runtime: `deno ${Deno.version.deno}`,
    platform: Deno.build.os === "windows" ? "win32" : Deno.build.os,
    arch: ARCH[Deno.build.arch] ?? Deno.build.arch,
    pid: Deno.pid,
    args: () => [...Deno.args],
    env: () => Deno.env.toObject(),
    cwd: () => Deno.cwd(),
    exit: (code) => Deno.exit(code),
    tuneForOneShot: () => {},
    peakRssKiB,
    write: (fd, text) => writeAll(fd === 1 ? Deno.stdout : Deno.stderr, encoder.encode(text)),
    readFile: (path) => fsCall("open", quoted(path), () => Deno.readFileSync(path)),
    readTextFile: (path) => fsCall("open", quoted(path), () => Deno.readTextFileSync(path)),
    readHead: (path, length) =>
      fsCall("open", quoted(path), () => {
        using file = Deno.openSync(path);
        const head = new Uint8Array(length);
        return head.subarray(0, file.readSync(head) ?? 0);
      }),
    appendTextFile: (path, text) =>
      fsCall("open", quoted(path), () => Deno.writeTextFileSync(path, text, { append: true })),
    writeNewFile: (path, bytes) =>
      fsCall("open", quoted(path), () => {
        using file = Deno.openSync(path, { write: true, createNew: true, mode: 0o644 });
        writeAll(file, bytes);
      }),
    rename: (from, to) => fsCall("rename", `${quoted(from)} -> ${quoted(to)}`, () => Deno.renameSync(from, to)),
    unlink: (path) => fsCall("unlink", quoted(path), () => Deno.removeSync(path)),
    makeDirectory: (path) => fsCall("mkdir", quoted(path), () => Deno.mkdirSync(path, { recursive: true })),
    permits: (access, path) => Deno.permissions.querySync({ name: access, path }).state === "granted",
    stat: (path) =>
      fsCall("stat", quoted(path), (): FileInfo => {
        const info = Deno.statSync(path);
        return { isFile: info.isFile, isDirectory: info.isDirectory, size: info.size, mtimeMs: info.mtime?.getTime() ?? 0 };
      }),
    exists(path) {
      // Usually false (discovery searches PATH): Deno's stat would throw an error each time.
      const libc = denoLibc();
      if (libc) return libc.access(encoder.encode(`${path}\0`), F_OK) === 0; // follows links, as stat
      // An error's stack trace would cost more than the stat.
      const limit = Error.stackTraceLimit;
      Error.stackTraceLimit = 0;
      try {
        Deno.statSync(path);
        return true;
      } catch {
        return false;
      } finally {
        Error.stackTraceLimit = limit;
      }
    },
    readDir: (path, prefix = "", nextOneOf) =>
      fsCall("scandir", quoted(path), () => {
        const found = globbed(path, prefix, nextOneOf);
        if (found) return found.sort();
        const names: string[] = [];
        for (const { name } of Deno.readDirSync(path)) if (hasPrefix(name, prefix, nextOneOf)) names.push(name);
        return names.sort();
      }),
    realPath: (path) => fsCall("realpath", quoted(path), () => Deno.realPathSync(path)),
  };
}
