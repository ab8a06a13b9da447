// Loading libLLVM: discovery candidates are probed in order (ffi/probe.ts) until
// one is chosen, and the symbol table of its version is bound. The resulting
// `Llvm` object is the root every other wrapper hangs off.

import { cString, type FfiBackend, type NativeCallback, type NativeFunction, type Pointer } from "./backend.ts";
import type { Candidate, DiscoveryEnv } from "./discover.ts";
import { recallDiscovery, rememberedCandidates } from "./discovery_cache.ts";
import { LlvmFailure, LlvmNotFound, type LoadAttempt } from "./failures.ts";
import {
  type Choice,
  chooseLlvm,
  firstLine,
  type LlvmVersion,
  MIN_LLVM_MAJOR,
  type Probe,
  probeCandidate,
  rejectUnopened,
  symbolTable,
} from "./probe.ts";
import type { LLVM_SYMBOLS } from "./symbols.ts";
import { host } from "./host.ts";

type Defs = typeof LLVM_SYMBOLS;
type Conditional = { since: number } | { until: number } | { optional: true };
type AlwaysThere = {
  [K in keyof Defs as Defs[K] extends Conditional ? never : K]: NativeFunction<Defs[K]>;
};
type Sometimes = {
  [K in keyof Defs as Defs[K] extends Conditional ? K : never]?: NativeFunction<Defs[K]>;
};
/** The bound LLVM-C functions; version-dependent and optional ones may be undefined. */
export type LlvmApi = AlwaysThere & Sometimes;

export { LlvmFailure, LlvmNotFound, type LoadAttempt } from "./failures.ts";
export { type LlvmVersion, MIN_LLVM_MAJOR } from "./probe.ts";

export { cString };

const encoder = new TextEncoder();

let backendPromise: Promise<FfiBackend> | undefined;

/** The FFI back end of the runtime we are on, imported once. */
export function ffiBackend(): Promise<FfiBackend> {
  backendPromise ??= "Bun" in globalThis
    ? import("./backend_bun.ts").then((m) => m.bunBackend)
    : import("./backend_deno.ts").then((m) => m.denoBackend);
  return backendPromise;
}

/** `source`'s items, read from it once however often the result is iterated. */
function replayable<T>(source: Iterator<T>): Iterable<T> {
  const read: T[] = [];
  let ended = false;
  return {
    *[Symbol.iterator]() {
      for (let i = 0;; i++) {
        if (i === read.length) {
          if (ended) return;
          const next = source.next();
          if (next.done) {
            ended = true;
            return;
          }
          read.push(next.value);
        }
        yield read[i];
      }
    },
  };
}

/**
 * Discovery ahead of Llvm.load, for a caller with work to do before it can
 * load (reading the inputs decides which LLVM they prefer): where the back end
 * can load a library on another thread, the first candidate Llvm.load would
 * open starts loading now (`loading` settles when it is done), and the load
 * finds it done. The candidates are read once, here or by the load; pass them
 * as LoadOptions.candidates. A preloaded library that is not chosen (older
 * than the inputs want, or unusable) stays loaded, unused.
 */
export function preloadLlvm(
  ffi: FfiBackend,
  options: { explicitPath?: string; env?: DiscoveryEnv; minMajor?: number } = {},
): { candidates: Iterable<Candidate>; loading?: PromiseLike<void> } {
  const env = options.env ?? host.env();
  const recalled = recallDiscovery(env, options.explicitPath);
  const candidates = replayable(rememberedCandidates(env, options.explicitPath, recalled ?? null));
  if (!ffi.preload) return { candidates };
  const minMajor = options.minMajor ?? MIN_LLVM_MAJOR;
  // Each path judged once: a recalled list that still holds is checked again below.
  const loadable = new Map<string, boolean>();
  const firstLoadable = (list: Iterable<Candidate>) => {
    for (const candidate of list) {
      let ok = loadable.get(candidate.path);
      if (ok === undefined) loadable.set(candidate.path, ok = !rejectUnopened(candidate, minMajor));
      if (ok) return candidate;
    }
  };
  // The last run's choice starts loading before its discovery is checked (a
  // stat of every directory it read): almost always it is still the one.
  const guess = recalled && firstLoadable(recalled.candidates);
  const guessLoading = guess && ffi.preload(guess.path);
  const likely = firstLoadable(candidates);
  if (!likely) return { candidates };
  return { candidates, loading: likely.path === guess?.path ? guessLoading : ffi.preload(likely.path) };
}

