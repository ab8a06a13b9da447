// Library API: link in-memory inputs to an in-memory output, in Deno or Bun,
// with the same options as the command line. One libLLVM is loaded per
// process and reused by every call.

import { Llvm, type LoadOptions } from "../ffi/llvm.ts";
import type { InputFile } from "./inputs.ts";
import { collectModuleInputs, linkToBytes } from "./linker.ts";
import { Logger, MemorySink } from "./log.ts";
import { type LinkOptions, type LogLevel, resolveLinkOptions } from "./options.ts";
import { PhaseTimer } from "./timing.ts";

export * from "./errors.ts";
export type { CpuName, EmitKind, LinkOptions, LogLevel, OptLevel } from "./options.ts";

/** One input: bitcode, an ELF object with embedded bitcode, an ar archive, or IR text. */
export interface LinkInput {
  /** Used in error messages and logs, like a file name. */
  name: string;
  bytes: Uint8Array | string;
}

export interface LinkerOptions extends Partial<LinkOptions> {
  /** libLLVM file or prefix; only honoured by the call that loads libLLVM. */
  llvmPath?: string;
  /** Log level of the messages returned in `log` (default `warn`). */
  logLevel?: LogLevel;
  /** Name used for --dump-module files (default `output`). */
  outputName?: string;
}

export interface LinkResult {
  output: Uint8Array;
  /** Log lines (warnings and, with a higher logLevel, more). */
  log: string[];
  /** Milliseconds per phase. */
  phases: { name: string; ms: number }[];
}

let loaded: Promise<Llvm> | undefined;

/** Load libLLVM once per process (later calls return the same library). */
export function loadLlvm(options: LoadOptions = {}): Promise<Llvm> {
  loaded ??= Llvm.load(options).catch((e) => {
    loaded = undefined;
    throw e;
  });
  return loaded;
}

/** The libLLVM in use: its path and version. */
export async function llvmInfo(): Promise<{ path: string; version: string }> {
  const llvm = await loadLlvm();
  return { path: llvm.path, version: llvm.versionString };
}

/**
 * Link `inputs` into one BPF object (or assembly/IR/bitcode per `emit`).
 * Throws a LinkerError subclass naming the input on bad input.
 */
export async function link(inputs: LinkInput[], options: LinkerOptions = {}): Promise<LinkResult> {
  const llvm = await loadLlvm({ explicitPath: options.llvmPath });
  const { llvmPath: _, logLevel, outputName, ...rest } = options;
  const linkOptions: LinkOptions = resolveLinkOptions(rest);
  const sink = new MemorySink();
  const log = new Logger(logLevel ?? "warn", sink);
  const timer = new PhaseTimer();
  const files: InputFile[] = inputs.map((i) => ({
    path: i.name,
    bytes: typeof i.bytes === "string" ? new TextEncoder().encode(i.bytes) : i.bytes,
  }));
  const modules = timer.run("read inputs", () => collectModuleInputs(files, log));
  const output = linkToBytes(
    llvm,
    { inputs: modules, options: linkOptions, outputName: outputName ?? "output" },
    log,
    timer,
  );
  return { output, log: sink.lines, phases: timer.phases };
}
