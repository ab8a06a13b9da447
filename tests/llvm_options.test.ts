// Which LLVM options a link passes: --bpf-expand-memcpy-in-order only when the
// linked modules define the builtins it makes LLVM call.

import assert from "node:assert/strict";
import { test } from "node:test";
import type { ModuleInput } from "../src/input/files.ts";
import { decideExpandInOrder, llvmCommandLine } from "../src/llvm_options.ts";
import { defaultLinkOptions } from "../src/options.ts";
import { compileC, tempDir } from "./support/tools.ts";
import { readFileSync } from "node:fs";

const dir = tempDir("bpfl-llvmopts-");
const ir = (file: string, text: string): ModuleInput => ({
  file,
  format: "ir",
  bytes: new TextEncoder().encode(text),
});
const BUILTINS = ir(
  "builtins.ll",
  `define ptr @memset(ptr %d, i32 %c, i64 %n) { ret ptr %d }
define weak ptr @memmove(ptr %d, ptr %s, i64 %n) { ret ptr %d }
define i32 @memcmp(ptr %a, ptr %b, i64 %n) { ret i32 0 }
`,
);
const bitcode = (name: string, source: string): ModuleInput => ({
  file: `${name}.bc`,
  format: "bitcode",
  bytes: new Uint8Array(readFileSync(compileC(dir, name, source))),
});

test("a C program alone: the option is left out, and the log says why", () => {
  const decision = decideExpandInOrder(defaultLinkOptions(), [
    bitcode("prog", "int f(int x) { return x; }\n"),
  ]);
  assert.equal(decision.expand, false);
  assert.match(decision.reason!, /no linked module defines memset, memmove, memcmp/);
  assert.ok(
    !llvmCommandLine(defaultLinkOptions(), decision.expand).includes(
      "--bpf-expand-memcpy-in-order",
    ),
  );
});

test("with modules defining memset, memmove and memcmp (compiler_builtins), it is passed", () => {
  const decision = decideExpandInOrder(defaultLinkOptions(), [
    bitcode("prog2", "int g(int x) { return x; }\n"),
    BUILTINS,
  ]);
  assert.deepEqual(decision, { expand: true });
  assert.ok(
    llvmCommandLine(defaultLinkOptions(), decision.expand).includes("--bpf-expand-memcpy-in-order"),
  );
  // Defined in bitcode as well as in IR text; a local (static) memset does not count.
  const c = bitcode(
    "mem",
    `void *memset(void *d, int c, unsigned long n) { return d; }
void *memmove(void *d, const void *s, unsigned long n) { return d; }
int memcmp(const void *a, const void *b, unsigned long n) { return 0; }
`,
  );
  assert.equal(decideExpandInOrder(defaultLinkOptions(), [c]).expand, true);
  const local = ir(
    "local.ll",
    "define internal ptr @memset(ptr %d, i32 %c, i64 %n) { ret ptr %d }\n",
  );
  assert.equal(decideExpandInOrder(defaultLinkOptions(), [local]).expand, false);
});

test("--disable-expand-memcpy-in-order wins, silently", () => {
  const options = { ...defaultLinkOptions(), disableExpandMemcpyInOrder: true };
  assert.deepEqual(decideExpandInOrder(options, [BUILTINS]), { expand: false });
});
