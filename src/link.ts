// Parsing module inputs and linking them into one module (SPEC 4, steps 2-3).

import type { Context } from "../ffi/context.ts";
import { LlvmFailure } from "../ffi/llvm.ts";
import type { Module } from "../ffi/module.ts";
import { readBitcodeProducer } from "./bitcode_producer.ts";
import { LinkError, ParseError } from "./errors.ts";
import { describeInput, type ModuleInput } from "./inputs.ts";
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

/** Parse one input into a module of `context`; failures name the file and member. */
export function parseModule(context: Context, input: ModuleInput): Module {
  const name = describeInput(input);
  try {
    return input.format === "ir" ? context.parseIr(input.bytes, name) : context.parseBitcode(input.bytes, name);
  } catch (e) {
    if (e instanceof LlvmFailure) {
      throw new ParseError(`cannot read ${input.format === "ir" ? "LLVM IR" : "bitcode"}: ${e.message}`, input);
    }
    throw e;
  }
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

/** A run of consecutive inputs already linked into one module. */
interface LinkedRun {
  module: Module;
  /** Index of the run's first input and one past its last. */
  first: number;
  end: number;
  /** Number of inputs merged into it, rounded to the balanced-tree level. */
  level: number;
}

/**
 * Parse and link every input into one module, keeping command-line order.
 *
 * Linking into one ever-growing module costs each step time proportional to
 * what is already linked (quadratic overall). Instead neighbours are merged
 * pairwise like a binary counter: equal-sized runs merge, the earlier run is
 * always the destination (so the first definition of a symbol still wins and
 * appending globals keep their order), and each input is re-walked only
 * log2(n) times. At most log2(n) modules are alive at once.
 */
export function linkModules(context: Context, inputs: ModuleInput[], log: Logger): Module {
  if (inputs.length === 0) {
    throw new LinkError("no LLVM bitcode in the inputs (nothing but skipped members and objects)");
  }
  const stack: LinkedRun[] = [];
  try {
    for (let i = 0; i < inputs.length; i++) {
      let run: LinkedRun = {
        module: mergeSectionData(context, parseModule(context, inputs[i]), inputs[i]),
        first: i,
        end: i + 1,
        level: 0,
      };
      while (stack.length > 0 && stack[stack.length - 1].level === run.level) {
        run = merge(context, inputs, stack.pop()!, run, log);
      }
      stack.push(run);
    }
    while (stack.length > 1) {
      const later = stack.pop()!;
      stack.push(merge(context, inputs, stack.pop()!, later, log));
    }
    return stack.pop()!.module;
  } catch (e) {
    for (const run of stack) run.module[Symbol.dispose]();
    throw e;
  }
}

/** Link `later` into `earlier`; `later`'s module is consumed. */
function merge(context: Context, inputs: ModuleInput[], earlier: LinkedRun, later: LinkedRun, log: Logger): LinkedRun {
  log.debug(`linking inputs ${later.first + 1}-${later.end} into ${earlier.first + 1}-${earlier.end}`);
  try {
    earlier.module.link(later.module);
  } catch (e) {
    earlier.module[Symbol.dispose]();
    if (!(e instanceof LlvmFailure)) throw e;
    const symbol = MULTIPLY_DEFINED.exec(e.message)?.[1];
    if (symbol === undefined) {
      throw new LinkError(`cannot link: ${e.message}`, inputs[later.first]);
    }
    const definers = definersOf(context, inputs.slice(earlier.first, later.end), symbol);
    const culprit = definers.length > 1 ? definers[definers.length - 1] : inputs[later.first];
    const others = definers.filter((d) => d !== culprit).map(describeInput);
    const also = others.length > 0 ? ` (also defined in ${others.join(", ")})` : "";
    throw new LinkError(`symbol '${symbol}' is defined more than once${also}`, { ...culprit, symbol });
  }
  return { module: earlier.module, first: earlier.first, end: later.end, level: earlier.level + 1 };
}
