// Response files (`@file`): rustc falls back to one when a command line gets too long.
//
// The syntax is the one GNU ld, GCC (libiberty) and LLVM's GNU tokenizer read, which is what
// rustc writes for non-MSVC linkers (one argument per line, spaces and backslashes escaped):
// whitespace separates arguments; '...' and "..." quote (newlines inside are kept); a
// backslash takes the next character literally, inside quotes too; `""` is an empty argument.

import { InputError } from "./errors.ts";

/** Deeper nesting than this is surely a cycle through differently spelled paths. */
const MAX_NESTING = 32;
/** Bounds what `@a` -> `@b @b` -> `@c @c @c @c` ... can blow up to. */
const MAX_EXPANDED_ARGS = 1_000_000;
/** Bounds the same blow-up when the files hold nothing but more `@file`s. */
const MAX_FILES_READ = 10_000;

const WHITESPACE = new Set([" ", "\t", "\n", "\r", "\v", "\f"]);

/** Split a response file's text into arguments (see the file comment for the syntax). */
export function tokenizeResponseFile(text: string, file: string): string[] {
  const args: string[] = [];
  let current = "";
  /** Something (even an empty pair of quotes) started an argument. */
  let inArgument = false;
  let quote: "'" | '"' | undefined;
  // A byte-order mark from a Windows editor is not part of the first argument.
  let i = text.startsWith("\uFEFF") ? 1 : 0;
  while (i < text.length) {
    const c = text[i++];
    if (c === "\\" && i < text.length) {
      current += text[i++];
      inArgument = true;
    } else if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else current += c;
    } else if (c === "'" || c === '"') {
      quote = c;
      inArgument = true;
    } else if (WHITESPACE.has(c)) {
      if (inArgument) args.push(current);
      current = "";
      inArgument = false;
    } else {
      // Includes a backslash that ends the text: nothing left to escape, keep it.
      current += c;
      inArgument = true;
    }
  }
  if (quote !== undefined) {
    const kind = quote === '"' ? "double" : "single";
    throw new InputError(`unterminated ${kind} quote in response file`, { file });
  }
  if (inArgument) args.push(current);
  return args;
}

/** `@path` names a response file; `@` alone is an ordinary argument. */
function responseFilePath(arg: string): string | undefined {
  return arg.length > 1 && arg.startsWith("@") ? arg.slice(1) : undefined;
}

function errorReason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function readResponseFile(path: string, readFile: (path: string) => string): string {
  try {
    return readFile(path);
  } catch (error) {
    throw new InputError(`cannot read response file: ${errorReason(error)}`, { file: path }, {
      cause: error,
    });
  }
}

/** The state of one expansion, shared by every nesting level. */
interface Expansion {
  readFile: (path: string) => string;
  out: string[];
  filesRead: number;
}

/** Expand `args` into `expansion.out`; `including` is the chain of files being expanded. */
function expandInto(
  args: readonly string[],
  including: readonly string[],
  expansion: Expansion,
): void {
  for (const arg of args) {
    const path = responseFilePath(arg);
    if (path === undefined) {
      if (expansion.out.length >= MAX_EXPANDED_ARGS) {
        throw new InputError(`response files expand to more than ${MAX_EXPANDED_ARGS} arguments`, {
          file: including.at(-1),
        });
      }
      expansion.out.push(arg);
      continue;
    }
    if (including.includes(path)) {
      throw new InputError("response file includes itself", { file: path });
    }
    if (including.length >= MAX_NESTING) {
      throw new InputError(`response files nested more than ${MAX_NESTING} deep`, { file: path });
    }
    if (++expansion.filesRead > MAX_FILES_READ) {
      throw new InputError(`more than ${MAX_FILES_READ} response files read`, { file: path });
    }
    const tokens = tokenizeResponseFile(readResponseFile(path, expansion.readFile), path);
    expandInto(tokens, [...including, path], expansion);
  }
}

/** Replace every `@path` argument by the arguments in that file, recursively. */
export function expandResponseFiles(args: string[], readFile: (path: string) => string): string[] {
  const expansion: Expansion = { readFile, out: [], filesRead: 0 };
  expandInto(args, [], expansion);
  return expansion.out;
}
