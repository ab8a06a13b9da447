// libc for the Deno back ends (backend_deno.ts, host_deno.ts): the calls Deno
// has no API for (mmap, madvise, dlopen/dlsym/dlclose) or a slow one (whether
// a path exists: a thrown error each time it does not, ~0.15 ms; the names in
// a directory that start with a prefix: an object per entry, 2-6 ms for the
// 1100 entries of /usr/lib/x86_64-linux-gnu, where glob takes ~0.5). All go
// through UnsafeFnPointers (~1 µs a call, nothing to compile; Deno compiles a
// stub per function declared to its dlopen, 0.13-0.25 ms each and ~0.7 ms for
// the process's first): dlsym, found as a static symbol, is called ~150 times
// a run, the others a few times. Null where there is no such libc or no
// --allow-ffi.

export interface DenoLibc {
  open(path: Uint8Array, flags: number): number;
  close(fd: number): number;
  mmap(addr: bigint, length: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  madvise(addr: bigint, length: bigint, advice: number): number;
  access(path: Uint8Array, mode: number): number;
  glob(pattern: Uint8Array, flags: number, onError: null, result: Uint8Array): number;
  globfree(result: Uint8Array): void;
  dlopen(path: Uint8Array, flags: number): bigint;
  /** dlopen on a thread of Deno's blocking pool; `path` must live until the promise settles. */
  dlopenOnAnotherThread(path: Uint8Array, flags: number): Promise<bigint>;
  dlsym(handle: bigint, name: Uint8Array): bigint;
  dlclose(handle: bigint): number;
}

const DLSYM = { parameters: ["u64", "buffer"], result: "u64" } as const satisfies Deno.ForeignFunction;

const CALLED_RARELY = {
  open: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  mmap: { parameters: ["u64", "u64", "i32", "i32", "i32", "i64"], result: "u64" },
  madvise: { parameters: ["u64", "u64", "i32"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  glob: { parameters: ["buffer", "i32", "pointer", "buffer"], result: "i32" },
  globfree: { parameters: ["buffer"], result: "void" },
  dlopen: { parameters: ["buffer", "i32"], result: "u64" },
  dlclose: { parameters: ["u64"], result: "i32" },
} as const satisfies Record<string, Deno.ForeignFunction>;

let libc: DenoLibc | null | undefined;

export function denoLibc(): DenoLibc | null {
  if (libc !== undefined) return libc;
  libc = null;
  try {
    // dlsym's address, as a static symbol: declaring it a function would compile
    // a call stub, the first of the process, ~0.7 ms; its ~150 calls a run cost
    // ~0.15 ms through a pointer.
    const address = Deno.dlopen(Deno.build.os === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      dlsym: { type: "pointer" },
    }).symbols.dlsym as Deno.PointerValue;
    if (address === null) return null;
    const dlsymPointer = new Deno.UnsafeFnPointer(address as Deno.PointerObject<typeof DLSYM>, DLSYM);
    const dlsym = (handle: bigint, name: Uint8Array) => dlsymPointer.call(handle, name);
    const encoder = new TextEncoder();
    // dlsym's handle for "the libraries loaded into the process": NULL in glibc, (void *)-2 on macOS.
    const RTLD_DEFAULT = Deno.build.os === "darwin" ? 0xfffffffffffffffen : 0n;
    const calls: Record<string, unknown> = { dlsym };
    for (const [name, def] of Object.entries(CALLED_RARELY)) {
      const found = dlsym(RTLD_DEFAULT, encoder.encode(`${name}\0`));
      if (found === 0n) return null;
      const pointer = new Deno.UnsafeFnPointer(Deno.UnsafePointer.create(found)!, def as Deno.ForeignFunction);
      calls[name] = (...args: unknown[]) => pointer.call(...(args as []));
      if (name === "dlopen") {
        const onAnotherThread = new Deno.UnsafeFnPointer(Deno.UnsafePointer.create(found)!, {
          ...CALLED_RARELY.dlopen,
          nonblocking: true,
        });
        calls.dlopenOnAnotherThread = (path: Uint8Array, flags: number) => onAnotherThread.call(path, flags);
      }
    }
    libc = calls as unknown as DenoLibc;
  } catch {
    // no --allow-ffi, or no such libc
  }
  return libc;
}
