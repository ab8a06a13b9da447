// The link pipeline (docs/ARCHITECTURE.md#pipeline), orchestrated for the CLI and the library API
// alike: prepareLink decides what can be decided before LLVM (modules, archive members, which
// libLLVM), then link runs the LLVM phases: one module -> target -> debug info -> exports ->
// optimize -> emit.

import { Context, type Diagnostic } from "../ffi/context.ts";
import type { Llvm } from "../ffi/llvm.ts";
import type { SourceNames } from "./btf/clang_c.ts";
import { llvmLoaded, loadLlvm } from "./load_llvm.ts";
import type { Module } from "../ffi/module.ts";
import { dumpModulePath, emitOutput, writeFileAtomically } from "./emit.ts";
import { LinkError, LlvmError, UsageError } from "./errors.ts";
import { withLlvm } from "./with_llvm.ts";
import { exportedSymbols, internalize, keptSymbols, optimize } from "./exports.ts";
import { describeInput, type InputFile, type ModuleInput, modulesOf } from "./input/files.ts";
import { readBitcodeSymbols } from "./input/bitcode_symbols.ts";
import { checkProducers, linkModules, newestProducerMajor } from "./link.ts";
import { type MemberSelection, selectModules } from "./input/member_selection.ts";
import { decideExpandInOrder, llvmCommandLine } from "./llvm_options.ts";
import { lintCode } from "./object/code_lint.ts";
import { ElfObject } from "./object/elf.ts";
import type { Logger } from "./log.ts";
import type { LinkOptions } from "./options.ts";
import { chooseTriple, createTargetMachine } from "./target.ts";
import type { PhaseTimer } from "./timing.ts";
import { unresolvedCallError, unresolvedCalls } from "./unresolved_calls.ts";

/**
 * The error LLVM's BPF backend reports for a memory builtin it leaves as a call.
 * Not an error when a linked module defines the builtin (Rust's
 * compiler_builtins); whether one does is checked on the emitted object.
 */
const BUILTIN_CALL_ERROR = /A call to built-in function '(memcpy|memmove|memset|memcmp|bcmp|strlen)' is not supported\.$/;

const appliedLlvmOptions = new WeakMap<Llvm, string>();

/**
 * Apply LLVM's process-wide options for `options`, once per loaded libLLVM.
 * Unknown --llvm-args are a UsageError; a later link that needs other
 * options than the first is refused (LLVM cannot change them).
 */
export function applyLlvmOptions(
  llvm: Llvm,
  options: LinkOptions,
  log: Logger,
  expandMemcpyInOrder = !options.disableExpandMemcpyInOrder,
): void {
  const args = llvmCommandLine(options, expandMemcpyInOrder);
  const key = JSON.stringify(args);
  const applied = appliedLlvmOptions.get(llvm);
  if (applied !== undefined) {
    if (applied !== key) {
      // Usually a C link (no memory builtins defined) and a Rust link in one process.
      const inOrder = (k: string) => k.includes('"--bpf-expand-memcpy-in-order"');
      const hint = inOrder(applied) !== inOrder(key)
        ? "; the two links differ in --bpf-expand-memcpy-in-order (passed only when the linked modules define " +
          "memset, memmove and memcmp): set disableExpandMemcpyInOrder in every link of the process, or link in separate processes"
        : "";
      throw new UsageError(
        `LLVM options are process-wide and were already set to ${applied}; cannot change them to ${key} in the same process${hint}`,
      );
    }
    return;
  }
  appliedLlvmOptions.set(llvm, key);
  const rejected = llvm.parseCommandLine(args);
  const fromUser = rejected.filter((a) => options.llvmArgs.includes(a));
  if (fromUser.length > 0) {
    throw new UsageError(
      `LLVM ${llvm.versionString} does not accept the option ${fromUser.map((a) => `'${a}'`).join(", ")} (from --llvm-args)`,
    );
  }
  // Options of ours that an older LLVM lacks (e.g. --bpf-disable-trap-unreachable
  // before the BPF backend emitted traps) are simply not needed there.
  for (const arg of rejected) log.debug(`LLVM ${llvm.versionString} does not know ${arg}; not passed`);
  llvm.initializeBpfTarget();
}

/** Every module the inputs hold, in order (archives opened, non-bitcode skipped). */
export function collectModuleInputs(files: InputFile[], log: Logger): ModuleInput[] {
  const modules = files.flatMap((file) => modulesOf(file, log));
  if (modules.length === 0 && files.length > 0) {
    const names = files.map((f) => f.path);
    const shown = names.length > 3 ? `${names.slice(0, 3).join(", ")} and ${names.length - 3} more` : names.join(", ");
    throw new LinkError(`no LLVM bitcode in the inputs: ${shown}`);
  }
  return modules;
}

