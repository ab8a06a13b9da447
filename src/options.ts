// The options of one link, shared by the CLI (src/cli.ts) and the library API (src/mod.ts).

import { UsageError } from "./errors.ts";

export const EMIT_KINDS = ["obj", "asm", "llvm-ir", "llvm-bc"] as const;
export type EmitKind = (typeof EMIT_KINDS)[number];

export const CPU_NAMES = ["generic", "probe", "v1", "v2", "v3"] as const;
export type CpuName = (typeof CPU_NAMES)[number];

/** `0` is accepted on the command line and mapped to `1`: nothing links at O0. */
export const OPT_LEVELS = ["1", "2", "3", "s", "z"] as const;
export type OptLevel = (typeof OPT_LEVELS)[number];

export const LOG_LEVELS = ["off", "error", "warn", "info", "debug", "trace"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The memory builtins exported unless `--disable-memory-builtins`. */
export const MEMORY_BUILTINS = ["memcpy", "memmove", "memset", "memcmp", "bcmp"] as const;

/** Everything that decides what a link produces, independent of where inputs come from. */
export interface LinkOptions {
  emit: EmitKind;
  /** LLVM triple; undefined: the module's triple if it starts with `bpf`, else `bpf`. */
  target?: string;
  cpu: CpuName;
  /** e.g. `+alu32,-dwarfris`; empty for none. */
  cpuFeatures: string;
  optLevel: OptLevel;
  /** Symbols to keep external (from --export and --export-symbols). */
  exports: string[];
  /**
   * No export list was given (neither --export nor --export-symbols): every
   * definition with external linkage stays global, as in `clang -c`'s object,
   * and nothing is internalized. rustc always passes a list.
   */
  exportAll: boolean;
  btf: boolean;
  allowBpfTrap: boolean;
  unrollLoops: boolean;
  ignoreInlineNever: boolean;
  disableExpandMemcpyInOrder: boolean;
  disableMemoryBuiltins: boolean;
  /** Extra LLVM command-line options, one per element. */
  llvmArgs: string[];
  /** Write the final IR here before codegen (a file, or a directory to put it in). */
  dumpModule?: string;
  /** An LLVM error diagnostic fails the link (default true). */
  fatalErrors: boolean;
  /** Link every archive member instead of only those that resolve undefined symbols. */
  wholeArchive: boolean;
}

export function defaultLinkOptions(): LinkOptions {
  return {
    emit: "obj",
    target: undefined,
    cpu: "generic",
    cpuFeatures: "",
    optLevel: "2",
    exports: [],
    exportAll: true,
    btf: false,
    allowBpfTrap: false,
    unrollLoops: false,
    ignoreInlineNever: false,
    disableExpandMemcpyInOrder: false,
    disableMemoryBuiltins: false,
    llvmArgs: [],
    dumpModule: undefined,
    fatalErrors: true,
    wholeArchive: false,
  };
}

/** What the command line adds on top of LinkOptions. */
export interface CliOptions extends LinkOptions {
  output: string;
  /** Input paths in command-line order. */
  inputs: string[];
  /** Files named by --export-symbols (read by the CLI, merged into `exports`). */
  exportSymbolsFiles: string[];
  /** -L directories: accepted and unused. */
  libraryPaths: string[];
  logFile?: string;
  /** undefined: only warnings and errors, to stderr. */
  logLevel?: LogLevel;
  /** --llvm: a libLLVM file or an LLVM prefix. */
  llvmPath?: string;
  /** --time: print the time of each phase to stderr. */
  time: boolean;
  help: boolean;
  version: boolean;
}

function checkChoice(name: string, value: string, choices: readonly string[]): void {
  if (!choices.includes(value)) {
    throw new UsageError(`invalid value '${value}' for '${name}' (expected one of: ${choices.join(", ")})`);
  }
}

/**
 * Complete and check options given through the library API with the rules of
 * the command line (the CLI parser checks as it parses): unknown values are a
 * UsageError, optimization level 0 means 1, and without `exports` every
 * external definition stays global.
 */
export function resolveLinkOptions(given: Partial<LinkOptions>): LinkOptions {
  const options: LinkOptions = { ...defaultLinkOptions(), ...given };
  // As on the command line: an export list, even an empty one, means "internalize the rest".
  options.exportAll = given.exportAll ?? given.exports === undefined;
  checkChoice("emit", options.emit, EMIT_KINDS);
  checkChoice("cpu", options.cpu, CPU_NAMES);
  if ((options.optLevel as string) === "0") options.optLevel = "1";
  checkChoice("optLevel", options.optLevel, ["0", ...OPT_LEVELS]);
  return options;
}
