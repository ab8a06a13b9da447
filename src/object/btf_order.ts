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

import { BTF_KIND, BtfFormatError, type BtfLayout, btfLayout } from "./btf.ts";
import type { ElfObject } from "./elf.ts";

/** What a walk of the type section found: where each type starts, and where it refers to others. */
interface TypeSection {
  /** Byte offset of each type's entry, by id ([0] unused: void has none). */
  starts: number[];
  kinds: number[];
  /** Pairs of (byte offset of a type-id field, id of the type holding it). */
  typeRefs: number[];
  /** Byte offsets of the name fields (type names, member, parameter and value names). */
  nameFields: number[];
}

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
  try {
    layout = btfLayout(bytes);
  } catch (e) {
    if (e instanceof BtfFormatError) return 0; // the BTF lint says so
    throw e;
  }
  const { view, littleEndian: le, typesStart, typesEnd, stringsStart, stringsEnd } = layout;
  const u32 = (at: number) => view.getUint32(at, le);

  const types = walkTypes(view, le, typesStart, typesEnd);
  if (!types) return 0;
  const last = types.starts.length - 1;
  let first = last + 1;
  while (first > 1 && types.kinds[first - 1] === BTF_KIND.FWD) first--;
  const count = last - first + 1;
  if (count < 2) return 0;

  // The first type to refer to each FWD; the references come from outside the run.
  const firstReferrer = new Array<number>(count).fill(Infinity);
  const refs = types.typeRefs;
  for (let i = 0; i < refs.length; i += 2) {
    const target = u32(refs[i]);
    if (target >= first && target <= last) {
      firstReferrer[target - first] = Math.min(firstReferrer[target - first], refs[i + 1]);
    }
  }
  const order = [...firstReferrer.keys()].sort((a, b) =>
    firstReferrer[a] - firstReferrer[b] || a - b
  );
  if (order.every((old, i) => old === i)) return 0;

  // Strings: those only FWDs of the run name were added last, in the run's order.
  const ext = extReferences(elf, le);
  if (!ext || ext.typeIds.some((id) => id >= first)) return 0;
  const runStart = types.starts[first];
  const outsideNames = new Set(ext.stringOffsets);
  for (const field of types.nameFields) if (field < runStart) outsideNames.add(u32(field));
  const oldName = (i: number) => u32(types.starts[first + i]);
  const tailNames = new Map<number, Uint8Array>(); // old offset -> bytes with the NUL
  for (let i = 0; i < count; i++) {
    const offset = oldName(i);
    if (outsideNames.has(offset) || tailNames.has(offset)) continue;
    const at = stringsStart + offset;
    const end = bytes.indexOf(0, at);
    if (end < 0 || end >= stringsEnd) return 0;
    tailNames.set(offset, copyOf(bytes.subarray(at, end + 1)));
  }
  // They must tile the end of the string section, as LLVM lays them out.
  let tail = stringsEnd - stringsStart;
  for (const name of tailNames.values()) tail -= name.length;
  let expect = tail;
  for (const [offset, name] of tailNames) {
    if (offset !== expect) return 0;
    expect += name.length;
  }
  for (const offset of outsideNames) if (offset >= tail) return 0;
  // Relocations never point into FWDs or names; if one did, moving them would break it.
  for (const rel of elf.relocationsFor(section.index)) {
    if ((rel.offset >= runStart && rel.offset < typesEnd) || rel.offset >= stringsStart + tail) {
      return 0;
    }
  }

  // New names in the new order; then the FWD entries, then every reference to them.
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
  for (let i = 0; i < refs.length; i += 2) {
    const target = u32(refs[i]);
    if (target >= first && target <= last) view.setUint32(refs[i], newId[target - first], le);
  }
  return count;
}

