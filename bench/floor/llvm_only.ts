// The LLVM-phases floor of cases (a), (c), (d) and (e): a program that asks
// libLLVM for exactly the work the linker asks of it on a plain-bitcode link
// (docs/ARCHITECTURE.md#pipeline: configure LLVM, parse and link, internalize,
// optimize, codegen), with the same options and the same C API calls, and
// nothing of the linker's own: no discovery, no archive member selection, no
// producer checks, no license/version merge, no debug-info sanitizer or
// pruning, no object checks. `bun build --compile`d by the benchmark, it is
// what any in-process LLVM-C linker hosted by Bun can at best reach; under
// `deno run` (one module, nothing compiled at load), what one run by
// `deno run` can. It does not import src/ or ffi/ on purpose: it mirrors them
// call for call.
//
// usage: llvm_only <libLLVM path> --export a,b,... [--btf] [-O1|-O2|-O3|-Os|-Oz]
//                  [--no-expand-memcpy-in-order] [--time] -o out.o in1.bc in2.bc ... (or .ll)

// ---------------------------------------------------------------------------
// The runtime: only what this program needs, each the cheapest way its runtime
// offers, as the linker's back ends do (ffi/backend_bun.ts, ffi/backend_deno.ts).
// Imports are require()s behind the runtime check: Deno has neither bun:ffi nor,
// without loading its Node layer (~20 ms), node:fs.

/** Bun: a number; Deno: a pointer object. NULL is null (or 0). */
type Ptr = unknown;
type NativeType = "ptr" | "i32" | "u64" | "void";
interface NativeDef {
  args: NativeType[];
  returns: NativeType;
}
// deno-lint-ignore no-explicit-any
type NativeCall = (...args: any[]) => any;

interface Runtime {
  args: string[];
  stderr(text: string): void;
  exit(code: number): never;
  open(path: string, defs: Record<string, NativeDef>): Record<string, NativeCall>;
  /** What a "ptr" argument is given for a buffer. */
  address(buffer: ArrayBufferView): Ptr;
  /** A buffer's address as a number, for a table of pointers. */
  addressValue(buffer: ArrayBufferView): bigint;
  /** The pointer an out-parameter slot holds; null for NULL. */
  pointer(slot: BigUint64Array): Ptr;
  /** A NUL-terminated string, or `length` bytes. */
  text(p: Ptr, length?: number): string;
  bytes(p: Ptr, size: number): Uint8Array;
  fileSize(path: string): number;
  writeFile(path: string, bytes: Uint8Array): void;
  readText(path: string): string;
}

// deno-lint-ignore no-explicit-any
declare const require: (id: string) => any;

function bunRuntime(): Runtime {
  const ffi = require("bun:ffi");
  const fs = require("node:fs");
  return {
    args: process.argv.slice(2),
    stderr: (text) => process.stderr.write(text),
    exit: (code) => process.exit(code),
    open(path, defs) {
      // As the linker's Bun back end does: load libLLVM with RTLD_LAZY first,
      // so Bun's dlopen does not bind all of its imports up front.
      try {
        ffi.dlopen("libc.so.6", { dlopen: { args: ["ptr", "i32"], returns: "ptr" } }).symbols
          .dlopen(new TextEncoder().encode(`${path}\0`), 1 /* RTLD_LAZY */);
      } catch {
        // not glibc: Bun's dlopen alone
      }
      const table: Record<string, { args: string[]; returns: string }> = {};
      for (const [name, def] of Object.entries(defs)) {
        table[name] = { args: def.args, returns: def.returns === "u64" ? "u64_fast" : def.returns };
      }
      return ffi.dlopen(path, table).symbols;
    },
    address: (buffer) => buffer,
    addressValue: (buffer) => BigInt(ffi.ptr(buffer)),
    pointer: (slot) => Number(slot[0]) || null,
    text: (p, length) => (length === undefined ? new ffi.CString(p) : new ffi.CString(p, 0, length)).toString(),
    bytes: (p, size) => new Uint8Array(ffi.toArrayBuffer(p, 0, size)),
    fileSize: (path) => fs.statSync(path).size,
    writeFile: (path, bytes) => fs.writeFileSync(path, bytes),
    readText: (path) => fs.readFileSync(path, "utf8"),
  };
}

