// rustc drives the linker (as it drives the Rust bpf-linker): Debian's rustc 1.96 (LLVM 22) builds
// aya-style crates for bpfel-unknown-none against the sysroot from
// scripts/build-sysroot, with `-C linker=scripts/bpf-linker` (Bun) or
// scripts/bpf-linker-deno (Deno), whichever runtime runs this file. A `bin` and
// a `cdylib` crate use an rlib dependency (tests/fixtures/rust/crates); each is
// linked with and without `-C debuginfo=2 -C link-arg=--btf`. The kernel
// verifies and runs every program; bpftool reads the BTF.

import { after, test } from "node:test";
import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import {
  btfDump,
  disassemble,
  builtExecutable,
  linkerWrapper,
  LLVM_BIN,
  loadAndRun,
  needsBpf,
  parseBtfDump,
  repoRoot,
  run,
  rustSysroot,
  sectionNames,
  symbols,
  tempDir,
  tool,
  verifierAccepts,
} from "./support/tools.ts";
import { crateArgs, netdepRlibArgs } from "./support/explain.ts";

const TARGET = "bpfel-unknown-none";

const sysroot = rustSysroot();
if (sysroot.skip) process.stderr.write(`SKIP: Rust tests: ${sysroot.skip}\n`);
/** Options for the tests that need rustc: skipped (loudly, above) without a sysroot. */
const needsRust = (): { skip?: string } => (sysroot.skip ? { skip: sysroot.skip } : {});
/** Kernel tests need rustc too. */
const needsRustAndBpf = (): {
  skip?: string;
} => (sysroot.skip ? { skip: sysroot.skip } : needsBpf());

const dir = tempDir("bpfl-rust-");
if (!process.env.BPFL_KEEP) after(() => rmSync(dir, { recursive: true, force: true }));

