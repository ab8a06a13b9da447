// libLLVM discovery decided once (docs/ARCHITECTURE.md#libllvm-discovery): every
// candidate of ffi/discover.ts is probed by probeCandidate and one rule,
// chooseLlvm, picks among them. Two views use them: Llvm.load (ffi/llvm.ts)
// probes lazily and binds the chosen library; surveyLlvm (ffi/survey.ts,
// --print-llvm) probes every candidate and reports each verdict.

import type { FfiBackend, OpenedLibrary } from "./backend.ts";
import { type Candidate, rejectLibraryFile } from "./discover.ts";
import { LLVM_SYMBOLS, type SymbolDef, symbolsForVersion } from "./symbols.ts";

export const MIN_LLVM_MAJOR = 19;

export interface LlvmVersion {
  major: number;
  minor: number;
  patch: number;
}

/** Why a candidate cannot be used: too old (each view words it), or a reason in words. */
export type Rejection = { tooOld: number } | { reason: string };

/** What probing one candidate found. */
export interface Probe {
  candidate: Candidate;
  /** `22.1.8` from LLVMGetVersion, or from the file name when the file was not opened. */
  version?: string;
  /** `version` came from the file name only. */
  versionFromName?: boolean;
  /** Its version, when it is usable. */
  usable?: LlvmVersion;
  rejected?: Rejection;
  /** With `symbols: "keep"`: the symbol table of its version, bound and open; the caller closes it. */
  library?: OpenedLibrary;
}

/**
 * How far a usable candidate is checked: "skip" reads only its version (the
 * symbols are not bound), "check" binds the symbol table of its version and
 * closes it again, "keep" leaves that table open in `Probe.library`.
 */
export type SymbolCheck = "skip" | "check" | "keep";

const VERSION_ONLY: Record<string, SymbolDef> = { LLVMGetVersion: LLVM_SYMBOLS.LLVMGetVersion };

/** The first line of a dlopen failure, without the runtime's prefixes. */
export function firstLine(e: unknown): string {
  // Deno prefixes dlopen errors with "Failed to register symbol X: Could not obtain...".
  return String((e as Error)?.message ?? e).split("\n")[0]
    .replace(/^Failed to register symbol \w+: /, "")
    .replace(/^(Could not open library: )+/, "");
}

/** The symbol table of LLVM `major`, as the back ends take it. */
export function symbolTable(major: number): Record<string, SymbolDef> {
  return symbolsForVersion(major) as Record<string, SymbolDef>;
}

/** The probe of a candidate turned away before it is opened (its file, or a name older than `minMajor`). */
export function rejectUnopened(candidate: Candidate, minMajor: number): Probe | undefined {
  const rejected = rejectLibraryFile(candidate.path);
  if (rejected) return { candidate, rejected: { reason: rejected } };
  const named = candidate.nameVersion;
  if (named && named[0] < minMajor) {
    // Not even opened: LLVM before 16 has no LLVMGetVersion.
    return { candidate, version: named.join("."), versionFromName: true, rejected: { tooOld: named[0] } };
  }
  return undefined;
}

/** Probe one candidate: cheap file checks, then its version, then (per `symbols`) its LLVM-C symbols. */
export function probeCandidate(ffi: FfiBackend, candidate: Candidate, minMajor: number, symbols: SymbolCheck): Probe {
  const unopened = rejectUnopened(candidate, minMajor);
  if (unopened) return unopened;
  let versionProbe: OpenedLibrary;
  try {
    versionProbe = ffi.open(candidate.path, VERSION_ONLY);
  } catch (e) {
    return { candidate, rejected: { reason: `cannot be loaded: ${firstLine(e)}` } };
  }
  try {
    const out = new Uint32Array(3);
    const bytes = new Uint8Array(out.buffer);
    versionProbe.symbols.LLVMGetVersion(bytes.subarray(0, 4), bytes.subarray(4, 8), bytes.subarray(8, 12));
    const usable = { major: out[0], minor: out[1], patch: out[2] };
    const version = `${usable.major}.${usable.minor}.${usable.patch}`;
    if (usable.major < minMajor) return { candidate, version, rejected: { tooOld: usable.major } };
    if (symbols === "skip") return { candidate, version, usable };
    let library: OpenedLibrary;
    try {
      library = ffi.open(candidate.path, symbolTable(usable.major));
    } catch (e) {
      return { candidate, version, rejected: { reason: `lacks LLVM-C symbols: ${firstLine(e)}` } };
    }
    if (symbols === "check") {
      library.close();
      return { candidate, version, usable };
    }
    return { candidate, version, usable, library };
  } finally {
    // Only after the full table is bound: closing first could unload libLLVM
    // and run its (costly) static initializers again when it is reopened.
    versionProbe.close();
  }
}

/** The outcome of chooseLlvm. */
export interface Choice {
  chosen?: Probe;
  /** The chosen candidate is older than the inputs want: no newer usable one was found. */
  older: boolean;
  /** Every probe read, in order (a lazy list is read only up to the deciding one). */
  probed: Probe[];
}

/**
 * The one rule of discovery: the first usable candidate at least as new as
 * `preferMajor` (the newest producer of the input bitcode), else the first
 * usable one. Reading stops at the first candidate that settles it, so later
 * sources of a lazy list are never scanned.
 */
export function chooseLlvm(probes: Iterable<Probe>, preferMajor?: number): Choice {
  const probed: Probe[] = [];
  let fallback: Probe | undefined;
  for (const probe of probes) {
    probed.push(probe);
    const major = probe.usable?.major;
    if (major === undefined) continue;
    if (preferMajor === undefined || major >= preferMajor) return { chosen: probe, older: false, probed };
    fallback ??= probe;
  }
  return { chosen: fallback, older: fallback !== undefined, probed };
}