/** A copy: a Node Buffer's `slice` is a view, and these bytes are about to be overwritten. */
function copyOf(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

/**
 * Entry offsets, kinds, and the type-id and name fields of every type; undefined
 * if one is not understood. Not btf.ts's decoder: a rewrite in place needs where
 * each field is, not what it says, and decoding every name would cost more.
 */
function walkTypes(
  view: DataView,
  le: boolean,
  start: number,
  end: number,
): TypeSection | undefined {
  const starts = [0];
  const kinds = [0];
  const typeRefs: number[] = [];
  const nameFields: number[] = [];
  let at = start;
  while (at < end) {
    if (at + 12 > end) return undefined;
    const id = starts.length;
    const info = view.getUint32(at + 4, le);
    const kind = (info >>> 24) & 0x1f;
    const vlen = info & 0xffff;
    starts.push(at);
    kinds.push(kind);
    nameFields.push(at);
    let size = 12;
    switch (kind) {
      case BTF_KIND.PTR:
      case BTF_KIND.TYPEDEF:
      case BTF_KIND.VOLATILE:
      case BTF_KIND.CONST:
      case BTF_KIND.RESTRICT:
      case BTF_KIND.FUNC:
      case BTF_KIND.TYPE_TAG:
        typeRefs.push(at + 8, id);
        break;
      case BTF_KIND.VAR:
      case BTF_KIND.DECL_TAG:
        typeRefs.push(at + 8, id);
        size = 16;
        break;
      case BTF_KIND.INT:
        size = 16;
        break;
      case BTF_KIND.FWD:
      case BTF_KIND.FLOAT:
        break;
      case BTF_KIND.ARRAY:
        typeRefs.push(at + 12, id, at + 16, id);
        size = 24;
        break;
      case BTF_KIND.STRUCT:
      case BTF_KIND.UNION:
        for (let i = 0; i < vlen; i++) {
          nameFields.push(at + 12 + 12 * i), typeRefs.push(at + 16 + 12 * i, id);
        }
        size = 12 + 12 * vlen;
        break;
      case BTF_KIND.ENUM:
        for (let i = 0; i < vlen; i++) nameFields.push(at + 12 + 8 * i);
        size = 12 + 8 * vlen;
        break;
      case BTF_KIND.ENUM64:
        for (let i = 0; i < vlen; i++) nameFields.push(at + 12 + 12 * i);
        size = 12 + 12 * vlen;
        break;
      case BTF_KIND.FUNC_PROTO:
        typeRefs.push(at + 8, id);
        for (let i = 0; i < vlen; i++) {
          nameFields.push(at + 12 + 8 * i), typeRefs.push(at + 16 + 8 * i, id);
        }
        size = 12 + 8 * vlen;
        break;
      case BTF_KIND.DATASEC:
        for (let i = 0; i < vlen; i++) typeRefs.push(at + 12 + 12 * i, id);
        size = 12 + 12 * vlen;
        break;
      default:
        return undefined;
    }
    at += size;
  }
  return at === end ? { starts, kinds, typeRefs, nameFields } : undefined;
}

/**
 * The string offsets and type ids `.BTF.ext` holds: section names, line info's
 * file and line, CO-RE access strings; func_info's and CO-RE's types. Empty
 * without the section; undefined if it does not decode.
 */
function extReferences(
  elf: ElfObject,
  le: boolean,
): { stringOffsets: number[]; typeIds: number[] } | undefined {
  const stringOffsets: number[] = [];
  const typeIds: number[] = [];
  const section = elf.section(".BTF.ext");
  if (!section) return { stringOffsets, typeIds };
  const bytes = section.data;
  if (bytes.length < 24) return undefined;
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
    if (end > bytes.length) return undefined;
    if (end - start < 4) continue;
    const recordSize = u32(start);
    if (recordSize < 4 + Math.max(...strings, ...types)) return undefined;
    for (let at = start + 4; at < end;) {
      if (at + 8 > end) return undefined;
      stringOffsets.push(u32(at));
      const records = u32(at + 4);
      at += 8;
      if (at + records * recordSize > end) return undefined;
      for (let i = 0; i < records; i++, at += recordSize) {
        for (const field of strings) stringOffsets.push(u32(at + field));
        for (const field of types) typeIds.push(u32(at + field));
      }
    }
  }
  return { stringOffsets, typeIds };
}