function denoRuntime(): Runtime {
  const encoder = new TextEncoder(), decoder = new TextDecoder();
  const denoType = (t: NativeType) => (t === "ptr" ? "pointer" : t);
  const view = (p: Ptr, size: number) =>
    new Uint8Array(Deno.UnsafePointerView.getArrayBuffer(p as Deno.PointerObject, size));
  const of = (buffer: ArrayBufferView) => Deno.UnsafePointer.of(buffer as Uint8Array<ArrayBuffer>);
  return {
    args: Deno.args,
    stderr: (text) => {
      const bytes = encoder.encode(text);
      for (let done = 0; done < bytes.length;) done += Deno.stderr.writeSync(bytes.subarray(done));
    },
    exit: (code) => Deno.exit(code),
    open(path, defs) {
      // Addresses only (static symbols: Deno compiles no call stub for them),
      // each called through an UnsafeFnPointer, as ffi/backend_deno.ts begins.
      const statics: Record<string, { type: "pointer" }> = {};
      for (const name of Object.keys(defs)) statics[name] = { type: "pointer" };
      const symbols = Deno.dlopen(path, statics).symbols as Record<string, Deno.PointerValue>;
      const calls: Record<string, NativeCall> = {};
      for (const [name, def] of Object.entries(defs)) {
        const definition = { parameters: def.args.map(denoType), result: denoType(def.returns) } as Deno.ForeignFunction;
        const fn = new Deno.UnsafeFnPointer(symbols[name] as Deno.PointerObject<typeof definition>, definition);
        calls[name] = (...args: unknown[]) => fn.call(...(args as []));
      }
      return calls;
    },
    address: of,
    addressValue: (buffer) => BigInt(Deno.UnsafePointer.value(of(buffer))),
    pointer: (slot) => Deno.UnsafePointer.create(slot[0]),
    text: (p, length) =>
      length === undefined
        ? Deno.UnsafePointerView.getCString(p as Deno.PointerObject)
        : decoder.decode(view(p, length)),
    bytes: view,
    fileSize: (path) => Deno.statSync(path).size,
    writeFile: (path, bytes) => Deno.writeFileSync(path, bytes),
    readText: (path) => Deno.readTextFileSync(path),
  };
}

const rt = "Bun" in globalThis ? bunRuntime() : denoRuntime();

// ---------------------------------------------------------------------------
// Arguments

function usage(message: string): never {
  rt.stderr(
    `llvm_only: ${message}\nusage: llvm_only <libLLVM path> --export a,b,... [--btf] [-O2|-O3|...] ` +
      "[--no-expand-memcpy-in-order] [--time] -o out.o inputs...\n",
  );
  return rt.exit(2);
}

const argv = rt.args.slice();
const libPath = argv.shift() ?? usage("no libLLVM path");
let exports: string[] = [];
let btf = false;
let optLevel = "2";
let expandInOrder = true;
let showTime = false;
let output: string | undefined;
const inputs: string[] = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  if (a === "--export") exports = (argv[++i] ?? usage("--export needs a list")).split(",").filter((s) => s);
  else if (a === "--btf") btf = true;
  else if (/^--?O[0-3sz]$/.test(a)) optLevel = a.replace(/^--?O/, "") === "0" ? "1" : a.replace(/^--?O/, "");
  else if (a === "--no-expand-memcpy-in-order") expandInOrder = false;
  else if (a === "--time") showTime = true;
  else if (a === "-o") output = argv[++i] ?? usage("-o needs a path");
  else if (a.startsWith("-")) usage(`unknown option ${a}`);
  else inputs.push(a);
}
if (!output) usage("no -o");
if (inputs.length === 0) usage("no inputs");

const phases: [string, number][] = [];
let mark = performance.now();
function phase(name: string): void {
  const now = performance.now();
  phases.push([name, now - mark]);
  mark = now;
}

// ---------------------------------------------------------------------------
// libLLVM: only the symbols used below

