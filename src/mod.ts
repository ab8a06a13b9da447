// Library API: link in-memory inputs to an in-memory output, in Deno or Bun,
// with the same options as the command line and the same pipeline
// (src/pipeline.ts). One libLLVM is loaded per process, by the first call, and
// reused by every later call.

import type { LlvmSurvey } from "../ffi/survey.ts";
import { LinkExplainer } from "./explain/explain.ts";
import { llvmReport as surveyReport } from "./explain/llvm_report.ts";
import { commandTokensFor, makeReproduceBundle } from "./explain/reproduce.ts";
import type { InputFile } from "./input/files.ts";
import { loadLlvm } from "./load_llvm.ts";
import { link as linkModules, type LinkRequest, prepareLink } from "./pipeline.ts";
import { Logger, MemorySink } from "./log.ts";
import { type LinkOptions, type LogLevel, resolveLinkOptions } from "./options.ts";
import { PhaseTimer } from "./timing.ts";
import { versionText } from "./version.ts";

export * from "./errors.ts";
export type { CpuName, EmitKind, LinkOptions, LogLevel, OptLevel } from "./options.ts";
export type { LlvmSurvey, SurveyEntry, SurveyVerdict } from "../ffi/survey.ts";
export type { LoadAttempt } from "../ffi/failures.ts";
export { loadLlvm };
export type { LoadOptions } from "../ffi/llvm.ts";
export { lintBtfObject } from "./object/btf_lint.ts";

/** One input: bitcode, an ELF object with embedded bitcode, an ar archive, or IR text. */
export interface LinkInput {
  /** Used in error messages and logs, like a file name. */
  name: string;
  bytes: Uint8Array | string;
}

export interface LinkerOptions extends Partial<LinkOptions> {
  /**
   * libLLVM file or prefix; only honoured by the call that loads libLLVM (the
   * first of the process). Without it, that call prefers a libLLVM as new as
   * the newest LLVM that wrote its inputs, as the command does.
   */
  llvmPath?: string;
  /** Log level of the messages returned in `log` (default `warn`). */
  logLevel?: LogLevel;
  /** Name used for --dump-module files and in reports (default `output`). */
  outputName?: string;
  /** Also make a link map (`LinkResult.map`, the text of --map). */
  map?: boolean;
  /** Also say why each archive member was loaded (`LinkResult.whyExtract`, as --why-extract). */
  whyExtract?: boolean;
  /** Explain why these symbols are in the output or not (`LinkResult.whyLive`, as --why-live). */
  whyLive?: string[];
}

export interface LinkResult {
  output: Uint8Array;
  /** Log lines (warnings and, with a higher logLevel, more). */
  log: string[];
  /** Milliseconds per phase. */
  phases: { name: string; ms: number }[];
  /** With `map`: the link map. */
  map?: string;
  /** With `whyExtract`: the why-extract table (header line first). */
  whyExtract?: string;
  /** With `whyLive`: one line per symbol, `<symbol>: <chain or reason>`. */
  whyLive?: string[];
}

/** The libLLVM in use: its path and version. */
export async function llvmInfo(): Promise<{ path: string; version: string }> {
  const llvm = await loadLlvm();
  return { path: llvm.path, version: llvm.versionString };
}

/**
 * Link `inputs` into one BPF object (or assembly/IR/bitcode per `emit`).
 * Throws a LinkerError subclass naming the input on bad input, an
 * LlvmLoadError when no usable libLLVM is found.
 */
export async function link(inputs: LinkInput[], options: LinkerOptions = {}): Promise<LinkResult> {
  const { llvmPath, logLevel, outputName, map, whyExtract, whyLive, ...rest } = options;
  const linkOptions: LinkOptions = resolveLinkOptions(rest);
  const sink = new MemorySink();
  const log = new Logger(logLevel ?? "warn", sink);
  const timer = new PhaseTimer();
  const { llvm, inputs: modules, selection, sourceNames } = await prepareLink(
    toFiles(inputs),
    linkOptions,
    llvmPath,
    log,
    timer,
  );
  const explainer = new LinkExplainer(llvm, linkOptions, { map, whyExtract, whyLive });
  const request: LinkRequest = {
    inputs: modules,
    selection,
    sourceNames,
    options: linkOptions,
    outputName: outputName ?? "output",
    hooks: explainer.hooks,
  };
  const outcome = linkModules(llvm, request, log, timer);
  const result: LinkResult = { output: outcome.bytes, log: sink.lines, phases: timer.phases };
  if (explainer.wanted) Object.assign(result, explainer.report(request, outcome));
  return result;
}

function toFiles(inputs: LinkInput[]): InputFile[] {
  return inputs.map((i) => ({
    path: i.name,
    bytes: typeof i.bytes === "string" ? new TextEncoder().encode(i.bytes) : i.bytes,
  }));
}

/**
 * A tar that reproduces `link(inputs, options)` from the command line (as
 * --reproduce writes it): the inputs under `inputs/`, `response.txt` with the
 * equivalent command line, `version.txt` with the linker and libLLVM versions.
 * Extract it and run `bpf-linker @response.txt` in that directory.
 */
export async function reproduceBundle(inputs: LinkInput[], options: LinkerOptions = {}): Promise<Uint8Array> {
  const { llvmPath, logLevel: _l, outputName, map: _m, whyExtract: _w, whyLive: _wl, ...rest } = options;
  const linkOptions = resolveLinkOptions(rest);
  const files = toFiles(inputs);
  // The libLLVM a link of these inputs uses (and loads, if this call is the process's first).
  const { llvm } = await prepareLink(files, linkOptions, llvmPath, new Logger("off", new MemorySink()), new PhaseTimer());
  // The names are made relative to a directory of their own: `inputs/<name>` in the bundle.
  const cwd = "/inputs";
  const tokens = commandTokensFor(linkOptions, files.map((f) => f.path), outputName ?? "output.o");
  const byPath = new Map(files.map((f) => [f.path, f.bytes]));
  return makeReproduceBundle({
    tokens,
    readFile: (path) => byPath.get(path)!,
    cwd,
    info: { versionText: versionText(llvm) },
  });
}

/**
 * The --print-llvm report: every libLLVM candidate discovery finds (each one
 * probed, none left open), the one loading would choose and why, and the
 * LLVM version that produced each input module.
 */
export function llvmReport(
  inputs: LinkInput[] = [],
  options: { llvmPath?: string } = {},
): Promise<{ text: string; survey: LlvmSurvey }> {
  return surveyReport(toFiles(inputs).map((file) => ({ path: file.path, read: () => file })), options.llvmPath);
}
