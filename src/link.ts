// Parsing module inputs and linking them into one module (docs/ARCHITECTURE.md#link).

import type { Context } from "../ffi/context.ts";
import type { Module } from "../ffi/module.ts";
import { readBitcodeProducer } from "./input/bitcode_producer.ts";
import { LinkError, ParseError } from "./errors.ts";
import { withLlvm } from "./with_llvm.ts";
import { describeInput, type ModuleInput } from "./input/files.ts";
import type { Logger } from "./log.ts";
import { mergeSectionData } from "./section_merge.ts";

/** The newest LLVM major version that produced any of the bitcode inputs. */
export function newestProducerMajor(inputs: ModuleInput[]): number | undefined {
  let newest: number | undefined;
  for (const input of inputs) {
    if (input.format !== "bitcode") continue;
    const major = readBitcodeProducer(input.bytes)?.llvmVersion?.major;
    if (major !== undefined && (newest === undefined || major > newest)) newest = major;
  }
  return newest;
}

/**
 * LLVM cannot read bitcode from a newer LLVM; say so plainly, naming the input
 * and both versions, before LLVM fails with an obscure record error.
 */
export function checkProducers(inputs: ModuleInput[], loaded: { major: number; text: string; path: string }): void {
  for (const input of inputs) {
    if (input.format !== "bitcode") continue;
    const producer = readBitcodeProducer(input.bytes);
    const version = producer?.llvmVersion;
    if (version && version.major > loaded.major) {
      throw new ParseError(
        `bitcode produced by LLVM ${version.major}.${version.minor}.${version.patch} ('${producer!.producer}') ` +
          `cannot be read by the loaded libLLVM ${loaded.text} (${loaded.path}); ` +
          `use LLVM ${version.major} or newer (--llvm <path>)`,
        input,
      );
    }
  }
}

/**
 * Parse one input into a module of `context`; failures name the file and
 * member. `lazily`: bitcode function bodies are read when the module is
 * linked into another (Context.parseBitcodeLazily), for a module that is only
 * ever a link's source.
 */
export function parseModule(context: Context, input: ModuleInput, lazily = false): Module {
  const name = describeInput(input);
  return withLlvm(
    () =>
      input.format === "ir"
        ? context.parseIr(input.bytes, name)
        : lazily
        ? context.parseBitcodeLazily(input.bytes, name)
        : context.parseBitcode(input.bytes, name),
    (message) => new ParseError(`cannot read ${input.format === "ir" ? "LLVM IR" : "bitcode"}: ${message}`, input),
  );
}

/**
 * Parse one input for linking: its `license`/`version` section data is merged
 * with the same data of the inputs before it (src/section_merge.ts).
 */
function parseInput(context: Context, input: ModuleInput, lazily: boolean): Module {
  return mergeSectionData(context, parseModule(context, input, lazily), input);
}

const MULTIPLY_DEFINED = /Linking globals named '([^']+)': symbol multiply defined/;

/** Which inputs define `symbol` (only called on the error path, so re-parsing is fine). */
function definersOf(context: Context, inputs: ModuleInput[], symbol: string): ModuleInput[] {
  return inputs.filter((input) => {
    try {
      using module = parseModule(context, input);
      return [...module.functions(), ...module.globalVariables(), ...module.aliases()].some(
        (v) => v.name === symbol && !v.isDeclaration,
      );
    } catch {
      return false;
    }
  });
}

/** What the Rust bpf-linker names the module it links into (and so the object's FILE symbol). */
export const LINKED_MODULE_NAME = "linked_module";

/**
 * How much linking one input after another may cost, as a multiple of the
 * inputs' total size (see linkModules).
 */
export const SEQUENTIAL_WORK_FACTOR = 8;

/**
 * How many of `sizes` (leading inputs) to link one after another into the
 * growing module: each such link walks everything linked before it, so the
 * walk is bounded by `factor` times the total size. At least one.
 */
export function sequentialPrefix(sizes: readonly number[], factor = SEQUENTIAL_WORK_FACTOR): number {
  const budget = factor * sizes.reduce((a, b) => a + b, 0);
  let linked = 0;
  let work = 0;
  let count = 0;
  for (const size of sizes) {
    if (count > 0 && work + linked > budget) break;
    work += linked;
    linked += size;
    count++;
  }
  return count;
}

/** A run of consecutive inputs already linked into one module. */
interface LinkedRun {
  module: Module;
  /** Index of the run's first input and one past its last. */
  first: number;
  end: number;
  /** Number of inputs merged into it, rounded to the balanced-tree level. */
  level: number;
  /** One input read lazily (parseModule): its function bodies are read by the link. */
  lazy?: boolean;
}