function traceWrap(symbols: Record<string, (...args: unknown[]) => unknown>) {
  const show = (v: unknown) =>
    v instanceof Uint8Array ? `buf[${v.length}]` : typeof v === "object" && v !== null ? "ptr" : String(v);
  const out: Record<string, (...args: unknown[]) => unknown> = {};
  for (const [name, fn] of Object.entries(symbols)) {
    out[name] = (...args: unknown[]) => {
      const result = fn(...args);
      host.write(2, `ffi: ${name}(${args.map(show).join(", ")}) -> ${show(result)}\n`);
      return result;
    };
  }
  return out;
}

/** What became of a probed candidate, in the words of the "no usable libLLVM" error. */
function outcomeOf(probe: Probe, choice: Choice, preferMajor?: number): string {
  if (probe === choice.chosen) return choice.older ? "chosen (no newer libLLVM found)" : "chosen";
  const rejected = probe.rejected;
  // Usable but not chosen: load stops at the first usable one that is new enough.
  if (rejected === undefined) return `older than the input bitcode (LLVM ${preferMajor})`;
  return "tooOld" in rejected ? `too old (LLVM ${rejected.tooOld})` : rejected.reason;
}

export interface LoadOptions {
  /** `--llvm`: a libLLVM file or an LLVM prefix; the only candidate when given. */
  explicitPath?: string;
  env?: DiscoveryEnv;
  minMajor?: number;
  /**
   * The inputs need at least this LLVM (their bitcode's producer). Candidates
   * below it are passed over for a newer one; if none is newer, the first
   * usable one is still returned (the caller reports the mismatch).
   */
  preferMajor?: number;
  /** Pre-made candidate list (tests), or the one preloadLlvm returned. */
  candidates?: Iterable<Candidate>;
  /**
   * The caller reads only `path` and `version` (`--version`): the LLVM-C
   * symbols are bound when `api` is first used, not at load, so a candidate is
   * not checked for them (binding ~130 symbols is most of what start-up adds to
   * the dlopen itself).
   */
  versionOnly?: boolean;
}

/** The loaded libLLVM. One per process is the norm; it is never unloaded. */
export class Llvm {
  readonly #callbacks: NativeCallback[] = [];
  #commandLineParsed = false;
  #bpfInitialized = false;
  #api: LlvmApi | undefined;
  #bind: (() => LlvmApi) | undefined;

  private constructor(
    readonly ffi: FfiBackend,
    api: LlvmApi | (() => LlvmApi),
    readonly path: string,
    readonly version: LlvmVersion,
    readonly attempts: LoadAttempt[],
  ) {
    if (typeof api === "function") this.#bind = api;
    else this.#api = api;
  }

  /** The bound LLVM-C functions (bound here on first use after a `versionOnly` load). */
  get api(): LlvmApi {
    if (this.#api === undefined) {
      this.#api = this.#bind!();
      this.#bind = undefined;
    }
    return this.#api;
  }

