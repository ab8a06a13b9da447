// Dead compile units (src/btf/prune.ts): with --btf the debug info is kept,
// and the units of archive members whose code internalize and DCE dropped
// would still be emitted by LLVM's DWARF writer (their enums and global
// variables keep them alive), so linking every member (--whole-archive) would
// give another object than linking the needed ones. C from clang-22 -g: a
// program, and an archive with a member it calls, one whose only function is
// inlined, one that only provides a global variable, one it references from
// a function that is dropped, and two it never references (enums, global
// variables, no code kept). The link pipeline is src/pipeline.ts's, run here
// step by step so pruning can be put after optimization.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { Context } from "../../ffi/context.ts";
import { DebugMetadata, MetadataKind, NO_MD } from "../../ffi/metadata.ts";
import type { Module } from "../../ffi/module.ts";
import { sanitizeDebugInfo } from "../../src/btf/sanitize.ts";
import { pruneDeadCompileUnits, type PruneReport } from "../../src/btf/prune.ts";
import { emitOutput } from "../../src/emit.ts";
import { exportedSymbols, internalize, keptSymbols, optimize } from "../../src/exports.ts";
import { decideExpandInOrder } from "../../src/llvm_options.ts";
import { checkProducers, linkModules } from "../../src/link.ts";
import { applyLlvmOptions, collectModuleInputs, selectInputs } from "../../src/pipeline.ts";
import { Logger, MemorySink } from "../../src/log.ts";
import { link, loadLlvm } from "../../src/mod.ts";
import { type LinkOptions, resolveLinkOptions } from "../../src/options.ts";
import { chooseTriple, createTargetMachine } from "../../src/target.ts";
import {
  btfDump,
  compileC,
  disassemble,
  LLVM_BIN,
  loadAndRun,
  makeArchive,
  needsBpf,
  run,
  tempDir,
} from "../support/tools.ts";

const dir = tempDir("bpfl-prune-");

// ------------------------------------------------------------------ the C program

const TYPES = `typedef unsigned char u8;
typedef unsigned int u32;
`;

const SOURCES: Record<string, string> = {
  main: `${TYPES}
struct xdp_md { u32 data; u32 data_end; u32 data_meta; u32 ingress_ifindex; u32 rx_queue_index; u32 egress_ifindex; };
enum verdict { V_ABORTED = 0, V_DROP = 1, V_PASS = 2 };
int lib_weigh(const u8 *p, const u8 *end);
int lib_scale(int x);
int lib_dropped(int x);
extern const volatile u32 scale_factor;

/* Not exported: internalized, then dropped with lib_dropped's code. */
int helper_not_exported(int x) { return lib_dropped(x) + 1; }

__attribute__((section("xdp"), used)) int prog(struct xdp_md *ctx) {
  const u8 *data = (const u8 *)(long)ctx->data;
  const u8 *end = (const u8 *)(long)ctx->data_end;
  enum verdict v = V_ABORTED;
  if (data + 8 > end) return v;
  return lib_weigh(data, end) + lib_scale(data[0]) * scale_factor;
}

char _license[] __attribute__((section("license"), used)) = "GPL";
`,
  // Called and kept as a function; a global it does not use is dropped.
  used: `${TYPES}
enum weight_kind { W_LIGHT = 1, W_HEAVY = 2 };
int lib_unused_counter = 7;
__attribute__((noinline)) int lib_weigh(const u8 *p, const u8 *end) {
  enum weight_kind kind = W_HEAVY;
  if (p + 8 > end) return 0;
  int sum = 0;
  for (int i = 0; i < 8; i++) sum += p[i] * (i + 1);
  return sum * kind;
}
`,
  // Inlined into prog: its unit lives on through inlinedAt locations only.
  inlined: `enum scale_mode { SCALE_ONE = 1, SCALE_TWO = 2 };
int lib_scale(int x) {
  enum scale_mode mode = (x & 1) ? SCALE_TWO : SCALE_ONE;
  return x * mode + 1;
}
`,
  // Only a global variable (no code): live through it.
  config: `${TYPES}
const volatile u32 scale_factor = 3;
`,
  // Linked even without --whole-archive (helper_not_exported references it), then dropped.
  dropped: `enum dropped_kind { DK_A = 4, DK_B = 5 };
enum dropped_kind dropped_last = DK_A;
int lib_dropped(int x) {
  dropped_last = x ? DK_B : DK_A;
  return x + dropped_last;
}
`,
  // Never referenced.
  unused_code: `enum color { RED, GREEN, BLUE };
enum color favourite = GREEN;
int unused_counter;
int unused_fn(int x) { return x * favourite + unused_counter++; }
`,
  unused_data: `enum shape { CIRCLE = 3, SQUARE = 4 };
struct point { int x, y; };
struct point origin = { 1, 2 };
const enum shape default_shape = SQUARE;
`,
};
const MEMBERS = ["used", "inlined", "config", "dropped", "unused_code", "unused_data"];
const LIVE_FILES = ["main.c", "used.c", "inlined.c", "config.c"];
const DEAD_FILES = ["dropped.c", "unused_code.c", "unused_data.c"];

