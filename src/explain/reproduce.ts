// --reproduce <file.tar>: everything needed to run the same link elsewhere, in
// one tar (written by src/explain/tar.ts):
//
//   response.txt   the command line, one argument per line, as a response file
//                  with paths inside the bundle; --reproduce itself removed
//   version.txt    `bpf-linker --version` (the linker and the libLLVM it used)
//   <path>         every input file as given (archives whole, not members), and
//                  every --export-symbols file, at its absolute path without the
//                  leading `/` (as lld does), so names never collide
//
// Extracted into an empty directory, `bpf-linker @response.txt` there links the
// same inputs with the same options: outputs (-o, --map, --why-extract,
// --log-file, --dump-module) are written next to response.txt.

import { host } from "../../ffi/host.ts";
import { basename, normalize, resolve } from "../../ffi/path.ts";
import type { CommandToken } from "../cli.ts";
import type { LinkOptions } from "../options.ts";
import { makeTar, type TarEntry } from "./tar.ts";

export interface ReproduceInfo {
  /** `bpf-linker --version` output: the linker, then `LLVM <version> (<path>)`. */
  versionText: string;
  /** e.g. `bun 1.4.5`, for version.txt. */
  runtime?: string;
}

/** Options whose value names a file the link reads: bundled, path rewritten. */
const READ_FILES = ["--export-symbols"];
/** Options whose value names a file the link writes: rewritten to a name in the bundle's directory. */
const WRITTEN_FILES = ["--output", "--map", "--why-extract", "--log-file"];

const SAFE = /^[A-Za-z0-9_%+=:,./-]+$/;

/** One argument as a response-file token (src/response_file.ts reads it back exactly). */
export function quoteResponseArgument(arg: string): string {
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replace(/[\\']/g, "\\$&")}'`;
}

/** Where a file named on the command line goes in the bundle. */
export function bundlePath(path: string, cwd: string): string {
  const absolute = resolve(cwd, path).split("\\").join("/");
  const relative = normalize(absolute).replace(/^\/+/, "");
  return relative === "" || relative === "." ? "root" : relative;
}

function hasName(
  token: Extract<CommandToken, { kind: "option" }>,
  names: readonly string[],
): boolean {
  return token.names.some((n) => names.includes(n));
}

function uniqueName(wanted: string, taken: Set<string>): string {
  let name = wanted === "" || wanted === "." || wanted === ".." ? "output" : wanted;
  for (let i = 1; taken.has(name); i++) name = `${i}-${wanted}`;
  taken.add(name);
  return name;
}

export interface BundleRequest {
  /** The command line as parsed (response files expanded). */
  tokens: readonly CommandToken[];
  /** Read a file named by an input or --export-symbols (the bytes the link used). */
  readFile: (path: string) => Uint8Array;
  /** The directory relative paths are relative to. */
  cwd: string;
  info: ReproduceInfo;
}

/** The tar that reproduces a link. */
export function makeReproduceBundle(request: BundleRequest): Uint8Array {
  const files = new Map<string, Uint8Array>();
  const directories: string[] = [];
  const args: string[] = [];
  const taken = new Set(["response.txt", "version.txt"]);
  const include = (path: string): string => {
    const inBundle = bundlePath(path, request.cwd);
    if (!files.has(inBundle)) files.set(inBundle, request.readFile(path));
    return inBundle;
  };
  let afterDashDash = false;
  for (const token of request.tokens) {
    if (token.kind === "input") {
      const inBundle = include(token.value);
      if (inBundle.startsWith("-") && !afterDashDash) {
        args.push("--");
        afterDashDash = true;
      }
      args.push(inBundle);
      continue;
    }
    if (hasName(token, ["--reproduce"])) continue;
    if (token.value === undefined) {
      args.push(token.spelling);
      continue;
    }
    let value = token.value;
    if (hasName(token, READ_FILES)) {
      value = include(value);
    } else if (hasName(token, WRITTEN_FILES)) {
      value = uniqueName(basename(value), taken);
    } else if (hasName(token, ["--dump-module"])) {
      // A directory gets `<output>.ll` inside it: keep it a directory.
      const isDirectory = host.exists(value) && host.stat(value).isDirectory;
      value = uniqueName(isDirectory ? "dump" : basename(value), taken);
      if (isDirectory) directories.push(`${value}/`);
    }
    args.push(token.spelling, value);
  }
  const version = [
    request.info.versionText.trimEnd(),
    "",
    ...(request.info.runtime
      ? [`runtime: ${request.info.runtime} (${host.platform} ${host.arch})`]
      : []),
    "To link again: extract this archive in an empty directory and run `bpf-linker @response.txt` there.",
    "",
  ].join("\n");
  const encoder = new TextEncoder();
  const entries: TarEntry[] = [
    {
      path: "response.txt",
      data: encoder.encode(args.map(quoteResponseArgument).join("\n") + "\n"),
    },
    { path: "version.txt", data: encoder.encode(version) },
    ...directories.map((path) => ({ path })),
    ...[...files].map(([path, data]) => ({ path, data })),
  ];
  return makeTar(entries);
}

/**
 * The command line that gives `options` (library API links have no argv):
 * inputs as named, then the options that differ from the defaults.
 */
export function commandTokensFor(
  options: LinkOptions,
  inputNames: readonly string[],
  outputName: string,
): CommandToken[] {
  const tokens: CommandToken[] = [];
  const option = (names: string[], value?: string) =>
    tokens.push({ kind: "option", names, spelling: names[0], value });
  option(["--output", "-o"], outputName);
  if (options.emit !== "obj") option(["--emit"], options.emit);
  if (options.target !== undefined) option(["--target"], options.target);
  if (options.cpu !== "generic") option(["--cpu"], options.cpu);
  if (options.cpuFeatures !== "") option(["--cpu-features"], options.cpuFeatures);
  if (options.optLevel !== "2") option(["-O"], options.optLevel);
  for (const name of options.exports) option(["--export"], name);
  // An empty list still internalizes everything; without any --export, nothing would be.
  if (!options.exportAll && options.exports.length === 0) option(["--export"], "");
  const flags: [boolean, string][] = [
    [options.btf, "--btf"],
    [options.wholeArchive, "--whole-archive"],
    [options.allowBpfTrap, "--allow-bpf-trap"],
    [options.unrollLoops, "--unroll-loops"],
    [options.ignoreInlineNever, "--ignore-inline-never"],
    [options.disableExpandMemcpyInOrder, "--disable-expand-memcpy-in-order"],
    [options.disableMemoryBuiltins, "--disable-memory-builtins"],
  ];
  for (const [on, name] of flags) if (on) option([name]);
  for (const arg of options.llvmArgs) option(["--llvm-args"], arg);
  if (!options.fatalErrors) option(["--fatal-errors"], "false");
  for (const name of inputNames) tokens.push({ kind: "input", value: name });
  return tokens;
}
