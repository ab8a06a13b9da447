// Response files (`@file`): tokenizing, nested expansion, guards, and a fuzz of the whole
// command-line layer.

import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { parseCommandLine } from "../src/cli.ts";
import { InputError, LinkerError, UsageError } from "../src/errors.ts";
import { expandResponseFiles, tokenizeResponseFile } from "../src/response_file.ts";
import { prng } from "./support/fuzz.ts";

const tokenize = (text: string) => tokenizeResponseFile(text, "args.rsp");

/** A readFile over in-memory files that throws like fs does for a missing one. */
function memoryFiles(files: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = Object.hasOwn(files, path) ? files[path] : undefined;
    if (text === undefined) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return text;
  };
}

function assertInputError(run: () => unknown, file: string, detail: string | RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected an InputError, got ${error}`);
    assert.equal(error.file, file);
    if (typeof detail === "string") assert.equal(error.detail, detail);
    else assert.match(error.detail, detail);
    assert.ok(error.message.startsWith(`${file}: `), error.message);
    return true;
  });
}

// ---------------------------------------------------------------- tokenizing

test("one argument per line, as rustc writes them", () => {
  assert.deepEqual(tokenize("--cpu\ngeneric\n-o\nout.o\na.o\n"), [
    "--cpu",
    "generic",
    "-o",
    "out.o",
    "a.o",
  ]);
});

test("several arguments per line, any whitespace, CRLF", () => {
  assert.deepEqual(tokenize("  -o out.o\t a.o\r\n\r\n b.o\v\fc.o  "), [
    "-o",
    "out.o",
    "a.o",
    "b.o",
    "c.o",
  ]);
});

test("empty and blank texts hold no arguments", () => {
  assert.deepEqual(tokenize(""), []);
  assert.deepEqual(tokenize(" \n\t\r\n"), []);
});

test("double and single quotes keep whitespace", () => {
  assert.deepEqual(tokenize(`"my dir/a.o" 'your dir/b.o'`), ["my dir/a.o", "your dir/b.o"]);
  assert.deepEqual(tokenize(`"it's" 'say "hi"'`), ["it's", `say "hi"`]);
});

test("quotes join with the text around them", () => {
  assert.deepEqual(tokenize(`a"b c"d 'e'"f"g`), ["ab cd", "efg"]);
  assert.deepEqual(tokenize(`--export="a b"`), ["--export=a b"]);
});

test("empty quotes are an empty argument", () => {
  assert.deepEqual(tokenize(`--cpu-features "" a.o ''`), ["--cpu-features", "", "a.o", ""]);
});

test("a newline inside quotes is kept", () => {
  assert.deepEqual(tokenize(`"a\nb" 'c\r\nd'`), ["a\nb", "c\r\nd"]);
});

test("backslash escapes the next character, inside quotes too", () => {
  assert.deepEqual(tokenize(String.raw`a\ b c\\d \"e\" \'f`), ["a b", "c\\d", `"e"`, "'f"]);
  assert.deepEqual(tokenize(String.raw`"x\"y\\z" 'p\'q'`), [`x"y\\z`, "p'q"]);
  assert.deepEqual(tokenize("a\\\nb"), ["a\nb"], "an escaped newline joins");
  assert.deepEqual(tokenize(String.raw`\a\b`), ["ab"], "ordinary characters stay themselves");
});

test("a backslash ending the text is kept", () => {
  assert.deepEqual(tokenize("a b\\"), ["a", "b\\"]);
  assert.deepEqual(tokenize("\\"), ["\\"]);
});

test("a byte-order mark is not part of the first argument", () => {
  assert.deepEqual(tokenize("\uFEFF-o out.o"), ["-o", "out.o"]);
});

test("unterminated quotes are an InputError naming the file", () => {
  assertInputError(
    () => tokenizeResponseFile(`-o "out.o`, "link.rsp"),
    "link.rsp",
    "unterminated double quote in response file",
  );
  assertInputError(
    () => tokenizeResponseFile("a 'b\nc\n", "link.rsp"),
    "link.rsp",
    "unterminated single quote in response file",
  );
  assertInputError(
    () => tokenizeResponseFile(`"a\\"`, "x"),
    "x",
    "unterminated double quote in response file",
  );
});

