// libLLVM discovery, surveyed (--print-llvm): every candidate discovery lists is
// probed, in order, without stopping at the first that works, and each gets a
// verdict. The choice follows the rules of Llvm.load (ffi/llvm.ts): the first
// usable candidate at least as new as the input bitcode, else the first usable
// one. Probing opens each library (for LLVMGetVersion, then the symbol table
// of its version) and closes it again; nothing stays loaded.

import type { OpenedLibrary } from "./backend.ts";
import {
  type Candidate,
  type DiscoveryEnv,
  listCandidates,
  rejectLibraryFile,
} from "./discover.ts";
import { host } from "./host.ts";
import { ffiBackend, MIN_LLVM_MAJOR } from "./llvm.ts";
import { LLVM_SYMBOLS, type SymbolDef, symbolsForVersion } from "./symbols.ts";

/** What became of one candidate. */
export type SurveyVerdict =
  /** The one Llvm.load would load. */
  | "chosen"
  /** Loadable and complete, but another candidate wins. */
  | "usable"
  /** Cannot be used at all (see `reason`). */
  | "rejected";

export interface SurveyEntry {
  path: string;
  /** Where discovery found it: `--llvm`, `LLVM_PREFIX`, `llvm-config`, `system`, ... */
  source: string;
  /** `22.1.8` from LLVMGetVersion, or from the file name when it was not opened. */
  version?: string;
  /** The version came from the file name only (the library was not opened). */
  versionFromName?: boolean;
  verdict: SurveyVerdict;
  /** One line: why rejected, why not chosen, or why chosen. */
  reason: string;
}

export interface LlvmSurvey {
  entries: SurveyEntry[];
  /** The entry with verdict "chosen", if any. */
  chosen?: SurveyEntry;
  minMajor: number;
  /** The LLVM major version the inputs need (newest bitcode producer), if known. */
  preferMajor?: number;
}

export interface SurveyOptions {
  /** `--llvm`: a file or prefix; then it is the only candidate (as for loading). */
  explicitPath?: string;
  env?: DiscoveryEnv;
  minMajor?: number;
  /** The inputs need at least this LLVM major version. */
  preferMajor?: number;
  /** Pre-made candidate list (tests). */
  candidates?: Candidate[];
}

const VERSION_ONLY: Record<string, SymbolDef> = { LLVMGetVersion: LLVM_SYMBOLS.LLVMGetVersion };

function firstLine(e: unknown): string {
  return String((e as Error)?.message ?? e).split("\n")[0]
    .replace(/^Failed to register symbol \w+: /, "")
    .replace(/^(Could not open library: )+/, "");
}

/** Probe one candidate: its version, and whether the symbols of that version are all there. */
async function probe(
  candidate: Candidate,
  minMajor: number,
): Promise<{ entry: SurveyEntry; major?: number }> {
  const entry: SurveyEntry = {
    path: candidate.path,
    source: candidate.source,
    verdict: "rejected",
    reason: "",
  };
  const rejected = rejectLibraryFile(candidate.path);
  if (rejected) {
    entry.reason = rejected;
    return { entry };
  }
  if (candidate.nameVersion && candidate.nameVersion[0] < minMajor) {
    // As Llvm.load: not even opened (LLVM before 16 has no LLVMGetVersion).
    entry.version = candidate.nameVersion.join(".");
    entry.versionFromName = true;
    entry.reason = `too old (LLVM ${candidate.nameVersion[0]}; need ${minMajor} or newer)`;
    return { entry };
  }
  const ffi = await ffiBackend();
  let versionProbe: OpenedLibrary;
  try {
    versionProbe = ffi.open(candidate.path, VERSION_ONLY);
  } catch (e) {
    entry.reason = `cannot be loaded: ${firstLine(e)}`;
    return { entry };
  }
  try {
    const out = new Uint32Array(3);
    const bytes = new Uint8Array(out.buffer);
    versionProbe.symbols.LLVMGetVersion(
      bytes.subarray(0, 4),
      bytes.subarray(4, 8),
      bytes.subarray(8, 12),
    );
    const [major, minor, patch] = out;
    entry.version = `${major}.${minor}.${patch}`;
    if (major < minMajor) {
      entry.reason = `too old (LLVM ${major}; need ${minMajor} or newer)`;
      return { entry };
    }
    try {
      ffi.open(candidate.path, symbolsForVersion(major) as Record<string, SymbolDef>).close();
    } catch (e) {
      entry.reason = `lacks LLVM-C symbols: ${firstLine(e)}`;
      return { entry };
    }
    entry.verdict = "usable";
    return { entry, major };
  } finally {
    versionProbe.close();
  }
}

/** Probe every candidate (nothing is left loaded) and say which one loading would choose. */
export async function surveyLlvm(options: SurveyOptions = {}): Promise<LlvmSurvey> {
  const env = options.env ?? host.env();
  const minMajor = options.minMajor ?? MIN_LLVM_MAJOR;
  const candidates = options.candidates ?? listCandidates(env, options.explicitPath);
  const probed: { entry: SurveyEntry; major?: number }[] = [];
  for (const candidate of candidates) probed.push(await probe(candidate, minMajor));

  const want = options.preferMajor;
  const usable = probed.filter((p) => p.major !== undefined);
  const newEnough = usable.find((p) => want === undefined || p.major! >= want);
  const chosen = newEnough ?? usable[0];
  for (const p of usable) {
    const older = want !== undefined && p.major! < want;
    if (p === chosen) {
      p.entry.verdict = "chosen";
      p.entry.reason = older
        ? `chosen, though older than the input bitcode (LLVM ${want}): no newer libLLVM found`
        : "chosen";
    } else if (older) {
      p.entry.reason = `usable, but older than the input bitcode (LLVM ${want})`;
    } else {
      p.entry.reason = "usable, not chosen: an earlier candidate is";
    }
  }
  return {
    entries: probed.map((p) => p.entry),
    chosen: chosen?.entry,
    minMajor,
    preferMajor: want,
  };
}
