// Corpus (d): one tiny hand-written .ll, a single small XDP function (plus
// its license). Measures start-up: the linker against llc-22 alone.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CorpusManifest } from "./c_units.ts";

export const TINY_LL = `; ModuleID = 'tiny'
source_filename = "tiny.c"
target datalayout = "e-m:e-p:64:64-i64:64-i128:128-n32:64-S128"
target triple = "bpf"

@LICENSE = dso_local global [4 x i8] c"GPL\\00", section "license", align 1
@llvm.compiler.used = appending global [1 x ptr] [ptr @LICENSE], section "llvm.metadata"

; Drops packets whose first byte is 0xff, passes the rest (and short ones).
define dso_local i32 @xdp_tiny(ptr noundef readonly captures(none) %ctx) section "xdp" {
entry:
  %data32 = load i32, ptr %ctx, align 4
  %end.addr = getelementptr inbounds i8, ptr %ctx, i64 4
  %end32 = load i32, ptr %end.addr, align 4
  %data64 = zext i32 %data32 to i64
  %end64 = zext i32 %end32 to i64
  %data = inttoptr i64 %data64 to ptr
  %end = inttoptr i64 %end64 to ptr
  %need = getelementptr inbounds i8, ptr %data, i64 14
  %short = icmp ugt ptr %need, %end
  br i1 %short, label %pass, label %check

check:
  %first = load i8, ptr %data, align 1
  %drop = icmp eq i8 %first, -1
  %verdict = select i1 %drop, i32 1, i32 2
  ret i32 %verdict

pass:
  ret i32 2
}
`;

export function generateTiny(dir: string): CorpusManifest {
  writeFileSync(join(dir, "tiny.ll"), TINY_LL);
  return { inputs: ["tiny.ll"], exports: ["xdp_tiny"], notes: { functions: 1 } };
}
