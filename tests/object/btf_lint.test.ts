// The BTF lint run after --btf emission (src/object/btf_lint.ts): silent on what the
// sanitizer produced (examples/xdp, the C BTF fixtures, the Rust crates); one warning
// per problem, naming the type or function, on objects made without the sanitizer
// (Rust bitcode through llvm-link and llc, IR with names the kernel refuses) and on
// exported C functions the verifier cannot type. Where BPF can be loaded, the kernel
// confirms each verdict on global functions: refused exactly when the lint warns.
// The shortcut for the usual object (certainlyClean) is never clean where the full
// lint reports, on mutated BTF too.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { lintBtfObject } from "../../src/mod.ts";
import { BtfFormatError, btfLayout, parseBtf } from "../../src/object/btf.ts";
import { certainlyClean, lintBtf } from "../../src/object/btf_lint.ts";
import { ElfObject, isElf } from "../../src/object/elf.ts";
import { clangBitcode, crateArgs, linkIn, rustForTests } from "../support/explain.ts";
import {
  btfDump,
  compileC,
  compileXdpExample,
  fileTempDir,
  LLVM_BIN,
  needsBpf,
  parseBtfDump,
  repoRoot,
  tool,
  verifierAccepts,
} from "../support/tools.ts";

const dir = fileTempDir("bpfl-lint-");

/** Link with the CLI in `cwd`; returns stderr (the link must succeed). */
const linkCli = (args: string[], cwd = dir): string => linkIn(cwd, args);

const lintLines = (stderr: string) =>
  stderr.split("\n").filter((l) => l.startsWith("warning: BTF: "));

// ------------------------------------------------------------------ silent on sanitized output

test("silent on examples/xdp linked with --btf", () => {
  compileXdpExample(dir);
  const stderr = linkCli([
    "--btf",
    "--export",
    "xdp_filter",
    "-o",
    "xdp.o",
    "main.bc",
    "classify.bc",
    "libcsum.a",
  ]);
  assert.equal(stderr, "");
  assert.deepEqual(lintBtfObject(readFileSync(join(dir, "xdp.o"))), []);
  // There is BTF to lint: functions, the licence variable, the sections.
  const kinds = new Set(parseBtfDump(btfDump(join(dir, "xdp.o"))).map((t) => t.kind));
  for (const kind of ["FUNC", "FUNC_PROTO", "STRUCT", "VAR", "DATASEC"]) {
    assert.ok(kinds.has(kind), kind);
  }
});

test("silent on the C BTF fixtures (CO-RE, typedefs, a helper from another file) with --btf", () => {
  const fixtures = join(repoRoot, "tests", "fixtures", "c", "btf");
  const d = join(dir, "fixtures");
  mkdirSync(d);
  for (const name of ["prog", "helper"]) {
    clangBitcode("clang-22", join(fixtures, `${name}.c`), join(d, `${name}.bc`), ["-g"]);
  }
  assert.equal(
    linkCli(["--btf", "--export", "xdp_core", "-o", "core.o", "prog.bc", "helper.bc"], d),
    "",
  );
  assert.deepEqual(lintBtfObject(readFileSync(join(d, "core.o"))), []);
});

// ------------------------------------------------------- global functions the verifier cannot type

const COMMON = `#define SEC(name) __attribute__((section(name), used))
#define NOINLINE __attribute__((noinline))
struct xdp_md { unsigned data, data_end; };
struct pair { int a, b; };
union word { int i; unsigned char b[4]; };
struct opaque;
`;

interface Variant {
  name: string;
  definition: string;
  /** The body of the XDP program calling it (ctx is its argument). */
  call: string;
  /** The lint's complaint (after "global function '<name>' "), or undefined for none. */
  problem?: string;
}

