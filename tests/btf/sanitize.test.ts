// The BTF sanitizer (docs/ARCHITECTURE.md#btf, src/btf/sanitize.ts) on real producers' output:
// - in process, on the bitcode rustc makes of the Rust test crates: the module
//   still verifies, subprograms of non-exported functions are local to the
//   unit, names are C identifiers, members are in offset order, the
//   data-carrying enum is empty, and a second run changes nothing;
// - through the CLI on C from clang-22 (LLVM 22) and clang-19 (LLVM 19, which
//   keeps debug intrinsics for the C API): CO-RE relocations and an anonymous
//   struct behind a typedef survive, helpers become linkage=static, opt
//   verifies the final IR and the kernel loads and runs the program.

import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { Context } from "../../ffi/context.ts";
import { Llvm, LlvmFailure } from "../../ffi/llvm.ts";
import type { Module } from "../../ffi/module.ts";
import { rebuildWithDIBuilder, type StaticSubprogramMaker } from "../../ffi/metadata_text.ts";
import { emptiedEnumsNotes, sanitizeDebugInfo } from "../../src/btf/sanitize.ts";
import { judgeSourceNames } from "../../src/btf/clang_c.ts";
import { Logger, MemorySink } from "../../src/log.ts";
import { link } from "../../src/mod.ts";
import {
  btfDump,
  btfExtCoreRelocs,
  builtExecutable,
  CLANG,
  containerRoot,
  fileTempDir,
  LLVM_BIN,
  loadAndRun,
  needsBpf,
  parseBtfDump,
  repoRoot,
  run,
  runInRoot,
  runLinker,
  rustcBpfArgs,
  rustSysroot,
  tool,
  verifierAccepts,
} from "../support/tools.ts";
import { LLVM19_LIBRARY, LLVM22_LIBRARY, llvmAt } from "../support/debug_ir.ts";

const dir = fileTempDir("bpfl-btf-");

const C_FIXTURES = join(repoRoot, "tests", "fixtures", "c", "btf");
const CRATES = join(repoRoot, "tests", "fixtures", "rust", "crates");

// ------------------------------------------------------------- Rust, in process

const sysroot = rustSysroot();
if (sysroot.skip) process.stderr.write(`SKIP: Rust bitcode tests: ${sysroot.skip}\n`);
const needsRust = (): { skip?: string } => (sysroot.skip ? { skip: sysroot.skip } : {});

let rustBitcode: { bin: string; dep: string } | undefined;
/** rustc --emit=llvm-bc of xdp_bin and of its dependency netdep, with full debug info. */
function rustBitcodeFiles(): { bin: string; dep: string } {
  if (rustBitcode) return rustBitcode;
  const out = join(dir, "rust");
  mkdirSync(out, { recursive: true });
  const common = [...rustcBpfArgs(sysroot.root!), "-C", "debuginfo=2"];
  tool("/usr/bin/rustc", [
    ...common,
    "--crate-type",
    "rlib",
    "--crate-name",
    "netdep",
    "--emit=llvm-bc,link",
    "--out-dir",
    out,
    join(CRATES, "netdep", "src", "lib.rs"),
  ]);
  tool("/usr/bin/rustc", [
    ...common,
    "--crate-type",
    "bin",
    "--crate-name",
    "xdp_bin",
    "--emit=llvm-bc",
    "--extern",
    `netdep=${join(out, "libnetdep.rlib")}`,
    "-o",
    join(out, "xdp_bin.bc"),
    join(CRATES, "xdp_bin", "src", "main.rs"),
  ]);
  rustBitcode = { bin: join(out, "xdp_bin.bc"), dep: join(out, "netdep.bc") };
  return rustBitcode;
}

let llvmPromise: Promise<Llvm> | undefined;
const loadLlvm = () => (llvmPromise ??= Llvm.load());

/** Parse the two crates into one module of a fresh context and run `fn` on it. */
async function withRustModule<T>(fn: (llvm: Llvm, module: Module) => T): Promise<T> {
  const llvm = await loadLlvm();
  const files = rustBitcodeFiles();
  using context = new Context(llvm, () => {});
  using module = context.parseBitcode(new Uint8Array(readFileSync(files.bin)), "xdp_bin.bc");
  module.link(context.parseBitcode(new Uint8Array(readFileSync(files.dep)), "netdep.bc"));
  return fn(llvm, module);
}

/** The metadata lines of textual IR: `!12 = ...` by number. */
function metadataOf(ir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of ir.matchAll(/^(![0-9]+) = (.*)$/gm)) out.set(m[1], m[2]);
  return out;
}