/**
 * Parse and link every input into one module named `linked_module`, in
 * command-line order, as the Rust bpf-linker and llvm-link do: each input is
 * linked into the module holding everything before it (LLVMLinkModules2 into
 * an initially empty module). That decides the order of functions and
 * globals (LLVM's IRMover brings a local function in
 * when it is first referenced, so it lands after its first user), and with it
 * the object's layout and BTF type ids.
 *
 * Each such link also walks the whole module linked so far (IRMover's set-up
 * finds the destination's struct types), so linking n inputs this way costs
 * n^2/2 walks. It is done while that work stays within
 * SEQUENTIAL_WORK_FACTOR times the inputs' size (a rustc link, a few C files:
 * all of them); the inputs beyond are merged pairwise like a binary counter
 * (each re-walked log2(n) times, the earlier run always the destination so
 * the first definition of a symbol still wins) and the result linked in as
 * one module. Their functions then come in the order LLVM finds them from
 * that merged module, which can differ from llvm-link's.
 */
export function linkModules(context: Context, inputs: ModuleInput[], log: Logger): Module {
  if (inputs.length === 0) {
    throw new LinkError("no LLVM bitcode in the inputs (nothing but skipped members and objects)");
  }
  const prefix = sequentialPrefix(inputs.map((input) => input.bytes.length));
  const linked = context.createModule(LINKED_MODULE_NAME);
  try {
    for (let i = 0; i < prefix; i++) {
      log.debug(`linking ${describeInput(inputs[i])}`);
      linkInto(context, inputs, { module: linked, first: 0, end: i, level: 0 }, {
        module: parseInput(context, inputs[i], true),
        first: i,
        end: i + 1,
        level: 0,
        lazy: true,
      });
    }
    if (prefix < inputs.length) {
      log.debug(
        `linking the other ${inputs.length - prefix} inputs pairwise first (linking each into everything before it ` +
          `would cost more than ${SEQUENTIAL_WORK_FACTOR}x their size)`,
      );
      const rest = mergePairwise(context, inputs, prefix, log);
      log.debug(`linking inputs ${prefix + 1}-${inputs.length} (merged) into ${LINKED_MODULE_NAME}`);
      linkInto(context, inputs, { module: linked, first: 0, end: prefix, level: 0 }, rest);
    }
    // Read whole, an input with debug info was verified on the way (LLVM's
    // debug-info upgrade runs the verifier); read lazily, it is not. The linked
    // module is verified once instead, as llvm-link verifies what it writes.
    const broken = linked.verify();
    if (broken !== undefined) {
      throw new LinkError(`the linked module is not valid LLVM IR: ${broken.trim().split("\n")[0]}`);
    }
    return linked;
  } catch (e) {
    linked[Symbol.dispose]();
    throw e;
  }
}

/** Link inputs[from..] pairwise (see linkModules) into one module. */
function mergePairwise(context: Context, inputs: ModuleInput[], from: number, log: Logger): LinkedRun {
  const stack: LinkedRun[] = [];
  try {
    for (let i = from; i < inputs.length; i++) {
      log.debug(`linking ${describeInput(inputs[i])}`);
      // Read lazily only what is linked into the run before it right away: a
      // run that waits on the stack becomes a link's destination.
      const lazy = stack.length > 0 && stack[stack.length - 1].level === 0;
      let run: LinkedRun = { module: parseInput(context, inputs[i], lazy), first: i, end: i + 1, level: 0, lazy };
      while (stack.length > 0 && stack[stack.length - 1].level === run.level) {
        run = merge(context, inputs, stack.pop()!, run);
      }
      stack.push(run);
    }
    while (stack.length > 1) {
      const later = stack.pop()!;
      stack.push(merge(context, inputs, stack.pop()!, later));
    }
    return stack.pop()!;
  } catch (e) {
    for (const run of stack) run.module[Symbol.dispose]();
    throw e;
  }
}

/** Link `later` into `earlier`; `later`'s module is consumed, `earlier`'s disposed on failure. */
function merge(context: Context, inputs: ModuleInput[], earlier: LinkedRun, later: LinkedRun): LinkedRun {
  try {
    linkInto(context, inputs, earlier, later);
  } catch (e) {
    earlier.module[Symbol.dispose]();
    throw e;
  }
  return { module: earlier.module, first: earlier.first, end: later.end, level: earlier.level + 1 };
}

/**
 * Link `later` into `earlier.module` (`later`'s module is consumed); a failure
 * is a LinkError naming the input, and for a symbol defined twice, its definers.
 */
function linkInto(context: Context, inputs: ModuleInput[], earlier: LinkedRun, later: LinkedRun): void {
  withLlvm(() => earlier.module.link(later.module), (message) => {
    // A lazily read input's function bodies are first read by the link: if it
    // does not read whole, that is the error, as when it is parsed up front.
    if (later.lazy) parseModule(context, inputs[later.first])[Symbol.dispose]();
    const symbol = MULTIPLY_DEFINED.exec(message)?.[1];
    if (symbol === undefined) return new LinkError(`cannot link: ${message}`, inputs[later.first]);
    const definers = definersOf(context, inputs.slice(earlier.first, later.end), symbol);
    const culprit = definers.length > 1 ? definers[definers.length - 1] : inputs[later.first];
    const others = definers.filter((d) => d !== culprit).map(describeInput);
    const also = others.length > 0 ? ` (also defined in ${others.join(", ")})` : "";
    return new LinkError(`symbol '${symbol}' is defined more than once${also}`, { ...culprit, symbol });
  });
}