const VARIANTS: Variant[] = [
  {
    name: "ok_scalars",
    definition: "NOINLINE int ok_scalars(int a, unsigned long b) { return a + (int)b; }",
    call: "return ok_scalars(5, 3) & 1;",
  },
  {
    name: "ok_ctx",
    definition: "NOINLINE int ok_ctx(struct xdp_md *c) { return c->data_end > c->data; }",
    call: "return ok_ctx(ctx);",
  },
  {
    name: "ok_memory",
    definition: "NOINLINE int ok_memory(int *p) { return p ? (*p & 1) : 0; }",
    call: "int v = 5; return ok_memory(&v);",
  },
  {
    name: "by_value",
    definition: "NOINLINE int by_value(struct pair p) { return (p.a + p.b) & 1; }",
    call: "struct pair p = {5, 2}; return by_value(p);",
    problem: "argument 1 'p' is struct 'pair' by value",
  },
  {
    name: "union_value",
    definition: "NOINLINE int union_value(union word w) { return w.i & 1; }",
    call: "union word w = {.i = 5}; return union_value(w);",
    problem: "argument 1 'w' is union 'word' by value",
  },
  {
    name: "void_pointer",
    definition: "NOINLINE int void_pointer(void *p) { return p != 0; }",
    call: "int v = 1; return void_pointer(&v);",
    problem: "argument 1 'p' points to void, whose size the verifier cannot know",
  },
  {
    name: "opaque_pointer",
    definition: "NOINLINE int opaque_pointer(struct opaque *p) { return p != 0; }",
    call: "int v = 1; return opaque_pointer((struct opaque *)&v);",
    problem:
      "argument 1 'p' points to forward declaration 'opaque', whose size the verifier cannot know",
  },
  {
    name: "returns_pointer",
    // The asm keeps the call: LLVM would otherwise see it returns its argument and drop it.
    definition:
      'NOINLINE int *returns_pointer(int *p) { asm volatile("" ::: "memory"); return p; }',
    call: "int v = 1; int *q = returns_pointer(&v); return q != 0;",
    problem: "returns a pointer, not void or an integer",
  },
];

const SUFFIX = ": the verifier checks global functions on their own and will refuse it " +
  "(make it static or change its signature)";

/** Compile the variant's program and link it with --btf, the function exported (so global). */
function linkVariant(v: Variant): { obj: string; stderr: string } {
  const d = join(dir, "variants");
  mkdirSync(d, { recursive: true });
  compileC(
    d,
    v.name,
    `${COMMON}${v.definition}\nSEC("xdp") int prog(struct xdp_md *ctx) { ${v.call} }\nchar LICENSE[] SEC("license") = "GPL";\n`,
    "bc",
    ["-g"],
  );
  const obj = join(d, `${v.name}.o`);
  const stderr = linkCli([
    "--btf",
    "--export",
    `prog,${v.name}`,
    "-o",
    obj,
    join(d, `${v.name}.bc`),
  ], d);
  return { obj, stderr };
}

test("exported functions the verifier cannot type: one warning each, naming the function", () => {
  for (const v of VARIANTS) {
    const { obj, stderr } = linkVariant(v);
    const expected = v.problem
      ? [`warning: BTF: global function '${v.name}' ${v.problem}${SUFFIX}`]
      : [];
    assert.deepEqual(lintLines(stderr), expected, v.name);
    assert.equal(stderr.split("\n").filter((l) => l !== "").length, expected.length, stderr);
    assert.deepEqual(
      lintBtfObject(readFileSync(obj)),
      expected.map((l) => l.slice("warning: ".length)),
    );
    // The function is global in BTF and in .text: what the lint judged.
    const func = parseBtfDump(btfDump(obj)).find((t) => t.kind === "FUNC" && t.name === v.name);
    assert.match(func?.line ?? "", /linkage=global/, v.name);
  }
});

test("an uncalled global function or a program entry point is not judged by its arguments", () => {
  const d = join(dir, "uncalled");
  mkdirSync(d);
  compileC(
    d,
    "uncalled",
    `${COMMON}NOINLINE int by_value(struct pair p) { return p.a + p.b; }
SEC("xdp") int prog(struct xdp_md *ctx) { return 2; }
SEC("xdp") int odd_entry(struct pair *p, void *q) { return 1; }
char LICENSE[] SEC("license") = "GPL";\n`,
    "bc",
    ["-g"],
  );
  assert.equal(
    linkCli(["--btf", "--export", "prog,odd_entry,by_value", "-o", "u.o", "uncalled.bc"], d),
    "",
  );
});

