// The XDP program of tests/fixtures/c (xdp_main.c, xdp_weigh.c, xdp_lib_*.c) that
// tests/main.test.ts and tests/pipeline.test.ts link: compiling it, and what xdp_score
// returns for a packet.

import { readFileSync } from "node:fs";
import { join } from "node:path";

import { type CKind, compileC, repoRoot } from "./tools.ts";

/** tests/fixtures/c. */
export const C_FIXTURES = join(repoRoot, "tests", "fixtures", "c");

/** Compile tests/fixtures/c/<name>.c into `dir` (compileC, with -I tests/fixtures/c). */
export function compileCFixture(dir: string, name: string, kind: CKind = "bc"): string {
  const source = readFileSync(join(C_FIXTURES, `${name}.c`), "utf8");
  return compileC(dir, name, source, kind, ["-I", C_FIXTURES]);
}

/** What xdp_score returns for `packet` (see tests/fixtures/c/xdp_main.c). */
export function xdpScoreVerdict(packet: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (i + 1) * packet[i];
  return 1 + (sum % 3);
}

/** A 64-byte packet starting with `head`, zeros after. */
export function xdpScorePacket(...head: number[]): Uint8Array {
  const p = new Uint8Array(64);
  p.set(head);
  return p;
}
