// One order for the forward declarations LLVM's BTF writer appends, so the same
// link gives the same bytes on every run (docs/ARCHITECTURE.md#btf).
//
// A struct or union reached only through a pointer member becomes a FWD type
// at the end of `.BTF`, one per debug-info node, in the order of a map keyed
// by the node's address. Addresses differ between runs (and runtimes), so the
// FWDs' ids, the pointers' references to them and the string table's tail
// (the FWD names no other type had) came out in a different order on some runs
// of the same link. Here the trailing FWDs are ordered by the first type that
// refers to them, which depends only on the order the writer visited types in.
// The rewrite is in place and keeps every size: FWDs are 12 bytes each and
// their new names fill exactly the bytes the old ones did.

import { BTF_KIND, BtfFormatError, type BtfLayout, btfLayout, typeWords } from "./btf.ts";
import type { ElfObject } from "./elf.ts";

/**
 * Put the trailing FWD types of `elf`'s `.BTF` in canonical order, in place.
 * How many FWDs were reordered; 0 when the object is left alone: nothing to
 * order, already in order, or a layout other than the one LLVM writes.
 */
export function orderForwardDeclarations(elf: ElfObject): number {
  const section = elf.section(".BTF");
  if (!section) return 0;
  const bytes = section.data;
  let layout: BtfLayout;
  let w: Uint32Array;
  try {
    layout = btfLayout(bytes);
    w = typeWords(bytes, layout);
  } catch (e) {
    if (e instanceof BtfFormatError) return 0; // the BTF lint says so
    throw e;
  }
  const { view, littleEndian: le, typesStart, stringsStart, stringsEnd } = layout;

  const starts = entryStarts(w);
  if (!starts) return 0;
  const last = starts.length - 1;
  const kindOf = (id: number) => (w[starts[id] + 1] >>> 24) & 0x1f;
  let first = last + 1;
  while (first > 1 && kindOf(first - 1) === BTF_KIND.FWD) first--;
  const count = last - first + 1;
  if (count < 2) return 0;

  // Only names at or past the run's first name can be the tail's (see below).
  const oldName = (i: number) => w[starts[first + i]];
  let minName = Infinity;
  for (let i = 0; i < count; i++) minName = Math.min(minName, oldName(i));
  const { refs, sharedNames } = referencesBefore(w, starts, first, minName);
  const firstReferrer = new Array<number>(count).fill(Infinity);
  for (let i = 0; i < refs.length; i += 2) {
    const target = w[refs[i]] - first;
    firstReferrer[target] = Math.min(firstReferrer[target], refs[i + 1]);
  }
  const order = [...firstReferrer.keys()].sort((a, b) => firstReferrer[a] - firstReferrer[b] || a - b);
  if (order.every((old, i) => old === i)) return 0;

  // The FWD names no other type, and nothing in .BTF.ext, uses are the string
  // table's tail, in the order of their FWDs: they move with them.
  if (!extReferences(elf, le, first, minName, sharedNames)) return 0;
  const tailNames = new Map<number, Uint8Array>(); // old offset -> bytes with the NUL
  for (let i = 0; i < count; i++) {
    const offset = oldName(i);
    if (sharedNames.has(offset) || tailNames.has(offset)) continue;
    const at = stringsStart + offset;
    const end = bytes.indexOf(0, at);
    if (end < 0 || end >= stringsEnd) return 0;
    tailNames.set(offset, copyOf(bytes.subarray(at, end + 1)));
  }
  let tail = stringsEnd - stringsStart;
  for (const name of tailNames.values()) tail -= name.length;
  let expect = tail;
  for (const [offset, name] of tailNames) {
    if (offset !== expect) return 0;
    expect += name.length;
  }
  for (const offset of sharedNames) if (offset >= tail) return 0;
  const runStart = typesStart + 4 * starts[first];
  const typesEnd = typesStart + 4 * w.length;
  for (const rel of elf.relocationsFor(section.index)) {
    if ((rel.offset >= runStart && rel.offset < typesEnd) || rel.offset >= stringsStart + tail) {
      return 0;
    }
  }

  const newOffset = new Map<number, number>();
  let at = tail;
  for (const old of order) {
    const offset = oldName(old);
    const name = tailNames.get(offset);
    if (!name || newOffset.has(offset)) continue;
    bytes.set(name, stringsStart + at);
    newOffset.set(offset, at);
    at += name.length;
  }
  const entries = copyOf(bytes.subarray(runStart, typesEnd));
  const entryView = new DataView(entries.buffer);
  const newId = new Array<number>(count);
  order.forEach((old, i) => {
    newId[old] = first + i;
    const to = runStart + 12 * i;
    bytes.set(entries.subarray(12 * old, 12 * old + 12), to);
    const name = entryView.getUint32(12 * old, le);
    view.setUint32(to, newOffset.get(name) ?? name, le);
  });
  // Read before any write: `w` may be a view of these very bytes.
  const targets = [];
  for (let i = 0; i < refs.length; i += 2) targets.push(w[refs[i]]);
  for (let i = 0; i < refs.length; i += 2) view.setUint32(typesStart + 4 * refs[i], newId[targets[i / 2] - first], le);
  return count;
}