const P = "ptr" as const;
const llvm = rt.open(libPath, {
  LLVMParseCommandLineOptions: { args: ["i32", P, P], returns: "void" },
  LLVMInitializeBPFTargetInfo: { args: [], returns: "void" },
  LLVMInitializeBPFTarget: { args: [], returns: "void" },
  LLVMInitializeBPFTargetMC: { args: [], returns: "void" },
  LLVMInitializeBPFAsmPrinter: { args: [], returns: "void" },
  LLVMInitializeBPFAsmParser: { args: [], returns: "void" },
  LLVMInitializeBPFDisassembler: { args: [], returns: "void" },
  LLVMContextCreate: { args: [], returns: P },
  LLVMModuleCreateWithNameInContext: { args: [P, P], returns: P },
  LLVMCreateMemoryBufferWithContentsOfFile: { args: [P, P, P], returns: "i32" },
  LLVMDisposeMemoryBuffer: { args: [P], returns: "void" },
  LLVMParseBitcodeInContext2: { args: [P, P, P], returns: "i32" },
  LLVMGetBitcodeModuleInContext2: { args: [P, P, P], returns: "i32" },
  LLVMVerifyModule: { args: [P, "i32", P], returns: "i32" },
  LLVMParseIRInContext2: { args: [P, P, P, P], returns: "i32" },
  LLVMLinkModules2: { args: [P, P], returns: "i32" },
  LLVMGetTarget: { args: [P], returns: P },
  LLVMSetTarget: { args: [P, P], returns: "void" },
  LLVMGetTargetFromTriple: { args: [P, P, P], returns: "i32" },
  LLVMCreateTargetMachine: { args: [P, P, P, P, "i32", "i32", "i32"], returns: P },
  LLVMCreateTargetDataLayout: { args: [P], returns: P },
  LLVMSetModuleDataLayout: { args: [P, P], returns: "void" },
  LLVMDisposeTargetData: { args: [P], returns: "void" },
  LLVMStripModuleDebugInfo: { args: [P], returns: "i32" },
  LLVMGetFirstGlobal: { args: [P], returns: P },
  LLVMGetNextGlobal: { args: [P], returns: P },
  LLVMGetFirstGlobalAlias: { args: [P], returns: P },
  LLVMGetNextGlobalAlias: { args: [P], returns: P },
  LLVMGetFirstFunction: { args: [P], returns: P },
  LLVMGetNextFunction: { args: [P], returns: P },
  LLVMGetValueName2: { args: [P, P], returns: P },
  LLVMIsDeclaration: { args: [P], returns: "i32" },
  LLVMSetLinkage: { args: [P, "i32"], returns: "void" },
  LLVMSetVisibility: { args: [P, "i32"], returns: "void" },
  LLVMCreatePassBuilderOptions: { args: [], returns: P },
  LLVMDisposePassBuilderOptions: { args: [P], returns: "void" },
  LLVMRunPasses: { args: [P, P, P, P], returns: P },
  LLVMGetErrorMessage: { args: [P], returns: P },
  LLVMTargetMachineEmitToMemoryBuffer: { args: [P, P, "i32", P, P], returns: "i32" },
  LLVMGetBufferStart: { args: [P], returns: P },
  LLVMGetBufferSize: { args: [P], returns: "u64" },
});

const encoder = new TextEncoder();
/** A NUL-terminated string, as a "ptr" argument. */
const cstr = (s: string) => rt.address(encoder.encode(`${s}\0`));
/** An out-parameter slot (a pointer, or a size), its address and the pointer it holds. */
const slot = () => new BigUint64Array(1);
const at = (s: BigUint64Array) => rt.address(s);
const value = (s: BigUint64Array) => rt.pointer(s);
const message = (p: Ptr | null) => (p ? rt.text(p).trim() : "");
function fail(what: string): never {
  rt.stderr(`llvm_only: ${what}\n`);
  return rt.exit(1);
}
phase("load libLLVM");

// ---------------------------------------------------------------------------
// Configure LLVM: src/llvm_options.ts llvmCommandLine with the default options
// (no --unroll-loops, no --allow-bpf-trap, no --llvm-args), then the BPF
// target's registration, in that order (src/pipeline.ts applyLlvmOptions).

const options = ["bpf-linker", "--cold-callsite-rel-freq=0", "--profile-guided-section-prefix=false"];
if (expandInOrder) options.push("--bpf-expand-memcpy-in-order");
options.push("--bpf-disable-trap-unreachable");
const strings = options.map((o) => encoder.encode(`${o}\0`));
const table = new BigUint64Array(strings.length + 1);
strings.forEach((s, i) => (table[i] = rt.addressValue(s)));
llvm.LLVMParseCommandLineOptions(strings.length, at(table), cstr(""));
llvm.LLVMInitializeBPFTargetInfo();
llvm.LLVMInitializeBPFTarget();
llvm.LLVMInitializeBPFTargetMC();
llvm.LLVMInitializeBPFAsmPrinter();
llvm.LLVMInitializeBPFAsmParser();
llvm.LLVMInitializeBPFDisassembler();

