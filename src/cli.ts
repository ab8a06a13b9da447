// The bpf-linker command line (README "Command line"; rustc's spellings as the Rust bpf-linker takes them): arguments -> CliOptions, and --help.
//
// Parsed by hand from one table (OPTIONS) rather than with node:util parseArgs, because
// parseArgs cannot carry our conventions:
// - it reads the single-dash long option `-flavor` (rustc/wasm-ld) as the short flags -f -l ...;
// - in strict mode it refuses an option value that starts with `-`, yet rustc passes
//   `--cpu-features <list>` as two arguments and a list may start with `-` (`-dwarfris`);
// - it has no "first one wins" option (--emit) and no value validation;
// - its error messages are its own, and differ between Deno and Bun.
// The same table drives helpText(), so help and parser cannot drift apart.

import { UsageError } from "./errors.ts";
import {
  type CliOptions,
  CPU_NAMES,
  defaultLinkOptions,
  EMIT_KINDS,
  LOG_LEVELS,
  OPT_LEVELS,
} from "./options.ts";

/** The options that explain a link (src/explain/), on top of CliOptions. */
export interface ExplainCliOptions {
  /** --print-llvm: report libLLVM discovery and the inputs' producers, then exit. */
  printLlvm: boolean;
  /** --map / -Map: write a link map here. */
  map?: string;
  /** --why-extract: write why each archive member was loaded here. */
  whyExtract?: string;
  /** --why-live: symbols whose presence (or absence) to explain. */
  whyLive: string[];
  /** --reproduce: write a tar that reproduces the link here. */
  reproduce?: string;
}

/** Everything the command line says. */
export interface CommandLine extends CliOptions, ExplainCliOptions {}

/** One argument (or option with its value) as given, after response files are expanded. */
export type CommandToken =
  | { kind: "option"; /** Every spelling of the option. */ names: readonly string[]; spelling: string; value?: string }
  | { kind: "input"; value: string };

/** Mutable state of one parse: the options being built plus what ordering rules need. */
interface ParseState {
  options: CommandLine;
  /** --emit was given already: later ones are ignored (first wins, as the Rust linker). */
  emitGiven: boolean;
}

interface OptionDef {
  /** Every spelling. A two-character one (`-O`) also takes an attached value (`-O2`). */
  names: readonly string[];
  /** Placeholder of the value, e.g. `<path>`; absent for a flag. */
  value?: string;
  /** The only values accepted (checked before `set`), listed in the help. */
  choices?: readonly string[];
  /** An empty value is fine (older rustc passed `--cpu-features ""`). */
  allowEmpty?: boolean;
  /** Shown as `[default: ...]`. */
  defaultText?: string;
  help: string;
  /** Record the (validated) value; a flag gets "". */
  set: (state: ParseState, value: string) => void;
}

const DEFAULTS = defaultLinkOptions();
const OPT_LEVEL_CHOICES = ["0", ...OPT_LEVELS] as const;
const BOOLEAN_CHOICES = ["true", "false"] as const;

function isOneOf<T extends string>(choices: readonly T[], value: string): value is T {
  return (choices as readonly string[]).includes(value);
}

/** `a,b,,c` -> [a, b, c]: empty pieces (trailing commas) carry nothing. */
function splitCommaList(value: string): string[] {
  return value.split(",").filter((piece) => piece !== "");
}