const field = (node: string, name: string) =>
  new RegExp(`\\b${name}: ("[^"]*"|![0-9]+|[^,)]+)`).exec(node)?.[1];
const unquote = (s: string | undefined) => s?.replace(/^"|"$/g, "");

/** The DISubprogram definitions in IR text: name, linkage name, whether local to the unit. */
function subprograms(md: Map<string, string>) {
  return [...md.values()]
    .filter((n) => n.includes("!DISubprogram(") && n.includes("DISPFlagDefinition"))
    .map((n) => ({
      name: unquote(field(n, "name")),
      linkageName: unquote(field(n, "linkageName")),
      local: /spFlags:[^,]*DISPFlagLocalToUnit/.test(n),
      retainedNodes: field(n, "retainedNodes"),
      text: n,
    }));
}

const EXPORTED = new Set(["prog"]);

test("sanitizing rustc's bitcode keeps the module valid", needsRust(), async () => {
  await withRustModule((_llvm, module) => {
    assert.equal(module.verify(), undefined, "valid before");
    const sink = new MemorySink();
    const report = sanitizeDebugInfo(module, EXPORTED, new Logger("debug", sink));
    assert.equal(module.verify(), undefined, "no broken debug info after sanitizing");
    assert.ok(report.nodes > 100, `walked ${report.nodes} nodes`);
    // netdep's pub functions (mix and the generic instances are local already).
    assert.equal(report.staticFunctions, 4);
    assert.ok(report.emptiedEnums.includes("netdep::Verdict"), report.emptiedEnums.join(", "));
    // Option<&[u8; 8]> comes from core, through netdep::packet().
    assert.ok(report.emptiedEnums.some((e) => e.startsWith("core::option::Option<")));
    const std = report.emptiedEnums.filter((e) => e.startsWith("core::")).length;
    // Said at info level: no map or exported global holds one, nothing for the user to do.
    assert.deepEqual(emptiedEnumsNotes(report), {
      info: "BTF cannot describe enums that carry data; their variants were removed from the debug info: " +
        `netdep::Verdict and ${std} of the Rust standard library (listed with --log-level debug)`,
      warnings: [],
    });
    assert.deepEqual(report.emptiedInUse, []);
    assert.ok(
      sink.lines.some((l) =>
        l.includes("variants removed from") && l.includes("core::option::Option<")
      ),
    );
    assert.ok(
      sink.lines.some((l) =>
        /BTF sanitizer: reading debug variables as (records|intrinsics)/.test(l)
      ),
    );
    // The subprograms were cloned through LLVM's printer and parser, not rebuilt.
    assert.ok(!sink.lines.some((l) => /using DIBuilder/.test(l)), sink.lines.join("\n"));
  });
});

test(
  "non-exported functions get local subprograms that keep their variables",
  needsRust(),
  async () => {
    await withRustModule((_llvm, module) => {
      const before = subprograms(metadataOf(module.toIrText()));
      sanitizeDebugInfo(module, EXPORTED, new Logger("off"));
      const md = metadataOf(module.toIrText());
      const after = subprograms(md);
      const prog = after.filter((sp) => sp.name === "prog");
      assert.equal(prog.length, 1);
      assert.equal(prog[0].local, false, "the exported program stays global");
      for (const name of ["classify", "code", "fill", "weigh"]) {
        const sps = after.filter((sp) => sp.name === name);
        assert.equal(sps.length, 1, `one subprogram for ${name}`);
        assert.equal(sps[0].local, true, `${name} is local to its unit: ${sps[0].text}`);
        const old = before.find((sp) => sp.linkageName === sps[0].linkageName)!;
        assert.equal(old.local, false, `${name} was global before`);
        // Same name, linkage name, line, scope line and flags as before.
        for (const f of ["linkageName", "line", "scopeLine", "flags", "type", "unit"]) {
          if (f === "type" || f === "unit") assert.ok(field(sps[0].text, f), `${name} has ${f}`);
          else assert.equal(field(sps[0].text, f), field(old.text, f), `${name}: ${f}`);
        }
        // The parameters moved over: retained nodes hold variables scoped to the new subprogram.
        const retained = md.get(sps[0].retainedNodes ?? "");
        assert.ok(retained && retained !== "!{}", `${name} keeps its retained nodes`);
        const id = [...md.entries()].find(([, text]) => text === sps[0].text)![0];
        for (const variable of retained.match(/![0-9]+/g)!) {
          const v = md.get(variable)!;
          if (!v.includes("!DILocalVariable(")) continue;
          const scope = field(v, "scope")!;
          // Directly in the function, or in a lexical block of it.
          if (scope !== id) {
            assert.match(md.get(scope) ?? "", new RegExp(`scope: ${id}\\b|DILexicalBlock`));
          }
        }
      }
      // No definition is left global except the exported one, and no old subprogram is referenced.
      for (const sp of after) {
        if (sp.name !== "prog") assert.equal(sp.local, true, sp.text);
      }
    });
  },
);

