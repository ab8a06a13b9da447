// libc for the Bun back ends (backend_bun.ts, host_bun.ts): the calls Bun has
// no API for (a lazy dlopen, dlsym, a read-only private mmap, madvise, a
// dlopen on a thread of its own) or a slower one (the names in a directory that start with a prefix: glob(3)
// filters them in C, ffi/glob.ts; a link's file calls, before or without node:fs,
// ffi/libc_files_bun.ts). One bun:ffi dlopen for all of them: its
// TinyCC stubs are compiled together, once. glibc only; null elsewhere, and
// then Bun's own calls are used. bun:ffi is required when first needed, not
// imported: host_bun.ts is also loaded under Deno.

export interface BunLibc {
  dlopen(path: Uint8Array, flags: number): number | null;
  dlclose(handle: number): number;
  /** `handle` null: RTLD_DEFAULT, every library loaded. */
  dlsym(handle: number | null, name: Uint8Array): number | null;
  open(path: Uint8Array, flags: number): number;
  /** open(2) with a mode, for O_CREAT (glibc's open64: `open` is bound without one). */
  open64(path: Uint8Array, flags: number, mode: number): number;
  /** At most `count` bytes into `buffer` (ssize_t; reads here stay far below 2 GiB). */
  read(fd: number, buffer: Uint8Array, count: number): number;
  /** At most `count` bytes of `buffer` (callers write at most 1 GiB at a time). */
  write(fd: number, buffer: Uint8Array, count: number): number;
  close(fd: number): number;
  statx(dirfd: number, path: Uint8Array, flags: number, mask: number, buffer: Uint8Array): number;
  /** Into `resolved` (PATH_MAX bytes); NULL (null or 0) on failure. */
  realpath(path: Uint8Array, resolved: Uint8Array): number | null;
  rename(from: Uint8Array, to: Uint8Array): number;
  unlink(path: Uint8Array): number;
  /** A number, or a BigInt for MAP_FAILED (u64_fast: only values past 2^53 stay BigInts). */
  mmap(addr: number, length: number, prot: number, flags: number, fd: number, offset: number): number | bigint;
  madvise(addr: number, length: number, advice: number): number;
  glob(pattern: Uint8Array, flags: number, onError: null, result: Uint8Array): number;
  globfree(result: Uint8Array): void;
  /** The NUL-terminated string at the address in slot `index` of the pointer array at `array`. */
  stringAt(array: bigint, index: number): string;
  /**
   * Start `dlopen(path, flags)` on a new thread and return at once, or
   * undefined where that cannot be done (see dlopenOnAnotherThread). `path`
   * is kept alive until the thread is done.
   */
  dlopenOnAnotherThread(path: Uint8Array, flags: number): DlopenThread | undefined;
}

/** A dlopen running on a thread of its own. */
export interface DlopenThread {
  /** Whether the dlopen has returned (the thread is then joined). */
  done(): boolean;
}

/** The part of bun:ffi used here. */
interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: string[]; returns: string }>): { symbols: unknown };
  read: { ptr(address: number, offset: number): number };
  ptr(bytes: Uint8Array): number;
  toArrayBuffer(address: number, offset: number, length: number): ArrayBuffer;
  CString: new (address: number) => { toString(): string };
}

// deno-lint-ignore no-explicit-any
declare const require: (id: "bun:ffi") => any;

let libc: BunLibc | null | undefined;