const OPTIONS: readonly OptionDef[] = [
  {
    names: ["-o", "--output"],
    value: "<path>",
    help: "Write the output to <path> (required)",
    set: (s, v) => (s.options.output = v),
  },
  {
    names: ["--emit"],
    value: "<kind>",
    choices: EMIT_KINDS,
    defaultText: DEFAULTS.emit,
    help: "Output kind; if given several times the first wins",
    set: (s, v) => {
      if (s.emitGiven || !isOneOf(EMIT_KINDS, v)) return;
      s.options.emit = v;
      s.emitGiven = true;
    },
  },
  {
    names: ["--target"],
    value: "<triple>",
    defaultText: "the input's triple if it is bpf*, else bpf",
    help: "LLVM target triple",
    set: (s, v) => (s.options.target = v),
  },
  {
    names: ["--cpu"],
    value: "<cpu>",
    choices: CPU_NAMES,
    defaultText: DEFAULTS.cpu,
    help: "Target BPF processor",
    set: (s, v) => {
      if (isOneOf(CPU_NAMES, v)) s.options.cpu = v;
    },
  },
  {
    names: ["--cpu-features"],
    value: "<features>",
    allowEmpty: true,
    help: "CPU features to enable/disable, e.g. +alu32,-dwarfris",
    set: (s, v) => (s.options.cpuFeatures = v),
  },
  {
    names: ["-O"],
    value: "<level>",
    choices: OPT_LEVEL_CHOICES,
    defaultText: DEFAULTS.optLevel,
    help: "Optimization level (also -O2, -Os); the last wins; 0 is 1",
    // Nothing links at O0 (the BPF backend needs inlining), so 0 means 1.
    set: (s, v) => {
      const level = v === "0" ? "1" : v;
      if (isOneOf(OPT_LEVELS, level)) s.options.optLevel = level;
    },
  },
  {
    names: ["--export"],
    value: "<symbols>",
    allowEmpty: true,
    help: "Symbols to keep global (comma-separated), the rest internal",
    defaultText: "none: every external definition stays global",
    set: (s, v) => {
      s.options.exports.push(...splitCommaList(v));
      s.options.exportAll = false;
    },
  },
  {
    names: ["--export-symbols"],
    value: "<path>",
    help: "Like --export, one symbol a line in <path>; repeatable",
    set: (s, v) => {
      s.options.exportSymbolsFiles.push(v);
      s.options.exportAll = false;
    },
  },
  {
    names: ["--btf"],
    help: "Keep debug info, sanitize it and emit BTF",
    set: (s) => (s.options.btf = true),
  },
  {
    names: ["--whole-archive"],
    help: "Link every archive member, needed or not",
    set: (s) => (s.options.wholeArchive = true),
  },
  {
    names: ["--allow-bpf-trap"],
    help: "Do not pass --bpf-disable-trap-unreachable to LLVM",
    set: (s) => (s.options.allowBpfTrap = true),
  },
  {
    names: ["--unroll-loops"],
    help: "Unroll loops hard (for kernels without loops)",
    set: (s) => (s.options.unrollLoops = true),
  },
  {
    names: ["--ignore-inline-never"],
    help: "Drop noinline everywhere (for kernels without calls)",
    set: (s) => (s.options.ignoreInlineNever = true),
  },
  {
    names: ["--disable-expand-memcpy-in-order"],
    help: "Do not pass --bpf-expand-memcpy-in-order to LLVM",
    set: (s) => (s.options.disableExpandMemcpyInOrder = true),
  },
  {
    names: ["--disable-memory-builtins"],
    help: "Do not export memcpy, memmove, memset, memcmp and bcmp",
    set: (s) => (s.options.disableMemoryBuiltins = true),
  },
  {
    names: ["--llvm-args"],
    value: "<args>",
    help: "Comma-separated extra LLVM command-line options; repeatable",
    set: (s, v) => s.options.llvmArgs.push(...splitCommaList(v)),
  },
  {
    names: ["--dump-module"],
    value: "<path>",
    help: "Write the final IR to <path> before code generation",
    set: (s, v) => (s.options.dumpModule = v),
  },
  {
    names: ["--log-file"],
    value: "<path>",
    help: "Write the log to <path>",
    set: (s, v) => (s.options.logFile = v),
  },
  {
    names: ["--log-level"],
    value: "<level>",
    choices: LOG_LEVELS,
    defaultText: "warnings and errors only, to stderr",
    help: "Log level",
    set: (s, v) => {
      if (isOneOf(LOG_LEVELS, v)) s.options.logLevel = v;
    },
  },
  {
    names: ["--fatal-errors"],
    value: "<bool>",
    choices: BOOLEAN_CHOICES,
    defaultText: String(DEFAULTS.fatalErrors),
    help: "Fail when LLVM reports a diagnostic of error severity",
    set: (s, v) => (s.options.fatalErrors = v === "true"),
  },
  {
    names: ["--llvm"],
    value: "<path>",
    defaultText: "found on the system",
    help: "The libLLVM to load: a library file or an LLVM prefix",
    set: (s, v) => (s.options.llvmPath = v),
  },
  {
    names: ["--time"],
    help: "Print the time each phase took to stderr",
    set: (s) => (s.options.time = true),
  },
  {
    names: ["--map", "-Map"],
    value: "<path>",
    help: "Write a link map: symbols, inputs, sections, members",
    set: (s, v) => (s.options.map = v),
  },
  {
    names: ["--why-extract"],
    value: "<path>",
    help: "Write why each archive member was loaded (lld's format)",
    set: (s, v) => (s.options.whyExtract = v),
  },
  {
    names: ["--why-live"],
    value: "<symbol>",
    help: "Say why <symbol> is in the output or not; repeatable",
    set: (s, v) => s.options.whyLive.push(v),
  },
  {
    names: ["--reproduce"],
    value: "<path>",
    help: "Write a tar of inputs and command line that redoes this link",
    set: (s, v) => (s.options.reproduce = v),
  },
  {
    names: ["--print-llvm"],
    help: "Report libLLVM discovery and the inputs' LLVM versions; exit",
    set: (s) => (s.options.printLlvm = true),
  },
  {
    names: ["-L"],
    value: "<dir>",
    allowEmpty: true,
    help: "Library search directory: accepted for rustc, unused",
    set: (s, v) => s.options.libraryPaths.push(v),
  },
  {
    names: ["--debug"],
    help: "Accepted and ignored (rustc compatibility)",
    set: () => {},
  },
  {
    names: ["-flavor", "--flavor"],
    value: "<flavor>",
    allowEmpty: true,
    help: "Accepted and ignored (rustc / wasm-ld compatibility)",
    set: () => {},
  },
  {
    names: ["-h", "--help"],
    help: "Print this help",
    set: (s) => (s.options.help = true),
  },
  {
    names: ["-V", "--version"],
    help: "Print the version and the libLLVM in use",
    set: (s) => (s.options.version = true),
  },
];