  /**
   * Find and load libLLVM: the candidates are probed in order until
   * chooseLlvm (ffi/probe.ts) settles, the chosen one stays bound and every
   * other library opened on the way is closed. Throws LlvmNotFound listing
   * every candidate tried.
   */
  static async load(options: LoadOptions = {}): Promise<Llvm> {
    const ffi = await ffiBackend();
    const env = options.env ?? host.env();
    const minMajor = options.minMajor ?? MIN_LLVM_MAJOR;
    const preferMajor = options.preferMajor;
    // Lazily: sources after the one that provides a usable library are never scanned.
    const candidates = options.candidates ?? rememberedCandidates(env, options.explicitPath);
    const symbols = options.versionOnly ? "skip" : "keep";
    const choice = chooseLlvm(
      (function* () {
        for (const candidate of candidates) yield probeCandidate(ffi, candidate, minMajor, symbols);
      })(),
      preferMajor,
    );
    for (const probe of choice.probed) if (probe !== choice.chosen) probe.library?.close();
    const attempts = choice.probed.map((probe): LoadAttempt => ({
      path: probe.candidate.path,
      source: probe.candidate.source,
      version: probe.version,
      outcome: outcomeOf(probe, choice, preferMajor),
    }));
    const chosen = choice.chosen;
    if (chosen === undefined) throw new LlvmNotFound(attempts, minMajor);
    const { path } = chosen.candidate;
    const version = chosen.usable!;
    const trace = (symbols: Record<string, (...args: unknown[]) => unknown>) =>
      (env.BPF_LINKER_TRACE_FFI ? traceWrap(symbols) : symbols) as unknown as LlvmApi;
    if (chosen.library) return new Llvm(ffi, trace(chosen.library.symbols), path, version, attempts);
    // versionOnly: bound on first use of `api`, if ever.
    return new Llvm(ffi, () => {
      try {
        return trace(ffi.open(path, symbolTable(version.major)).symbols);
      } catch (e) {
        throw new LlvmFailure(`${path} lacks LLVM-C symbols: ${firstLine(e)}`);
      }
    }, path, version, attempts);
  }

  get versionString(): string {
    const v = this.version;
    return `${v.major}.${v.minor}.${v.patch}`;
  }

  /** Read an LLVM-allocated message and free it with LLVMDisposeMessage, exactly once. */
  takeMessage(p: Pointer | null): string {
    if (p === null) return "";
    try {
      return this.ffi.readCString(p);
    } finally {
      this.api.LLVMDisposeMessage(p);
    }
  }

  /** Copy an LLVM memory buffer's bytes into JS and dispose the buffer, exactly once. */
  takeMemoryBuffer(buffer: Pointer): Uint8Array {
    const api = this.api;
    try {
      return this.leaveMemoryBufferToProcessExit(buffer).slice();
    } finally {
      api.LLVMDisposeMemoryBuffer(buffer);
    }
  }

  /**
   * An LLVM memory buffer's bytes, not copied, and the buffer never disposed:
   * for a process that exits once it has used them (Context.leaveToProcessExit),
   * where a copy would only add to the peak memory.
   */
  leaveMemoryBufferToProcessExit(buffer: Pointer): Uint8Array {
    const api = this.api;
    return this.ffi.viewBytes(api.LLVMGetBufferStart(buffer)!, api.LLVMGetBufferSize(buffer));
  }

  /** Read a string LLVM owns (not freed). */
  borrowString(p: Pointer | null): string {
    return p === null ? "" : this.ffi.readCString(p);
  }

  /** Turn an LLVMErrorRef into its message (consuming the error), or undefined for success. */
  takeError(error: Pointer | null): string | undefined {
    if (error === null) return undefined;
    const message = this.api.LLVMGetErrorMessage(error);
    try {
      return message === null ? "unknown LLVM error" : this.ffi.readCString(message);
    } finally {
      if (message !== null) this.api.LLVMDisposeErrorMessage(message);
    }
  }

  /** Keep a callback alive for the life of the process (LLVM holds on to it). */
  retainCallback(callback: NativeCallback): NativeCallback {
    this.#callbacks.push(callback);
    return callback;
  }