// ---------------------------------------------------------------- expanding

test("arguments without @ pass through in order", () => {
  const args = ["-o", "out", "a.o", "--export=x@y", "b@c.o"];
  assert.deepEqual(expandResponseFiles(args, memoryFiles({})), args);
});

test("@ alone is an ordinary argument", () => {
  assert.deepEqual(expandResponseFiles(["@", "a.o"], memoryFiles({})), ["@", "a.o"]);
});

test("@file is replaced in place by its arguments", () => {
  const files = memoryFiles({ "args.rsp": "-O3 --btf\nb.o" });
  assert.deepEqual(expandResponseFiles(["a.o", "@args.rsp", "c.o"], files), [
    "a.o",
    "-O3",
    "--btf",
    "b.o",
    "c.o",
  ]);
});

test("an empty response file adds nothing", () => {
  assert.deepEqual(expandResponseFiles(["@empty", "a.o"], memoryFiles({ empty: "" })), ["a.o"]);
});

test("nested response files are expanded too", () => {
  const files = memoryFiles({
    outer: "-o out @inner z.o",
    inner: "a.o @innermost\nb.o",
    innermost: `"c d.o"`,
  });
  assert.deepEqual(expandResponseFiles(["@outer"], files), [
    "-o",
    "out",
    "a.o",
    "c d.o",
    "b.o",
    "z.o",
  ]);
});

test("the same file twice, side by side, is not a cycle", () => {
  const files = memoryFiles({ common: "x.o", both: "@common @common" });
  assert.deepEqual(expandResponseFiles(["@both", "@common"], files), ["x.o", "x.o", "x.o"]);
});

test("a quoted @ in a response file is still a response file (as GCC)", () => {
  const files = memoryFiles({ a: `"@b"`, b: "x.o" });
  assert.deepEqual(expandResponseFiles(["@a"], files), ["x.o"]);
});

test("a file including itself is an InputError naming it", () => {
  assertInputError(
    () => expandResponseFiles(["@self"], memoryFiles({ self: "a.o @self" })),
    "self",
    "response file includes itself",
  );
});

test("a cycle through several files is an InputError naming the file", () => {
  const files = memoryFiles({ a: "@b", b: "x.o @c", c: "@a" });
  assertInputError(() => expandResponseFiles(["@a"], files), "a", "response file includes itself");
});

test("nesting deeper than the limit is an InputError", () => {
  const chain: Record<string, string> = {};
  for (let i = 0; i < 100; i++) chain[`f${i}`] = `x${i}.o @f${i + 1}`;
  assertInputError(
    () => expandResponseFiles(["@f0"], memoryFiles(chain)),
    "f32",
    "response files nested more than 32 deep",
  );
});

test("a cycle through differently spelled paths ends at the depth limit", () => {
  // `p`, `./p`, `././p` ... name one file: not caught by name, caught by depth.
  const readFile = (path: string) => `@./${path}`;
  assert.throws(() => expandResponseFiles(["@p"], readFile), InputError);
});

test("an exponential blow-up of response files is stopped", () => {
  // f0 names f1 ten times, f1 names f2 ten times...: 10^9 reads without a guard.
  const files: Record<string, string> = {};
  for (let i = 0; i < 9; i++) files[`f${i}`] = Array(10).fill(`@f${i + 1}`).join(" ");
  files.f9 = "";
  assertInputError(
    () => expandResponseFiles(["@f0"], memoryFiles(files)),
    "f9",
    "more than 10000 response files read",
  );
});

test("an expansion to too many arguments is stopped", () => {
  const files = memoryFiles({
    many: Array(1001).fill("@leaf").join("\n"),
    leaf: Array(1000).fill("x.o").join(" "),
  });
  assertInputError(
    () => expandResponseFiles(["@many"], files),
    "leaf",
    "response files expand to more than 1000000 arguments",
  );
});