const bc = Object.fromEntries(
  Object.entries(SOURCES).map((
    [name, source],
  ) => [name, compileC(dir, name, source, "bc", ["-g"])]),
);
const archive = makeArchive(dir, "libparts.a", MEMBERS.map((m) => bc[m]));
const INPUT_FILES = [
  { path: "main.bc", bytes: new Uint8Array(readFileSync(bc.main)) },
  { path: "libparts.a", bytes: new Uint8Array(readFileSync(archive)) },
];

/** What prog returns for a packet (at least 8 bytes). */
function expected(p: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += p[i] * (i + 1);
  const x = p[0];
  return sum * 2 + (x * ((x & 1) ? 2 : 1) + 1) * 3;
}
const PACKET = Uint8Array.from({ length: 64 }, (_, i) => (i * 5 + 3) & 0xff);

// ------------------------------------------------------------ the pipeline, step by step

const llvm = await loadLlvm();
const OPTIONS: Partial<LinkOptions> = { exports: ["prog"], btf: true };

interface Linked {
  bytes: Uint8Array;
  /** Of the first pruning, when pruned. */
  report?: PruneReport;
  /** Of a second pruning of the same module. */
  again?: PruneReport;
  /** The module verified after pruning (undefined: it did). */
  broken?: string;
  units?: UnitLists[];
  pruneMs?: number;
  optimizeMs?: number;
}

/** The lists of one compile unit, by file name: [kind of the list operand, kinds of its items]. */
interface UnitLists {
  file: string;
  lists: Record<string, { kind: number; items: number[]; tags: number[] }>;
}

function unitLists(module: Module): UnitLists[] {
  using md = new DebugMetadata(module, { debugRecords: false });
  const at = md.layout;
  return md.namedMetadata("llvm.dbg.cu").map((unit) => {
    const ops = md.operands(unit);
    const file = ops[at.compileUnit.file];
    const lists: UnitLists["lists"] = {};
    for (const [name, index] of Object.entries(at.compileUnit)) {
      if (name === "file") continue;
      const list = ops[index] ?? NO_MD;
      const kind = list === NO_MD ? -1 : md.kind(list);
      const items = kind === MetadataKind.MDTuple ? md.operands(list) : [];
      lists[name] = {
        kind,
        items: items.map((i) => md.kind(i)),
        tags: items.map((i) => (md.kind(i) === MetadataKind.DICompositeType ? md.tag(i) : -1)),
      };
    }
    return { file: md.string(md.operand(file, at.file.filename)), lists };
  });
}

/**
 * src/pipeline.ts's link() for an object, with pruneDeadCompileUnits after
 * optimization when `prune` is set.
 */
function linkLocally(wholeArchive: boolean, prune: boolean, inspect = false): Linked {
  const options = resolveLinkOptions({ ...OPTIONS, wholeArchive });
  const log = new Logger("warn", new MemorySink());
  const listed = exportedSymbols(options);
  const inputs = selectInputs(collectModuleInputs(INPUT_FILES, log), listed, wholeArchive, log)
    .selected.map((s) => s.input);
  applyLlvmOptions(llvm, options, log, decideExpandInOrder(options, inputs).expand);
  const failures: string[] = [];
  using context = new Context(llvm, (d) => {
    if (d.severity === "error") failures.push(d.message);
  });
  checkProducers(inputs, { major: llvm.version.major, text: llvm.versionString, path: llvm.path });
  using module = linkModules(context, inputs, log);
  const triple = chooseTriple(module.triple, options.target);
  using machine = createTargetMachine(llvm, triple, options);
  module.triple = triple;
  module.setDataLayout(machine);
  const exported = keptSymbols(module, listed, options);
  internalize(llvm, module, exported, options, log);
  let start = performance.now();
  optimize(module, machine, options.optLevel);
  const out: Linked = { bytes: new Uint8Array(), optimizeMs: performance.now() - start };
  sanitizeDebugInfo(module, exported, log);
  if (inspect) out.units = unitLists(module);
  if (prune) {
    start = performance.now();
    out.report = pruneDeadCompileUnits(module, log);
    out.pruneMs = performance.now() - start;
    out.again = pruneDeadCompileUnits(module, log);
    out.broken = module.verify();
  }
  out.bytes = emitOutput(module, machine, options.emit);
  assert.deepEqual(failures, []);
  return out;
}

