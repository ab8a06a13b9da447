// The `deno run` start-up floor: what bench/floor/dlopen_only.ts is for the
// compiled executable, under `deno run` with the permissions and the
// configuration (deno.json, package.json) the linker's own `deno run` gets:
// Deno starts, loads this one module, dlopens libLLVM and asks its version.
// Its time minus dlopen_only's is what running under `deno run` costs before
// any of the linker's modules load.

const path = Deno.args[0];
if (!path) throw new Error("usage: dlopen_only_deno <libLLVM path>");
const lib = Deno.dlopen(path, { LLVMGetVersion: { parameters: ["buffer", "buffer", "buffer"], result: "void" } });
const version = new Uint32Array(3);
const bytes = new Uint8Array(version.buffer);
lib.symbols.LLVMGetVersion(bytes.subarray(0, 4), bytes.subarray(4, 8), bytes.subarray(8, 12));
if (version[0] === 0) Deno.exit(1);