function rustc(args: string[]): { stderr: string; ms: number } {
  const start = performance.now();
  const r = run("/usr/bin/rustc", [
    "--edition",
    "2021",
    "--target",
    TARGET,
    "--sysroot",
    sysroot.root!,
    "-C",
    "panic=abort",
    "-C",
    "opt-level=3",
    ...args,
  ]);
  const ms = performance.now() - start;
  if (r.status !== 0) throw new Error(`rustc ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  return { stderr: r.stderr, ms };
}

const deps = new Map<boolean, string>();
/** Build the netdep rlib (once per debug-info setting); returns its directory. */
function dependency(debug: boolean): string {
  let out = deps.get(debug);
  if (out) return out;
  out = join(dir, debug ? "deps-debug" : "deps");
  mkdirSync(out, { recursive: true });
  rustc([
    ...(debug ? ["-C", "debuginfo=2"] : []),
    ...netdepRlibArgs(out),
  ]);
  deps.set(debug, out);
  return out;
}

type CrateKind = "bin" | "cdylib";
interface Variant {
  btf?: boolean;
  ignoreInlineNever?: boolean;
  wholeArchive?: boolean;
  /** rustc calls dist/bpf-linker (the single executable) instead of the script entry. */
  compiled?: boolean;
}
interface Built {
  obj: string;
  /** rustc's stderr: the linker's messages (shown with -W linker-messages). */
  stderr: string;
  ms: number;
}

let recorder: string | undefined;
/**
 * A linker for -C linker= that records what rustc passes (argv to `<output>.argv`,
 * the --export-symbols file to `<output>.symbols`: rustc deletes it after the
 * link), then runs the real one.
 */
function recordingLinker(): string {
  if (recorder) return recorder;
  recorder = join(dir, "bpf-linker");
  writeFileSync(
    recorder,
    `#!/bin/sh
out=; prev=; symbols=
for a in "$@"; do
  [ "$prev" = -o ] && out=$a
  [ "$prev" = --export-symbols ] && symbols=$a
  prev=$a
done
printf '%s\\n' "$@" > "$out.argv"
[ -z "$symbols" ] || cp "$symbols" "$out.symbols"
exec '${linkerWrapper()}' "$@"
`,
  );
  chmodSync(recorder, 0o755);
  return recorder;
}

const built = new Map<string, Built>();
/** Compile and link one crate through rustc, once per variant. */
function program(kind: CrateKind, variant: Variant = {}): Built {
  const key = `${kind}-${variant.btf ? "btf" : "plain"}${
    variant.ignoreInlineNever ? "-inline" : ""
  }${variant.wholeArchive ? "-whole" : ""}${variant.compiled ? "-compiled" : ""}`;
  const done = built.get(key);
  if (done) return done;
  const deps = dependency(!!variant.btf);
  const name = kind === "bin" ? "xdp_bin" : "xdp_cdylib";
  const obj = join(dir, `${key}.o`);
  const { stderr, ms } = rustc([
    ...(variant.btf ? ["-C", "debuginfo=2", "-C", "link-arg=--btf"] : []),
    ...(variant.ignoreInlineNever ? ["-C", "link-arg=--ignore-inline-never"] : []),
    ...(variant.wholeArchive ? ["-C", "link-arg=--whole-archive"] : []),
    "-C",
    `linker=${variant.compiled ? builtExecutable() : recordingLinker()}`,
    // Show what the linker prints (rustc hides it on success otherwise).
    "-W",
    "linker-messages",
    ...crateArgs(deps, obj, kind, name, kind === "bin" ? "main.rs" : "lib.rs"),
  ]);
  const result = { obj, stderr, ms };
  built.set(key, result);
  return result;
}

// ------------------------------------------------- what the programs compute (as in Rust)

const u32 = (x: number) => x >>> 0;

function header(p: Uint8Array) {
  return {
    kind: p[0],
    port: (p[1] << 8) | p[2],
    length: u32(p[3] | (p[4] << 8) | (p[5] << 16) | (p[6] << 24)),
    flags: p[7],
  };
}

/** netdep::code(&netdep::classify(&header)) */
function code(p: Uint8Array): number {
  const h = header(p);
  if (h.kind === 0) return 0;
  if ((h.flags & 1) === 1) return (h.port % 7) + 100;
  return (h.length & 0xff) + 2;
}

function weigh(p: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum = u32(sum + p[i] * (i + 1));
  return sum;
}

function fold(items: number[], seed: number): number {
  let total = seed;
  for (const item of items) total = u32(Math.imul(total, 31) + item);
  return total;
}

/** What `prog` in xdp_bin returns. */
function expectedBin(p: Uint8Array): number {
  const h = header(p);
  const small = fold([p[0], p[1], p[2], p[3]], 7);
  const wide = fold([h.port, h.kind, h.flags, 1], 3);
  const mix = u32(Math.imul(small, 3) ^ wide);
  return u32(code(p) + weigh(p) + (mix & 0xffff));
}

/** What `xdp_count` in xdp_cdylib returns. */
function expectedCdylib(p: Uint8Array): number {
  const scale = u32(Math.imul(weigh(p), (p[7] & 3) + 1));
  return u32(code(p) * 2 + scale + 4);
}

/** 64-byte packets that take each branch of classify(): Pass, Drop, Abort. */
const PACKETS: Record<string, Uint8Array> = {
  pass: packet([5, 1, 2, 0x10, 0, 0, 0, 2]),
  drop: packet([9, 0x12, 0x34, 0xff, 0xee, 0, 1, 3]),
  abort: packet([0, 200, 100, 50, 25, 12, 6, 0xfe]),
};

function packet(head: number[]): Uint8Array {
  const p = new Uint8Array(64);
  p.set(head);
  for (let i = head.length; i < p.length; i++) p[i] = (i * 7) & 0xff;
  return p;
}

const PROGRAMS = {
  bin: { section: "xdp", name: "prog", expected: expectedBin },
  cdylib: { section: "xdp", name: "xdp_count", expected: expectedCdylib },
} as const;

// ------------------------------------------------------------------------ checks

const MEMORY_BUILTINS = new Set(["memcpy", "memmove", "memset", "memcmp", "bcmp"]);

function checkObject(kind: CrateKind, obj: string, btf: boolean) {
  const { section, name } = PROGRAMS[kind];
  const syms = symbols(obj);
  assert.equal(syms.get(name)?.bind, "GLOBAL", `${name} is a global symbol`);
  assert.equal(syms.get(name)?.type, "FUNC");
  const sections = sectionNames(obj);
  assert.ok(sections.includes(section), `section ${section} in ${sections.join(" ")}`);
  assert.equal(sections.includes(".BTF"), btf, btf ? "BTF emitted" : "no BTF without --btf");
}

function checkBtf(kind: CrateKind, obj: string) {
  const types = parseBtfDump(btfDump(obj));
  assert.ok(types.length > 10, "BTF has types");
  // Sanitized names: C identifiers only where the kernel checks them (section
  // names of DATASECs start with a dot; base types keep Rust's names, such as
  // `()`; bpftool shows an empty name as (anon)).
  const identifier = /^([A-Za-z0-9_]*|\(anon\))$/;
  assert.ok(types.some((t) => t.kind === "INT" && t.name === "()"), "the unit type keeps its name");
  for (const t of types) {
    if (t.kind === "DATASEC" || t.kind === "INT" || t.kind === "FLOAT") continue;
    assert.match(t.name, identifier, `name of ${t.line}`);
    for (const member of t.members) {
      const m = /^'([^']*)'/.exec(member);
      if (m) assert.match(m[1], identifier, `member of ${t.line}: ${member}`);
    }
  }
  // Linkage: the program is global; the memory builtins are exported too; everything else is static.
  const funcs = types.filter((t) => t.kind === "FUNC");
  const linkage = new Map(funcs.map((f) => [f.name, /linkage=(\w+)/.exec(f.line)?.[1]]));
  assert.equal(linkage.get(PROGRAMS[kind].name), "global");
  for (const [fn, l] of linkage) {
    if (fn === PROGRAMS[kind].name || MEMORY_BUILTINS.has(fn)) continue;
    assert.equal(l, "static", `FUNC ${fn} is static`);
  }
  // The #[inline(never)] helpers are functions in BTF, generics with sanitized names.
  for (
    const fn of [
      "fill",
      "classify",
      "code",
      "weigh",
      "fold_3C_u16_3E_",
      kind === "bin" ? "mix" : "scale",
    ]
  ) {
    assert.ok(linkage.has(fn), `FUNC ${fn} in ${[...linkage.keys()].join(" ")}`);
  }
  if (kind === "bin") assert.ok(linkage.has("fold_3C_u8_3E_"));
  // Members in offset order everywhere; Header's fields as rustc laid them out.
  for (const t of types.filter((t) => t.kind === "STRUCT" || t.kind === "UNION")) {
    const offsets = t.members.map((m) => Number(/bits_offset=(\d+)/.exec(m)?.[1] ?? NaN));
    for (let i = 1; i < offsets.length; i++) {
      assert.ok(offsets[i - 1] <= offsets[i], `member order of ${t.line}`);
    }
  }
  const headerType = types.find((t) => t.kind === "STRUCT" && t.name === "Header");
  assert.ok(headerType, "STRUCT Header");
  assert.deepEqual(headerType.members.map((m) => /^'(\w+)'/.exec(m)?.[1]), [
    "length",
    "port",
    "kind",
    "flags",
  ]);
  // MaybeUninit<Header> is a union; the generic struct's name is escaped.
  const union = types.find((t) => t.kind === "UNION" && t.name.startsWith("MaybeUninit_3C_"));
  assert.ok(union, "UNION MaybeUninit<...>");
  assert.equal(union.name, "MaybeUninit_3C_netdep_3A__3A_Header_3E_");
  assert.ok(types.some((t) => t.kind === "STRUCT" && t.name === "Tally_3C_u32_3E_"));
  // The data-carrying enum is a struct without members.
  const verdict = types.find((t) => t.name === "Verdict");
  assert.ok(verdict, "Verdict in BTF");
  assert.equal(verdict.kind, "STRUCT");
  assert.equal(verdict.members.length, 0);
  assert.match(verdict.line, /vlen=0/);
  // Pointers are anonymous.
  for (const t of types.filter((t) => t.kind === "PTR")) assert.equal(t.name, "(anon)");
}

function runPackets(kind: CrateKind, obj: string) {
  const { name, expected } = PROGRAMS[kind];
  for (const [label, p] of Object.entries(PACKETS)) {
    assert.equal(loadAndRun(obj, name, p), expected(p), `${kind} on the ${label} packet`);
  }
}

// ------------------------------------------------------------------------- tests

test("the expected values of the test programs differ per packet", () => {
  const bin = Object.values(PACKETS).map(expectedBin);
  const cdylib = Object.values(PACKETS).map(expectedCdylib);
  assert.equal(new Set(bin).size, 3);
  assert.equal(new Set(cdylib).size, 3);
  assert.equal(expectedBin(PACKETS.pass), 27269);
  assert.equal(expectedCdylib(PACKETS.pass), 319);
});

for (const kind of ["bin", "cdylib"] as const) {
  test(`rustc links a ${kind} crate with an rlib dependency`, needsRust(), () => {
    const { obj, stderr } = program(kind);
    checkObject(kind, obj, false);
    // A successful default link says nothing: rustc shows no linker messages.
    assert.equal(stderr, "");
  });

  test(`rustc links a ${kind} crate with -C debuginfo=2 --btf: sanitized BTF`, needsRust(), () => {
    const { obj, stderr, ms } = program(kind, { btf: true });
    process.stderr.write(`rustc + --btf link of the ${kind} crate: ${ms.toFixed(0)} ms\n`);
    checkObject(kind, obj, true);
    checkBtf(kind, obj);
    // The emptied enums (netdep::Verdict, Option instances of core) are in no
    // map's or exported global's type: the user cannot act, so nothing is shown.
    assert.equal(stderr, "");
  });

  test(`the kernel loads and runs the ${kind} crate (no BTF)`, needsRustAndBpf(), () => {
    runPackets(kind, program(kind).obj);
  });

  test(`the kernel loads and runs the ${kind} crate with its BTF`, needsRustAndBpf(), () => {
    runPackets(kind, program(kind, { btf: true }).obj);
  });
}

test("rustc passes its usual link line (bin, -C debuginfo=2 --btf)", needsRust(), () => {
  const { obj } = program("bin", { btf: true });
  const argv = readFileSync(`${obj}.argv`, "utf8").trimEnd().split("\n");
  const after = (flag: string) => argv[argv.indexOf(flag) + 1];
  assert.ok(argv.includes("--export-symbols"), argv.join(" "));
  assert.equal(readFileSync(`${obj}.symbols`, "utf8").trim(), "prog");
  assert.ok(argv.some((a) => a.endsWith("/symbols.o")));
  assert.ok(argv.some((a) => /\.xdp_bin\.[0-9a-f]+-cgu\.0\.rcgu\.o$/.test(a)), argv.join(" "));
  for (const lib of ["libnetdep.rlib", "libcore.rlib", "libcompiler_builtins.rlib"]) {
    assert.ok(argv.some((a) => a.endsWith(`/${lib}`)), `${lib} in ${argv.join(" ")}`);
  }
  assert.ok(argv.includes("-L"));
  assert.equal(after("--cpu"), "generic");
  assert.equal(after("-o"), obj);
  assert.ok(argv.includes("-O3"));
  assert.ok(argv.includes("--debug"));
  assert.ok(argv.includes("--btf"));
  // rustc 1.96 passes --debug whatever -C debuginfo and -C strip say; --btf only comes from -C link-arg.
  const plain = readFileSync(`${program("bin").obj}.argv`, "utf8").split("\n");
  assert.ok(plain.includes("--debug"));
  assert.ok(!plain.includes("--btf"));
});

/** Names of the functions llvm-objdump shows, and whether any `call` is left. */
function disassembly(obj: string) {
  const text = disassemble(obj);
  const functions = [...text.matchAll(/^[0-9a-f]+ <([^>]+)>:$/gm)].map((m) => m[1]);
  return { functions, calls: /\bcall\b/.test(text), text };
}

test("#[inline(never)] functions stay calls by default", needsRust(), () => {
  const { functions, calls, text } = disassembly(program("bin").obj);
  assert.ok(calls, text);
  assert.ok(functions.some((f) => f.includes("3mix")), `mix is a function: ${functions.join(" ")}`);
  assert.ok(
    functions.some((f) => f.includes("5weigh")),
    `netdep::weigh is a function: ${functions.join(" ")}`,
  );
});

test("-C link-arg=--ignore-inline-never inlines #[inline(never)] functions", needsRust(), () => {
  const { obj } = program("bin", { ignoreInlineNever: true });
  const { functions, calls, text } = disassembly(obj);
  assert.ok(!functions.some((f) => f.includes("3mix")), `mix is gone: ${functions.join(" ")}`);
  assert.ok(
    !functions.some((f) => f.includes("5weigh")),
    `netdep::weigh is gone: ${functions.join(" ")}`,
  );
  assert.ok(functions.includes("prog"));
  // Nothing calls anything any more.
  assert.equal(calls, false, text);
});

test("the kernel runs the program linked with --ignore-inline-never", needsRustAndBpf(), () => {
  runPackets("bin", program("bin", { ignoreInlineNever: true }).obj);
});

test("loading only the needed rlib members gives the same object as --whole-archive", needsRust(), () => {
  for (const kind of ["bin", "cdylib"] as const) {
    for (const btf of [false, true]) {
      const lazy = readFileSync(program(kind, { btf }).obj);
      const whole = readFileSync(program(kind, { btf, wholeArchive: true }).obj);
      assert.ok(lazy.equals(whole), `${kind}${btf ? " --btf" : ""}: objects differ`);
    }
  }
});

test("rustc with -C linker=<the single executable> gives the script entry's objects", needsRustAndBpf(), () => {
  for (const kind of ["bin", "cdylib"] as const) {
    const script = readFileSync(program(kind, { btf: true }).obj);
    const compiled = program(kind, { btf: true, compiled: true }).obj;
    assert.ok(script.equals(readFileSync(compiled)), `${kind}: objects differ`);
    runPackets(kind, compiled);
  }
});

// ------------------------------------------------------ the aya-style crate

const AYA_STYLE = join(repoRoot, "tests", "fixtures", "rust", "crates", "aya_style");
const GOLDEN = join(AYA_STYLE, "golden");

/** tests/fixtures/rust/crates/aya_style linked by rustc through our linker (once per variant). */
function ayaStyle(btf: boolean, linkArgs: string[] = []): Built {
  const key = `aya_style-${btf ? "btf" : "plain"}${linkArgs.length > 0 ? "-" + built.size : ""}`;
  const done = built.get(key);
  if (done) return done;
  const obj = join(dir, `${key}.o`);
  const { stderr, ms } = rustc([
    "-C",
    "debuginfo=2",
    ...(btf ? ["-C", "link-arg=--btf"] : []),
    ...linkArgs.flatMap((a) => ["-C", `link-arg=${a}`]),
    "-C",
    `linker=${recordingLinker()}`,
    "-W",
    "linker-messages",
    "--crate-type",
    "bin",
    "--crate-name",
    "aya_style",
    "-o",
    obj,
    join(AYA_STYLE, "src", "main.rs"),
  ]);
  const result = { obj, stderr, ms };
  if (linkArgs.length === 0) built.set(key, result);
  return result;
}

/**
 * Compare `actual` with the committed golden file `name`; BPFL_UPDATE_GOLDEN=1
 * rewrites it instead (then review the diff).
 */
function matchesGolden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (process.env.BPFL_UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.equal(actual, readFileSync(path, "utf8"), `${name} differs from the golden file (BPFL_UPDATE_GOLDEN=1 rewrites it)`);
}

test("aya-style crate without --btf: a silent link, the Rust linker's FILE symbol, golden symbols", needsRust(), () => {
  const { obj, stderr } = ayaStyle(false);
  assert.equal(stderr, "", "a successful default link prints nothing");
  const syms = tool(`${LLVM_BIN}/llvm-readelf`, ["-s", obj]);
  assert.match(syms, /FILE +LOCAL +DEFAULT +ABS linked_module$/m);
  matchesGolden("symbols.txt", syms);
});

test("aya-style crate with --btf: one warning, naming the map whose value is an emptied enum", needsRust(), () => {
  const { stderr } = ayaStyle(true);
  const lines = stderr.split("\n").filter((l) => l.includes("linker stderr"));
  assert.equal(lines.length, 1, stderr);
  assert.match(
    lines[0],
    /the type of map 'ACTIONS' contains aya_style::Action, whose variants were removed from the debug info/,
  );
  // Core's emptied enums are not the user's business at the default level.
  assert.doesNotMatch(stderr, /standard library/);
});

test("aya-style crate with --btf: golden BTF and symbols; () keeps its name; char is an INT; `_` is named; map definition anonymous", needsRust(), () => {
  const { obj } = ayaStyle(true);
  const btf = btfDump(obj);
  matchesGolden("btf.txt", btf);
  matchesGolden("symbols-btf.txt", tool(`${LLVM_BIN}/llvm-readelf`, ["-s", obj]));
  const types = parseBtfDump(btf);
  // The base type `()` keeps its name; the kernel checks no INT names.
  assert.ok(types.some((t) => t.kind === "INT" && t.name === "()"), btf);
  // Rust's `char` (DWARF's UTF encoding, no BTF kind) becomes a 32-bit INT: no
  // member or parameter is left with type 0, which the kernel refuses.
  assert.match(btf, /^\[\d+\] INT 'char' size=4 bits_offset=0 nr_bits=32 encoding=\(none\)$/m);
  assert.doesNotMatch(btf, /^\t'[^']*' type_id=0\b/m);
  // The `_` parameter (a variable without a name) is named by its position:
  // the kernel refuses a function with an unnamed parameter.
  assert.match(btf, /^\t'arg4' type_id=\d+$/m);
  assert.doesNotMatch(btf, /^\t'\(anon\)' type_id=/m);
  // Names the kernel checks are C identifiers.
  const fn = types.find((t) => t.kind === "STRUCT" && t.name.startsWith("Option_3C_"));
  assert.ok(fn, btf);
  // The AyaBtfMapMarker member is gone and the map definition has no name, as libbpf needs.
  const map = types.find((t) => t.kind === "VAR" && t.name === "ACTIONS")!;
  assert.doesNotMatch(btf, /_anon|AyaBtfMapMarker/);
  assert.match(btf, new RegExp(`^\\[\\d+\\] STRUCT '\\(anon\\)' size=32 vlen=4$`, "m"));
  assert.ok(map);
});

test("the kernel loads the aya-style crate with its BTF (INTs '()' and 'char' included) and runs it", needsRustAndBpf(), () => {
  const { obj } = ayaStyle(true);
  const load = verifierAccepts(obj);
  assert.ok(load.ok, load.log);
  assert.doesNotMatch(load.log, /Error loading \.BTF|BTF is optional/, load.log);
  // No map entry for the interface: XDP_PASS.
  assert.equal(loadAndRun(obj, "aya_style"), 2);
});

test("--log-level debug names every input and member as loaded (and why) and as linked", needsRust(), () => {
  const log = join(dir, "aya_style-debug.log");
  ayaStyle(false, ["--log-level=debug", `--log-file=${log}`]);
  const text = readFileSync(log, "utf8");
  // rustc's symbols.o: recognized as symbols only, at info, never a warning.
  assert.match(text, /^info: \S*symbols\.o: ELF object with symbols only \(no code, data or bitcode\), skipped$/m);
  assert.doesNotMatch(text, /^warning:/m);
  const crate = /^debug: loading (\S+aya_style[^ ]*\.rcgu\.o) \(named on the command line\)$/m.exec(text);
  assert.ok(crate, text);
  assert.match(text, new RegExp(`^debug: linking ${crate[1].replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`, "m"));
  // compiler_builtins' members are loaded for the exported memory builtins, each named with its reason.
  const member = /^debug: loading (\S+libcompiler_builtins\.rlib\(\S+\.rcgu\.o\)) \((defines '[^']+', which is exported|defines '[^']+', referenced by \S+)\)$/m
    .exec(text);
  assert.ok(member, text);
  assert.ok(text.includes(`debug: linking ${member[1]}\n`), text);
  assert.match(text, /^debug: not loading \S+libcore\.rlib\(\S+\): nothing references a symbol it defines$/m);
});
