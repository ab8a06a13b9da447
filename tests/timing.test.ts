// --time (src/timing.ts): each phase's wall time on stderr, nothing without it.

import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { PhaseTimer } from "../src/timing.ts";
import { compileC, makeArchive, runLinker, tempDir } from "./support/tools.ts";

test("PhaseTimer adds repeated phases up and reports a total", () => {
  const timer = new PhaseTimer();
  timer.add("read", 1.5);
  timer.add("link", 2);
  timer.add("read", 0.5);
  assert.deepEqual(timer.phases, [{ name: "read", ms: 2 }, { name: "link", ms: 2 }]);
  assert.equal(timer.run("work", () => 42), 42);
  const report = timer.report();
  assert.match(report, /^time:\n/);
  assert.match(report, /\n {2}read +2\.0 ms\n/);
  assert.match(report, /\n {2}total +\d+\.\d ms\n( {2}peak RSS +\d+ MiB\n)?$/);
});

test("--time prints every phase of a real link on stderr; without it stderr stays empty", () => {
  const dir = tempDir();
  const main = compileC(dir, "main", `int f(int); __attribute__((section("xdp"))) int prog(void *c) { return f(1); }\n`);
  const lib = makeArchive(dir, "libf.a", [compileC(dir, "f", `int f(int x) { return x + 1; }\n`)]);
  const out = join(dir, "out.o");
  const timed = runLinker(["--time", "--export", "prog", main, lib, "-o", out]);
  assert.equal(timed.status, 0, timed.stderr);
  const phases = [...timed.stderr.matchAll(/^ {2}(.+?) +\d+\.\d ms$/gm)].map((m) => m[1]);
  for (const phase of ["read inputs", "load libLLVM", "select members", "parse and link", "optimize", "codegen", "write", "total"]) {
    assert.ok(phases.includes(phase), `${phase} missing from:\n${timed.stderr}`);
  }
  // And the peak memory, from getrusage: more than the runtime alone, less than a GiB.
  const peak = Number(/^ {2}peak RSS +(\d+) MiB$/m.exec(timed.stderr)?.[1]);
  assert.ok(peak > 20 && peak < 1024, `peak RSS line missing or implausible:\n${timed.stderr}`);
  const quiet = runLinker(["--export", "prog", main, lib, "-o", out]);
  assert.equal(quiet.status, 0);
  assert.equal(quiet.stderr, "");
});