const cache = new Map<string, Linked>();
function linked(wholeArchive: boolean, prune: boolean): Linked {
  const key = `${wholeArchive}-${prune}`;
  let out = cache.get(key);
  if (!out) cache.set(key, out = linkLocally(wholeArchive, prune, true));
  return out;
}

let fileCounter = 0;
function toFile(bytes: Uint8Array, name = `out${fileCounter++}.o`): string {
  const path = join(dir, name);
  writeFileSync(path, bytes);
  return path;
}

const same = (a: Uint8Array, b: Uint8Array) =>
  a.length === b.length && a.every((x, i) => x === b[i]);

/** The names of the compile units in an object's .debug_info. */
function dwarfUnits(obj: string): string[] {
  const r = run(join(LLVM_BIN, "llvm-dwarfdump"), ["--debug-info", obj]);
  assert.equal(r.status, 0, r.stderr);
  const names: string[] = [];
  for (const block of r.stdout.split(/DW_TAG_compile_unit/).slice(1)) {
    const m = /DW_AT_name\s+\("([^"]*)"\)/.exec(block);
    if (m) names.push(m[1].slice(m[1].lastIndexOf("/") + 1));
  }
  return names.sort();
}

// ------------------------------------------------------------------------- tests

test("the step-by-step pipeline is src/pipeline.ts's: link() gives its object, pruned or not", async () => {
  for (const wholeArchive of [false, true]) {
    const api = (await link(INPUT_FILES.map((f) => ({ name: f.path, bytes: f.bytes })), {
      ...OPTIONS,
      wholeArchive,
    })).output;
    const plain = linked(wholeArchive, false).bytes;
    const pruned = linked(wholeArchive, true).bytes;
    assert.ok(
      same(api, plain) || same(api, pruned),
      `link() with wholeArchive: ${wholeArchive} gives neither the pruned nor the unpruned object`,
    );
  }
});

test("the compile-unit operands are where metadataLayout says, in this LLVM", () => {
  const units = linked(true, false).units!;
  const byFile = new Map(units.map((u) => [u.file.slice(u.file.lastIndexOf("/") + 1), u]));
  assert.deepEqual([...byFile.keys()].sort(), [...LIVE_FILES, ...DEAD_FILES].sort());
  const DW_TAG_enumeration_type = 0x04;
  for (const file of DEAD_FILES) {
    const { lists } = byFile.get(file)!;
    // clang lists the enum types and the global variables.
    assert.equal(lists.enumTypes.kind, MetadataKind.MDTuple, `${file} enums`);
    assert.ok(lists.enumTypes.items.length >= 1, `${file} has enums`);
    assert.ok(lists.enumTypes.tags.every((t) => t === DW_TAG_enumeration_type), `${file}: enums`);
    assert.equal(lists.globalVariables.kind, MetadataKind.MDTuple, `${file} globals`);
    assert.ok(lists.globalVariables.items.length >= 1, `${file} has global variables`);
    assert.ok(
      lists.globalVariables.items.every((k) => k === MetadataKind.DIGlobalVariableExpression),
      `${file}: global variable expressions`,
    );
    for (const name of ["retainedTypes", "importedEntities", "macros"]) {
      const list = lists[name];
      assert.ok(
        list.kind === -1 || list.kind === MetadataKind.MDTuple,
        `${file} ${name}: ${list.kind}`,
      );
    }
  }
  // What the DWARF writer would keep them for.
  assert.deepEqual(
    dwarfUnits(toFile(linked(true, false).bytes)),
    [...LIVE_FILES, ...DEAD_FILES].sort(),
  );
});

test("without pruning, --whole-archive emits the dead members' compile units", () => {
  const lazy = linked(false, false).bytes;
  const whole = linked(true, false).bytes;
  assert.ok(!same(lazy, whole), "the objects should differ without pruning");
  // Even without --whole-archive: the member only a dropped function needed.
  assert.deepEqual(dwarfUnits(toFile(lazy)), [...LIVE_FILES, "dropped.c"].sort());
});