const OPTION_BY_NAME: ReadonlyMap<string, OptionDef> = new Map(
  OPTIONS.flatMap((def) => def.names.map((name) => [name, def] as const)),
);

function emptyCliOptions(): CommandLine {
  return {
    ...defaultLinkOptions(),
    output: "",
    inputs: [],
    exportSymbolsFiles: [],
    libraryPaths: [],
    logFile: undefined,
    logLevel: undefined,
    llvmPath: undefined,
    time: false,
    help: false,
    version: false,
    printLlvm: false,
    map: undefined,
    whyExtract: undefined,
    whyLive: [],
    reproduce: undefined,
  };
}

/** One option argument resolved: which option, as spelled, and a value inside the argument. */
interface OptionMatch {
  def: OptionDef;
  spelling: string;
  /** From `--opt=value`, `-o=value` or `-O2`; undefined: the value is the next argument. */
  attachedValue?: string;
}

/** A bare `-` is an input (stdin by convention), not an option. */
function looksLikeOption(arg: string): boolean {
  return arg.length > 1 && arg.startsWith("-");
}

function matchOption(arg: string): OptionMatch {
  const equals = arg.indexOf("=");
  const name = equals > 0 ? arg.slice(0, equals) : arg;
  const exact = OPTION_BY_NAME.get(name);
  if (exact) {
    return {
      def: exact,
      spelling: name,
      attachedValue: equals > 0 ? arg.slice(equals + 1) : undefined,
    };
  }
  if (!arg.startsWith("--")) {
    // `-O2`, `-Lpath`, `-ofile`: a short option with its value glued on.
    const short = OPTION_BY_NAME.get(arg.slice(0, 2));
    if (short?.value !== undefined) {
      return { def: short, spelling: arg.slice(0, 2), attachedValue: arg.slice(2) };
    }
    throw new UsageError(`unknown option '${arg}'`);
  }
  throw new UsageError(`unknown option '${name}'`);
}

