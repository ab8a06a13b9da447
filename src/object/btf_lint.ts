// The BTF lint (after --btf emission): decode the output object's .BTF and
// report, one line each, what the kernel's BTF checker (kernel/bpf/btf.c) and
// verifier will refuse at load time, naming the type or function:
//
// - Names. Identifiers (STRUCT, UNION, ENUM and ENUM64 names and their member
//   and value names, FWD, TYPEDEF, FUNC, VAR, FUNC_PROTO parameter names) must
//   match [A-Za-z_.][A-Za-z0-9_.]* (btf_name_valid_identifier); DATASEC names
//   must be printable; PTR, ARRAY, CONST, VOLATILE and RESTRICT must have no
//   name; TYPEDEF, FWD, FUNC and VAR must have one. Names are limited to
//   KSYM_NAME_LEN bytes: 512 since Linux 6.1, 128 before.
// - Global functions (BTF_FUNC_GLOBAL) that are BPF-to-BPF call targets are
//   verified on their own, from their BTF prototype alone (btf_prepare_func_args):
//   at most 5 arguments, a void or integer/enum return, and arguments that are
//   integers, enums or pointers. A pointer must be to the program's context (a
//   struct) or to memory of a size BTF gives (btf_resolve_size): not `void *`,
//   not a function, not a forward-declared struct. Structs, unions, arrays and
//   floats by value are refused. Program entry points (functions in a section
//   other than .text) and functions nothing calls are not checked this way.
// - Types LLVM could not write. A struct or union member, or a function
//   parameter, of type 0 (void) is what LLVM's BTF writer leaves where the
//   debug info has a type it has no BTF kind for (DWARF's UTF characters); the
//   kernel refuses a member so, and a parameter so unless it is an unnamed
//   last one (`...`). A function's parameters must all have names
//   (btf_func_check): C23's unnamed parameters and Rust's `_` have none. Each
//   of these makes the kernel refuse the whole BTF, and libbpf then loads the
//   programs without it.
// - Maps. libbpf refuses a BTF-defined map (a VAR in the `.maps` DATASEC) of
//   static linkage ("unsupported map linkage static"): the linker makes every
//   symbol that is not exported static, so a map must be exported.
//
// The usual object breaks none of these: certainlyClean (at the end) rules
// every finding out from the raw bytes first, and only otherwise is the BTF
// decoded and linted in full.

import {
  type Btf,
  BTF_KIND,
  BtfFormatError,
  type BtfLayout,
  btfLayout,
  type BtfType,
  parseBtf,
  parseBtfExtFuncInfo,
  readBtfExtFuncInfo,
  skipModifiers,
  typeWords,
} from "./btf.ts";
import { bpfToBpfCalls } from "./bpf_code.ts";
import { ElfFormatError, ElfObject, STT_FUNC } from "./elf.ts";

/** KSYM_NAME_LEN since Linux 6.1 ("kallsyms: increase maximum kernel symbol length to 512"). */
const KSYM_NAME_LEN = 512;
/** KSYM_NAME_LEN before Linux 6.1. */
const OLD_KSYM_NAME_LEN = 128;
const MAX_BPF_FUNC_REG_ARGS = 5;
/** At most this many lines; the rest is counted on one last line. */
const MAX_REPORTED = 25;

const KIND_WORD: Record<number, string> = {
  [BTF_KIND.INT]: "int",
  [BTF_KIND.PTR]: "pointer",
  [BTF_KIND.ARRAY]: "array",
  [BTF_KIND.STRUCT]: "struct",
  [BTF_KIND.UNION]: "union",
  [BTF_KIND.ENUM]: "enum",
  [BTF_KIND.FWD]: "forward declaration",
  [BTF_KIND.TYPEDEF]: "typedef",
  [BTF_KIND.CONST]: "const",
  [BTF_KIND.VOLATILE]: "volatile",
  [BTF_KIND.RESTRICT]: "restrict",
  [BTF_KIND.FUNC]: "function",
  [BTF_KIND.FUNC_PROTO]: "function prototype",
  [BTF_KIND.VAR]: "variable",
  [BTF_KIND.DATASEC]: "section",
  [BTF_KIND.FLOAT]: "float",
  [BTF_KIND.ENUM64]: "enum",
};

