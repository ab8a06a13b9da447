// A sample of the kernel selftests corpus (corpus/selftests.ts; the whole corpus
// is `bash scripts/corpus`): real C programs by kernel developers, compiled by
// clang-22 as an object and as bitcode, the bitcode linked with no flag but
// --btf; wherever the kernel loads clang's object it must load ours. The sample
// covers multi-file programs (libbpf's linked_* selftests: extern functions,
// variables and maps, __weak, a license in every file), __kconfig and __ksym
// externs, global functions, subprograms and `struct s v = {}` initializers.
// Compiled inputs are cached in .cache/corpus, so only the first run compiles.

import assert from "node:assert/strict";
import { test } from "node:test";
import { Corpus, corpusUnavailable } from "../corpus/selftests.ts";
import { bpfUnavailable, linkerCommand, tempDir } from "./support/tools.ts";

export const SAMPLE = [
  // several files, joined as libbpf's static linker joins them
  "linked_funcs",
  "linked_vars",
  "linked_maps",
  "test_static_linked",
  "test_subskeleton",
  "test_usdt",
  // __kconfig and __ksym externs
  "test_core_extern",
  "test_skeleton",
  "bpf_cubic",
  "bpf_dctcp",
  "test_ksyms_btf",
  // global functions, verified on their own
  "test_global_func1",
  "test_global_func2",
  "test_global_func9",
  "test_global_func_args",
  // subprograms and tail calls between them
  "test_subprogs",
  "test_subprogs_unused",
  "test_pkt_access",
  "test_xdp_noinline",
  "tailcall_bpf2bpf3",
  // `= {}` initializers (memset)
  "connect4_prog",
  "test_core_reloc_kernel",
  "test_sk_lookup_kern",
  "test_sysctl_loop1",
  "test_varlen",
  "test_xdp",
  "test_tcp_hdr_options",
  "test_snprintf",
  "test_stack_var_off",
  "xdp_dummy",
];

const unavailable = bpfUnavailable ?? corpusUnavailable();
if (unavailable) process.stderr.write(`SKIP: kernel selftests sample: ${unavailable}\n`);

test(
  "kernel selftests sample: every program that loads from clang's object loads from ours (--btf, no other flag)",
  unavailable ? { skip: unavailable } : {},
  async () => {
    const { command, args } = linkerCommand();
    const corpus = new Corpus({ linker: [command, ...args], jobs: 2 });
    const units = corpus.units().filter((u) => SAMPLE.includes(u.name));
    assert.deepEqual(
      units.map((u) => u.name).sort(),
      [...SAMPLE].sort(),
      "every sample program is in the tree",
    );
    const results = await corpus.run(units, tempDir("bpfl-corpus-"));
    const problems: string[] = [];
    let referenceLoads = 0;
    for (const r of results) {
      const name = r.unit.name;
      if (r.compileError) problems.push(`${name}: does not compile: ${r.compileError}`);
      else if (r.linkError) problems.push(`${name}: link error: ${r.linkError}`);
      else if (r.reference?.ok) {
        referenceLoads++;
        if (!r.ours?.ok) {
          problems.push(`${name}: clang's object loads, ours does not: ${r.ours?.cause}`);
        }
      }
    }
    assert.deepEqual(problems, []);
    // Most of the sample loads from clang's object on any recent kernel; if far fewer
    // do, the comparison above says little and the set-up is wrong.
    assert.ok(
      referenceLoads >= 20,
      `only ${referenceLoads} of ${units.length} load from clang's object`,
    );
  },
);