  /**
   * Parse LLVM's own command-line options, once per process (LLVM's options are
   * global). Returns the options LLVM did not accept; empty when all parsed.
   */
  parseCommandLine(options: readonly string[]): string[] {
    if (this.#commandLineParsed) {
      throw new LlvmFailure("LLVM options were already set in this process");
    }
    this.#commandLineParsed = true;
    const checked = this.#parseChecked(["bpf-linker", ...options]);
    if (checked === undefined) {
      // No C++ entry point exported: the C API cannot report errors.
      const argv = this.#argv(["bpf-linker", ...options]);
      this.api.LLVMParseCommandLineOptions(argv.count, argv.pointers, cString(""));
      return [];
    }
    if (checked) return [];
    // Find which options failed by parsing each alone. Resetting occurrence
    // counts between them also resets every option to its default, so the
    // accepted ones are applied afterwards, together, from a last reset.
    const reset = () => this.api._ZN4llvm2cl25ResetAllOptionOccurrencesEv?.();
    const rejected: string[] = [];
    for (const option of options) {
      reset();
      if (!this.#parseChecked(["bpf-linker", option])) rejected.push(option);
    }
    reset();
    this.#parseChecked(["bpf-linker", ...options.filter((option) => !rejected.includes(option))]);
    return rejected;
  }

  /** true/false from the C++ parser, undefined when it is not exported. */
  #parseChecked(args: string[]): boolean | undefined {
    const api = this.api;
    const nulls = api._ZN4llvm5nullsEv?.();
    const parseOld = api._ZN4llvm2cl23ParseCommandLineOptionsEiPKPKcNS_9StringRefEPNS_11raw_ostreamES2_b;
    const parseNew = api
      ._ZN4llvm2cl23ParseCommandLineOptionsEiPKPKcNS_9StringRefEPNS_11raw_ostreamEPNS_3vfs10FileSystemES2_b;
    if (!nulls || (!parseOld && !parseNew)) return undefined;
    const argv = this.#argv(args);
    const overview = cString("");
    const ok = parseNew
      ? parseNew(argv.count, argv.pointers, overview, 0, nulls, null, null, 0)
      : parseOld!(argv.count, argv.pointers, overview, 0, nulls, null, 0);
    return (ok & 1) === 1;
  }

  /** A C `argv`: NUL-terminated strings plus an array of their addresses. */
  #argv(args: string[]) {
    const strings = args.map(cString);
    const table = new BigUint64Array(args.length + 1);
    strings.forEach((s, i) => (table[i] = this.ffi.addressValue(s)));
    // `strings` must outlive the call; the caller's scope holds this object.
    return { count: args.length, pointers: new Uint8Array(table.buffer), strings };
  }

  /** Register the BPF target (info, MC, codegen, asm printer/parser, disassembler), once. */
  initializeBpfTarget(): void {
    if (this.#bpfInitialized) return;
    const api = this.api;
    api.LLVMInitializeBPFTargetInfo();
    api.LLVMInitializeBPFTarget();
    api.LLVMInitializeBPFTargetMC();
    api.LLVMInitializeBPFAsmPrinter();
    api.LLVMInitializeBPFAsmParser();
    api.LLVMInitializeBPFDisassembler();
    this.#bpfInitialized = true;
  }

  /**
   * Called when LLVM hits a fatal error, just before LLVM exits the process
   * with status 1; the handler must be synchronous.
   */
  onFatalError(handler: (reason: string) => void): void {
    const callback = this.retainCallback(
      this.ffi.callback(["ptr"], "void", (reason: unknown) => {
        handler(reason ? this.ffi.readCString(reason as Pointer) : "unknown reason");
      }),
    );
    this.api.LLVMInstallFatalErrorHandler(callback.pointer);
  }

  /** The numeric LLVM attribute kind for e.g. `noinline`. */
  attributeKind(name: string): number {
    const bytes = encoder.encode(name);
    return this.api.LLVMGetEnumAttributeKindForName(bytes, bytes.length);
  }
}