/** The bytes of every linked module when all of them are bitcode (the sanitizer's C shortcut reads their strings). */
function linkedBitcode(selection: MemberSelection): Uint8Array[] | undefined {
  const inputs = selection.selected.map((s) => s.input);
  return inputs.every((input) => input.format === "bitcode") ? inputs.map((input) => input.bytes) : undefined;
}

/** What prepareLink decided: the libLLVM to link with and the modules to link. */
export interface PreparedLink {
  llvm: Llvm;
  /** Every module the inputs hold, from collectModuleInputs. */
  inputs: ModuleInput[];
  /** The modules to link, chosen from `inputs` (selectInputs). */
  selection: MemberSelection;
  /** For a --btf link of C from clang: the linked modules' strings, judged while libLLVM loaded. */
  sourceNames?: SourceNames;
}

/**
 * Everything decided before LLVM runs (docs/ARCHITECTURE.md#the-shape-of-a-link),
 * for the command and the library alike: the modules the inputs hold, the
 * archive members the link needs, and then the libLLVM, preferring one as new
 * as the newest LLVM that wrote a linked module (only the first load of the
 * process chooses; later links reuse it).
 */
export async function prepareLink(
  files: InputFile[],
  options: LinkOptions,
  llvmPath: string | undefined,
  log: Logger,
  timer: PhaseTimer,
): Promise<PreparedLink> {
  const inputs = timer.run("read inputs", () => collectModuleInputs(files, log));
  const selection = timer.run(
    "select members",
    () => selectInputs(inputs, exportedSymbols(options), options.wholeArchive, log),
  );
  const preferMajor = timer.run("read inputs", () => newestProducerMajor(selection.selected.map((s) => s.input)));
  const choosing = !llvmLoaded();
  let sourceNames: SourceNames | undefined;
  if (options.btf) {
    const btf = await loadBtfStages();
    // Work that needs no LLVM, done while it loads (on another thread where the
    // back end can): the BTF sanitizer's C shortcut judges the strings of the
    // linked modules. Only for modules that name clang as producer: for others
    // the walk is needed whatever their strings (docs/ARCHITECTURE.md#btf).
    if (choosing) sourceNames = timer.run("read inputs", () => btf.judgeSourceNames(linkedBitcode(selection), true));
  }
  const start = performance.now();
  const llvm = await loadLlvm({ explicitPath: llvmPath, preferMajor });
  timer.add("load libLLVM", performance.now() - start);
  const passedOver = llvm.attempts.filter((a) => a.outcome.startsWith("older than the input"));
  if (choosing && passedOver.length > 0 && llvm.version.major >= (preferMajor ?? 0)) {
    log.info(`inputs need LLVM ${preferMajor}: passed over ${passedOver.map((a) => a.path).join(", ")}`);
  }
  log.info(`using libLLVM ${llvm.versionString} at ${llvm.path}`);
  return { llvm, inputs, selection, sourceNames };
}

/** The stages only a --btf link runs: sanitize, prune, lint (docs/ARCHITECTURE.md#btf). */
interface BtfStages {
  sanitizeDebugInfo: typeof import("./btf/sanitize.ts").sanitizeDebugInfo;
  emptiedEnumsNotes: typeof import("./btf/sanitize.ts").emptiedEnumsNotes;
  pruneDeadCompileUnits: typeof import("./btf/prune.ts").pruneDeadCompileUnits;
  lintBtfObject: typeof import("./object/btf_lint.ts").lintBtfObject;
  orderForwardDeclarations: typeof import("./object/btf_order.ts").orderForwardDeclarations;
  judgeSourceNames: typeof import("./btf/clang_c.ts").judgeSourceNames;
}
let btfStages: BtfStages | undefined;

/**
 * Debug-info nodes the sanitizer visits before its JS garbage is collected
 * ahead of codegen: the 210-unit benchmark walks ~29,000 (peak RSS 144 MiB
 * with the collection, 152 without; 160 and 167 on Debian's libLLVM); one C
 * program from clang usually none (nothing to change), a Rust crate thousands.
 */
const GARBAGE_WORTH_COLLECTING = 10_000;

/**
 * Imported by prepareLink for a --btf link only: a link without it does not
 * evaluate the debug-info walk, the metadata wrappers or the BTF reader (a
 * dozen modules; start-up under `deno run`).
 */
async function loadBtfStages(): Promise<BtfStages> {
  const [sanitize, prune, lint, order, clangC] = await Promise.all([
    import("./btf/sanitize.ts"),
    import("./btf/prune.ts"),
    import("./object/btf_lint.ts"),
    import("./object/btf_order.ts"),
    import("./btf/clang_c.ts"),
  ]);
  btfStages ??= {
    sanitizeDebugInfo: sanitize.sanitizeDebugInfo,
    emptiedEnumsNotes: sanitize.emptiedEnumsNotes,
    pruneDeadCompileUnits: prune.pruneDeadCompileUnits,
    lintBtfObject: lint.lintBtfObject,
    orderForwardDeclarations: order.orderForwardDeclarations,
    judgeSourceNames: clangC.judgeSourceNames,
  };
  return btfStages;
}