// No diagnostic handler: LLVM's default prints warnings and exits on an
// error, and installing one changes none of LLVM's work (ffi/context.ts).
const context = llvm.LLVMContextCreate() || fail("LLVMContextCreate failed");
phase("configure LLVM");

// ---------------------------------------------------------------------------
// Parse and link (src/link.ts linkModules): every input into an empty module
// named linked_module, one after another while that costs at most 8x the
// inputs' size, the rest merged pairwise like a binary counter first; a
// module that is only a link's source read lazily; the result verified.

function parse(path: string, lazily: boolean): Ptr {
  const buffer = slot(), error = slot(), module = slot();
  if (llvm.LLVMCreateMemoryBufferWithContentsOfFile(cstr(path), at(buffer), at(error))) {
    fail(`cannot read ${path}: ${message(value(error))}`);
  }
  if (lazily && !path.endsWith(".ll")) {
    // The module owns the buffer once it is read.
    if (llvm.LLVMGetBitcodeModuleInContext2(context, value(buffer), at(module))) fail(`cannot parse ${path}`);
    return value(module);
  }
  // LLVM 22's LLVMParseIRInContext2 and LLVMParseBitcodeInContext2 leave the buffer to the caller.
  const failed = path.endsWith(".ll")
    ? llvm.LLVMParseIRInContext2(context, value(buffer), at(module), at(error))
    : llvm.LLVMParseBitcodeInContext2(context, value(buffer), at(module));
  llvm.LLVMDisposeMemoryBuffer(value(buffer));
  if (failed) fail(`cannot parse ${path}: ${message(value(error))}`);
  return value(module);
}

function linkInto(destination: Ptr, source: Ptr): void {
  if (llvm.LLVMLinkModules2(destination, source)) fail("LLVMLinkModules2 failed");
}

const sizes = inputs.map((path) => rt.fileSize(path));
const budget = 8 * sizes.reduce((a, b) => a + b, 0);
let prefix = 0;
for (let linked = 0, work = 0; prefix < sizes.length; prefix++) {
  if (prefix > 0 && work + linked > budget) break;
  work += linked;
  linked += sizes[prefix];
}
const module = llvm.LLVMModuleCreateWithNameInContext(cstr("linked_module"), context) || fail("no module");
for (let i = 0; i < prefix; i++) linkInto(module, parse(inputs[i], true));
if (prefix < inputs.length) {
  // Pairwise, the earlier run always the destination (src/link.ts mergePairwise).
  const stack: { module: Ptr; level: number }[] = [];
  for (let i = prefix; i < inputs.length; i++) {
    let run = { module: parse(inputs[i], stack.length > 0 && stack[stack.length - 1].level === 0), level: 0 };
    while (stack.length > 0 && stack[stack.length - 1].level === run.level) {
      const earlier = stack.pop()!;
      linkInto(earlier.module, run.module);
      run = { module: earlier.module, level: earlier.level + 1 };
    }
    stack.push(run);
  }
  while (stack.length > 1) {
    const later = stack.pop()!;
    linkInto(stack[stack.length - 1].module, later.module);
  }
  linkInto(module, stack[0].module);
}
if (llvm.LLVMVerifyModule(module, 2 /* LLVMReturnStatusAction */, at(slot()))) fail("the linked module is not valid");
phase("parse and link");

// ---------------------------------------------------------------------------
// Target (src/target.ts): the module's triple if it is a BPF one, else `bpf`;
// cpu generic, no features, codegen level aggressive, default reloc and code model.

const moduleTriple = message(llvm.LLVMGetTarget(module));
const triple = cstr(moduleTriple.startsWith("bpf") ? moduleTriple : "bpf");
const target = slot(), error = slot();
if (llvm.LLVMGetTargetFromTriple(triple, at(target), at(error))) fail(`unknown target: ${message(value(error))}`);
const machine = llvm.LLVMCreateTargetMachine(value(target), triple, cstr("generic"), cstr(""), 3, 0, 0) ??
  fail("cannot create the target machine");
