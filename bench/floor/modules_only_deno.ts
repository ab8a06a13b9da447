// The floor of running the linker's sources under `deno run`: what
// dlopen_only_deno.ts does, after loading the modules a plain link loads
// (src/main.ts's static imports, then the Deno FFI back end, src/input/files.ts
// and src/pipeline.ts, as main.ts imports them), running none of their code
// beyond evaluating them. Its time minus dlopen_only's is what Deno's start
// and those modules cost over the compiled executable's start, before any
// link work: the lowest `deno run` / compiled ratio the sources can reach.
//
// usage: modules_only_deno <libLLVM path> <linker root (holds src/ and ffi/)>

const [path, root] = Deno.args;
if (!path || !root) throw new Error("usage: modules_only_deno <libLLVM path> <linker root>");

// Keep in step with src/main.ts's imports (static first, then those a link makes).
const STATIC = [
  "ffi/host.ts",
  "ffi/context.ts",
  "ffi/llvm.ts",
  "src/cli.ts",
  "src/emit.ts",
  "src/errors.ts",
  "src/load_llvm.ts",
  "src/log.ts",
  "src/response_file.ts",
  "src/timing.ts",
  "src/version.ts",
];
const FOR_A_LINK = ["ffi/backend_deno.ts", "src/input/files.ts", "src/pipeline.ts"];
const url = (file: string) => new URL(file, `file://${root.endsWith("/") ? root : `${root}/`}`).href;
await Promise.all(STATIC.map((f) => import(url(f))));
await Promise.all(FOR_A_LINK.map((f) => import(url(f))));

const lib = Deno.dlopen(path, { LLVMGetVersion: { parameters: ["buffer", "buffer", "buffer"], result: "void" } });
const version = new Uint32Array(3);
const bytes = new Uint8Array(version.buffer);
lib.symbols.LLVMGetVersion(bytes.subarray(0, 4), bytes.subarray(4, 8), bytes.subarray(8, 12));
if (version[0] === 0) Deno.exit(1);