export function bunLibc(): BunLibc | null {
  if (libc !== undefined) return libc;
  libc = null;
  const proc = (globalThis as unknown as { process?: { platform: string } }).process;
  if (proc?.platform !== "linux") return libc;
  try {
    const ffi = require("bun:ffi") as BunFfi;
    const calls = ffi.dlopen("libc.so.6", {
      dlopen: { args: ["ptr", "i32"], returns: "ptr" },
      dlclose: { args: ["ptr"], returns: "i32" },
      dlsym: { args: ["ptr", "ptr"], returns: "ptr" },
      open: { args: ["ptr", "i32"], returns: "i32" },
      open64: { args: ["ptr", "i32", "i32"], returns: "i32" },
      read: { args: ["i32", "ptr", "u64"], returns: "i32" },
      write: { args: ["i32", "ptr", "u64"], returns: "i32" },
      close: { args: ["i32"], returns: "i32" },
      statx: { args: ["i32", "ptr", "i32", "u32", "ptr"], returns: "i32" },
      realpath: { args: ["ptr", "ptr"], returns: "ptr" },
      rename: { args: ["ptr", "ptr"], returns: "i32" },
      unlink: { args: ["ptr"], returns: "i32" },
      mmap: { args: ["u64", "u64", "i32", "i32", "i32", "i64"], returns: "u64_fast" },
      madvise: { args: ["u64", "u64", "i32"], returns: "i32" },
      glob: { args: ["ptr", "i32", "ptr", "ptr"], returns: "i32" },
      globfree: { args: ["ptr"], returns: "void" },
      mprotect: { args: ["u64", "u64", "i32"], returns: "i32" },
      pthread_create: { args: ["ptr", "ptr", "u64", "ptr"], returns: "i32" },
      pthread_tryjoin_np: { args: ["u64", "ptr"], returns: "i32" },
    }).symbols as Omit<BunLibc, "stringAt" | "dlopenOnAnotherThread"> & ThreadCalls;
    libc = {
      ...calls,
      stringAt: (array, index) => new ffi.CString(ffi.read.ptr(Number(array), index * 8)).toString(),
      dlopenOnAnotherThread: (path, flags) => startDlopenThread(ffi, calls, path, flags),
    };
  } catch {
    // not glibc
  }
  return libc;
}

/** The libc calls that start and join a thread. */
interface ThreadCalls extends Pick<BunLibc, "dlsym" | "mmap"> {
  mprotect(addr: number, length: number, prot: number): number;
  pthread_create(thread: Uint8Array, attr: null, start: number, arg: number): number;
  pthread_tryjoin_np(thread: bigint, result: null): number;
}

const PAGE = 4096;
const PROT_READ_WRITE = 3;
const PROT_READ_EXEC = 5;
const MAP_PRIVATE_ANONYMOUS = 0x22;

/**
 * Start routines that call dlopen(arg, flags), one per `flags`: a thread's
 * start routine gets one argument, dlopen wants two. Bun cannot run a native
 * call on another thread and compiling C at run time (bun:ffi's cc) takes
 * ~11 ms, so the routine is four x86-64 instructions written into a page of
 * its own: `endbr64; mov esi, flags; movabs rax, dlopen; jmp rax`, a tail
 * call with the thread's argument left in rdi. The page is made executable
 * only once written (never writable and executable at once). Elsewhere than
 * x86-64, or where the page cannot be made executable, there is none.
 */
const startRoutines = new Map<number, number | undefined>();

function dlopenStartRoutine(ffi: BunFfi, c: ThreadCalls, flags: number): number | undefined {
  if (startRoutines.has(flags)) return startRoutines.get(flags);
  startRoutines.set(flags, undefined);
  const arch = (globalThis as unknown as { process?: { arch: string } }).process?.arch;
  if (arch !== "x64") return undefined;
  const dlopen = c.dlsym(null, new TextEncoder().encode("dlopen\0")); // RTLD_DEFAULT
  const page = c.mmap(0, PAGE, PROT_READ_WRITE, MAP_PRIVATE_ANONYMOUS, -1, 0);
  if (!dlopen || typeof page !== "number" || page === 0) return undefined;
  const code = new Uint8Array(ffi.toArrayBuffer(page, 0, 21));
  code.set([0xf3, 0x0f, 0x1e, 0xfa, 0xbe]); // endbr64; mov esi, imm32
  new DataView(code.buffer).setUint32(5, flags, true);
  code.set([0x48, 0xb8], 9); // movabs rax, imm64
  new DataView(code.buffer).setBigUint64(11, BigInt(dlopen), true);
  code.set([0xff, 0xe0], 19); // jmp rax
  if (c.mprotect(page, PAGE, PROT_READ_EXEC) !== 0) return undefined;
  startRoutines.set(flags, page);
  return page;
}

/** Paths handed to a dlopen thread, alive until it is joined. */
const pendingPaths = new Set<Uint8Array>();

function startDlopenThread(ffi: BunFfi, c: ThreadCalls, path: Uint8Array, flags: number): DlopenThread | undefined {
  const start = dlopenStartRoutine(ffi, c, flags);
  if (start === undefined) return undefined;
  const thread = new BigUint64Array(1); // pthread_t
  if (c.pthread_create(new Uint8Array(thread.buffer), null, start, ffi.ptr(path)) !== 0) return undefined;
  pendingPaths.add(path);
  let joined = false;
  return {
    done() {
      // 0: joined now; EBUSY: still running.
      if (!joined && c.pthread_tryjoin_np(thread[0], null) === 0) {
        joined = true;
        pendingPaths.delete(path);
      }
      return joined;
    },
  };
}