test(
  "type names are C identifiers, pointers anonymous, members sorted, the enum emptied",
  needsRust(),
  async () => {
    await withRustModule((_llvm, module) => {
      sanitizeDebugInfo(module, EXPORTED, new Logger("off"));
      const md = metadataOf(module.toIrText());
      for (const node of md.values()) {
        const name = unquote(field(node, "name"));
        if (node.includes("!DICompositeType(") || node.includes("!DISubprogram(")) {
          if (name !== undefined) assert.match(name, /^[A-Za-z0-9_]*$/, node);
        }
        if (node.includes("tag: DW_TAG_pointer_type")) assert.equal(name, undefined, node);
        // Base types keep their names (the kernel checks none of INT's): Rust's `()` stays.
        if (node.includes("!DIBasicType(") && name !== undefined) assert.doesNotMatch(name, /_[0-9A-F]{2}_/, node);
      }
      const composite = (name: string) =>
        [...md.values()].find((n) =>
          n.includes("!DICompositeType(") && field(n, "name") === `"${name}"`
        );
      const members = (node: string) =>
        (md.get(field(node, "elements")!) ?? "").match(/![0-9]+/g)?.map((id) => md.get(id)!) ?? [];
      // rustc puts `length` first; the debug info listed the fields in declaration order.
      const header = composite("Header")!;
      assert.deepEqual(members(header).map((m) => unquote(field(m, "name"))), [
        "length",
        "port",
        "kind",
        "flags",
      ]);
      const offsets = members(header).map((m) => Number(field(m, "offset") ?? 0));
      assert.deepEqual(offsets, [...offsets].sort((a, b) => a - b));
      assert.ok(
        composite("MaybeUninit_3C_netdep_3A__3A_Header_3E_")?.includes("DW_TAG_union_type"),
      );
      assert.ok(composite("Tally_3C_u32_3E_"));
      assert.equal(members(composite("Verdict")!).length, 0, "Verdict has no members");
      assert.ok(
        [...md.values()].some((n) =>
          n.includes("!DISubprogram(") && field(n, "name") === `"fold_3C_u8_3E_"`
        ),
        "generic function names are sanitized",
      );
    });
  },
);

test("a second sanitizer run changes nothing", needsRust(), async () => {
  await withRustModule((_llvm, module) => {
    sanitizeDebugInfo(module, EXPORTED, new Logger("off"));
    const once = module.toIrText();
    const report = sanitizeDebugInfo(module, EXPORTED, new Logger("off"));
    assert.equal(report.staticFunctions, 0);
    assert.equal(report.renamed, 0);
    assert.equal(report.reordered, 0);
    assert.deepEqual(report.emptiedEnums, []);
    assert.equal(module.toIrText(), once);
    assert.equal(module.verify(), undefined);
  });
});

test("the DIBuilder fallback makes valid local subprograms too", needsRust(), async () => {
  await withRustModule((_llvm, module) => {
    const sink = new MemorySink();
    const report = sanitizeDebugInfo(module, EXPORTED, new Logger("debug", sink), {
      subprograms: [rebuildWithDIBuilder],
    });
    assert.ok(sink.lines.some((l) => /using DIBuilder/.test(l)));
    assert.equal(report.staticFunctions, 4);
    assert.equal(module.verify(), undefined);
    const sps = subprograms(metadataOf(module.toIrText()));
    for (const sp of sps) assert.equal(sp.local, sp.name !== "prog", sp.text);
    const classify = sps.find((sp) => sp.name === "classify")!;
    assert.notEqual(
      metadataOf(module.toIrText()).get(classify.retainedNodes!),
      "!{}",
      "variables moved",
    );
  });
});

