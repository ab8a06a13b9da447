// --why-extract: why each archive member is part of the link, in lld's format
// (a header line, then tab-separated `reference extracted symbol`). Members
// loaded for something other than an undefined symbol get a pseudo-reference
// in angle brackets in the first column, and `-` as the symbol when none applies.

import { describeInput } from "../input/files.ts";
import type { InclusionReason, MemberSelection } from "../input/member_selection.ts";

export const WHY_EXTRACT_HEADER = "reference\textracted\tsymbol";

/** The first and last columns of a why-extract line for `reason`. */
export function whyExtractColumns(
  reason: InclusionReason,
  wholeArchive: boolean,
): { reference: string; symbol: string } {
  switch (reason.kind) {
    case "undefined-symbol":
      return { reference: reason.referencedBy, symbol: reason.symbol };
    case "root":
      return { reference: "<export>", symbol: reason.symbol };
    case "used-list":
      return { reference: "<llvm.used>", symbol: "-" };
    case "module-asm":
      return { reference: "<module asm>", symbol: "-" };
    case "unreadable":
      return { reference: "<unreadable>", symbol: "-" };
    case "all-members":
      // Without --whole-archive, every member is kept when some linked module's
      // symbols cannot be read (what it needs is unknown).
      return { reference: wholeArchive ? "<whole-archive>" : "<unreadable input>", symbol: "-" };
    case "input":
      return { reference: "<input>", symbol: "-" };
  }
}

/** One sentence for the link map's input list. */
export function inclusionText(reason: InclusionReason, wholeArchive: boolean): string {
  switch (reason.kind) {
    case "input":
      return "named on the command line";
    case "undefined-symbol":
      return `defines ${reason.symbol}, referenced by ${reason.referencedBy}`;
    case "root":
      return `defines the exported symbol ${reason.symbol}`;
    case "used-list":
      return "has llvm.used or llvm.compiler.used (always kept)";
    case "module-asm":
      return "has module-level inline asm (always kept)";
    case "unreadable":
      return "its symbols cannot be read (kept to be safe)";
    case "all-members":
      return wholeArchive ? "--whole-archive" : "kept: a linked module's symbols cannot be read";
  }
}

/** The --why-extract text: the header, then one line per archive member loaded. */
export function formatWhyExtract(selection: MemberSelection, wholeArchive: boolean): string {
  const lines = [WHY_EXTRACT_HEADER];
  for (const { input, reason } of selection.selected) {
    if (input.member === undefined) continue;
    const { reference, symbol } = whyExtractColumns(reason, wholeArchive);
    lines.push(`${reference}\t${describeInput(input)}\t${symbol}`);
  }
  return `${lines.join("\n")}\n`;
}