test("an unreadable response file is an InputError naming it, with the cause", () => {
  assert.throws(
    () => expandResponseFiles(["a.o", "@nope.rsp"], memoryFiles({})),
    (error: unknown) => {
      assert.ok(error instanceof InputError);
      assert.equal(error.file, "nope.rsp");
      assert.match(error.message, /^nope\.rsp: cannot read response file: ENOENT/);
      assert.ok(error.cause instanceof Error);
      return true;
    },
  );
});

test("a tokenizing error inside a nested file names that file", () => {
  const files = memoryFiles({ outer: "@inner", inner: `"open` });
  assertInputError(
    () => expandResponseFiles(["@outer"], files),
    "inner",
    "unterminated double quote in response file",
  );
});

test("real files on disk: nested expansion and a missing file", () => {
  const dir = mkdtempSync(join(tmpdir(), "bpf-linker-rsp-test-"));
  const readFile = (path: string) => readFileSync(path, "utf8");
  try {
    const inner = join(dir, "inner.rsp");
    const outer = join(dir, "outer file.rsp");
    writeFileSync(inner, "--cpu v2\n'b c.o'\n");
    writeFileSync(outer, `-o out.o a.o @${inner} "@${inner}"\n`);
    const expanded = expandResponseFiles([`@${outer}`], readFile);
    assert.deepEqual(expanded, [
      "-o",
      "out.o",
      "a.o",
      "--cpu",
      "v2",
      "b c.o",
      "--cpu",
      "v2",
      "b c.o",
    ]);
    const options = parseCommandLine(expanded);
    assert.equal(options.cpu, "v2");
    assert.deepEqual(options.inputs, ["a.o", "b c.o", "b c.o"]);

    const missing = join(dir, "missing.rsp");
    assert.throws(
      () => expandResponseFiles(["a.o", `@${missing}`], readFile),
      (error: unknown) => {
        assert.ok(error instanceof InputError);
        assert.equal(error.file, missing);
        assert.ok(error.message.startsWith(`${missing}: cannot read response file`));
        return true;
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------- fuzz

/** Pieces of real command lines and of everything that makes tokenizing or parsing tricky. */
const FRAGMENTS = [
  "-o",
  "out.o",
  "--output",
  "--output=",
  "a.o",
  "lib.a",
  "-",
  "--",
  "@",
  "@f1",
  "@f2",
  "@f3",
  "@missing",
  "--emit",
  "asm",
  "--emit=elf",
  "--cpu",
  "v9",
  "generic",
  "--cpu-features",
  "+alu32",
  "-O",
  "-O2",
  "-Os",
  "-Oq",
  "-O=",
  "--export",
  "a,b,,",
  "--export-symbols",
  "-L",
  "-L/x",
  "-flavor",
  "wasm",
  "--debug",
  "--btf",
  "--btf=1",
  "--llvm-args",
  "-x",
  "--log-level",
  "trace",
  "--fatal-errors",
  "maybe",
  "--llvm",
  "--time",
  "-h",
  "--help",
  "-V",
  "=",
  ",",
  '"',
  "'",
  "\\",
  " ",
  "\n",
  "\t",
  "\r\n",
  "\uFEFF",
  "é",
  "\u0000",
  "--frobnicate",
  "-hV",
  "",
];
const CHARACTERS = ` \t\n\r"'\\@=-,aO0z\u0000é`;

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** A fragment, sometimes with one character replaced, inserted or dropped. */
function mutatedFragment(random: () => number): string {
  const fragment = pick(random, FRAGMENTS);
  if (random() < 0.7) return fragment;
  const at = Math.floor(random() * (fragment.length + 1));
  const character = pick(random, [...CHARACTERS]);
  const mutations = [
    () => fragment.slice(0, at) + character + fragment.slice(at + 1),
    () => fragment.slice(0, at) + character + fragment.slice(at),
    () => fragment.slice(0, at) + fragment.slice(at + 1),
  ];
  return pick(random, mutations)();
}

function randomText(random: () => number): string {
  const pieces: string[] = [];
  const count = Math.floor(random() * 12);
  for (let i = 0; i < count; i++) {
    pieces.push(mutatedFragment(random), pick(random, [" ", "\n", "", "\t"]));
  }
  return pieces.join("");
}

function randomArgs(random: () => number): string[] {
  return Array.from({ length: Math.floor(random() * 10) }, () => mutatedFragment(random));
}

/** Quote any argument so the tokenizer gives it back unchanged. */
function quoted(arg: string): string {
  return `"${arg.replace(/[\\"]/g, "\\$&")}"`;
}

/** Run `step`: it returns, or throws `expected` (a LinkerError); anything else fails the fuzz. */
function returnsOrThrows<T>(
  step: () => T,
  expected: typeof LinkerError,
  what: string,
): T | undefined {
  try {
    return step();
  } catch (error) {
    if (error instanceof expected && error instanceof LinkerError) return undefined;
    assert.fail(`${what} threw ${error instanceof Error ? error.stack : error}`);
  }
}

test("fuzz: random texts and arguments return or throw InputError / UsageError", () => {
  const random = prng(20240611);
  const started = performance.now();
  let parsed = 0;
  let rejected = 0;
  for (let round = 0; round < 4000; round++) {
    const text = randomText(random);
    const tokens = returnsOrThrows(
      () => tokenizeResponseFile(text, "f0"),
      InputError,
      `tokenize ${JSON.stringify(text)}`,
    );
    if (tokens) {
      assert.ok(tokens.every((token) => typeof token === "string"));
      const requoted = tokens.map(quoted).join(pick(random, [" ", "\n", "\t "]));
      assert.deepEqual(tokenizeResponseFile(requoted, "f0"), tokens, "quoting round-trips");
    }

    const files: Record<string, string> = {
      f1: randomText(random),
      f2: randomText(random),
      f3: text,
    };
    const args = randomArgs(random);
    const what = `args ${JSON.stringify(args)} files ${JSON.stringify(files)}`;
    const expanded = returnsOrThrows(
      () => expandResponseFiles(args, memoryFiles(files)),
      InputError,
      what,
    );
    for (const candidate of [args, expanded, [...args, "-o", "x", "a.o"]]) {
      if (!candidate) continue;
      const options = returnsOrThrows(() => parseCommandLine(candidate), UsageError, what);
      if (options) parsed++;
      else rejected++;
    }
  }
  const elapsed = performance.now() - started;
  // Both outcomes must actually happen, or the fuzz is not exploring anything.
  assert.ok(parsed > 100 && rejected > 100, `parsed ${parsed}, rejected ${rejected}`);
  assert.ok(elapsed < 10_000, `fuzz took ${elapsed} ms`);
});

test("fuzz: mutated rustc command lines either parse or throw a UsageError", () => {
  const random = prng(3141592653);
  const rustc = [
    "--export-symbols",
    "/tmp/rustcAb/symbols",
    "/tmp/rustcAb/symbols.o",
    "prog.rcgu.o",
    "-L",
    "deps",
    "libcore.rlib",
    "--cpu",
    "generic",
    "--cpu-features",
    "+alu32",
    "-o",
    "prog",
    "-O3",
    "--debug",
  ];
  for (let round = 0; round < 3000; round++) {
    const args = [...rustc];
    const edits = 1 + Math.floor(random() * 4);
    for (let edit = 0; edit < edits; edit++) {
      const at = Math.floor(random() * (args.length + 1));
      const choice = random();
      if (choice < 0.3) args.splice(at, 1);
      else if (choice < 0.6) args.splice(at, 0, mutatedFragment(random));
      else if (choice < 0.8 && args.length > 1) args.push(...args.splice(at, 1)); // move to the end
      else args[at % args.length] = mutatedFragment(random);
    }
    returnsOrThrows(() => parseCommandLine(args), UsageError, JSON.stringify(args));
  }
});
