// The LLVM-phases floor of cases (a), (d) and (e): a Bun program that asks
// libLLVM for exactly the work the linker asks of it on a plain-bitcode link
// (docs/ARCHITECTURE.md#pipeline: configure LLVM, parse and link, internalize,
// optimize, codegen), with the same options and the same C API calls, and
// nothing of the linker's own: no discovery, no archive member selection, no
// producer checks, no license/version merge, no debug-info sanitizer or
// pruning, no object checks. `bun build --compile`d by the benchmark; what any
// in-process LLVM-C linker hosted by Bun can at best reach. It does not import
// src/ or ffi/ on purpose: it mirrors them call for call.
//
// usage: llvm_only <libLLVM path> --export a,b,... [--btf] [-O1|-O2|-O3|-Os|-Oz]
//                  [--no-expand-memcpy-in-order] [--time] -o out.o in1.bc in2.bc ... (or .ll)

import { CString, dlopen, ptr, toArrayBuffer } from "bun:ffi";
import { readFileSync, statSync, writeFileSync } from "node:fs";

// ---------------------------------------------------------------------------
// Arguments

function usage(message: string): never {
  process.stderr.write(
    `llvm_only: ${message}\nusage: llvm_only <libLLVM path> --export a,b,... [--btf] [-O2|-O3|...] ` +
      "[--no-expand-memcpy-in-order] [--time] -o out.o inputs...\n",
  );
  process.exit(2);
}

const argv = process.argv.slice(2);
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

// As the linker's Bun back end does (ffi/backend_bun.ts): load libLLVM with
// RTLD_LAZY first, so Bun's dlopen does not bind all of its imports up front.
try {
  dlopen("libc.so.6", { dlopen: { args: ["ptr", "i32"], returns: "ptr" } }).symbols
    .dlopen(new TextEncoder().encode(`${libPath}\0`), 1 /* RTLD_LAZY */);
} catch {
  // not glibc: Bun's dlopen alone
}

const P = "ptr" as const;
const llvm = dlopen(libPath, {
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
  LLVMGetBufferSize: { args: [P], returns: "u64_fast" },
}).symbols;

type Ptr = number;
const encoder = new TextEncoder();
const cstr = (s: string) => encoder.encode(`${s}\0`);
/** An out-parameter slot (a pointer, or a size) and its value. */
const slot = () => new BigUint64Array(1);
const value = (s: BigUint64Array) => Number(s[0]) as Ptr;
const message = (p: Ptr | null) => (p ? new CString(p as never).toString().trim() : "");
function fail(what: string): never {
  process.stderr.write(`llvm_only: ${what}\n`);
  process.exit(1);
}
phase("load libLLVM");

// ---------------------------------------------------------------------------
// Configure LLVM: src/llvm_options.ts llvmCommandLine with the default options
// (no --unroll-loops, no --allow-bpf-trap, no --llvm-args), then the BPF
// target's registration, in that order (src/pipeline.ts applyLlvmOptions).

const options = ["bpf-linker", "--cold-callsite-rel-freq=0"];
if (expandInOrder) options.push("--bpf-expand-memcpy-in-order");
options.push("--bpf-disable-trap-unreachable");
const strings = options.map(cstr);
const table = new BigUint64Array(strings.length + 1);
strings.forEach((s, i) => (table[i] = BigInt(ptr(s))));
llvm.LLVMParseCommandLineOptions(strings.length, table, cstr(""));
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
// inputs' size, the rest merged pairwise like a binary counter first.

function parse(path: string): Ptr {
  const buffer = slot(), error = slot(), module = slot();
  if (llvm.LLVMCreateMemoryBufferWithContentsOfFile(cstr(path), buffer, error)) {
    fail(`cannot read ${path}: ${message(value(error))}`);
  }
  // LLVM 22's LLVMParseIRInContext2 and LLVMParseBitcodeInContext2 leave the buffer to the caller.
  const failed = path.endsWith(".ll")
    ? llvm.LLVMParseIRInContext2(context, value(buffer), module, error)
    : llvm.LLVMParseBitcodeInContext2(context, value(buffer), module);
  llvm.LLVMDisposeMemoryBuffer(value(buffer));
  if (failed) fail(`cannot parse ${path}: ${message(value(error))}`);
  return value(module);
}

function linkInto(destination: Ptr, source: Ptr): void {
  if (llvm.LLVMLinkModules2(destination, source)) fail("LLVMLinkModules2 failed");
}

const sizes = inputs.map((path) => statSync(path).size);
const budget = 8 * sizes.reduce((a, b) => a + b, 0);
let prefix = 0;
for (let linked = 0, work = 0; prefix < sizes.length; prefix++) {
  if (prefix > 0 && work + linked > budget) break;
  work += linked;
  linked += sizes[prefix];
}
const module = llvm.LLVMModuleCreateWithNameInContext(cstr("linked_module"), context) || fail("no module");
for (let i = 0; i < prefix; i++) linkInto(module, parse(inputs[i]));
if (prefix < inputs.length) {
  // Pairwise, the earlier run always the destination (src/link.ts mergePairwise).
  const stack: { module: Ptr; level: number }[] = [];
  for (let i = prefix; i < inputs.length; i++) {
    let run = { module: parse(inputs[i]), level: 0 };
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
phase("parse and link");

// ---------------------------------------------------------------------------
// Target (src/target.ts): the module's triple if it is a BPF one, else `bpf`;
// cpu generic, no features, codegen level aggressive, default reloc and code model.

const moduleTriple = message(llvm.LLVMGetTarget(module));
const triple = cstr(moduleTriple.startsWith("bpf") ? moduleTriple : "bpf");
const target = slot(), error = slot();
if (llvm.LLVMGetTargetFromTriple(triple, target, error)) fail(`unknown target: ${message(value(error))}`);
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
  const p = llvm.LLVMGetValueName2(v, length);
  const n = value(length);
  const name = p && n ? new CString(p as never, 0, n).toString() : "";
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
if (llvm.LLVMTargetMachineEmitToMemoryBuffer(machine, module, 1 /* LLVMObjectFile */, error, out)) {
  fail(`code generation failed: ${message(value(error))}`);
}
const start = llvm.LLVMGetBufferStart(value(out));
const size = Number(llvm.LLVMGetBufferSize(value(out)));
phase("codegen");
writeFileSync(output, new Uint8Array(toArrayBuffer(start as never, 0, size)));
phase("write");

if (showTime) {
  const total = phases.reduce((a, [, ms]) => a + ms, 0);
  const merged = new Map<string, number>();
  for (const [name, ms] of phases) merged.set(name, (merged.get(name) ?? 0) + ms);
  for (const [name, ms] of merged) process.stderr.write(`${name.padEnd(18)} ${ms.toFixed(1).padStart(8)} ms\n`);
  process.stderr.write(`${"total".padEnd(18)} ${total.toFixed(1).padStart(8)} ms\n`);
  // Peak RSS, and what is resident at the end: file pages (libLLVM's code, the
  // executable) against anonymous memory (LLVM's and the JS heap).
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
  for (const field of ["VmHWM", "RssAnon", "RssFile"]) {
    process.stderr.write(`${field.padEnd(18)} ${(kib(field) / 1024).toFixed(1).padStart(8)} MiB\n`);
  }
}