test("a way of making local subprograms that LLVM refuses gives way to the next", needsRust(), async () => {
  await withRustModule((_llvm, module) => {
    const sink = new MemorySink();
    const refused: StaticSubprogramMaker = {
      method: "a refused way",
      make: () => {
        throw new LlvmFailure("refused for the test");
      },
    };
    const report = sanitizeDebugInfo(module, EXPORTED, new Logger("debug", sink), {
      subprograms: [refused, rebuildWithDIBuilder],
    });
    assert.ok(
      sink.lines.some((l) =>
        l.includes("using a refused way failed (refused for the test); trying DIBuilder")
      ),
      sink.lines.join("\n"),
    );
    assert.ok(sink.lines.some((l) => /4 local subprograms made using DIBuilder/.test(l)));
    assert.equal(report.staticFunctions, 4);
    assert.equal(module.verify(), undefined);
    // Anything else than LLVM refusing (a bug) is not hidden by a fallback.
    const broken: StaticSubprogramMaker = {
      method: "a broken way",
      make: () => {
        throw new RangeError("a bug");
      },
    };
    assert.throws(
      () =>
        sanitizeDebugInfo(module, new Set(), new Logger("off"), {
          subprograms: [broken, rebuildWithDIBuilder],
        }),
      RangeError,
    );
  });
});