/**
 * Looks at the module at fixed points of the pipeline (--why-live, --map for
 * non-object output). Only called when given: a plain link pays nothing.
 */
export interface LinkHooks {
  /** After exports are decided and everything else internalized, before the optimizer. */
  beforeOptimize?(module: Module): void;
  /** On the final module, after --dump-module, before code generation. */
  beforeCodegen?(module: Module): void;
}

export interface LinkRequest {
  /** From collectModuleInputs. */
  inputs: ModuleInput[];
  options: LinkOptions;
  /** Output path (or a name, for the library API), used to name --dump-module files. */
  outputName: string;
  hooks?: LinkHooks;
  /**
   * The process exits right after this link (the CLI): LLVM's memory is left
   * for the OS to reclaim instead of being freed piece by piece.
   */
  exitsAfterLink?: boolean;
  /** The modules to link, chosen from `inputs` by prepareLink. */
  selection: MemberSelection;
  /** prepareLink's PreparedLink.sourceNames, if any. */
  sourceNames?: SourceNames;
}

/** Handle one diagnostic; returns true when it fails the link. */
function reportDiagnostic(d: Diagnostic, log: Logger, fatalErrors: boolean): boolean {
  switch (d.severity) {
    case "error":
      if (BUILTIN_CALL_ERROR.test(d.message)) {
        // Judged on the object: an error only if no linked module defines the builtin.
        log.debug(`LLVM: ${d.message}`);
        return false;
      }
      if (fatalErrors) return true;
      log.warn(`LLVM error (not fatal with --fatal-errors false): ${d.message}`);
      return false;
    case "warning":
      log.warn(`LLVM: ${d.message}`);
      return false;
    case "remark":
      log.debug(`LLVM remark: ${d.message}`);
      return false;
    default:
      log.info(`LLVM note: ${d.message}`);
      return false;
  }
}

/** What a link produced, and what it decided on the way (for reports). */
export interface LinkOutcome {
  bytes: Uint8Array;
  selection: MemberSelection;
  exported: Set<string>;
}

/** Choose the modules to link: inputs, plus the archive members they need. */
export function selectInputs(inputs: ModuleInput[], exported: Set<string>, wholeArchive: boolean, log: Logger) {
  const selection = selectModules(inputs, exported, (input) => readBitcodeSymbols(input.bytes), wholeArchive);
  for (const { input, reason } of selection.selected) {
    log.debug(`loading ${describeInput(input)} (${describeReason(reason)})`);
  }
  for (const input of selection.skipped) log.debug(`not loading ${describeInput(input)}: nothing references a symbol it defines`);
  return selection;
}

/** Why a module is linked, in words, for the debug log. */
function describeReason(reason: MemberSelection["selected"][number]["reason"]): string {
  switch (reason.kind) {
    case "input":
      return "named on the command line";
    case "all-members":
      return "every member linked: --whole-archive, or what a linked module references cannot be read";
    case "root":
      return `defines '${reason.symbol}', which is exported`;
    case "used-list":
      return "it has llvm.used or llvm.compiler.used";
    case "module-asm":
      return "it has module asm";
    case "unreadable":
      return "its symbols could not be read, so it is kept";
    case "undefined-symbol":
      return `defines '${reason.symbol}', referenced by ${reason.referencedBy}`;
  }
}