/** A copy: a Node Buffer's `slice` is a view, and these bytes are about to be overwritten. */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * An entry's size in words, by kind: FIXED_WORDS[kind] + WORDS_PER_ITEM[kind] *
 * vlen; -1 for a kind not understood. Tables, not a switch: looking the
 * kinds up one case at a time is most of what a cold walk costs.
 */
const FIXED_WORDS = new Int8Array(32).fill(-1);
const WORDS_PER_ITEM = new Int8Array(32);
for (const [kind, fixed, perItem] of [
  [BTF_KIND.INT, 4, 0],
  [BTF_KIND.PTR, 3, 0],
  [BTF_KIND.ARRAY, 6, 0],
  [BTF_KIND.STRUCT, 3, 3],
  [BTF_KIND.UNION, 3, 3],
  [BTF_KIND.ENUM, 3, 2],
  [BTF_KIND.FWD, 3, 0],
  [BTF_KIND.TYPEDEF, 3, 0],
  [BTF_KIND.VOLATILE, 3, 0],
  [BTF_KIND.CONST, 3, 0],
  [BTF_KIND.RESTRICT, 3, 0],
  [BTF_KIND.FUNC, 3, 0],
  [BTF_KIND.FUNC_PROTO, 3, 2],
  [BTF_KIND.VAR, 4, 0],
  [BTF_KIND.DATASEC, 3, 3],
  [BTF_KIND.FLOAT, 3, 0],
  [BTF_KIND.DECL_TAG, 4, 0],
  [BTF_KIND.TYPE_TAG, 3, 0],
  [BTF_KIND.ENUM64, 3, 3],
]) {
  FIXED_WORDS[kind] = fixed;
  WORDS_PER_ITEM[kind] = perItem;
}

/**
 * Where each type's entry starts in `w` ([0] unused: void has none), from
 * the kinds and counts alone; undefined if a kind is not understood or the
 * entries do not end with the section.
 */
function entryStarts(w: Uint32Array): number[] | undefined {
  const starts = [0];
  let at = 0;
  while (at < w.length) {
    if (at + 3 > w.length) return undefined;
    starts.push(at);
    const info = w[at + 1];
    const kind = (info >>> 24) & 0x1f;
    const fixed = FIXED_WORDS[kind];
    if (fixed < 0) return undefined;
    at += fixed + WORDS_PER_ITEM[kind] * (info & 0xffff);
  }
  return at === w.length ? starts : undefined;
}

/**
 * The types before `first` (the trailing FWDs): pairs of (index in `w` of a
 * type-id field that refers to a FWD, id of the type holding it), and the
 * name offsets at or past `minName` their name fields use. Not btf.ts's
 * decoder: a rewrite in place needs where each field is, and decoding every
 * name would cost more.
 */