function checkValue(def: OptionDef, spelling: string, value: string): void {
  if (value === "" && !def.allowEmpty) {
    throw new UsageError(`option '${spelling}' needs a value`);
  }
  if (def.choices && !def.choices.includes(value)) {
    throw new UsageError(
      `invalid value '${value}' for '${spelling}' (expected one of: ${def.choices.join(", ")})`,
    );
  }
}

/** Required pieces are only required when there is a link to do. */
function checkComplete(options: CommandLine): void {
  if (options.help || options.version || options.printLlvm) return;
  if (options.inputs.length === 0) throw new UsageError("no input files");
  if (options.output === "") throw new UsageError("option '--output' is required");
}

/** Parse the arguments (program name excluded, response files already expanded). */
export function parseCommandLine(args: string[]): CommandLine {
  return parseCommandTokens(args).options;
}

/** Parse the arguments, keeping each one as given too (for --reproduce). */
export function parseCommandTokens(args: string[]): { options: CommandLine; tokens: CommandToken[] } {
  const state: ParseState = { options: emptyCliOptions(), emitGiven: false };
  const tokens: CommandToken[] = [];
  let optionsEnded = false;
  let next = 0;
  while (next < args.length) {
    const arg = args[next++];
    if (optionsEnded || !looksLikeOption(arg)) {
      if (arg === "") throw new UsageError("empty input file name");
      state.options.inputs.push(arg);
      tokens.push({ kind: "input", value: arg });
      continue;
    }
    if (arg === "--") {
      optionsEnded = true;
      continue;
    }
    const { def, spelling, attachedValue } = matchOption(arg);
    if (def.value === undefined) {
      if (attachedValue !== undefined) throw new UsageError(`option '${spelling}' takes no value`);
      def.set(state, "");
      tokens.push({ kind: "option", names: def.names, spelling });
      continue;
    }
    // Exactly one argument, whatever it looks like (getopt): `--cpu-features -alu32` is valid,
    // and the arguments after it stay positional inputs.
    let value = attachedValue;
    if (value === undefined) {
      if (next >= args.length) throw new UsageError(`option '${spelling}' needs a value`);
      value = args[next++];
    }
    checkValue(def, spelling, value);
    def.set(state, value);
    tokens.push({ kind: "option", names: def.names, spelling, value });
  }
  checkComplete(state.options);
  return { options: state.options, tokens };
}

/** Parse the text of an --export-symbols file: one symbol per line, trimmed, empty lines skipped. */
export function parseExportSymbols(text: string): string[] {
  return text.split(/\r?\n/).map((line) => line.trim()).filter((line) => line !== "");
}

/** `-o, --output <path>`: short spellings first, as clap and GNU tools print them. */
function helpSignature(def: OptionDef): string {
  const short = def.names.filter((name) => name.length === 2);
  const long = def.names.filter((name) => name.length > 2);
  const names = short.length > 0 ? [...short, ...long].join(", ") : `    ${long.join(", ")}`;
  return def.value ? `${names} ${def.value}` : names;
}

/** The help, then the accepted values and the default each on a line of their own. */
function helpDescription(def: OptionDef): string[] {
  const lines = [def.help];
  if (def.choices) lines.push(`[values: ${def.choices.join(", ")}]`);
  if (def.defaultText !== undefined) lines.push(`[default: ${def.defaultText}]`);
  return lines;
}

/** The --help text: usage line, every option with its values and default. */
export function helpText(): string {
  const rows = OPTIONS.map((def) => ({
    signature: helpSignature(def),
    text: helpDescription(def),
  }));
  const width = Math.max(...rows.map((row) => row.signature.length)) + 2;
  const optionLines = rows.flatMap(({ signature, text }) =>
    text.map((line, i) => `  ${(i === 0 ? signature : "").padEnd(width)}${line}`)
  );
  const lines = [
    "Usage: bpf-linker [OPTIONS] --output <path> [--] <inputs>...",
    "",
    "Links LLVM bitcode (.bc, .o with bitcode, .a archives of them) into one BPF object.",
    "",
    "Arguments:",
    "  <inputs>...  Input files: bitcode, objects or static libraries",
    "  @<file>      Read more arguments from <file> (a response file)",
    "",
    "Options:",
    ...optionLines,
    "",
  ];
  return lines.join("\n");
}
