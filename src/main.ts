#!/usr/bin/env -S deno run --allow-ffi --allow-read --allow-write --allow-env
// The bpf-linker command. The only place that turns errors into exit codes.

import { readFileSync, writeSync } from "node:fs";
import { Llvm, LlvmNotFound } from "../ffi/llvm.ts";
import { helpText, parseCommandLine, parseExportSymbols } from "./cli.ts";
import { removePendingOutputs, writeFileAtomically } from "./emit.ts";
import { InputError, LinkerError } from "./errors.ts";
import { readInputFile } from "./inputs.ts";
import { linkToBytes } from "./linker.ts";
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

async function loadLlvm(options: CliOptions, log: Logger, timer: PhaseTimer): Promise<Llvm> {
  const start = performance.now();
  const llvm = await Llvm.load({ explicitPath: options.llvmPath });
  timer.add("load libLLVM", performance.now() - start);
  log.info(`using libLLVM ${llvm.versionString} at ${llvm.path}`);
  llvm.onFatalError((reason) => {
    // LLVM exits the process right after this returns.
    removePendingOutputs();
    print(2, `error: LLVM fatal error: ${reason}\n`);
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
  const llvm = await loadLlvm(options, log, timer);
  if (options.version) {
    print(1, `bpf-linker ${VERSION}\nLLVM ${llvm.versionString} (${llvm.path})\n`);
    return 0;
  }
  const inputs = timer.run("read inputs", () => options.inputs.map(readInputFile));
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