llvm.LLVMSetTarget(module, triple);
const layout = llvm.LLVMCreateTargetDataLayout(machine);
llvm.LLVMSetModuleDataLayout(module, layout);
llvm.LLVMDisposeTargetData(layout);
phase("configure LLVM");

// Without --btf the debug info goes (src/pipeline.ts); with it the linker's
// sanitizer would run here, which is its own work, not LLVM's.
if (!btf) {
  llvm.LLVMStripModuleDebugInfo(module);
  phase("strip debug info");
}

// ---------------------------------------------------------------------------
// Internalize (src/exports.ts internalize): every definition but the exports
// and the memory builtins (src/options.ts MEMORY_BUILTINS) and llvm.* becomes
// internal with default visibility; globals, then aliases, then functions.

const exported = new Set([...exports, "memcpy", "memmove", "memset", "memcmp", "bcmp"]);
const values: Ptr[] = [];
const walk = (first: (m: Ptr) => Ptr | null, next: (v: Ptr) => Ptr | null) => {
  for (let v = first(module); v; v = next(v)) values.push(v);
};
walk(llvm.LLVMGetFirstGlobal, llvm.LLVMGetNextGlobal);
walk(llvm.LLVMGetFirstGlobalAlias, llvm.LLVMGetNextGlobalAlias);
walk(llvm.LLVMGetFirstFunction, llvm.LLVMGetNextFunction);
const length = slot();
for (const v of values) {
  const p = llvm.LLVMGetValueName2(v, at(length));
  const n = Number(length[0]);
  const name = p && n ? rt.text(p, n) : "";
  if (name.startsWith("llvm.")) continue;
  if (llvm.LLVMIsDeclaration(v) || exported.has(name)) continue;
  llvm.LLVMSetLinkage(v, 8 /* LLVMInternalLinkage */);
  llvm.LLVMSetVisibility(v, 0 /* LLVMDefaultVisibility */);
}
phase("internalize");

// ---------------------------------------------------------------------------
// Optimize (src/exports.ts optimize): the same pipeline string, default pass
// builder options. Like the linker, no verifier run of our own: LLVMRunPasses
// adds none, and the C API's codegen disables it (llc's runs one).

const passOptions = llvm.LLVMCreatePassBuilderOptions();
const passError = llvm.LLVMRunPasses(module, cstr(`default<O${optLevel}>,dce`), machine, passOptions);
llvm.LLVMDisposePassBuilderOptions(passOptions);
if (passError) fail(`optimization failed: ${message(llvm.LLVMGetErrorMessage(passError))}`);
phase("optimize");

// ---------------------------------------------------------------------------
// Codegen to memory and the write (src/emit.ts); nothing is freed, as the
// command leaves LLVM's memory to the process exit.

const out = slot();
if (llvm.LLVMTargetMachineEmitToMemoryBuffer(machine, module, 1 /* LLVMObjectFile */, at(error), at(out))) {
  fail(`code generation failed: ${message(value(error))}`);
}
const start = llvm.LLVMGetBufferStart(value(out));
const size = Number(llvm.LLVMGetBufferSize(value(out)));
phase("codegen");
rt.writeFile(output, rt.bytes(start, size));
phase("write");

if (showTime) {
  const total = phases.reduce((a, [, ms]) => a + ms, 0);
  const merged = new Map<string, number>();
  for (const [name, ms] of phases) merged.set(name, (merged.get(name) ?? 0) + ms);
  for (const [name, ms] of merged) rt.stderr(`${name.padEnd(18)} ${ms.toFixed(1).padStart(8)} ms\n`);
  rt.stderr(`${"total".padEnd(18)} ${total.toFixed(1).padStart(8)} ms\n`);
  // Peak RSS, and what is resident at the end: file pages (libLLVM's code, the
  // executable) against anonymous memory (LLVM's and the JS heap). Deno reads
  // /proc/self only with --allow-all.
  let status = "";
  try {
    status = rt.readText("/proc/self/status");
  } catch {
    // not readable here
  }
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  for (const field of status ? ["VmHWM", "RssAnon", "RssFile"] : []) {
    rt.stderr(`${field.padEnd(18)} ${(kib(field) / 1024).toFixed(1).padStart(8)} MiB\n`);
  }
}
