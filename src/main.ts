#!/usr/bin/env -S deno run --allow-ffi --allow-read --allow-write --allow-env
// The bpf-linker command. The only place that turns errors into exit codes.

import { readFileSync, writeSync } from "node:fs";
import { oneLine } from "../ffi/context.ts";
import { ffiBackend, Llvm, LlvmNotFound } from "../ffi/llvm.ts";
import { helpText, parseCommandLine, parseExportSymbols } from "./cli.ts";
import { removePendingOutputs, writeFileAtomically } from "./emit.ts";
import { InputError, LinkerError } from "./errors.ts";
import { readInputFile } from "./inputs.ts";
import { collectModuleInputs, linkToBytes, newestProducerMajor } from "./linker.ts";
import { fileSink, Logger, stderrSink } from "./log.ts";
import type { CliOptions } from "./options.ts";
import { expandResponseFiles } from "./response_file.ts";
import { PhaseTimer } from "./timing.ts";
import { VERSION } from "./version.ts";

const print = (fd: number, text: string) => void writeSync(fd, text);

function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new InputError(`cannot read ${what}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`, {
      file: path,
    });
  }
}

function parseArguments(argv: string[]): CliOptions {
  const args = expandResponseFiles(argv, (path) => readFileSync(path, "utf8"));
  const options = parseCommandLine(args);
  for (const file of options.exportSymbolsFiles) {
    options.exports.push(...parseExportSymbols(readTextFile(file, "export symbols file")));
  }
  return options;
}

async function loadLlvm(options: CliOptions, log: Logger, timer: PhaseTimer, preferMajor?: number): Promise<Llvm> {
  const start = performance.now();
  const llvm = await Llvm.load({ explicitPath: options.llvmPath, preferMajor });
  timer.add("load libLLVM", performance.now() - start);
  const passedOver = llvm.attempts.filter((a) => a.outcome.startsWith("older than the input"));
  if (passedOver.length > 0 && llvm.version.major >= (preferMajor ?? 0)) {
    log.info(`inputs need LLVM ${preferMajor}: passed over ${passedOver.map((a) => a.path).join(", ")}`);
  }
  log.info(`using libLLVM ${llvm.versionString} at ${llvm.path}`);
  llvm.onFatalError((reason) => {
    // After the handler returns LLVM exits, or aborts (a crash report) for
    // codegen errors: end the process here with the status of an error.
    removePendingOutputs();
    print(2, `error: LLVM fatal error: ${oneLine(reason)}\n`);
    process.exit(1);
  });
  return llvm;
}

async function run(argv: string[]): Promise<number> {
  const options = parseArguments(argv);
  if (options.help) {
    print(1, helpText());
    return 0;
  }
  const log = new Logger(options.logLevel ?? "warn", options.logFile ? fileSink(options.logFile) : stderrSink);
  const timer = new PhaseTimer();
  if (options.version) {
    const llvm = await loadLlvm(options, log, timer);
    print(1, `bpf-linker ${VERSION}\nLLVM ${llvm.versionString} (${llvm.path})\n`);
    return 0;
  }
  // Inputs are read before libLLVM is chosen: their bitcode says which LLVM made them.
  // Inputs are mapped, not copied, where the runtime can (big rlibs).
  const { mapFile } = await ffiBackend();
  const inputs = timer.run(
    "read inputs",
    () => collectModuleInputs(options.inputs.map((path) => readInputFile(path, mapFile)), log),
  );
  const llvm = await loadLlvm(options, log, timer, newestProducerMajor(inputs));
  const bytes = linkToBytes(llvm, { inputs, options, outputName: options.output }, log, timer);
  timer.run("write", () => writeFileAtomically(options.output, bytes));
  if (options.time) print(2, timer.report());
  return 0;
}

async function main(): Promise<number> {
  try {
    return await run(process.argv.slice(2));
  } catch (e) {
    if (e instanceof LinkerError || e instanceof LlvmNotFound) {
      print(2, `error: ${e.message}\n`);
      return 1;
    }
    // A bug of ours, not a user mistake: say so, with the stack on request.
    const detail = process.env.BPF_LINKER_BACKTRACE ? `\n${(e as Error).stack}` : "";
    print(2, `error: internal error: ${(e as Error)?.message ?? e}${detail}\n`);
    return 2;
  } finally {
    removePendingOutputs();
  }
}

process.exitCode = await main();
