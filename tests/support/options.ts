// The command-line option spellings the help must name (tests/cli.test.ts, tests/main.test.ts).

/** The spellings of the Rust bpf-linker's options from -o to --version, in the help's order. */
export const SPEC_OPTION_SPELLINGS: readonly string[] = [
  "-o",
  "--output",
  "--emit",
  "--target",
  "--cpu",
  "--cpu-features",
  "-O",
  "--export",
  "--export-symbols",
  "--btf",
  "--allow-bpf-trap",
  "--unroll-loops",
  "--ignore-inline-never",
  "--disable-expand-memcpy-in-order",
  "--disable-memory-builtins",
  "--llvm-args",
  "--dump-module",
  "--log-file",
  "--log-level",
  "--fatal-errors",
  "-L",
  "--debug",
  "-flavor",
  "-h",
  "--help",
  "-V",
  "--version",
];

/** Every spelling the Rust bpf-linker has, plus ours. */
export const ALL_OPTION_SPELLINGS: readonly string[] = [
  "--whole-archive",
  ...SPEC_OPTION_SPELLINGS,
  "--llvm",
  "--time",
  "--map",
  "-Map",
  "--why-extract",
  "--why-live",
  "--reproduce",
  "--print-llvm",
];
