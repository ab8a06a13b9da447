// Typed errors. Every user mistake becomes one of these; only the CLI entry
// (src/main.ts) turns them into `error: ...` lines and exit codes
// (docs/ARCHITECTURE.md#errors-and-exit-codes).

import type { LoadAttempt } from "../ffi/failures.ts";

/** Where an error happened: the input file, the archive member, the symbol. */
export interface ErrorLocation {
  file?: string;
  member?: string;
  symbol?: string;
}

function locationPrefix(where: ErrorLocation): string {
  if (!where.file) return "";
  return where.member ? `${where.file}(${where.member}): ` : `${where.file}: `;
}

/** Base class of every error the linker raises on purpose. */
export class LinkerError extends Error {
  readonly file?: string;
  readonly member?: string;
  readonly symbol?: string;
  /** The message without the file/member prefix. */
  readonly detail: string;

  constructor(detail: string, where: ErrorLocation = {}, options?: ErrorOptions) {
    super(locationPrefix(where) + detail, options);
    this.name = new.target.name;
    this.detail = detail;
    this.file = where.file;
    this.member = where.member;
    this.symbol = where.symbol;
  }
}

/** Bad command line: unknown flag, missing or invalid value. */
export class UsageError extends LinkerError {}

/** An input that cannot be read or recognized (file, archive member, response file). */
export class InputError extends LinkerError {}

/** A malformed `ar` archive (bad magic, truncated header, bogus size, bad name). */
export class ArchiveError extends InputError {}

/** LLVM refused an input module (parse error, bitcode from a newer LLVM). */
export class ParseError extends InputError {}

/** Linking modules failed (e.g. a symbol defined twice). */
export class LinkError extends LinkerError {}

/** Target machine could not be created (unknown triple, CPU). */
export class TargetError extends LinkerError {}

/** libLLVM could not be found or loaded; `attempts` says what became of every candidate. */
export class LlvmLoadError extends LinkerError {
  readonly attempts: readonly LoadAttempt[];

  constructor(detail: string, attempts: readonly LoadAttempt[], options?: ErrorOptions) {
    super(detail, {}, options);
    this.attempts = attempts;
  }
}

/** LLVM reported an error diagnostic, a failed pass pipeline or codegen failure. */
export class LlvmError extends LinkerError {}

/** Writing the output failed. */
export class OutputError extends LinkerError {}
