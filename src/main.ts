#!/usr/bin/env -S deno run --allow-ffi --allow-read --allow-write --allow-env
// The bpf-linker command. The only place that turns errors into exit codes.

import { host, type HostError } from "../ffi/host.ts";
import { oneLine } from "../ffi/context.ts";
import { ffiBackend, type Llvm } from "../ffi/llvm.ts";
import { type CommandLine, type CommandToken, helpText, parseCommandTokens, parseExportSymbols } from "./cli.ts";
import { removePendingOutputs, writeFileAtomically } from "./emit.ts";
import { InputError, LinkerError } from "./errors.ts";
import type { InputFile } from "./input/files.ts";
import { loadLlvm, startLoadingLlvm } from "./load_llvm.ts";
import type { LinkRequest } from "./pipeline.ts";
import { fileSink, Logger, stderrSink } from "./log.ts";
import { expandResponseFiles } from "./response_file.ts";
import { PhaseTimer } from "./timing.ts";
import { versionText } from "./version.ts";

const print = (fd: 1 | 2, text: string) => host.write(fd, text);

function readTextFile(path: string, what: string): string {
  try {
    return host.readTextFile(path);
  } catch (e) {
    const code = (e as HostError).code;
    throw new InputError(`cannot read ${what}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, {
      file: path,
    });
  }
}

function parseArguments(argv: string[]): { options: CommandLine; tokens: CommandToken[] } {
  const args = expandResponseFiles(argv, (path) => host.readTextFile(path));
  const { options, tokens } = parseCommandTokens(args);
  for (const file of options.exportSymbolsFiles) {
    // A loop, not a spread: an export list can be longer than a call's argument limit.
    for (const name of parseExportSymbols(readTextFile(file, "export symbols file"))) options.exports.push(name);
  }
  return { options, tokens };
}

/** One line for LLVM fatal errors: how to get the reproduce bundle a bug report needs. */
function bundleHint(options: CommandLine): string {
  return options.reproduce
    ? `; the inputs and command line are in ${options.reproduce} (--reproduce)`
    : "; to report it, rerun with --reproduce <file.tar> and attach that file";
}

/**
 * BPF v1 (--cpu generic, the default) has no 32-bit atomics and makes longer
 * code, whose jumps can exceed its 16-bit offsets; clang's own default is v3.
 */
function cpuHint(options: CommandLine, reason: string): string {
  if (!["generic", "v1", "v2"].includes(options.cpu)) return "";
  if (!/Cannot select: .*Atomic|Branch target out of insn range/.test(reason)) return "";
  return `; --cpu ${options.cpu} (BPF ${options.cpu === "v2" ? "v2" : "v1"}) cannot express this code: link with --cpu v3, clang's default`;
}

/** LLVM's fatal errors end the command with one `error:` line and exit status 1. */
function handleFatalErrors(llvm: Llvm, options: CommandLine): void {
  llvm.onFatalError((reason) => {
    // After the handler returns LLVM exits, or aborts (a crash report) for
    // codegen errors: end the process here with the status of an error.
    removePendingOutputs();
    print(2, `error: LLVM fatal error: ${oneLine(reason)}${cpuHint(options, reason)}${bundleHint(options)}\n`);
    host.exit(1);
  });
}

/** --print-llvm: every libLLVM candidate and its verdict, and who produced each input. */
async function printLlvm(options: CommandLine): Promise<string> {
  const { mapFile } = await ffiBackend();
  const { readInputFile } = await import("./input/files.ts");
  // Imported here: start-up evaluates only what a plain link runs.
  const { llvmReport } = await import("./explain/llvm_report.ts");
  const inputs = options.inputs.map((path) => ({ path, read: () => readInputFile(path, mapFile) }));
  return (await llvmReport(inputs, options.llvmPath)).text;
}

/** --reproduce: the bundle is written before linking, so a crash still leaves it. */
async function writeReproduceBundle(
  path: string,
  tokens: CommandToken[],
  files: InputFile[],
  llvm: Llvm,
  log: Logger,
): Promise<void> {
  const { makeReproduceBundle } = await import("./explain/reproduce.ts");
  const byPath = new Map(files.map((f) => [f.path, f.bytes]));
  const bundle = makeReproduceBundle({
    tokens,
    readFile: (file) => byPath.get(file) ?? host.readFile(file),
    cwd: host.cwd(),
    info: { versionText: versionText(llvm), runtime: host.runtime },
  });
  writeFileAtomically(path, bundle);
  log.info(`wrote the reproduce bundle ${path} (${bundle.length} bytes)`);
}

async function run(argv: string[]): Promise<number> {
  const { options, tokens } = parseArguments(argv);
  if (options.help) {
    print(1, helpText());
    return 0;
  }
  const sink = options.logFile ? fileSink(options.logFile) : stderrSink;
  const log = new Logger(options.logLevel ?? "warn", sink);
  const timer = new PhaseTimer();
  if (options.version) {
    // Only the path and version are read: no symbols bound, no fatal-error handler.
    const llvm = await loadLlvm({ explicitPath: options.llvmPath, versionOnly: true });
    log.info(`using libLLVM ${llvm.versionString} at ${llvm.path}`);
    print(1, versionText(llvm));
    return 0;
  }
  if (options.printLlvm) {
    print(1, await printLlvm(options));
    return 0;
  }
  // Inputs are mapped, not copied, where the runtime can (big rlibs).
  // Imported only for a link: --version and --help evaluate just what they run (start-up).
  // Under Deno libLLVM then loads on another thread while the link's modules load and the inputs are read.
  const ffi = await ffiBackend();
  timer.run("load libLLVM", () => startLoadingLlvm(ffi, options.llvmPath));
  const [{ readInputFile }, { link, prepareLink }] = await Promise.all([
    import("./input/files.ts"),
    import("./pipeline.ts"),
  ]);
  const files = timer.run("read inputs", () => options.inputs.map((path) => readInputFile(path, ffi.mapFile)));
  const { llvm, inputs, selection, sourceNames } = await prepareLink(files, options, options.llvmPath, log, timer);
  handleFatalErrors(llvm, options);
  if (options.reproduce) {
    const path = options.reproduce;
    const start = performance.now();
    await writeReproduceBundle(path, tokens, files, llvm, log);
    timer.add("reproduce", performance.now() - start);
  }
  const wantsExplain = options.map !== undefined || options.whyExtract !== undefined || options.whyLive.length > 0;
  // Imported only when asked for: start-up evaluates only what a plain link runs.
  const explainer = wantsExplain
    ? new (await import("./explain/explain.ts")).LinkExplainer(llvm, options, {
      map: options.map !== undefined,
      whyExtract: options.whyExtract !== undefined,
      whyLive: options.whyLive,
    })
    : undefined;
  const request: LinkRequest = {
    inputs,
    options,
    outputName: options.output,
    hooks: explainer?.hooks,
    exitsAfterLink: true,
    selection,
    sourceNames,
  };
  const outcome = link(llvm, request, log, timer);
  timer.run("write", () => writeFileAtomically(options.output, outcome.bytes));
  if (explainer?.wanted) {
    const report = timer.run("explain", () => explainer.report(request, outcome));
    const encoder = new TextEncoder();
    if (options.map && report.map) writeFileAtomically(options.map, encoder.encode(report.map));
    if (options.whyExtract && report.whyExtract) {
      writeFileAtomically(options.whyExtract, encoder.encode(report.whyExtract));
    }
    for (const line of report.whyLive ?? []) sink.write(`why-live: ${line}\n`);
  }
  if (options.time) print(2, timer.report());
  return 0;
}

async function main(): Promise<number> {
  host.tuneForOneShot();
  try {
    return await run(host.args());
  } catch (e) {
    if (e instanceof LinkerError) {
      print(2, `error: ${e.message}\n`);
      return 1;
    }
    // A bug of ours, not a user mistake: say so, with the stack on request.
    const detail = host.env().BPF_LINKER_BACKTRACE ? `\n${(e as Error).stack}` : "";
    print(2, `error: internal error: ${(e as Error)?.message ?? e}${detail}\n`);
    return 2;
  } finally {
    removePendingOutputs();
  }
}

// No top-level await: `bun build --compile --bytecode` (fast start-up) needs none.
// Exit at once: everything was written synchronously, and letting the runtime
// wind down on its own costs Deno ~3 ms more (Bun ~0.3) before the process ends.
main().then((code) => host.exit(code));