test("exporting every function keeps every subprogram global", needsRust(), async () => {
  await withRustModule((_llvm, module) => {
    const names = new Set<string>();
    for (const m of module.toIrText().matchAll(/^define [^@]*@([^(]+)\(/gm)) {
      names.add(m[1].replace(/^"|"$/g, ""));
    }
    const before = subprograms(metadataOf(module.toIrText())).filter((sp) => !sp.local).length;
    const report = sanitizeDebugInfo(module, names, new Logger("off"));
    assert.equal(report.staticFunctions, 0);
    assert.equal(
      subprograms(metadataOf(module.toIrText())).filter((sp) => !sp.local).length,
      before,
    );
    assert.equal(module.verify(), undefined);
  });
});

// ------------------------------------------------------------- C, in process

/** prog.c and helper.c as IR text from `clang` (-g -O2), and the libLLVM to read them. */
function cIr(clang: string, tag: string, extraSource = ""): string[] {
  return ["prog", "helper"].map((name, i) => {
    let source = join(C_FIXTURES, `${name}.c`);
    if (i === 1 && extraSource) {
      source = join(dir, `helper-${tag}.c`);
      writeFileSync(source, readFileSync(join(C_FIXTURES, "helper.c"), "utf8") + extraSource);
    }
    const out = join(dir, `${name}-${tag}.ll`);
    tool(clang, ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-S", "-I", C_FIXTURES, source, "-o", out]);
    return readFileSync(out, "utf8");
  });
}

/** The two IR texts linked into one module of a fresh context, sanitized with every function exported. */
async function sanitizeC(llvmPath: string, texts: string[]) {
  const llvm = await llvmAt(llvmPath);
  using context = new Context(llvm, () => {});
  using module = context.parseIr(new TextEncoder().encode(texts[0]), "prog.ll");
  module.link(context.parseIr(new TextEncoder().encode(texts[1]), "helper.ll"));
  const before = module.toIrText();
  const exported = new Set(module.functions().map((f) => f.name));
  const sink = new MemorySink();
  const report = sanitizeDebugInfo(module, exported, new Logger("debug", sink));
  assert.equal(module.verify(), undefined);
  return { before, after: module.toIrText(), report, log: sink.lines.join("\n") };
}

const metadataLines = (ir: string) => ir.split("\n").filter((l) => l.startsWith("!")).join("\n");

/** A string nothing walks to, with a `$`: the module keeps its debug info but declines the fast path. */
const DOLLAR_STRING = '!bpf_linker.test = !{!9999}\n!9999 = !{!"not a name: $"}\n';

const have19 = existsSync(LLVM19_LIBRARY) && run("clang-19", ["--version"]).status === 0;
for (const [clang, llvmPath, options] of [
  [CLANG, LLVM22_LIBRARY, {}],
  ["clang-19", LLVM19_LIBRARY, have19 ? {} : { skip: "no LLVM 19 (said below)" }],
] as const) {
  test(`${clang}: C with nothing made static skips the walk, which would change nothing`, options, async () => {
    const texts = cIr(clang, `fast-${clang}`);
    const fast = await sanitizeC(llvmPath, texts);
    assert.match(fast.log, /C from clang only, no function made static, no name to change: nothing to walk/);
    assert.equal(fast.report.nodes, 0);
    assert.equal(fast.after, fast.before, "nothing changed");
    // The same debug info walked (a `$` in an unrelated string declines the fast path).
    const walked = await sanitizeC(llvmPath, [texts[0], texts[1] + DOLLAR_STRING]);
    assert.match(walked.log, /walking the debug info: a string has a `\$` or a non-ASCII character/);
    assert.ok(walked.report.nodes > 100, `walked ${walked.report.nodes} nodes`);
    assert.deepEqual(
      [walked.report.renamed, walked.report.reordered, walked.report.emptiedEnums],
      [0, 0, []],
    );
    // (LLVM 19 reads debug records as intrinsics for the walk, which leaves their
    // declarations behind until the optimizer drops them: metadata is compared.)
    assert.equal(metadataLines(walked.after), metadataLines(walked.before), "the walk changed nothing either");
  });

  test(`${clang}: C names with a \$, UTF-8 or over 128 bytes are walked to and escaped`, options, async () => {
    const long = `s${"x".repeat(140)}`;
    const extra = `\nstruct a$b { int x; };\nstruct ${long} { int y; };\n` +
      `struct a$b g$1;\nstruct ${long} gl;\nint caf\u00e9 = 1;\n`;
    const { after, report, log } = await sanitizeC(llvmPath, cIr(clang, `names-${clang}`, extra));
    assert.match(log, /walking the debug info: a string has a `\$` or a non-ASCII character/);
    assert.ok(report.renamed >= 4, `renamed ${report.renamed}`);
    assert.match(after, /!DICompositeType\(tag: DW_TAG_structure_type, name: "a_24_b"/);
    assert.match(after, /!DIGlobalVariable\(name: "g_24_1"/);
    assert.match(after, /!DIGlobalVariable\(name: "caf_C3__A9_"/);
    assert.match(after, new RegExp(`name: "${long.slice(0, 111)}_[0-9a-f]+"`));
  });
}

test("a link of C bitcode reads the inputs' own strings for the shortcut, and still finds a `$`", async () => {
  // Through the pipeline the shortcut reads the strings of the linked bitcode
  // files instead of writing the module out: the verdict must be the same.
  const bitcodeOf = (tag: string, extra: string) =>
    ["prog", "helper"].map((name, i) => {
      let source = join(C_FIXTURES, `${name}.c`);
      if (i === 1) {
        source = join(dir, `helper-bc-${tag}.c`);
        writeFileSync(source, readFileSync(join(C_FIXTURES, "helper.c"), "utf8") + extra);
      }
      const out = join(dir, `${name}-bc-${tag}.bc`);
      tool(CLANG, ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", "-I", C_FIXTURES, source, "-o", out]);
      return { name: out, bytes: readFileSync(out) };
    });
  const linkLog = async (tag: string, extra: string) => {
    const inputs = bitcodeOf(tag, extra);
    const { log, output } = await link(inputs, { btf: true, logLevel: "debug" });
    return { log: log.join("\n"), strings: new TextDecoder("latin1").decode(output) };
  };
  assert.match((await linkLog("plain", "")).log, /no name to change: nothing to walk/);
  const walked = await linkLog("dollar", "\nstruct a$b { int x; };\nstruct a$b g$1;\n");
  assert.match(walked.log, /walking the debug info: a string has a `\$` or a non-ASCII character/);
  assert.ok(walked.strings.includes("\0a_24_b\0"), "the struct's BTF name is escaped");
  assert.ok(!walked.strings.includes("\0a$b\0"), "no BTF name keeps the `$`");
});

test("the inputs' strings are judged ahead only for modules from clang; the CLI then still finds a `$`", needsRust(), () => {
  const compile = (tag: string, extra: string) => {
    const source = join(dir, `ahead-${tag}.c`);
    writeFileSync(source, readFileSync(join(C_FIXTURES, "helper.c"), "utf8") + extra);
    const out = join(dir, `ahead-${tag}.bc`);
    tool(CLANG, ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", "-I", C_FIXTURES, source, "-o", out]);
    return out;
  };
  const plain = readFileSync(compile("plain", ""));
  const dollarPath = compile("dollar", "\nstruct a$b { int x; };\nstruct a$b g$1;\n");
  const dollar = readFileSync(dollarPath);
  const rust = readFileSync(rustBitcodeFiles().bin);
  assert.deepEqual(judgeSourceNames([plain], true), { needsTheWalk: undefined });
  assert.deepEqual(judgeSourceNames([plain, dollar], true), {
    needsTheWalk: "a string has a `$` or a non-ASCII character",
  });
  // rustc's module: not read past its first strings ahead; read whole when the sanitizer asks.
  assert.equal(judgeSourceNames([rust], true), undefined);
  assert.equal(judgeSourceNames([plain, rust], true), undefined);
  assert.ok(judgeSourceNames([rust]) !== undefined);
  // Through the command (the first libLLVM load of its process: judged ahead).
  const out = join(dir, "ahead-dollar.o");
  const r = runLinker(["--btf", "--log-level", "debug", dollarPath, "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /walking the debug info: a string has a `\$` or a non-ASCII character/);
  const strings = new TextDecoder("latin1").decode(readFileSync(out));
  assert.ok(strings.includes("\0a_24_b\0") && !strings.includes("\0a$b\0"), "the BTF name is escaped");
});

test("a C name over 128 bytes alone makes the walk run", async () => {
  const long = `s${"x".repeat(140)}`;
  const { log, after } = await sanitizeC(
    LLVM22_LIBRARY,
    cIr(CLANG, "long", `\nstruct ${long} { int y; };\nstruct ${long} gl;\n`),
  );
  assert.match(log, /walking the debug info: a name is longer than 128 bytes/);
  assert.doesNotMatch(after, new RegExp(`name: "${long}"`));
});

test("names long only together (a run of word characters across strings) do not make the walk run", () => {
  // A struct's member names are written back to back: runs of ~1,000 word
  // characters, from which only the strings' lengths tell that no name is long.
  const members = Array.from({ length: 10 }, (_, i) => `m${i}_${"x".repeat(96)}`);
  const source = join(dir, "together.c");
  writeFileSync(source, `struct together { ${members.map((m) => `int ${m};`).join(" ")} };\nstruct together tg;\n`);
  const out = join(dir, "together.bc");
  tool(CLANG, ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", source, "-o", out]);
  const bitcode = readFileSync(out);
  assert.match(new TextDecoder("latin1").decode(bitcode), /\w{129}/, "the strings hold a long run");
  assert.deepEqual(judgeSourceNames([bitcode], true), { needsTheWalk: undefined });
  const long = join(dir, "together-long.c");
  writeFileSync(long, `struct together { int m_${"y".repeat(130)}; };\nstruct together tg;\n`);
  tool(CLANG, ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", long, "-o", out]);
  assert.deepEqual(judgeSourceNames([readFileSync(out)], true), { needsTheWalk: "a name is longer than 128 bytes" });
});

test("a C23 unnamed parameter makes the walk run and gets a name: the kernel takes the BTF it refuses from clang", needsBpf(), () => {
  const d = join(dir, "unnamed");
  mkdirSync(d, { recursive: true });
  const source = join(d, "unnamed.c");
  writeFileSync(
    source,
    `#define SEC(name) __attribute__((section(name), used))
struct xdp_md { unsigned data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex; };
static __attribute__((noinline)) int helper(struct xdp_md *ctx, int) { return ctx->ingress_ifindex == 12345 ? 1 : 2; }
SEC("xdp") int prog(struct xdp_md *ctx) { return helper(ctx, 3); }
char LICENSE[] SEC("license") = "GPL";
`,
  );
  const flags = ["-std=c23", "-target", "bpf", "-O2", "-g"];
  // clang's own object: the parameter has no name, and the kernel refuses the BTF.
  const own = join(d, "clang.o");
  tool(CLANG, [...flags, "-c", source, "-o", own]);
  assert.match(verifierAccepts(own).log, /FUNC helper type_id=\d+ Invalid arg#2/);
  const bc = join(d, "unnamed.bc");
  tool(CLANG, [...flags, "-emit-llvm", "-c", source, "-o", bc]);
  const out = join(d, "ours.o");
  const r = runLinker(["--btf", "--log-level", "debug", bc, "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /walking the debug info: a function has a variable without a name/);
  assert.doesNotMatch(r.stderr, /^warning:/m);
  assert.match(btfDump(out), /^\t'arg2' type_id=\d+$/m);
  const load = verifierAccepts(out);
  assert.ok(load.ok, load.log);
  assert.doesNotMatch(load.log, /Error loading \.BTF|BTF is optional/);
  assert.equal(loadAndRun(out, "prog"), 2);
});

test("C linked with non-exported helpers is walked: references to their old subprograms move", async () => {
  const llvm = await llvmAt(LLVM22_LIBRARY);
  const texts = cIr(CLANG, "static");
  using context = new Context(llvm, () => {});
  using module = context.parseIr(new TextEncoder().encode(texts[0]), "prog.ll");
  module.link(context.parseIr(new TextEncoder().encode(texts[1]), "helper.ll"));
  const sink = new MemorySink();
  const report = sanitizeDebugInfo(module, new Set(["xdp_core"]), new Logger("debug", sink));
  assert.equal(report.staticFunctions, 1, "weigh (mix is static already)");
  assert.ok(report.nodes > 100);
  assert.ok(!sink.lines.some((l) => /nothing to walk/.test(l)));
  assert.equal(module.verify(), undefined);
});

// ------------------------------------------------------------------- C, CLI

/** bytes 0..8 weighed (byte * position) plus mix({byte 0, byte 1}, byte 2), as prog.c computes. */
function expectedC(p: Uint8Array): number {
  let weigh = 0;
  for (let i = 0; i < 8; i++) weigh += p[i] * (i + 1);
  return weigh + p[0] * 3 + p[1] + p[2];
}

const PACKET = (() => {
  const p = new Uint8Array(64);
  p.set([5, 1, 2, 16, 0, 0, 0, 2, 9, 9]);
  return p;
})();

/** clang `-g -O2 -emit-llvm` of prog.c and helper.c. */
function compileCInputs(clang: string, tag: string): string[] {
  return ["prog", "helper"].map((name) => {
    const out = join(dir, `${name}-${tag}.bc`);
    tool(clang, [
      "-target",
      "bpf",
      "-O2",
      "-g",
      "-emit-llvm",
      "-c",
      join(C_FIXTURES, `${name}.c`),
      "-o",
      out,
    ]);
    return out;
  });
}

interface CLink {
  obj: string;
  ir: string;
  stderr: string;
}

function linkC(inputs: string[], name: string, extra: string[] = []): CLink {
  const obj = join(dir, `${name}.o`);
  const ir = join(dir, `${name}.ll`);
  const r = runLinker([
    ...inputs,
    "--export",
    "xdp_core",
    "--btf",
    "--dump-module",
    ir,
    "-o",
    obj,
    ...extra,
  ]);
  assert.equal(r.status, 0, r.stderr);
  return { obj, ir, stderr: r.stderr };
}

/** opt (of the LLVM that linked) verifies the final IR, debug info included. */
function optVerifies(ir: string, llvmBin: string) {
  const r = run(join(llvmBin, "opt"), ["-passes=verify", "-disable-output", ir]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
}

function checkCBtf(obj: string) {
  const types = parseBtfDump(btfDump(obj));
  const linkage = new Map(
    types.filter((t) => t.kind === "FUNC").map((t) => [t.name, /linkage=(\w+)/.exec(t.line)?.[1]]),
  );
  assert.equal(linkage.get("xdp_core"), "global");
  assert.equal(linkage.get("weigh"), "static", "the non-static helper of helper.c became static");
  assert.equal(linkage.get("mix"), "static");
  // typedef pair_t -> anonymous struct with its two members.
  const pair = types.find((t) => t.kind === "TYPEDEF" && t.name === "pair_t");
  assert.ok(pair, "TYPEDEF pair_t");
  const target = Number(/type_id=(\d+)/.exec(pair.line)![1]);
  const struct = types.find((t) => t.id === target)!;
  assert.equal(struct.kind, "STRUCT");
  assert.equal(struct.name, "(anon)");
  assert.deepEqual(struct.members.map((m) => /^'(\w+)'/.exec(m)?.[1]), ["first", "second"]);
  // C names are left alone, multi-word base types included.
  assert.ok(types.some((t) => t.kind === "INT" && t.name === "unsigned int"));
  assert.ok(types.some((t) => t.kind === "STRUCT" && t.name === "xdp_md"));
}

let cLink22: CLink | undefined;
const c22 = () => (cLink22 ??= linkC(compileCInputs(CLANG, "22"), "c22"));

test("C with --btf (clang-22): linkage, anonymous typedef struct, CO-RE relocations", () => {
  const { obj, ir } = c22();
  checkCBtf(obj);
  // clang's own object of prog.c has the CO-RE relocations the link must keep.
  const direct = join(dir, "prog-direct.o");
  tool(CLANG, ["-target", "bpf", "-O2", "-g", "-c", join(C_FIXTURES, "prog.c"), "-o", direct]);
  const expected = btfExtCoreRelocs(direct);
  assert.ok(expected >= 2, `clang emitted ${expected} CO-RE relocations`);
  assert.equal(btfExtCoreRelocs(obj), expected);
  optVerifies(ir, LLVM_BIN);
});

test("the kernel relocates, verifies and runs the C program with its BTF", needsBpf(), () => {
  const { obj } = c22();
  const pin = `/sys/fs/bpf/bpfl_btf_${process.pid}`;
  try {
    const r = run("bpftool", ["-d", "prog", "loadall", obj, pin]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /CO-RE relocating \[\d+\] struct xdp_md: found target candidate/);
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
  assert.equal(loadAndRun(obj, "xdp_core", PACKET), expectedC(PACKET));
});

test(
  "exported helpers stay global in BTF (and the verifier then rejects packet pointers)",
  needsBpf(),
  () => {
    const { obj } = linkC(compileCInputs(CLANG, "22x"), "c22-exported", ["--export", "weigh"]);
    const weigh = parseBtfDump(btfDump(obj)).find((t) => t.kind === "FUNC" && t.name === "weigh")!;
    assert.match(weigh.line, /linkage=global/);
    const verdict = verifierAccepts(obj);
    assert.equal(verdict.ok, false, "a global function is verified alone");
    assert.match(verdict.log, /invalid args into func#\d+ \('weigh'\)/);
  },
);

const LLVM19 = "/usr/lib/llvm-19/lib/libLLVM.so.1";
const LLVM19_BIN = "/usr/lib/llvm-19/bin";
const no19 = !existsSync(LLVM19) || run("clang-19", ["--version"]).status !== 0;
if (no19) {
  process.stderr.write("SKIP: LLVM 19 BTF tests: libLLVM 19 or clang-19 is not installed\n");
}

let cLink19: CLink | undefined;
const c19 = () => (cLink19 ??= linkC(compileCInputs("clang-19", "19"), "c19", [
  "--llvm",
  LLVM19,
  "--log-level",
  "debug",
]));

test(
  "C with --btf on LLVM 19 (clang-19 bitcode, debug intrinsics for the C API)",
  no19 ? { skip: "no LLVM 19" } : {},
  () => {
    const { obj, ir, stderr } = c19();
    assert.match(stderr, /BTF sanitizer: reading debug variables as intrinsics/);
    checkCBtf(obj);
    assert.ok(btfExtCoreRelocs(obj) >= 2);
    // The module went back to debug records (LLVM 19's default) after the walk.
    optVerifies(ir, LLVM19_BIN);
    assert.match(readFileSync(ir, "utf8"), /#dbg_value\(/);
  },
);

test(
  "the kernel runs the C program linked by LLVM 19",
  no19 ? { skip: "no LLVM 19" } : needsBpf(),
  () => {
    assert.equal(loadAndRun(c19().obj, "xdp_core", PACKET), expectedC(PACKET));
  },
);

// LLVM 21 reads debug records neither through its C API (that came in 22) nor
// as intrinsics (gone in 21): the sanitizer reaches variables through the
// subprograms' retained nodes. Run where tests/container.test.ts's Debian
// trixie root with libLLVM 21 has been made (scripts/container-root); the host's
// glibc is too old for that libLLVM, so the single executable runs chrooted.
const CONTAINER_ROOT = process.env.BPF_LINKER_CONTAINER_ROOT ??
  "/var/cache/bpf-linker/trixie-llvm21";
function llvm21(): { skip?: string } {
  // Made here if tests/container.test.ts has not made it yet (files run in any order).
  const made = containerRoot();
  if (made.skip) return { skip: made.skip };
  const libs = join(CONTAINER_ROOT, "usr", "lib", "x86_64-linux-gnu");
  if (!existsSync(libs) || !readdirSync(libs).some((f) => f.startsWith("libLLVM.so.21"))) {
    return { skip: `no LLVM 21 root at ${CONTAINER_ROOT} (made by scripts/container-root)` };
  }
  return {};
}
const skip21 = llvm21();
if (skip21.skip) process.stderr.write(`SKIP: LLVM 21 BTF test: ${skip21.skip}\n`);

test("C with --btf on LLVM 21 (debug records the C API cannot read)", skip21, () => {
  const exe = builtExecutable();
  const inputs = compileCInputs("clang-19", "21");
  const inside = `/tmp/bpfl-btf21-${process.pid}`;
  const work = join(CONTAINER_ROOT, inside);
  mkdirSync(work, { recursive: true });
  try {
    copyFileSync(exe, join(work, "bpf-linker"));
    for (const f of inputs) copyFileSync(f, join(work, f.slice(f.lastIndexOf("/") + 1)));
    const r = runInRoot(CONTAINER_ROOT, [
      `${inside}/bpf-linker`,
      ...inputs.map((f) => `${inside}/${f.slice(f.lastIndexOf("/") + 1)}`),
      "--export",
      "xdp_core",
      "--btf",
      "--log-level",
      "debug",
      "--dump-module",
      `${inside}/out.ll`,
      "-o",
      `${inside}/out.o`,
    ]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /LLVM 21\.\d+\.\d+ cannot read debug records/);
    const obj = join(dir, "c21.o");
    const ir = join(dir, "c21.ll");
    copyFileSync(join(work, "out.o"), obj);
    copyFileSync(join(work, "out.ll"), ir);
    checkCBtf(obj);
    optVerifies(ir, LLVM_BIN);
    if (!needsBpf().skip) assert.equal(loadAndRun(obj, "xdp_core", PACKET), expectedC(PACKET));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
});
