// libc for the Deno back ends (backend_deno.ts, host_deno.ts): the calls Deno
// has no API for (mmap, madvise, dlopen/dlsym/dlclose) or a slow one (whether
// a path exists: a thrown error each time it does not, ~0.15 ms; the names in
// a directory that start with a prefix: an object per entry, 2-6 ms for the
// 1100 entries of /usr/lib/x86_64-linux-gnu, where glob takes ~0.5). dlsym is the
// one function with a compiled call stub (Deno compiles one per function,
// 0.13-0.25 ms each): it is called for every LLVM-C symbol. The others, called
// a few times a run, go through UnsafeFnPointers (~1 µs a call, nothing to
// compile). Null where there is no such libc or no --allow-ffi.

export interface DenoLibc {
  open(path: Uint8Array, flags: number): number;
  close(fd: number): number;
  mmap(addr: bigint, length: bigint, prot: number, flags: number, fd: number, offset: bigint): bigint;
  madvise(addr: bigint, length: bigint, advice: number): number;
  access(path: Uint8Array, mode: number): number;
  glob(pattern: Uint8Array, flags: number, onError: null, result: Uint8Array): number;
  globfree(result: Uint8Array): void;
  dlopen(path: Uint8Array, flags: number): bigint;
  dlsym(handle: bigint, name: Uint8Array): bigint;
  dlclose(handle: bigint): number;
}

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
    const { dlsym } = Deno.dlopen(Deno.build.os === "darwin" ? "libSystem.B.dylib" : "libc.so.6", {
      dlsym: { parameters: ["u64", "buffer"], result: "u64" },
    }).symbols;
    const encoder = new TextEncoder();
    // dlsym's handle for "the libraries loaded into the process": NULL in glibc, (void *)-2 on macOS.
    const RTLD_DEFAULT = Deno.build.os === "darwin" ? 0xfffffffffffffffen : 0n;
    const calls: Record<string, unknown> = { dlsym };
    for (const [name, def] of Object.entries(CALLED_RARELY)) {
      const address = dlsym(RTLD_DEFAULT, encoder.encode(`${name}\0`));
      if (address === 0n) return null;
      const pointer = new Deno.UnsafeFnPointer(Deno.UnsafePointer.create(address)!, def as Deno.ForeignFunction);
      calls[name] = (...args: unknown[]) => pointer.call(...(args as []));
    }
    libc = calls as unknown as DenoLibc;
  } catch {
    // no --allow-ffi, or no such libc
  }
  return libc;
}