test(
  "the kernel refuses exactly the programs whose global function the lint warned about",
  needsBpf(),
  () => {
    for (const v of VARIANTS) {
      const { obj } = linkVariant(v);
      const { ok, log } = verifierAccepts(obj);
      assert.equal(
        ok,
        v.problem === undefined,
        `${v.name}: kernel ${ok ? "accepted" : "refused"}\n${log}`,
      );
    }
  },
);

// -------------------------------------------------------------- names the kernel refuses

test("IR with names the kernel refuses: the lint names each one left in the BTF", () => {
  const d = join(dir, "names");
  mkdirSync(d);
  compileC(
    d,
    "names",
    `#define SEC(name) __attribute__((section(name), used))
struct xdp_md { unsigned data, data_end; };
typedef unsigned int my_u32;
enum color { RED, GREEN };
struct point { int x; int y; };
struct point origin_point = {1, 2};
my_u32 counter_var = 3;
enum color paint = GREEN;
SEC("xdp") int prog(struct xdp_md *ctx) { return origin_point.y + counter_var + paint; }
char LICENSE[] SEC("license") = "GPL";\n`,
    "ll",
    ["-g"],
  );
  const ir = readFileSync(join(d, "names.ll"), "utf8")
    .replace('name: "my_u32"', 'name: "my::u32"')
    .replace('DIEnumerator(name: "GREEN"', 'DIEnumerator(name: "GREEN-2"')
    .replace(/(DW_TAG_member, name: )"y"/, '$1"y$"')
    // UTF-8: the BTF string section is then decoded name by name, not at once.
    .replace(/(DW_TAG_member, name: )"x"/, '$1"x\u00e9"');
  writeFileSync(join(d, "bad.ll"), ir);

  // Without the sanitizer (llc straight from the IR) every bad name reaches the BTF.
  tool(join(LLVM_BIN, "llc"), [
    "-march=bpfel",
    "-filetype=obj",
    "-o",
    join(d, "llc.o"),
    join(d, "bad.ll"),
  ]);
  assert.deepEqual(lintBtfObject(readFileSync(join(d, "llc.o"))), [
    "BTF: struct 'point': member 'x\u00e9' has characters the kernel refuses in names: \u00e9",
    "BTF: struct 'point': member 'y$' has characters the kernel refuses in names: $",
    "BTF: typedef 'my::u32': the name has characters the kernel refuses in names: :",
    "BTF: enum 'color': value 'GREEN-2' has characters the kernel refuses in names: -",
  ]);

  // Through the linker: whatever the sanitizer leaves is reported, and only that.
  const stderr = linkCli([
    "--btf",
    "--export",
    "prog,origin_point,counter_var,paint",
    "-o",
    "linked.o",
    "bad.ll",
  ], d);
  const names = parseBtfDump(btfDump(join(d, "linked.o")))
    .flatMap((t) => [t.name, ...t.members.map((m) => /^'([^']*)'/.exec(m)?.[1] ?? "")])
    .filter((n) => /[^A-Za-z0-9_.()]/.test(n) && n !== "unsigned int");
  const warned = lintLines(stderr);
  assert.equal(warned.length, new Set(names).size, `${stderr}\nbad names left: ${names.join(" ")}`);
  for (const name of names) assert.ok(warned.some((l) => l.includes(`'${name}'`)), name);
});

// ------------------------------------------------- types LLVM could not write, unnamed parameters

test("type 0 members and parameters, and unnamed parameters: one warning each; the kernel refuses the BTF", () => {
  const d = join(dir, "types");
  mkdirSync(d);
  compileC(
    d,
    "types",
    `#define SEC(name) __attribute__((section(name), used))
struct xdp_md { unsigned data, data_end, data_meta, ingress_ifindex; };
struct seen { unsigned long ifindex; unsigned mark; };
static __attribute__((noinline)) int weigh(struct seen *s, unsigned mark, int) { return s->ifindex == mark ? 1 : 2; }
SEC("xdp") int prog(struct xdp_md *ctx) { struct seen s = { ctx->ingress_ifindex, 7 }; return weigh(&s, ctx->data_meta, 3); }
char LICENSE[] SEC("license") = "GPL";\n`,
    "ll",
    ["-g", "-std=c23"],
  );
  // `unsigned int` with DWARF's UTF encoding, as Rust's char is: LLVM's BTF writer has no kind for it.
  const ir = readFileSync(join(d, "types.ll"), "utf8")
    .replace(/(DIBasicType\(name: "unsigned int", size: 32, encoding: )DW_ATE_unsigned/, "$1DW_ATE_UTF");
  writeFileSync(join(d, "utf.ll"), ir);
  const obj = join(d, "llc.o");
  tool(join(LLVM_BIN, "llc"), ["-march=bpfel", "-filetype=obj", "-o", obj, join(d, "utf.ll")]);
  const refused = "the kernel refuses the whole BTF, and libbpf loads the programs without it";
  assert.deepEqual(lintBtfObject(readFileSync(obj)), [
    `BTF: struct 'xdp_md': member 'data' has type 0, left where LLVM could not write its type: ${refused}`,
    `BTF: struct 'xdp_md': member 'data_end' has type 0, left where LLVM could not write its type: ${refused}`,
    `BTF: struct 'xdp_md': member 'data_meta' has type 0, left where LLVM could not write its type: ${refused}`,
    `BTF: struct 'xdp_md': member 'ingress_ifindex' has type 0, left where LLVM could not write its type: ${refused}`,
    `BTF: struct 'seen': member 'mark' has type 0, left where LLVM could not write its type: ${refused}`,
    `BTF: function 'weigh': parameter 2 'mark' has type 0, left where LLVM could not write its type ("Invalid arg#2"): ${refused}`,
    `BTF: function 'weigh': parameter 3 has no name, which the kernel requires of a function's parameters ("Invalid arg#3"): ${refused}`,
  ]);
  if (!needsBpf().skip) {
    const load = verifierAccepts(obj);
    assert.match(load.log, /BTF loading error|Error loading \.BTF/, load.log);
  }
});

// ------------------------------------------------------------------------------- Rust

const { needsRust, rustWithNetdep } = rustForTests("Rust BTF lint tests");
const DEBUGINFO = ["-C", "debuginfo=2"];

test("silent on Rust crates linked by rustc with --btf", needsRust(), () => {
  const d = join(dir, "rust");
  const rust = rustWithNetdep(d, DEBUGINFO);
  for (
    const [kind, name, source] of [["bin", "xdp_bin", "main.rs"], [
      "cdylib",
      "xdp_cdylib",
      "lib.rs",
    ]]
  ) {
    const obj = join(d, `${name}.o`);
    const stderr = rust.crate(obj, ["--btf"], { messages: true, kind, name, source });
    // Nothing at all: the emptied enums are in no map or exported global (info level).
    assert.equal(stderr, "", name);
    assert.deepEqual(lintBtfObject(readFileSync(obj)), [], name);
  }
});

test(
  "Rust bitcode linked with llvm-link and llc, unsanitized: the lint names what the kernel refuses",
  needsRust(),
  () => {
    const d = join(dir, "rust-raw");
    // The rlib for rustc's metadata, its bitcode member for llvm-link.
    const rust = rustWithNetdep(d, DEBUGINFO);
    tool(join(LLVM_BIN, "llvm-ar"), ["x", "--output", d, join(d, "libnetdep.rlib")]);
    const member = readdirSync(d).find((f) => f.endsWith(".rcgu.o"))!;
    // For bpfel-unknown-none, rustc's object files are bitcode.
    rust.rustc(["--emit=obj", ...crateArgs(d, join(d, "xdp_bin.bc"))]);
    tool(join(LLVM_BIN, "llvm-link"), [
      join(d, "xdp_bin.bc"),
      join(d, member),
      "-o",
      join(d, "linked.bc"),
    ]);
    tool(join(LLVM_BIN, "llc"), [
      "-march=bpfel",
      "-filetype=obj",
      "-o",
      join(d, "raw.o"),
      join(d, "linked.bc"),
    ]);
    const lines = lintBtfObject(readFileSync(join(d, "raw.o")));
    // Rust's generic names, as rustc wrote them.
    assert.ok(
      lines.includes(
        "BTF: function 'fold<u8>': the name has characters the kernel refuses in names: < >",
      ),
      lines.join("\n"),
    );
    assert.ok(
      lines.includes(
        "BTF: struct 'Tally<u32>': the name has characters the kernel refuses in names: < >",
      ),
    );
    assert.ok(
      lines.some((l) =>
        /^BTF: union 'MaybeUninit<netdep::Header>': the name has characters .*: < : >$/.test(l)
      ),
    );
    // Not internalized, netdep::classify stays global and returns a struct by value.
    assert.ok(
      lines.some((l) => l.startsWith("BTF: global function 'classify' returns struct 'Verdict'")),
      lines.join("\n"),
    );
    // Each line names its type or function: one line per problem, none repeated.
    assert.equal(new Set(lines).size, lines.length);
  },
);

// ---------------------------------------------------------------------------- map linkage

const MAP_PROGRAM = `
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct xdp_md { unsigned data, data_end; };
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
struct { __uint(type, 2); __uint(max_entries, 1); __type(key, int); __type(value, long); } counts SEC(".maps");
SEC("xdp") int prog(struct xdp_md *ctx) {
  int k = 0;
  long *v = bpf_map_lookup_elem(&counts, &k);
  if (v) __sync_fetch_and_add(v, 1);
  return 2;
}
char LICENSE[] SEC("license") = "GPL";
`;

let mapLinks: { dir: string; unexported: string[]; exported: string[]; plain: string[] } | undefined;
/** The map program linked without and with its map exported (once per file). */
function linkMapProgram() {
  if (mapLinks) return mapLinks;
  const d = join(dir, "maps");
  mkdirSync(d, { recursive: true });
  const bc = compileC(d, "maps", MAP_PROGRAM, "bc", ["-g"]);
  mapLinks = {
    dir: d,
    unexported: lintLines(linkCli(["--btf", "--export", "prog", bc, "-o", "static.o"], d)),
    exported: lintLines(linkCli(["--btf", "--export", "prog,counts", bc, "-o", "global.o"], d)),
    // No export list: the map keeps the global linkage clang gave it.
    plain: lintLines(linkCli(["--btf", bc, "-o", "plain.o"], d)),
  };
  return mapLinks;
}

test("a BTF map that was not exported (static) gets one warning naming it; exported, none", () => {
  const { unexported, exported } = linkMapProgram();
  assert.deepEqual(unexported, [
    `warning: BTF: map 'counts' has static linkage: libbpf refuses it ("unsupported map linkage static"); export it (--export counts), or drop 'static' from its definition`,
  ]);
  assert.deepEqual(exported, []);
  assert.deepEqual(linkMapProgram().plain, [], "without an export list the map stays global");
});

test("the kernel's loader agrees: the static map is refused, the exported one loads", needsBpf(), () => {
  const { dir: d } = linkMapProgram();
  assert.equal(verifierAccepts(join(d, "static.o")).ok, false);
  assert.equal(verifierAccepts(join(d, "global.o")).ok, true);
  assert.equal(verifierAccepts(join(d, "plain.o")).ok, true);
});

// ------------------------------------------------------------- the common case, read from the bytes

/**
 * A program with what the rules look at: a map, a function in .text, an enum,
 * a typedef, a static variable. The function is static: a global one in .text
 * is never judged clean (its prototype is for the full lint to judge).
 */
const RICH_PROGRAM = `
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct xdp_md { unsigned data, data_end; };
enum verdict { VERDICT_DROP = 1, VERDICT_PASS = 2 };
typedef unsigned long counter_t;
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
struct { __uint(type, 2); __uint(max_entries, 1); __type(key, int); __type(value, counter_t); } counts SEC(".maps");
static volatile int seen;
static __attribute__((noinline)) int scaled(int a, unsigned long b) { return a + (int)b; }
SEC("xdp") int prog(struct xdp_md *ctx) {
  int k = 0;
  counter_t *v = bpf_map_lookup_elem(&counts, &k);
  if (v) __sync_fetch_and_add(v, 1);
  seen = scaled(ctx->data_end - ctx->data, 3);
  return seen ? VERDICT_PASS : VERDICT_DROP;
}
char LICENSE[] SEC("license") = "GPL";
`;

/** The full lint of an object's BTF, without the shortcut lintBtfObject takes. */
function fullLint(bytes: Uint8Array): string[] {
  const elf = new ElfObject(bytes);
  try {
    return lintBtf(parseBtf(elf.section(".BTF")!.data), elf);
  } catch (e) {
    if (e instanceof BtfFormatError) return [`cannot be decoded: ${e.message}`];
    throw e;
  }
}

function judgedClean(bytes: Uint8Array): boolean {
  const elf = new ElfObject(bytes);
  return certainlyClean(elf.section(".BTF")!.data, elf);
}

test("certainlyClean: never clean where the full lint reports, on a program and on its BTF mutated word by word and byte by byte", () => {
  const d = join(dir, "clean-check");
  mkdirSync(d);
  const bc = compileC(d, "rich", RICH_PROGRAM, "bc", ["-g"]);
  assert.equal(linkCli(["--btf", "--export", "prog,counts", bc, "-o", "rich.o"], d), "");
  const object = new Uint8Array(readFileSync(join(d, "rich.o")));
  assert.deepEqual(fullLint(object), []);
  assert.equal(judgedClean(object), true, "the sanitized object is recognized as clean");

  const btf = new ElfObject(object).section(".BTF")!;
  const { typesStart, typesEnd, stringsStart, stringsEnd } = btfLayout(btf.data);
  const mutants: Uint8Array[] = [];
  const mutate = (at: number, values: number[]) => {
    const bytes = object.slice();
    bytes.set(values, btf.offset + at);
    mutants.push(bytes);
  };
  for (let at = typesStart; at + 4 <= typesEnd; at += 4) {
    mutate(at, [0, 0, 0, 0]);
    mutate(at, [1, 0, 0, 0]);
    mutate(at + 3, [0x0d]); // the high byte of an info word: kind FUNC_PROTO
  }
  for (let at = stringsStart; at < stringsEnd; at++) {
    mutate(at, [0x2d]); // '-'
    mutate(at, [0x30]); // a digit
    mutate(at, [0]);
  }
  let reported = 0;
  let clean = 0;
  for (const bytes of mutants) {
    const lines = fullLint(bytes);
    if (lines.length > 0) reported++;
    if (!judgedClean(bytes)) continue;
    clean++;
    assert.deepEqual(lines, [], "judged clean, yet the lint reports");
  }
  // Both answers are given often: the check is neither always false nor always true.
  assert.ok(reported >= 100, `${reported} of ${mutants.length} mutants reported`);
  assert.ok(clean >= 100, `${clean} of ${mutants.length} mutants judged clean`);

  // Every object the tests above linked (those with problems among them), when they ran.
  const objects = readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith(".o"));
  for (const file of objects) {
    const bytes = new Uint8Array(readFileSync(join(dir, file)));
    if (!isElf(bytes) || !new ElfObject(bytes).section(".BTF")) continue;
    if (judgedClean(bytes)) assert.deepEqual(fullLint(bytes), [], file);
  }
});
