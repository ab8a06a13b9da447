// Parsing module inputs and linking them into one module (SPEC 4, steps 2-3).

import type { Context } from "../ffi/context.ts";
import { LlvmFailure } from "../ffi/llvm.ts";
import type { Module } from "../ffi/module.ts";
import { LinkError, ParseError } from "./errors.ts";
import { describeInput, type ModuleInput } from "./inputs.ts";
import type { Logger } from "./log.ts";

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

/**
 * Parse and link every input, in order, into one module. Each module is linked
 * right after it is parsed, so only one input module is alive at a time.
 */
export function linkModules(context: Context, inputs: ModuleInput[], log: Logger): Module {
  if (inputs.length === 0) throw new LinkError("no LLVM bitcode in the inputs");
  const linked = parseModule(context, inputs[0]);
  try {
    for (let i = 1; i < inputs.length; i++) {
      const input = inputs[i];
      const module = parseModule(context, input);
      log.debug(`linking ${describeInput(input)}`);
      try {
        linked.link(module);
      } catch (e) {
        if (!(e instanceof LlvmFailure)) throw e;
        const symbol = MULTIPLY_DEFINED.exec(e.message)?.[1];
        if (symbol === undefined) throw new LinkError(`cannot link: ${e.message}`, input);
        const others = definersOf(context, inputs.slice(0, i), symbol).map(describeInput);
        const also = others.length > 0 ? ` (also defined in ${others.join(", ")})` : "";
        throw new LinkError(`symbol '${symbol}' is defined more than once${also}`, { ...input, symbol });
      }
    }
    return linked;
  } catch (e) {
    linked[Symbol.dispose]();
    throw e;
  }
}
