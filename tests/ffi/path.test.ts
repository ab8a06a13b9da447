// ffi/path.ts: the POSIX path helpers give what node:path's posix ones give.

import assert from "node:assert/strict";
import { posix } from "node:path";
import { test } from "node:test";
import { basename, delimiter, dirname, join, normalize, resolve } from "../../ffi/path.ts";

const PATHS = [
  "", ".", "..", "/", "//", "///", "a", "a/", "a//", "/a", "//a", "/a/", "a/b", "a//b", "a/b/", "/a/b",
  "/a/b/", "./a", "../a", "a/..", "a/../", "a/../..", "/..", "/../a", "a/./b", "a/b/../../..", "/a/b/../c/",
  ".a", "a.b.c", "/usr/lib/llvm-22/lib/libLLVM.so", "../../x/./y//z/",
];

test("normalize, dirname and basename agree with node:path (posix)", () => {
  for (const path of PATHS) {
    assert.equal(normalize(path), posix.normalize(path), `normalize(${JSON.stringify(path)})`);
    assert.equal(dirname(path), posix.dirname(path), `dirname(${JSON.stringify(path)})`);
    assert.equal(basename(path), posix.basename(path), `basename(${JSON.stringify(path)})`);
  }
});

test("join and resolve agree with node:path (posix), resolve from the working directory", () => {
  const pairs = PATHS.flatMap((a) => ["", "b", "/b", "../b", "b/", "./"].map((b) => [a, b]));
  for (const [a, b] of pairs) {
    assert.equal(join(a, b), posix.join(a, b), `join(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
    assert.equal(resolve(a, b), posix.resolve(a, b), `resolve(${JSON.stringify(a)}, ${JSON.stringify(b)})`);
  }
  assert.equal(join(), posix.join());
  assert.equal(join("a", "", "b", "c/"), posix.join("a", "", "b", "c/"));
  assert.equal(resolve(), posix.resolve());
  assert.equal(resolve("/inputs", "x.o"), "/inputs/x.o");
  assert.equal(delimiter, posix.delimiter);
});
