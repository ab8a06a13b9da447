// A link's file calls through libc, for the Bun host (ffi/host_bun.ts):
// requiring node:fs costs a compiled executable ~1.5 ms, on the path of every
// link, while these are the handful of calls a successful link makes
// (docs/ARCHITECTURE.md#ffi-and-ownership). Each answers undefined or false
// on any failure, and the host then asks node:fs, which gives Node's error
// (and its answer, should the file have changed in between). glibc only: no
// libc, and node:fs does everything.

import { type BunLibc, bunLibc } from "./libc_bun.ts";
import type { FileInfo } from "./host.ts";

const encoder = new TextEncoder();
const O_WRONLY = 0o1;
const O_CREAT = 0o100;
const O_EXCL = 0o200;
const O_CLOEXEC = 0o2000000;
const AT_FDCWD = -100;
const STATX_TYPE = 0x1;
const STATX_MTIME = 0x40;
const STATX_SIZE = 0x200;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const PATH_MAX = 4096;
/** The most one write(2) is asked for. */
const WRITE_CHUNK = 1 << 30;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** libc and `path` as C strings, or undefined: no libc, or a NUL in a path (libc would cut it there). */
function withPaths(...paths: string[]): { libc: BunLibc; names: Uint8Array[] } | undefined {
  const libc = bunLibc();
  if (!libc || paths.some((p) => p.includes("\0"))) return undefined;
  return { libc, names: paths.map((p) => encoder.encode(`${p}\0`)) };
}

/**
 * The first `limit` bytes of `path` (all of it: Infinity): for the small files
 * start-up reads (the discovery cache, libraries' heads, response files).
 */
export function readThroughLibc(path: string, limit: number): Uint8Array | undefined {
  const call = withPaths(path);
  if (!call) return undefined;
  const { libc, names: [name] } = call;
  const fd = libc.open(name, O_CLOEXEC); // O_RDONLY is 0
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

/** stat(2), links followed (statx(2): one layout on every Linux architecture). */
export function statThroughLibc(path: string): FileInfo | undefined {
  const call = withPaths(path);
  if (!call) return undefined;
  const buffer = new Uint8Array(256); // struct statx
  if (call.libc.statx(AT_FDCWD, call.names[0], 0, STATX_TYPE | STATX_SIZE | STATX_MTIME, buffer) !== 0) {
    return undefined;
  }
  const view = new DataView(buffer.buffer);
  const le = HOST_LITTLE_ENDIAN;
  const type = view.getUint16(28, le) & S_IFMT; // stx_mode
  const u64 = (at: number) => le
    ? view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32
    : view.getUint32(at + 4, false) + view.getUint32(at, false) * 2 ** 32;
  return {
    isFile: type === S_IFREG,
    isDirectory: type === S_IFDIR,
    size: u64(40), // stx_size
    // stx_mtime: tv_sec (i64), tv_nsec (u32); Node's mtimeMs is sec * 1e3 + nsec / 1e6.
    mtimeMs: Number(view.getBigInt64(112, le)) * 1e3 + view.getUint32(120, le) / 1e6,
  };
}

let statxWorks: boolean | undefined;

/**
 * Whether `path` exists, links followed (as existsSync tells); undefined
 * without libc, or where statx(2) fails even for `/` (an old kernel, a
 * seccomp filter that refuses it): a failure would then say nothing.
 */
export function existsThroughLibc(path: string): boolean | undefined {
  const call = withPaths(path);
  if (!call) return undefined;
  const statx = (name: Uint8Array) => call.libc.statx(AT_FDCWD, name, 0, STATX_TYPE, new Uint8Array(256)) === 0;
  statxWorks ??= statx(encoder.encode("/\0"));
  return statxWorks ? statx(call.names[0]) : undefined;
}

export function realPathThroughLibc(path: string): string | undefined {
  const call = withPaths(path);
  if (!call) return undefined;
  const resolved = new Uint8Array(PATH_MAX + 1);
  if (!call.libc.realpath(call.names[0], resolved)) return undefined;
  const end = resolved.indexOf(0);
  return new TextDecoder().decode(resolved.subarray(0, end < 0 ? resolved.length : end));
}

/**
 * Create `path`, which must not exist, with mode 0644 (less the umask) and
 * `bytes`; false when anything fails, and nothing is left at `path` then.
 */
export function writeNewThroughLibc(path: string, bytes: Uint8Array): boolean {
  const call = withPaths(path);
  if (!call) return false;
  const { libc, names: [name] } = call;
  const fd = libc.open64(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644);
  if (fd < 0) return false;
  let written = true;
  for (let offset = 0; written && offset < bytes.length;) {
    const n = libc.write(fd, bytes.subarray(offset), Math.min(bytes.length - offset, WRITE_CHUNK));
    if (n <= 0) written = false;
    else offset += n;
  }
  if (libc.close(fd) !== 0) written = false;
  if (!written) libc.unlink(name);
  return written;
}

export function renameThroughLibc(from: string, to: string): boolean {
  const call = withPaths(from, to);
  return call !== undefined && call.libc.rename(call.names[0], call.names[1]) === 0;
}

export function unlinkThroughLibc(path: string): boolean {
  const call = withPaths(path);
  return call !== undefined && call.libc.unlink(call.names[0]) === 0;
}