test("pruned, the objects with and without --whole-archive are byte-identical", () => {
  const lazy = linked(false, true);
  const whole = linked(true, true);
  assert.ok(same(lazy.bytes, whole.bytes), "pruned objects differ");
  assert.equal(lazy.broken, undefined);
  assert.equal(whole.broken, undefined);
  assert.deepEqual(dwarfUnits(toFile(whole.bytes)), [...LIVE_FILES].sort());
  // 4 live units either way; the dead ones are emptied.
  assert.equal(lazy.report!.units, 5);
  assert.equal(lazy.report!.liveUnits, 4);
  assert.equal(lazy.report!.emptiedUnits, 1);
  assert.equal(whole.report!.units, 7);
  assert.equal(whole.report!.liveUnits, 4);
  assert.equal(whole.report!.emptiedUnits, 3);
  // used.c's lib_unused_counter is gone: its entry leaves the globals list.
  assert.equal(lazy.report!.droppedGlobals, 1);
  assert.equal(whole.report!.droppedGlobals, 1);
  assert.ok(lazy.report!.locations > 0);
  // Pruning twice changes nothing more.
  for (const { again, report } of [lazy, whole]) {
    assert.deepEqual(again, { ...report!, emptiedUnits: 0, droppedGlobals: 0 });
  }
  process.stderr.write(
    `prune: ${lazy.pruneMs!.toFixed(2)} ms (optimize ${lazy.optimizeMs!.toFixed(1)} ms) lazy, ` +
      `${whole.pruneMs!.toFixed(2)} ms (optimize ${
        whole.optimizeMs!.toFixed(1)
      } ms) whole archive\n`,
  );
});

test("pruning leaves the code and .BTF alone", () => {
  const plain = toFile(linked(false, false).bytes);
  const pruned = toFile(linked(false, true).bytes);
  const whole = toFile(linked(true, false).bytes);
  assert.equal(btfDump(pruned), btfDump(plain));
  assert.equal(btfDump(whole), btfDump(plain));
  const code = (obj: string) => disassemble(obj).split("\n").slice(2).join("\n");
  assert.equal(code(pruned), code(plain));
  // bpftool reads the BTF: the program, static helpers, the data.
  const btf = btfDump(pruned);
  assert.match(btf, /FUNC 'prog' type_id=\d+ linkage=global/);
  assert.match(btf, /FUNC 'lib_weigh' type_id=\d+ linkage=static/);
  assert.match(btf, /VAR 'scale_factor'/);
});

test("llvm-dwarfdump --verify accepts the pruned objects", () => {
  for (const wholeArchive of [false, true]) {
    const obj = toFile(linked(wholeArchive, true).bytes);
    const r = run(join(LLVM_BIN, "llvm-dwarfdump"), ["--verify", obj]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /No errors\./);
  }
});

test("the kernel loads and runs the pruned object", needsBpf(), () => {
  const obj = toFile(linked(true, true).bytes);
  assert.equal(loadAndRun(obj, "prog", PACKET), expected(PACKET));
});