function referencesBefore(
  w: Uint32Array,
  starts: number[],
  first: number,
  minName: number,
): { refs: number[]; sharedNames: Set<number> } {
  const refs: number[] = [];
  const sharedNames = new Set<number>();
  const last = starts.length - 1;
  // Inline, not through helpers: a call per field is what cold code pays most for here.
  for (let id = 1; id < first; id++) {
    const at = starts[id];
    const end = starts[id + 1];
    if (w[at] >= minName) sharedNames.add(w[at]);
    let target: number;
    switch ((w[at + 1] >>> 24) & 0x1f) {
      case BTF_KIND.PTR:
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.FUNC:
      case BTF_KIND.TYPE_TAG:
      case BTF_KIND.VAR:
      case BTF_KIND.DECL_TAG:
        if ((target = w[at + 2]) >= first && target <= last) refs.push(at + 2, id);
        break;
      case BTF_KIND.ARRAY:
        if ((target = w[at + 3]) >= first && target <= last) refs.push(at + 3, id);
        if ((target = w[at + 4]) >= first && target <= last) refs.push(at + 4, id);
        break;
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
        for (let m = at + 3; m < end; m += 3) {
          if (w[m] >= minName) sharedNames.add(w[m]);
          if ((target = w[m + 1]) >= first && target <= last) refs.push(m + 1, id);
        }
        break;
      case BTF_KIND.ENUM:
        for (let m = at + 3; m < end; m += 2) if (w[m] >= minName) sharedNames.add(w[m]);
        break;
      case BTF_KIND.ENUM64:
        for (let m = at + 3; m < end; m += 3) if (w[m] >= minName) sharedNames.add(w[m]);
        break;
      case BTF_KIND.FUNC_PROTO:
        if ((target = w[at + 2]) >= first && target <= last) refs.push(at + 2, id);
        for (let m = at + 3; m < end; m += 2) {
          if (w[m] >= minName) sharedNames.add(w[m]);
          if ((target = w[m + 1]) >= first && target <= last) refs.push(m + 1, id);
        }
        break;
      case BTF_KIND.DATASEC:
        for (let m = at + 3; m < end; m += 3) if ((target = w[m]) >= first && target <= last) refs.push(m, id);
        break;
    }
  }
  return { refs, sharedNames };
}

/**
 * Adds to `sharedNames` the string offsets at or past `minName` that
 * `.BTF.ext` uses (func_info: type ids; line_info: file and line strings;
 * core_relo: type ids and access strings). False when it cannot be read or
 * refers to a type id at or past `first`: then the object is left alone.
 */
function extReferences(elf: ElfObject, le: boolean, first: number, minName: number, sharedNames: Set<number>): boolean {
  const section = elf.section(".BTF.ext");
  if (!section) return true;
  const bytes = section.data;
  if (bytes.length < 24) return false;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u32 = (at: number) => view.getUint32(at, le);
  const hdrLen = u32(4);
  // func_info (insn_off, type_id), line_info (insn_off, file_name_off, line_off, line_col),
  // core_relo (insn_off, type_id, access_str_off, kind): which fields are strings and types.
  const subsections: { header: number; strings: number[]; types: number[] }[] = [
    { header: 8, strings: [], types: [4] },
    { header: 16, strings: [4, 8], types: [] },
  ];
  if (hdrLen >= 32) subsections.push({ header: 24, strings: [8], types: [4] });
  for (const { header, strings, types } of subsections) {
    const start = hdrLen + u32(header);
    const end = start + u32(header + 4);
    if (end > bytes.length) return false;
    if (end - start < 4) continue;
    const recordSize = u32(start);
    if (recordSize < 4 + Math.max(...strings, ...types)) return false;
    for (let at = start + 4; at < end;) {
      if (at + 8 > end) return false;
      if (u32(at) >= minName) sharedNames.add(u32(at)); // the section name
      const records = u32(at + 4);
      at += 8;
      if (at + records * recordSize > end) return false;
      for (let i = 0; i < records; i++, at += recordSize) {
        for (const field of strings) if (u32(at + field) >= minName) sharedNames.add(u32(at + field));
        for (const field of types) if (u32(at + field) >= first) return false;
      }
    }
  }
  return true;
}
