// Corpus (e): one large real CO-RE tracing program from the kernel's BPF
// selftests, `progs/profiler2.c` (profiler.inc.h: 8 kprobe/tracepoint
// programs, maps, BPF_CORE_READ chains through task_struct, dentry, cgroup;
// every helper inlined), as Debian's linux-source-6.1 ships it. Compiled the
// way libbpf programs are: `clang-22 -g -O2 -target bpf -emit-llvm -c`
// against a vmlinux.h of the running kernel (bpftool btf dump) and libbpf's
// headers (libbpf-dev). One translation unit, linked with --btf.
//
// The 6.1 source reads kernfs_node->parent, which Linux 6.13 renamed to
// __parent; when the running kernel's vmlinux.h has the new name, that one
// read is rewritten to it (the program is otherwise unchanged), so the object
// still loads.

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CorpusManifest } from "./c_units.ts";
import { run } from "../lib/util.ts";

export const KERNEL_TARBALL = "/usr/src/linux-source-6.1.tar.xz";
export const LIBBPF_HEADERS = "/usr/include/bpf/bpf_helpers.h";
const SELFTESTS = "linux-source-6.1/tools/testing/selftests/bpf/progs";
const FILES = ["profiler2.c", "profiler.inc.h", "profiler.h"];
export const VMLINUX_BTF = "/sys/kernel/btf/vmlinux";

export function generateSelftest(dir: string): CorpusManifest {
  const src = join(dir, "src");
  mkdirSync(src, { recursive: true });
  run("tar", ["-xJf", KERNEL_TARBALL, "-C", src, "--strip-components=6", ...FILES.map((f) => `${SELFTESTS}/${f}`)]);
  for (const f of FILES) if (!existsSync(join(src, f))) throw new Error(`${f} is not in ${KERNEL_TARBALL}`);
  const vmlinux = run("bpftool", ["btf", "dump", "file", VMLINUX_BTF, "format", "c"]).stdout;
  writeFileSync(join(src, "vmlinux.h"), vmlinux);
  const kernfs = /struct kernfs_node \{[^}]*\}/.exec(vmlinux)?.[0] ?? "";
  let ported = false;
  if (/\*__parent;/.test(kernfs) && !/\*parent;/.test(kernfs)) {
    const inc = join(src, "profiler.inc.h");
    const text = readFileSync(inc, "utf8");
    const fixed = text.replace("BPF_CORE_READ(cgroup_node, parent)", "BPF_CORE_READ(cgroup_node, __parent)");
    if (fixed === text) throw new Error("profiler.inc.h: the kernfs_node parent read was not found");
    writeFileSync(inc, fixed);
    ported = true;
  }
  run("clang-22", [
    "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-emit-llvm", "-c",
    "-I", src, "-Wno-compare-distinct-pointer-types", "-Wno-default-const-init-var-unsafe",
    join(src, "profiler2.c"), "-o", join(dir, "profiler2.bc"),
  ]);
  // Exports: what libbpf loads, the programs (T) and the maps and globals (D).
  const nm = run("llvm-nm-22", ["--defined-only", join(dir, "profiler2.bc")]).stdout;
  const exports = nm.split("\n").map((l) => l.trim().split(/\s+/)).filter((p) => p.length === 3 && (p[1] === "T" || p[1] === "D"))
    .map((p) => p[2]);
  return { inputs: ["profiler2.bc"], exports, notes: { ported: ported ? 1 : 0 } };
}