// The rules on hand-written IR: `f` (live.c) keeps live.c alive and, through a
// location inlined from `inl` inside a lexical block, inl.c too. live.c lists
// `g` (attached to @g), the constant `k` (no global needed), `gone` (its global
// was dropped) and `h`, whose global carries a fragment of it (as GlobalOpt
// leaves split globals). dead.c has only an enum, a retained type and a
// constant: no code, no global, so it is emptied.
const RULES_IR = `
@g = global i32 0, !dbg !20
@h = global i64 0, !dbg !30

define i32 @f() !dbg !10 {
  %a = add i32 1, 2, !dbg !56
  ret i32 %a, !dbg !13
}

!llvm.dbg.cu = !{!0, !1, !50}
!llvm.module.flags = !{!2}
!0 = distinct !DICompileUnit(language: DW_LANG_C99, file: !3, emissionKind: FullDebug, enums: !4, globals: !5)
!1 = distinct !DICompileUnit(language: DW_LANG_C99, file: !6, emissionKind: FullDebug, enums: !7, retainedTypes: !9, globals: !8)
!2 = !{i32 2, !"Debug Info Version", i32 3}
!3 = !DIFile(filename: "live.c", directory: "/")
!4 = !{}
!5 = !{!20, !21, !22, !31}
!6 = !DIFile(filename: "dead.c", directory: "/")
!7 = !{!40}
!8 = !{!43}
!9 = !{!14}
!10 = distinct !DISubprogram(name: "f", scope: !3, file: !3, line: 1, type: !11, spFlags: DISPFlagDefinition, unit: !0)
!11 = !DISubroutineType(types: !12)
!12 = !{!14}
!13 = !DILocation(line: 1, scope: !10)
!14 = !DIBasicType(name: "int", size: 32, encoding: DW_ATE_signed)
!15 = !DIBasicType(name: "long", size: 64, encoding: DW_ATE_signed)
!20 = !DIGlobalVariableExpression(var: !23, expr: !DIExpression())
!21 = !DIGlobalVariableExpression(var: !24, expr: !DIExpression(DW_OP_constu, 5, DW_OP_stack_value))
!22 = !DIGlobalVariableExpression(var: !25, expr: !DIExpression())
!23 = distinct !DIGlobalVariable(name: "g", scope: !0, file: !3, line: 2, type: !14, isLocal: false, isDefinition: true)
!24 = distinct !DIGlobalVariable(name: "k", scope: !0, file: !3, line: 3, type: !14, isLocal: true, isDefinition: true)
!25 = distinct !DIGlobalVariable(name: "gone", scope: !0, file: !3, line: 4, type: !14, isLocal: false, isDefinition: true)
!30 = !DIGlobalVariableExpression(var: !32, expr: !DIExpression(DW_OP_LLVM_fragment, 0, 32))
!31 = !DIGlobalVariableExpression(var: !32, expr: !DIExpression())
!32 = distinct !DIGlobalVariable(name: "h", scope: !0, file: !3, line: 5, type: !15, isLocal: false, isDefinition: true)
!40 = !DICompositeType(tag: DW_TAG_enumeration_type, name: "e", file: !6, line: 1, baseType: !14, size: 32, elements: !41)
!41 = !{!42}
!42 = !DIEnumerator(name: "A", value: 0)
!43 = !DIGlobalVariableExpression(var: !44, expr: !DIExpression(DW_OP_constu, 7, DW_OP_stack_value))
!44 = distinct !DIGlobalVariable(name: "seven", scope: !1, file: !6, line: 2, type: !14, isLocal: true, isDefinition: true)
!50 = distinct !DICompileUnit(language: DW_LANG_C99, file: !52, emissionKind: FullDebug, enums: !53)
!51 = distinct !DISubprogram(name: "inl", scope: !52, file: !52, line: 6, type: !11, spFlags: DISPFlagDefinition, unit: !50)
!52 = !DIFile(filename: "inl.c", directory: "/")
!53 = !{!57}
!54 = distinct !DILexicalBlock(scope: !51, file: !52, line: 7, column: 1)
!55 = distinct !DILexicalBlock(scope: !54, file: !52, line: 8, column: 1)
!56 = !DILocation(line: 8, scope: !55, inlinedAt: !13)
!57 = !DICompositeType(tag: DW_TAG_enumeration_type, name: "m", file: !52, line: 1, baseType: !14, size: 32, elements: !41)
`;

test("the rules: inlined units live, constants and fragments kept, a unit with only a constant emptied", () => {
  using context = new Context(llvm, () => {});
  using module = context.parseIr(new TextEncoder().encode(RULES_IR), "rules.ll");
  assert.equal(module.verify(), undefined);
  const report = pruneDeadCompileUnits(module, new Logger("warn", new MemorySink()));
  assert.equal(module.verify(), undefined);
  assert.deepEqual(report, {
    units: 3,
    liveUnits: 2,
    emptiedUnits: 1,
    droppedGlobals: 1,
    locations: 2,
  });
  const units = new Map(unitLists(module).map((u) => [u.file, u.lists]));
  const live = units.get("live.c")!;
  const GVE = MetadataKind.DIGlobalVariableExpression;
  assert.deepEqual(live.globalVariables.items, [GVE, GVE, GVE], "g, k and h stay; gone goes");
  const dead = units.get("dead.c")!;
  for (const name of ["enumTypes", "retainedTypes", "globalVariables"]) {
    assert.deepEqual(
      [dead[name].kind, dead[name].items],
      [MetadataKind.MDTuple, []],
      `dead.c ${name}`,
    );
  }
  assert.equal(units.get("inl.c")!.enumTypes.items.length, 1, "inl.c keeps its enum");
  // Which global-variable entries stayed, by name.
  using md = new DebugMetadata(module, { debugRecords: false });
  const at = md.layout;
  const liveUnit = md.namedMetadata("llvm.dbg.cu")[0];
  const names = md.operands(md.operand(liveUnit, at.compileUnit.globalVariables)).map((gve) =>
    md.string(md.operand(md.operand(gve, at.globalExpression.variable), at.variable.name))
  );
  assert.deepEqual(names, ["g", "k", "h"]);
});