/** Link `request.inputs` into the bytes of the requested output kind. */
export function link(llvm: Llvm, request: LinkRequest, log: Logger, timer: PhaseTimer): LinkOutcome {
  const { options, selection } = request;
  const listed = exportedSymbols(options);
  const inputs = selection.selected.map((s) => s.input);
  const inOrder = timer.run("configure LLVM", () => {
    const decision = decideExpandInOrder(options, inputs);
    if (decision.reason) log.info(decision.reason);
    applyLlvmOptions(llvm, options, log, decision.expand);
    return decision.expand || options.llvmArgs.some((a) => /^--?bpf-expand-memcpy-in-order\b/.test(a));
  });

  const failures: string[] = [];
  // Remarks only go to the debug log: not even described when it is off.
  using context = new Context(llvm, (d) => {
    if (reportDiagnostic(d, log, options.fatalErrors)) failures.push(d.message);
  }, { remarks: log.enabled("debug") });
  if (request.exitsAfterLink) context.leaveToProcessExit();

  const v = llvm.version;
  checkProducers(inputs, { major: v.major, text: llvm.versionString, path: llvm.path });
  using module = timer.run("parse and link", () => linkModules(context, inputs, log));

  const triple = chooseTriple(module.triple, options.target);
  log.debug(`target ${triple}, cpu ${options.cpu}, features '${options.cpuFeatures}'`);
  using machine = timer.run("configure LLVM", () => createTargetMachine(llvm, triple, options));
  module.triple = triple;
  module.setDataLayout(machine);
  const exported = keptSymbols(module, listed, options);

  // Set whenever options.btf is: prepareLink imported them.
  const btf = options.btf ? btfStages : undefined;
  if (options.btf && !btf) throw new Error("link() of a --btf link before prepareLink()");
  if (!btf) {
    timer.run("strip debug info", () => module.stripDebugInfo());
    // The inputs' bytes are parsed: their pages need not stay resident through
    // optimization and codegen, where memory peaks. They stay mapped; anything
    // that reads them later gets them back.
    if (request.exitsAfterLink) llvm.ffi.releaseMappedPages();
  }

  timer.run("internalize", () => internalize(llvm, module, exported, options, log));
  const hooks = request.hooks;
  if (hooks?.beforeOptimize) timer.run("explain", () => hooks.beforeOptimize!(module));
  timer.run("optimize", () => optimize(module, machine, options.optLevel));
  if (btf) {
    // BTF is emitted by the BPF backend from the debug info we keep, once the
    // sanitizer has made it C-shaped (docs/ARCHITECTURE.md#btf). After the
    // optimizer, which changes nothing it looks at: it then walks only the
    // functions that are left (a fifth of the time on a Rust program that
    // pulls in core::fmt), and BTF is the same.
    const report = timer.run("sanitize", () =>
      withLlvm(
        () => btf.sanitizeDebugInfo(module, exported, log, { sourceBitcode: linkedBitcode(selection), sourceNames: request.sourceNames }),
        (message) => new LlvmError(`cannot sanitize debug info for BTF: ${message}`),
      ));
    const notes = btf.emptiedEnumsNotes(report);
    if (notes.info) log.info(notes.info);
    for (const warning of notes.warnings) log.warn(warning);
    // The inputs' strings have been read: their pages need not stay resident through codegen.
    if (request.exitsAfterLink) llvm.ffi.releaseMappedPages();
    // Compile units left without code would still be emitted as DWARF, so the
    // object would depend on which unused archive members were linked.
    timer.run("prune debug info", () => {
      withLlvm(
        () => btf.pruneDeadCompileUnits(module, log),
        (message) => new LlvmError(`cannot prune debug info: ${message}`),
      );
      // Codegen is where memory peaks: the sanitizer's and this walk's JS garbage
      // goes first, in one collection (a second one after sanitizing lowered the
      // peak no further and cost ~2 ms), when the walk was big enough to leave
      // garbage that matters (~1.5 ms a collection). Only for the command: in a
      // library user's process a full collection is theirs to time.
      if (request.exitsAfterLink && report.nodes >= GARBAGE_WORTH_COLLECTING) llvm.ffi.collectGarbage();
    });
  }

  if (options.dumpModule) {
    const path = dumpModulePath(options.dumpModule, request.outputName);
    timer.run("dump module", () => writeFileAtomically(path, new TextEncoder().encode(module.toIrText())));
    log.info(`wrote the final IR to ${path}`);
  }

  if (hooks?.beforeCodegen) timer.run("explain", () => hooks.beforeCodegen!(module));
  const bytes = timer.run("codegen", () => emitOutput(module, machine, options.emit));
  if (failures.length > 0) {
    throw new LlvmError(failures.length === 1 ? failures[0] : `${failures[0]} (and ${failures.length - 1} more LLVM errors)`);
  }
  if (options.emit === "obj") {
    // Read once for the checks below; LLVM wrote it, so it reads.
    const object = new ElfObject(bytes);
    // The BTF writer orders some types by address: one order, so every run gives the same bytes.
    const reordered = btf ? timer.run("order BTF", () => btf.orderForwardDeclarations(object)) : 0;
    if (reordered > 0) log.debug(`BTF: put ${reordered} forward declarations in the order their pointers are met`);
    // An object that calls a function nothing defines would only fail at load time.
    const calls = unresolvedCalls(object, module);
    if (calls.length > 0) {
      if (options.fatalErrors) throw unresolvedCallError(calls, inOrder);
      log.warn(`${unresolvedCallError(calls, inOrder).message} (not fatal with --fatal-errors false)`);
    }
    // What the kernel would refuse, said now rather than at load time.
    for (const line of timer.run("lint code", () => lintCode(object))) log.warn(line);
    if (btf) for (const line of timer.run("lint BTF", () => btf.lintBtfObject(object))) log.warn(line);
  }
  return { bytes, selection, exported };
}
