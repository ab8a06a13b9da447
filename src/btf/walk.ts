// The BTF sanitizer's walk (docs/ARCHITECTURE.md#btf, src/btf/sanitize.ts):
// every debug-info node reachable from the module's globals, functions, their
// attachments and instructions is visited once and rewritten in place: names
// the kernel checks made C identifiers, pointer types unnamed, struct members
// sorted by offset, data-carrying enums emptied, aya's map marker dropped,
// unnamed parameters named, and every reference to an old node (subprogram,
// Rust's `char`) pointed at its replacement.
//
// Its order is fixed: a node changed so that it equals another one becomes
// distinct, so which of two equal nodes that is depends on the order of the
// changes, and the output with it. What makes the walk cheaper keeps that order:
// - operands that only ever hold a string or a file (names, linkage names,
//   files) are not visited: nothing below them changes;
// - what a struct's member list is read for (each member's kind, tag and
//   operands) travels on the stack to the member's own visit, not read again;
// - each distinct name is checked once;
// - debug locations, most of the nodes of a Rust program, are read by their
//   own address (LocationRef), without a MetadataAsValue made for each.

import {
  type BodyVisitor,
  type DebugFunction,
  type DebugMetadata,
  DI_FLAG_FWD_DECL,
  DwTag,
  hasOperands,
  type LocationRef,
  type MDRef,
  MetadataKind,
  NO_LOCATION,
  NO_MD,
} from "../../ffi/metadata.ts";
import { LlvmError } from "../errors.ts";
import { sanitizeTypeName } from "./names.ts";

/** The type aya-ebpf puts in its BTF map definitions (see fixMembers). */
export const AYA_MAP_MARKER = "AyaBtfMapMarker";

/** A walk entry whose kind or tag is not known yet, or that is a LocationRef. */
const UNKNOWN = -1;
const LOCATION = -2;

/** A struct's element list as its visit read it, for the list's own visit. */
interface MemberList {
  tuple: MDRef;
  items: MDRef[];
  /** Per item: its kind and DWARF tag (or UNKNOWN), and a member's operands. */
  kinds: number[];
  tags: number[];
  operands: (MDRef[] | undefined)[];
}

/** DIType kinds: file, scope and name first. */
const TYPE_KINDS = [
  MetadataKind.DIBasicType,
  MetadataKind.DIDerivedType,
  MetadataKind.DICompositeType,
  MetadataKind.DISubroutineType,
  MetadataKind.DIStringType,
  MetadataKind.DISubrangeType,
  MetadataKind.DIFixedPointType,
];

/**
 * Kinds whose operands never need a visit: not nodes (strings, constants,
 * values), and nodes that hold only those (base types, files, expressions).
 */
const LEAF: readonly boolean[] = (() => {
  const leaf = Array.from({ length: 64 }, (_, kind) => !hasOperands(kind));
  for (
    const kind of [
      MetadataKind.DIBasicType,
      MetadataKind.DIFixedPointType,
      MetadataKind.DIFile,
      MetadataKind.DIExpression,
    ]
  ) leaf[kind] = true;
  return leaf;
})();

/** What the walk changed, for the sanitizer's report. */
export interface WalkCounts {
  /** Metadata nodes visited. */
  nodes: number;
  /** Names changed (sanitized or removed). */
  renamed: number;
  /** Composite types whose members were reordered. */
  reordered: number;
}

/**
 * Walk the debug info of `md`'s module from its roots and rewrite it in place
 * (see the top of this file); `replacements` maps old subprograms to their
 * local-to-unit ones. Counts go to `report`; returns the qualified names of
 * the emptied data-carrying enums, and those types by node.
 */
