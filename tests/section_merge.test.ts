// libbpf's multi-file convention: every C file may define the license (and version);
// identical definitions become one, different ones are an error naming both inputs.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  compileC,
  LLVM_BIN,
  needsBpf,
  run,
  runLinker,
  tempDir,
  tool,
  verifierAccepts,
} from "./support/tools.ts";

const dir = tempDir("bpfl-sections-");
const HEAD = `#define SEC(n) __attribute__((section(n), used))
struct xdp_md { unsigned data, data_end, data_meta, ingress_ifindex; };
`;
const a = compileC(
  dir,
  "a",
  `${HEAD}
int helper(int x);
SEC("xdp") int prog_a(struct xdp_md *ctx) { return helper(ctx->ingress_ifindex & 1) ? 2 : 1; }
char LICENSE[] SEC("license") = "GPL";
unsigned int VERSION SEC("version") = 1;
`,
);
const b = compileC(
  dir,
  "b",
  `${HEAD}
__attribute__((noinline)) int helper(int x) { return x + 1; }
SEC("xdp") int prog_b(struct xdp_md *ctx) { return 2; }
char LICENSE[] SEC("license") = "GPL";
unsigned int VERSION SEC("version") = 1;
`,
);
// Same contents under another name (a file that calls it _license).
const c = compileC(
  dir,
  "c",
  `${HEAD}
SEC("xdp") int prog_c(struct xdp_md *ctx) { return 2; }
char _license[] SEC("license") = "GPL";
`,
);
const dual = compileC(
  dir,
  "dual",
  `${HEAD}
SEC("xdp") int prog_d(struct xdp_md *ctx) { return 2; }
char LICENSE[] SEC("license") = "Dual BSD/GPL";
`,
);

function section(obj: string, name: string): string {
  return tool(join(LLVM_BIN, "llvm-readelf"), ["-x", name, obj]);
}

test("identical license and version sections of several inputs become one; the programs all stay", () => {
  const out = join(dir, "abc.o");
  const r = runLinker(["-o", out, a, b, c]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(
    section(out, "license"),
    /0x00000000 47504c00\s+GPL\.\s*$/m,
    "one 'GPL\\0', not three",
  );
  assert.match(section(out, "version"), /0x00000000 01000000\s/);
  assert.doesNotMatch(section(out, "version"), /0x00000000 01000000 01000000/);
  const symbols = tool(join(LLVM_BIN, "llvm-readelf"), ["-s", "-W", out]);
  for (const name of ["prog_a", "prog_b", "prog_c", "LICENSE"]) {
    assert.match(symbols, new RegExp(`GLOBAL .* ${name}$`, "m"));
  }
});

test("the merged object loads", needsBpf(), () => {
  const out = join(dir, "ab_load.o");
  assert.equal(runLinker(["-o", out, a, b]).status, 0);
  const verdict = verifierAccepts(out);
  assert.ok(verdict.ok, verdict.log);
});

test("different license contents are one error naming both inputs, and no output", () => {
  const out = join(dir, "ad.o");
  const r = runLinker(["-o", out, a, dual]);
  assert.equal(r.status, 1);
  const lines = r.stderr.trim().split("\n");
  assert.equal(lines.length, 1, r.stderr);
  assert.match(
    lines[0],
    /^error: .*dual\.bc: section 'license' is "Dual BSD\/GPL" here but "GPL" in .*a\.bc/,
  );
  assert.ok(!existsSync(out));
  assert.equal(run("true", []).status, 0);
});
