// src/input/files.ts: what each kind of input contributes, and what is skipped how loudly.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { modulesOf } from "../../src/input/files.ts";
import { Logger, MemorySink } from "../../src/log.ts";
import { compileC, makeArchive, tempDir, tool } from "../support/tools.ts";

const dir = tempDir();
const bitcode = compileC(dir, "prog", "int prog(void) { return 1; }\n");
writeFileSync(join(dir, "native.c"), "int native(void) { return 2; }\n");
tool("gcc", ["-c", join(dir, "native.c"), "-o", join(dir, "native.o")]);
tool("gcc", ["-c", join(dir, "native.c"), "-o", join(dir, "symbols.o")]);
// What rustc's symbols.o holds: undefined references to the exported symbols, no code or data.
writeFileSync(join(dir, "refs.s"), ".globl ACTIONS\n.globl LICENSE\n.globl prog\n");
tool("llvm-mc-22", ["-triple", "bpfel", "-filetype=obj", join(dir, "refs.s"), "-o", join(dir, "refs.o")]);
tool("gcc", ["-c", join(dir, "native.c"), "-o", join(dir, "lib.rmeta")]);

function collect(path: string) {
  const sink = new MemorySink();
  const modules = modulesOf({ path, bytes: readFileSync(path) }, new Logger("info", sink));
  return { modules, warnings: sink.lines.filter((l) => l.startsWith("warning:")), infos: sink.lines };
}

test("a native ELF object without bitcode is skipped with a warning naming it", () => {
  const { modules, warnings } = collect(join(dir, "native.o"));
  assert.equal(modules.length, 0);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /native\.o: ELF object without embedded bitcode/);
});

test("an ELF object with only undefined symbols (rustc's symbols.o) is skipped quietly, whatever its name", () => {
  const refs = collect(join(dir, "refs.o"));
  assert.equal(refs.modules.length, 0);
  assert.deepEqual(refs.warnings, []);
  assert.match(refs.infos.join("\n"), /refs\.o: ELF object with symbols only \(no code, data or bitcode\), skipped/);
});

test("an object named symbols.o that holds code is warned about: recognized by content, not name", () => {
  const symbols = collect(join(dir, "symbols.o"));
  assert.equal(symbols.warnings.length, 1);
  assert.match(symbols.warnings[0], /symbols\.o: ELF object without embedded bitcode/);
});

test("an ELF lib.rmeta member is skipped quietly (info only)", () => {
  const rlib = makeArchive(dir, "libdep.rlib", [join(dir, "lib.rmeta"), bitcode]);
  const fromRlib = collect(rlib);
  assert.deepEqual(fromRlib.warnings, []);
  assert.equal(fromRlib.modules.length, 1);
  assert.equal(fromRlib.modules[0].member, "prog.bc");
  assert.match(fromRlib.infos.join("\n"), /libdep\.rlib\(lib\.rmeta\): Rust crate metadata, skipped/);
});

test("a native ELF member other than lib.rmeta is warned about, naming archive and member", () => {
  const archive = makeArchive(dir, "libmixed.a", [join(dir, "native.o"), bitcode]);
  const { modules, warnings } = collect(archive);
  assert.equal(modules.length, 1);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /libmixed\.a\(native\.o\): ELF object without embedded bitcode/);
});