export function walkDebugInfo(
  md: DebugMetadata,
  functions: readonly DebugFunction[],
  replacements: ReadonlyMap<MDRef, MDRef>,
  report: WalkCounts,
): { emptied: Set<string>; emptiedNodes: Map<MDRef, string> } {
  // Old subprograms are never visited (every reference to one is rewritten to
  // its replacement first), so an operand already visited needs no lookup.
  const at = md.layout;
  const elementsOperand = at.composite.elements;
  const emptied = new Set<string>();
  /** The emptied composite types, by node, with their qualified names. */
  const emptiedNodes = new Map<MDRef, string>();
  const visited = new Set<number>();
  const visitedLocations = new Set<number>();
  // The nodes to visit, and what is known of each before its visit, in parallel:
  /** MDRefs, and LocationRefs where `kinds` says LOCATION. */
  const stack: number[] = [];
  /** The node's MetadataKind, UNKNOWN, or LOCATION. */
  const kinds: number[] = [];
  /** The node's DWARF tag, or UNKNOWN. */
  const tags: number[] = [];
  /** The node's operands when read already: a member's, or an element list's with its members'. */
  const known: (MDRef[] | MemberList | undefined)[] = [];
  const push = (ref: MDRef, kind: number) => {
    if (ref === NO_MD || visited.has(ref)) return;
    const replacement = replacements.get(ref);
    if (replacement !== undefined) {
      ref = replacement;
      kind = UNKNOWN;
      if (visited.has(ref)) return;
    }
    visited.add(ref);
    stack.push(ref);
    kinds.push(kind);
    tags.push(UNKNOWN);
    known.push(undefined);
  };
  const pushLocation = (location: LocationRef) => {
    if (location === NO_LOCATION || visitedLocations.has(location)) return;
    visitedLocations.add(location);
    stack.push(location);
    kinds.push(LOCATION);
    tags.push(UNKNOWN);
    known.push(undefined);
  };

  /** A name's sanitized MDString, or NO_MD when it is fine as it is; by MDString. */
  const cleanNames = new Map<MDRef, MDRef>();
  /** Replace the name (operand `position`) with its sanitized form, or remove it. */
  const rename = (node: MDRef, ops: MDRef[], remove: boolean, position: number) => {
    if (ops.length <= position) return;
    const nameRef = ops[position];
    if (nameRef === NO_MD) return;
    if (remove) {
      md.replaceOperand(node, position, NO_MD);
      ops[position] = NO_MD;
      report.renamed++;
      return;
    }
    let cleanRef = cleanNames.get(nameRef);
    if (cleanRef === undefined) {
      const name = md.string(nameRef);
      const clean = sanitizeTypeName(name);
      cleanRef = clean === name ? NO_MD : md.mdString(clean);
      cleanNames.set(nameRef, cleanRef);
    }
    if (cleanRef === NO_MD) return;
    md.replaceOperand(node, position, cleanRef);
    ops[position] = cleanRef;
    report.renamed++;
  };

  /**
   * A variable without a name: if it is a parameter (Rust's `_`, C23's unnamed
   * ones), name it `argN`. LLVM's BTF writer names a function's parameters from
   * these variables, and the kernel refuses a function with an unnamed one
   * ("Invalid arg#N"). The argument number is no operand: read from the node's text.
   */
  const nameParameter = (node: MDRef, ops: MDRef[]) => {
    const arg = /\barg: (\d+)/.exec(md.describe(node))?.[1];
    if (arg === undefined) return;
    const name = md.mdString(`arg${arg}`);
    md.replaceOperand(node, at.variable.name, name);
    ops[at.variable.name] = name;
    report.renamed++;
  };

  /** `crate::module::Name` from the namespaces around a type (read before renaming). */
  const qualifiedName = (ops: MDRef[]): string => {
    const parts = [md.string(ops[at.type.name]) || "(anonymous)"];
    let scope = ops[at.type.scope] ?? NO_MD;
    // Types nest in namespaces (Rust modules, functions) and other types.
    for (let depth = 0; scope !== NO_MD && depth < 64; depth++) {
      const kind = md.kind(scope);
      if (kind !== MetadataKind.DINamespace && kind !== MetadataKind.DICompositeType) break;
      const scopeOps = md.operands(scope);
      const position = kind === MetadataKind.DINamespace ? at.namespace : at.type;
      const name = md.string(scopeOps[position.name] ?? NO_MD);
      if (name) parts.push(name);
      scope = scopeOps[position.scope] ?? NO_MD;
    }
    return parts.reverse().join("::");
  };

  /** Whether a type is aya-ebpf's `AyaBtfMapMarker`, by type: members share their base types. */
  const markerTypes = new Map<MDRef, boolean>();
  const isMarkerType = (type: MDRef): boolean => {
    if (type === NO_MD) return false;
    let marker = markerTypes.get(type);
    if (marker === undefined) {
      marker = md.typeNameIs(type, AYA_MAP_MARKER) &&
        md.kind(type) === MetadataKind.DICompositeType;
      markerTypes.set(type, marker);
    }
    return marker;
  };

  /** The member list of the composite being visited, for the list's own visit. */
  let memberList: MemberList | undefined;
  /**
   * Struct/union: drop a data-carrying enum's variants, or sort members by
   * offset. A member of type `AyaBtfMapMarker` is dropped and the struct made
   * anonymous (returns true): aya-ebpf marks its BTF map definitions so, and
   * libbpf refuses a map definition with a member it does not know.
   */
  const fixMembers = (node: MDRef, ops: MDRef[]): boolean => {
    if (md.typeFlags(node) & DI_FLAG_FWD_DECL) return false;
    const elements = elementsOperand < ops.length ? ops[elementsOperand] : NO_MD;
    if (elements === NO_MD) return false;
    if (md.kind(elements) !== MetadataKind.MDTuple) {
      throw new LlvmError(
        `unexpected DICompositeType layout in LLVM ${md.llvm.versionString}: elements are not operand ${elementsOperand}`,
      );
    }
    const items = md.operands(elements);
    const list: MemberList = {
      tuple: elements,
      items,
      kinds: new Array<number>(items.length).fill(UNKNOWN),
      tags: new Array<number>(items.length).fill(UNKNOWN),
      operands: new Array<MDRef[] | undefined>(items.length),
    };
    const members: { offset: number; index: number }[] = [];
    let sorted = true;
    let marked = false;
    let last = -Infinity;
    for (let i = 0; i < items.length; i++) {
      const item = items[i];
      if (item === NO_MD) continue;
      const kind = list.kinds[i] = md.kind(item);
      if (kind === MetadataKind.DICompositeType) {
        const tag = list.tags[i] = md.tag(item);
        if (tag === DwTag.variantPart) {
          const empty = md.tuple([]);
          md.replaceOperand(node, elementsOperand, empty);
          ops[elementsOperand] = empty;
          const name = qualifiedName(ops);
          emptied.add(name);
          emptiedNodes.set(node, name);
          return false;
        }
      }
      // Non-type elements (never seen from rustc or clang for C) keep their place at the end.
      let offset = Infinity;
      if (kind === MetadataKind.DIDerivedType) {
        // Read while LLVM's address of the member is at hand; tag and
        // operands are for the member's own visit too.
        offset = md.offsetInBits(item);
        list.tags[i] = md.tag(item);
        const memberOps = list.operands[i] = md.operands(item);
        if (isMarkerType(memberOps[at.derived.baseType] ?? NO_MD)) {
          marked = true;
          continue;
        }
      }
      if (offset < last) sorted = false;
      last = offset;
      members.push({ offset, index: i });
    }
    if (sorted && !marked) {
      memberList = list;
      return false;
    }
    if (!sorted) {
      members.sort((a, b) => a.offset - b.offset || a.index - b.index);
      report.reordered++;
    }
    const pick = <T>(values: T[]) => members.map((m) => values[m.index]);
    const kept = pick(items);
    const tuple = md.tuple(kept);
    md.replaceOperand(node, elementsOperand, tuple);
    ops[elementsOperand] = tuple;
    memberList = {
      tuple,
      items: kept,
      kinds: pick(list.kinds),
      tags: pick(list.tags),
      operands: pick(list.operands),
    };
    return marked;
  };

  /**
   * Operand positions not worth visiting, by kind: names and linkage names
   * (MDStrings: read where they are renamed) and files (DIFile: only strings).
   */
  const skipA = new Int32Array(64).fill(-1);
  const skipB = new Int32Array(64).fill(-1);
  const skip = (kind: number, a: number, b: number) => {
    skipA[kind] = a;
    skipB[kind] = b;
  };
  for (const kind of TYPE_KINDS) skip(kind, at.type.file, at.type.name);
  skip(MetadataKind.DISubprogram, at.subprogram.name, at.subprogram.linkageName);
  skip(MetadataKind.DIGlobalVariable, at.variable.name, at.variable.file);
  skip(MetadataKind.DILocalVariable, at.variable.name, at.variable.file);
  skip(MetadataKind.DIEnumerator, at.enumerator.name, -1);
  skip(MetadataKind.DINamespace, at.namespace.name, -1);
  skip(MetadataKind.DILexicalBlock, at.lexicalBlock.file, -1);
  skip(MetadataKind.DILexicalBlockFile, at.lexicalBlock.file, -1);

  // Roots. Aliases carry no metadata (their aliasee is a function or global
  // walked anyway); function parameters neither (their variables are in the
  // subprograms' retained nodes and in debug records).
  for (const ref of md.globalVariableAttachments()) push(ref, UNKNOWN);
  const body: BodyVisitor = { location: pushLocation, node: push };
  for (const fn of functions) {
    for (const ref of fn.attachments()) push(ref, UNKNOWN);
    if (!fn.isDeclaration) fn.forEachBodyMetadata(body);
  }

  while (stack.length > 0) {
    const entry = stack.pop()!;
    let kind = kinds.pop()!;
    let tag = tags.pop()!;
    const read = known.pop();
    report.nodes++;
    if (kind === LOCATION) {
      // A DILocation: its scope (rewritten if it is an old subprogram), then
      // where it was inlined, as its operands are.
      const location = entry as LocationRef;
      const scope = md.locationScope(location);
      if (scope !== NO_MD && !visited.has(scope)) {
        const replacement = replacements.get(scope);
        if (replacement !== undefined) md.setLocationScope(location, replacement);
        push(replacement ?? scope, UNKNOWN);
      }
      pushLocation(md.locationInlinedAt(location));
      continue;
    }
    const node = entry as MDRef;
    if (kind === UNKNOWN) kind = md.kind(node);
    if (LEAF[kind]) continue;
    let members: MemberList | undefined;
    let ops: MDRef[];
    if (read === undefined) ops = md.operands(node);
    else if (Array.isArray(read)) ops = read;
    else ops = (members = read).items;
    memberList = undefined;
    // Only the names the kernel validates as C identifiers (btf_name_valid_identifier:
    // struct, union, enum and its values, typedef, func, var, member) are escaped;
    // pointers lose their names (the kernel wants none there). Base types keep
    // theirs: the kernel does not check INT or FLOAT names, so Rust's `()` stays.
    switch (kind) {
      case MetadataKind.DICompositeType: {
        if (tag === UNKNOWN) tag = md.tag(node);
        if (tag === DwTag.structureType || tag === DwTag.unionType || tag === DwTag.classType) {
          rename(node, ops, fixMembers(node, ops), at.type.name);
        } else if (tag === DwTag.enumerationType) {
          rename(node, ops, false, at.type.name);
        }
        break;
      }
      case MetadataKind.DIDerivedType: {
        // Unnamed (most pointers and qualifiers): nothing to rename, no tag to read.
        if ((ops[at.type.name] ?? NO_MD) === NO_MD) break;
        if (tag === UNKNOWN) tag = md.tag(node);
        if (tag === DwTag.pointerType) rename(node, ops, true, at.type.name);
        else if (tag === DwTag.typedef || tag === DwTag.member) {
          rename(node, ops, false, at.type.name);
        }
        break;
      }
      case MetadataKind.DIEnumerator:
        rename(node, ops, false, at.enumerator.name);
        break;
      case MetadataKind.DIGlobalVariable:
        rename(node, ops, false, at.variable.name);
        break;
      case MetadataKind.DISubprogram:
        rename(node, ops, false, at.subprogram.name);
        break;
      case MetadataKind.DILocalVariable:
        if ((ops[at.variable.name] ?? NO_MD) === NO_MD) nameParameter(node, ops);
        break;
    }
    const list = memberList as MemberList | undefined;
    const skipFirst = skipA[kind];
    const skipSecond = skipB[kind];
    for (let i = 0; i < ops.length; i++) {
      let op = ops[i];
      if (op === NO_MD || i === skipFirst || i === skipSecond || visited.has(op)) continue;
      const replacement = replacements.get(op);
      if (replacement !== undefined) {
        md.replaceOperand(node, i, replacement);
        op = ops[i] = replacement;
        push(op, UNKNOWN);
        continue;
      }
      visited.add(op);
      stack.push(op);
      if (members !== undefined) {
        // An element list: its members as the struct's visit read them.
        kinds.push(members.kinds[i]);
        tags.push(members.tags[i]);
        known.push(members.operands[i]);
      } else if (list !== undefined && i === elementsOperand && op === list.tuple) {
        kinds.push(MetadataKind.MDTuple);
        tags.push(UNKNOWN);
        known.push(list);
      } else {
        kinds.push(UNKNOWN);
        tags.push(UNKNOWN);
        known.push(undefined);
      }
    }
  }
  return { emptied, emptiedNodes };
}
