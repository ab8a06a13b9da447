// libLLVM discovery, surveyed (--print-llvm): every candidate discovery lists is
// probed (ffi/probe.ts), in order, without stopping at the first that works, and
// each gets a verdict. The choice is chooseLlvm's, the rule Llvm.load uses.
// Probing opens each library (for LLVMGetVersion, then the symbol table of its
// version) and closes it again, so no handle stays open; a library linked with
// -z nodelete (Debian's libLLVM is) stays mapped whatever is closed.

import { type Candidate, type DiscoveryEnv, listCandidates } from "./discover.ts";
import { ffiBackend } from "./llvm.ts";
import { type Choice, chooseLlvm, MIN_LLVM_MAJOR, type Probe, probeCandidate } from "./probe.ts";
import { host } from "./host.ts";

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

/** The verdict and reason --print-llvm gives a probed candidate. */
function entryOf(probe: Probe, choice: Choice, minMajor: number, want?: number): SurveyEntry {
  const { path, source } = probe.candidate;
  const entry: SurveyEntry = { path, source, verdict: "rejected", reason: "" };
  if (probe.version !== undefined) entry.version = probe.version;
  if (probe.versionFromName) entry.versionFromName = true;
  const rejected = probe.rejected;
  if (rejected !== undefined) {
    entry.reason = "tooOld" in rejected
      ? `too old (LLVM ${rejected.tooOld}; need ${minMajor} or newer)`
      : rejected.reason;
    return entry;
  }
  if (probe === choice.chosen) {
    entry.verdict = "chosen";
    entry.reason = choice.older
      ? `chosen, though older than the input bitcode (LLVM ${want}): no newer libLLVM found`
      : "chosen";
  } else {
    entry.verdict = "usable";
    entry.reason = want !== undefined && probe.usable!.major < want
      ? `usable, but older than the input bitcode (LLVM ${want})`
      : "usable, not chosen: an earlier candidate is";
  }
  return entry;
}

/** Probe every candidate (nothing is left bound) and say which one loading would choose. */
export async function surveyLlvm(options: SurveyOptions = {}): Promise<LlvmSurvey> {
  const ffi = await ffiBackend();
  const env = options.env ?? host.env();
  const minMajor = options.minMajor ?? MIN_LLVM_MAJOR;
  const want = options.preferMajor;
  const candidates = options.candidates ?? listCandidates(env, options.explicitPath);
  const probed = candidates.map((candidate) => probeCandidate(ffi, candidate, minMajor, "check"));
  const choice = chooseLlvm(probed, want);
  const entries = probed.map((probe) => entryOf(probe, choice, minMajor, want));
  return {
    entries,
    chosen: choice.chosen && entries[probed.indexOf(choice.chosen)],
    minMajor,
    preferMajor: want,
  };
}