function describe(t: BtfType): string {
  const word = KIND_WORD[t.kind] ?? t.kindName.toLowerCase();
  return t.name === "" ? `anonymous ${word} (BTF type ${t.id})` : `${word} '${printable(t.name)}'`;
}

/** A name as it can be shown on one line. */
function printable(name: string): string {
  const shown = name.length > 60 ? `${name.slice(0, 57)}...` : name;
  // deno-lint-ignore no-control-regex
  const unprintable = /[\x00-\x1f\x7f']/g;
  return shown.replace(
    unprintable,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}

const utf8 = new TextEncoder();

/** What every kernel accepts as an identifier: checked first, the common case needs nothing else. */
const PLAIN_IDENTIFIER = /^[A-Za-z_.][A-Za-z0-9_.]*$/;

/** Why the kernel refuses `name` as a BTF identifier, or undefined when it accepts it. */
export function identifierProblem(name: string): string | undefined {
  // ASCII only, so its length is its size in bytes.
  if (name.length <= OLD_KSYM_NAME_LEN && PLAIN_IDENTIFIER.test(name)) return undefined;
  const length = utf8.encode(name).length;
  if (length > KSYM_NAME_LEN) {
    return `is ${length} bytes long: no kernel accepts names over ${KSYM_NAME_LEN}`;
  }
  const bad = [...new Set([...name].filter((c) => !/[A-Za-z0-9_.]/.test(c)))];
  if (bad.length > 0) {
    const shown = bad.slice(0, 8).map((
      c,
    ) => (/[\x21-\x7e]/.test(c) ? c : JSON.stringify(c).slice(1, -1)));
    return `has characters the kernel refuses in names: ${shown.join(" ")}${
      bad.length > 8 ? " ..." : ""
    }`;
  }
  if (/^[0-9]/.test(name)) return "starts with a digit, which the kernel refuses";
  if (length > OLD_KSYM_NAME_LEN) {
    return `is ${length} bytes long: kernels before 6.1 refuse names over ${OLD_KSYM_NAME_LEN}`;
  }
  return undefined;
}

function sectionNameProblem(name: string): string | undefined {
  if (name.length <= OLD_KSYM_NAME_LEN && /^[\x20-\x7e]*$/.test(name)) return undefined;
  const length = utf8.encode(name).length;
  if (length > KSYM_NAME_LEN) {
    return `is ${length} bytes long: no kernel accepts names over ${KSYM_NAME_LEN}`;
  }
  if ([...name].some((c) => !/[\x20-\x7e]/.test(c))) return "has characters that are not printable";
  if (length > OLD_KSYM_NAME_LEN) {
    return `is ${length} bytes long: kernels before 6.1 refuse names over ${OLD_KSYM_NAME_LEN}`;
  }
  return undefined;
}

/** A kind whose name the kernel requires: missing, or refused by `problemOf`. */
function checkRequiredName(
  t: BtfType,
  problemOf: (name: string) => string | undefined,
  report: (line: string) => void,
): void {
  if (t.name === "") {
    report(`${describe(t)} has no name, which the kernel requires`);
    return;
  }
  const problem = problemOf(t.name);
  if (problem) report(`${describe(t)}: the name ${problem}`);
}

function checkNames(btf: Btf, report: (line: string) => void): void {
  for (const t of btf.types) {
    switch (t.kind) {
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64: {
        const own = t.name === "" ? undefined : identifierProblem(t.name);
        if (own) report(`${describe(t)}: the name ${own}`);
        const parts = t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION
          ? t.members
          : t.values;
        const part = t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION ? "member" : "value";
        for (const m of parts) {
          if (m.name === "") {
            if (part === "value") report(`${describe(t)}: a ${part} has no name`);
            continue;
          }
          const problem = identifierProblem(m.name);
          if (problem) report(`${describe(t)}: ${part} '${printable(m.name)}' ${problem}`);
        }
        break;
      }
      case BTF_KIND.FWD:
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.FUNC:
      case BTF_KIND.VAR:
        checkRequiredName(t, identifierProblem, report);
        break;
      case BTF_KIND.FUNC_PROTO:
        for (const [i, p] of t.members.entries()) {
          if (p.name === "") continue;
          const problem = identifierProblem(p.name);
          if (problem) report(`${describe(t)}: parameter ${i + 1} '${printable(p.name)}' ${problem}`);
        }
        break;
      case BTF_KIND.DATASEC:
        checkRequiredName(t, sectionNameProblem, report);
        break;
      case BTF_KIND.PTR:
      case BTF_KIND.ARRAY:
      case BTF_KIND.CONST:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.RESTRICT:
        if (t.nameOffset !== 0) {
          const word = KIND_WORD[t.kind] ?? t.kindName.toLowerCase();
          report(
            `${word} type ${t.id} is named '${
              printable(t.name)
            }': the kernel refuses named ${word} types`,
          );
        }
        break;
      case BTF_KIND.TYPE_TAG:
        if (t.name === "") report(`type tag ${t.id} has no value`);
        break;
    }
  }
}

const WHOLE_BTF_REFUSED = "the kernel refuses the whole BTF, and libbpf loads the programs without it";

/** Members and parameters of type 0, and unnamed function parameters (see the top of this file). */
function checkTypeReferences(btf: Btf, report: (line: string) => void): void {
  // A prototype is reported under the first function that has it, if any.
  const functionOf = new Map<number, BtfType>();
  for (const t of btf.types) {
    if (t.kind === BTF_KIND.FUNC && !functionOf.has(t.sizeOrType)) functionOf.set(t.sizeOrType, t);
  }
  for (const t of btf.types) {
    if (t.kind === BTF_KIND.STRUCT || t.kind === BTF_KIND.UNION) {
      for (const m of t.members) {
        if (m.type !== 0) continue;
        const member = m.name === "" ? "an unnamed member" : `member '${printable(m.name)}'`;
        report(`${describe(t)}: ${member} has type 0, left where LLVM could not write its type: ${WHOLE_BTF_REFUSED}`);
      }
    } else if (t.kind === BTF_KIND.FUNC_PROTO) {
      const owner = functionOf.get(t.id);
      const last = t.members.length - 1;
      for (const [i, p] of t.members.entries()) {
        // An unnamed void last parameter is `...`.
        if (p.type !== 0 || (i === last && p.name === "")) continue;
        const parameter = `parameter ${i + 1}${p.name === "" ? "" : ` '${printable(p.name)}'`}`;
        report(
          `${owner ? describe(owner) : describe(t)}: ${parameter} has type 0, left where LLVM could not write its ` +
            `type ("Invalid arg#${i + 1}"): ${WHOLE_BTF_REFUSED}`,
        );
      }
    } else if (t.kind === BTF_KIND.FUNC) {
      const proto = btf.types[t.sizeOrType];
      if (proto?.kind !== BTF_KIND.FUNC_PROTO) continue;
      for (const [i, p] of proto.members.entries()) {
        if (p.name !== "" || p.type === 0) continue;
        report(
          `${describe(t)}: parameter ${i + 1} has no name, which the kernel requires of a function's ` +
            `parameters ("Invalid arg#${i + 1}"): ${WHOLE_BTF_REFUSED}`,
        );
      }
    }
  }
}

/** "(section index, byte offset)" keys of every BPF-to-BPF call target in the object. */
function callTargets(elf: ElfObject): Set<string> {
  return new Set(bpfToBpfCalls(elf).map((call) => `${call.targetSection}:${call.target}`));
}

/** Can btf_resolve_size() size this (already unmodified) type? */
function hasSize(btf: Btf, t: BtfType | undefined, depth = 0): boolean {
  if (!t || depth > 32) return false;
  switch (t.kind) {
    case BTF_KIND.INT:
    case BTF_KIND.PTR:
    case BTF_KIND.STRUCT:
    case BTF_KIND.UNION:
    case BTF_KIND.ENUM:
    case BTF_KIND.ENUM64:
    case BTF_KIND.FLOAT:
      return true;
    case BTF_KIND.ARRAY:
      return hasSize(btf, skipModifiers(btf, t.array!.type), depth + 1);
    default:
      return false; // void, FWD, FUNC_PROTO, FUNC, VAR, DATASEC
  }
}

function isScalar(t: BtfType | undefined): boolean {
  return !!t && (t.kind === BTF_KIND.INT || t.kind === BTF_KIND.ENUM || t.kind === BTF_KIND.ENUM64);
}

/** What the verifier refuses in the prototype of a global function, one reason per line. */
function prototypeProblems(btf: Btf, proto: BtfType): string[] {
  const out: string[] = [];
  const params = proto.members;
  const variadic = params.length > 0 && params[params.length - 1].type === 0;
  if (variadic) out.push("is variadic");
  const fixed = variadic ? params.slice(0, -1) : params;
  if (fixed.length > MAX_BPF_FUNC_REG_ARGS) {
    out.push(
      `takes ${fixed.length} arguments (at most ${MAX_BPF_FUNC_REG_ARGS} pass in registers)`,
    );
  }
  const ret = skipModifiers(btf, proto.sizeOrType);
  if (ret && ret.id !== 0 && !isScalar(ret)) {
    out.push(
      `returns ${ret.kind === BTF_KIND.PTR ? "a pointer" : describe(ret)}, not void or an integer`,
    );
  }
  for (const [i, p] of fixed.entries()) {
    const arg = `argument ${i + 1}${p.name ? ` '${printable(p.name)}'` : ""}`;
    const t = skipModifiers(btf, p.type);
    if (!t) continue;
    if (isScalar(t)) continue;
    if (t.kind === BTF_KIND.PTR) {
      const target = skipModifiers(btf, t.sizeOrType);
      if (target && (target.kind === BTF_KIND.STRUCT || target.kind === BTF_KIND.UNION)) continue;
      if (hasSize(btf, target)) continue;
      const pointee = !target || target.id === 0
        ? "void"
        : target.kind === BTF_KIND.FUNC_PROTO
        ? "a function"
        : describe(target);
      out.push(`${arg} points to ${pointee}, whose size the verifier cannot know`);
      continue;
    }
    out.push(`${arg} is ${describe(t)} by value`);
  }
  return out;
}

function checkGlobalFunctions(elf: ElfObject, btf: Btf, report: (line: string) => void): void {
  const called = callTargets(elf);
  const ext = elf.section(".BTF.ext");
  const sectionIndex = new Map(elf.sections.map((s) => [s.name, s.index]));
  // Where each FUNC's code is: from .BTF.ext, else from a FUNC symbol of the same name.
  const location = new Map<number, { section: string; key: string }>();
  if (ext) {
    for (const f of parseBtfExtFuncInfo(ext.data, btf)) {
      location.set(f.typeId, {
        section: f.section,
        key: `${sectionIndex.get(f.section)}:${f.offset}`,
      });
    }
  }
  const funcSymbols = new Map(
    elf.symbols.filter((s) => s.type === STT_FUNC && s.shndx !== 0).map((s) => [s.name, s]),
  );
  for (const t of btf.types) {
    if (t.kind !== BTF_KIND.FUNC || t.vlen !== 1) continue; // global linkage only
    let where = location.get(t.id);
    if (!where) {
      const symbol = funcSymbols.get(t.name);
      if (!symbol) continue;
      where = {
        section: elf.sections[symbol.shndx]?.name ?? "",
        key: `${symbol.shndx}:${symbol.value}`,
      };
    }
    if (where.section !== ".text" || !called.has(where.key)) continue;
    const proto = btf.types[t.sizeOrType];
    if (!proto || proto.kind !== BTF_KIND.FUNC_PROTO) continue;
    for (const problem of prototypeProblems(btf, proto)) {
      report(
        `global function '${printable(t.name)}' ${problem}: the verifier checks global functions ` +
          `on their own and will refuse it (make it static or change its signature)`,
      );
    }
  }
}

/**
 * Lint decoded BTF: one line per problem (without a "warning:" prefix). The
 * global-function rules need the object (`elf`) to know where each function is
 * and whether it is called; without it only names are checked.
 */
export function lintBtf(btf: Btf, elf?: ElfObject): string[] {
  const lines: string[] = [];
  const report = (line: string) => lines.push(`BTF: ${line}`);
  checkNames(btf, report);
  checkTypeReferences(btf, report);
  if (elf) checkGlobalFunctions(elf, btf, report);
  checkMapLinkage(btf, report);
  return lines;
}

/** BTF VAR linkage 0: static (the kernel's BTF_VAR_STATIC). */
const BTF_VAR_STATIC = 0;

/** Maps in `.maps` must not be static for libbpf to create them. */
function checkMapLinkage(btf: Btf, report: (line: string) => void): void {
  for (const section of btf.types) {
    if (section.kind !== BTF_KIND.DATASEC || section.name !== ".maps") continue;
    for (const v of section.variables) {
      const variable = btf.types[v.type];
      if (variable?.kind !== BTF_KIND.VAR || variable.linkage !== BTF_VAR_STATIC) continue;
      const name = printable(variable.name);
      report(
        `map '${name}' has static linkage: libbpf refuses it ("unsupported map linkage static"); ` +
          `export it (--export ${name}), or drop 'static' from its definition`,
      );
    }
  }
}

/**
 * Lint the BTF of a BPF object: one line per problem (without a "warning:"
 * prefix), at most MAX_REPORTED of them plus a count. [] when the object has
 * no .BTF, or nothing the kernel would refuse.
 */
export function lintBtfObject(object: Uint8Array | ElfObject): string[] {
  let lines: string[];
  try {
    const elf = object instanceof ElfObject ? object : new ElfObject(object);
    const section = elf.section(".BTF");
    if (!section || certainlyClean(section.data, elf)) return [];
    lines = lintBtf(parseBtf(section.data), elf);
  } catch (e) {
    if (!(e instanceof ElfFormatError || e instanceof BtfFormatError)) throw e;
    lines = [`BTF: cannot be decoded (${e.message}); the kernel will refuse it too`];
  }
  if (lines.length <= MAX_REPORTED) return lines;
  const rest = lines.length - (MAX_REPORTED - 1);
  return [...lines.slice(0, MAX_REPORTED - 1), `BTF: ... and ${rest} more problems`];
}

// ---------------------------------------------------------------------------
// The common case, read from the bytes

/** What a name offset holds, for certainlyClean: 0 is "not read yet". */
const NAME_EMPTY = 1;
/** An identifier every kernel accepts (PLAIN_IDENTIFIER, at most OLD_KSYM_NAME_LEN bytes). */
const NAME_PLAIN = 2;
/** Anything else: a name the lint would look at closely, or an offset past the strings. */
const NAME_OTHER = 3;

function isIdentifierByte(b: number, first: boolean): boolean {
  return (b >= 0x61 && b <= 0x7a) || (b >= 0x41 && b <= 0x5a) || b === 0x5f || b === 0x2e ||
    (!first && b >= 0x30 && b <= 0x39);
}

/** Byte by byte: for a name offset into the middle of a string (BTF allows it; LLVM writes none). */
function classifyName(strings: Uint8Array, offset: number): number {
  if (strings[offset] === 0) return NAME_EMPTY;
  const limit = Math.min(strings.length, offset + OLD_KSYM_NAME_LEN + 1);
  for (let at = offset; at < limit; at++) {
    const b = strings[at];
    if (b === 0) return NAME_PLAIN;
    if (!isIdentifierByte(b, at === offset)) return NAME_OTHER;
  }
  return NAME_OTHER; // too long
}

/**
 * The strings of a string section that are not plain identifiers (a
 * character outside [A-Za-z0-9_.], a leading digit, over OLD_KSYM_NAME_LEN
 * bytes), found where they start by one native regex over the whole section
 * (a byte loop per name is what cold code pays most for).
 */
const NOT_PLAIN = new RegExp(`(?<=^|\0)(?:[^\0]*[^A-Za-z0-9_.\0]|[0-9]|[^\0]{${OLD_KSYM_NAME_LEN + 1}})`, "g");
/** One character per byte, so that offsets into the text are byte offsets. */
const bytewise = new TextDecoder("latin1");

function notPlainStarts(strings: Uint8Array): Set<number> {
  const starts = new Set<number>();
  for (const match of bytewise.decode(strings).matchAll(NOT_PLAIN)) starts.add(match.index);
  return starts;
}

/** A DATASEC name sectionNameProblem accepts at once: printable ASCII, at most OLD_KSYM_NAME_LEN bytes. */
function plainSectionName(strings: Uint8Array, offset: number): boolean {
  if (offset >= strings.length || strings[offset] === 0) return false;
  const limit = Math.min(strings.length, offset + OLD_KSYM_NAME_LEN + 1);
  for (let at = offset; at < limit; at++) {
    const b = strings[at];
    if (b === 0) return true;
    if (b < 0x20 || b > 0x7e) return false;
  }
  return false;
}

/** Whether the NUL-terminated string at `offset` is `text` (ASCII). */
function nameIs(strings: Uint8Array, offset: number, text: string): boolean {
  if (offset + text.length >= strings.length) return false;
  for (let i = 0; i < text.length; i++) if (strings[offset + i] !== text.charCodeAt(i)) return false;
  return strings[offset + text.length] === 0;
}

/**
 * Whether lintBtf would certainly report nothing for `bytes` (a `.BTF`),
 * read from its raw types and string bytes with no name decoded: that is
 * what the lint of the usual object costs (decoding every type and name of a
 * CO-RE program's BTF is ~5 ms of a one-shot run's cold JavaScript).
 * Conservative: false whenever something might be reported or cannot be
 * read, and lintBtf then decides and words it. Each rule of the checks above
 * has its counterpart here; `elf` places the global functions (.BTF.ext).
 */
export function certainlyClean(bytes: Uint8Array, elf: ElfObject): boolean {
  let layout: BtfLayout;
  try {
    layout = btfLayout(bytes);
  } catch (e) {
    if (e instanceof BtfFormatError) return false;
    throw e;
  }
  const { littleEndian: le, typesStart, typesEnd, stringsStart, stringsEnd } = layout;
  if ((typesEnd - typesStart) % 4 !== 0) return false;
  const w = typeWords(bytes, layout);
  const strings = bytes.subarray(stringsStart, stringsEnd);
  if (strings.length === 0 || strings[strings.length - 1] !== 0) return false;
  const notPlain = notPlainStarts(strings);
  const nameAt = (offset: number): number => {
    if (offset >= strings.length) return NAME_OTHER;
    if (strings[offset] === 0) return NAME_EMPTY;
    if (offset === 0 || strings[offset - 1] === 0) return notPlain.has(offset) ? NAME_OTHER : NAME_PLAIN;
    return classifyName(strings, offset);
  };
  const starts = [0]; // index in `w` of each type's entry, by type id
  const functions: number[] = []; // type ids
  const mapSections: number[] = [];
  const end = w.length;
  let at = 0;
  while (at < end) {
    if (at + 3 > end) return false;
    starts.push(at);
    const name = w[at];
    const info = w[at + 1];
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    let size = 3; // words
    switch (kind) {
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
        size += 3 * vlen;
        if (at + size > end || nameAt(name) === NAME_OTHER) return false;
        for (let m = at + 3; m < at + size; m += 3) {
          if (w[m + 1] === 0 || nameAt(w[m]) === NAME_OTHER) return false;
        }
        break;
      case BTF_KIND.ENUM:
      case BTF_KIND.ENUM64: {
        const step = kind === BTF_KIND.ENUM ? 2 : 3;
        size += step * vlen;
        if (at + size > end || nameAt(name) === NAME_OTHER) return false;
        for (let v = at + 3; v < at + size; v += step) if (nameAt(w[v]) !== NAME_PLAIN) return false;
        break;
      }
      case BTF_KIND.FWD:
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.FUNC:
      case BTF_KIND.VAR:
        if (nameAt(name) !== NAME_PLAIN) return false;
        if (kind === BTF_KIND.FUNC) functions.push(starts.length - 1);
        if (kind === BTF_KIND.VAR) size = 4;
        break;
      case BTF_KIND.FUNC_PROTO:
        size += 2 * vlen;
        if (at + size > end) return false;
        for (let p = at + 3; p < at + size; p += 2) {
          const verdict = nameAt(w[p]);
          if (verdict === NAME_OTHER) return false;
          // A type 0 parameter is refused but for an unnamed last one (`...`).
          if (w[p + 1] === 0 && !(p === at + size - 2 && verdict === NAME_EMPTY)) return false;
        }
        break;
      case BTF_KIND.DATASEC:
        size += 3 * vlen;
        if (at + size > end || !plainSectionName(strings, name)) return false;
        if (nameIs(strings, name, ".maps")) mapSections.push(at);
        break;
      case BTF_KIND.PTR:
      case BTF_KIND.ARRAY:
      case BTF_KIND.CONST:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.RESTRICT:
        if (name !== 0) return false;
        if (kind === BTF_KIND.ARRAY) size = 6;
        break;
      case BTF_KIND.TYPE_TAG:
        if (name >= strings.length || nameAt(name) === NAME_EMPTY) return false;
        break;
      case BTF_KIND.INT:
      case BTF_KIND.DECL_TAG:
        size = 4;
        break;
      case BTF_KIND.FLOAT:
        break;
      default:
        return false;
    }
    at += size;
  }
  if (at !== end) return false;
  const kindOf = (id: number) => (id > 0 && id < starts.length ? (w[starts[id] + 1] >>> 24) & 0x1f : -1);

  // A function's parameters all need names; a global one is checked on its own if it is in .text.
  const globals = new Set<number>();
  for (const id of functions) {
    const f = starts[id];
    const protoId = w[f + 2];
    if (kindOf(protoId) === BTF_KIND.FUNC_PROTO) {
      const proto = starts[protoId];
      const last = proto + 3 + 2 * (w[proto + 1] & 0xffff);
      for (let p = proto + 3; p < last; p += 2) {
        if (w[p + 1] !== 0 && nameAt(w[p]) === NAME_EMPTY) return false;
      }
    }
    if ((w[f + 1] & 0xffff) === 1) globals.add(id);
  }
  if (globals.size > 0 && !globalFunctionsOutsideText(elf, strings, le, globals, (id) => w[starts[id]])) return false;

  // A map in `.maps` must not be static.
  for (const section of mapSections) {
    const last = section + 3 + 3 * (w[section + 1] & 0xffff);
    for (let v = section + 3; v < last; v += 3) {
      const id = w[v];
      if (kindOf(id) === BTF_KIND.VAR && w[starts[id] + 3] === BTF_VAR_STATIC) return false;
    }
  }
  return true;
}

/**
 * Whether none of the global FUNCs `globals` (type ids) has its code in
 * `.text`, where checkGlobalFunctions would judge it: from the func_info of
 * `.BTF.ext`, else from the ELF symbol of its name (`nameOffset`). False
 * when unsure (a `.BTF.ext` that does not read, a function placed neither way
 * is fine: the lint skips it too).
 */
function globalFunctionsOutsideText(
  elf: ElfObject,
  strings: Uint8Array,
  le: boolean,
  globals: Set<number>,
  nameOffset: (id: number) => number,
): boolean {
  const placed = new Set<number>();
  const ext = elf.section(".BTF.ext");
  if (ext) {
    let records;
    try {
      records = readBtfExtFuncInfo(ext.data, le, (offset) => nameIs(strings, offset, ".text"));
    } catch (e) {
      if (e instanceof BtfFormatError) return false;
      throw e;
    }
    for (const { section: inText, typeId } of records) {
      if (!globals.has(typeId)) continue;
      if (inText) return false;
      placed.add(typeId);
    }
  }
  for (const id of globals) {
    if (placed.has(id)) continue;
    const offset = nameOffset(id);
    const symbol = elf.symbols.findLast((s) => s.type === STT_FUNC && s.shndx !== 0 && nameIs(strings, offset, s.name));
    if (symbol && elf.sections[symbol.shndx]?.name === ".text") return false;
  }
  return true;
}
