// Corpus (a): 210 C translation units in the style of a multi-file BPF project,
// compiled with `clang-22 -target bpf -O2 -g -emit-llvm -c`, linked with --btf.
//
// - 200 library units lib_NNN.c in three tiers: each defines its own state
//   struct and lookup table, static helpers with bounded loops, and two
//   global functions: lib_NNN_a (hashing a flow key; tier 1 calls tier 0,
//   tier 2 calls tier 1) and lib_NNN_b (updating map-value statistics), and
//   lib_NNN_c (a batch report no program uses: dead code for the link).
//   Some are __noinline, so real BPF-to-BPF calls remain; some _b functions
//   are never called (dead code the link removes).
// - 10 program units prog_NN.c: 5 SEC("xdp") and 5 SEC("tc") programs, each
//   with its own array map (SEC(".maps"), BTF-defined), parsing the packet
//   with the shared parse.h and calling 7 tier-2 functions and some _b ones.
//   The programs and their maps are the exports (libbpf rejects static maps).
// - Shared headers: bpf_defs.h, net.h, parse.h, lib_api.h (all prototypes).

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { BPF_DEFS_H, NET_H, PARSE_H } from "./c_headers.ts";
import { JOBS, parallel, Rng, runAsync } from "../lib/util.ts";

export const LIBS = 200;
export const PROGS = 10;
const TIER = [0, 67, 134, LIBS]; // tier t = libs [TIER[t], TIER[t+1])
const CALLS_PER_PROG = 7;

const lib = (i: number) => `lib_${String(i).padStart(3, "0")}`;
const tierOf = (i: number) => (i < TIER[1] ? 0 : i < TIER[2] ? 1 : 2);

export interface CorpusManifest {
  /** Inputs in link order, relative to the corpus directory. */
  inputs: string[];
  exports: string[];
  /** Extra facts for the report. */
  notes: Record<string, string | number>;
}

function hex(n: number): string {
  return `0x${(n >>> 0).toString(16)}u`;
}

/** Who calls whom: tier-t function i calls 1-2 functions of tier t-1, covering all of them. */
function callGraph(rng: Rng): Map<number, number[]> {
  const calls = new Map<number, number[]>();
  for (let t = 1; t <= 2; t++) {
    const lo = TIER[t], hi = TIER[t + 1];
    const below = TIER[t] - TIER[t - 1];
    for (let i = lo; i < hi; i++) {
      const first = TIER[t - 1] + ((i - lo) % below);
      const list = [first];
      if (rng.chance(0.6)) {
        const second = TIER[t - 1] + rng.int(0, below - 1);
        if (second !== first) list.push(second);
      }
      calls.set(i, list);
    }
  }
  // The tier above 2 is the programs; a tier-1 function left uncalled is fine.
  return calls;
}

function libApiHeader(): string {
  const lines = ["#ifndef BENCH_LIB_API_H", "#define BENCH_LIB_API_H", '#include "net.h"'];
  for (let i = 0; i < LIBS; i++) {
    lines.push(`u32 ${lib(i)}_a(const struct flow_key *k, u32 seed);`);
    lines.push(`u64 ${lib(i)}_b(struct flow_stats *st, u32 x);`);
    lines.push(`struct ${lib(i)}_report;`);
    lines.push(`u32 ${lib(i)}_c(const struct flow_stats *batch, u32 count, struct ${lib(i)}_report *out);`);
  }
  lines.push("#endif", "");
  return lines.join("\n");
}

function libSource(i: number, rng: Rng, callees: number[]): string {
  const n = lib(i);
  const lanes = rng.pick([4, 6, 8]);
  const rounds = rng.int(2, 5);
  const r1 = rng.int(3, 13), r2 = rng.int(5, 17);
  const mult = rng.int(0x1000001, 0x7ffffff) | 1;
  const sbox = Array.from({ length: 16 }, () => rng.int(0, 255));
  // Callers above tier 0 stay out of line (as BPF code does to bound the
  // stack: inlining everything would exceed the verifier's 512 bytes).
  const noinlineA = rng.chance(0.3) || tierOf(i) > 0 ? "__noinline " : "";
  const threshold = rng.int(1000, 60000);
  const flag = 1 << rng.int(0, 15);
  const kind = rng.int(0, 2);
  const extra = kind === 0
    ? `
/* Rate limiting on packet counts: a small token bucket per call. */
struct ${n}_bucket {
  u64 tokens;
  u64 last;
  u32 burst;
  u32 rate;
};

static u32 ${n}_take(struct ${n}_bucket *b, u64 now) {
  u64 elapsed = now - b->last;
  if (elapsed > 1000000)
    elapsed = 1000000;
  b->tokens += elapsed * b->rate / 1000;
  if (b->tokens > b->burst)
    b->tokens = b->burst;
  b->last = now;
  if (b->tokens == 0)
    return 0;
  b->tokens--;
  return 1;
}
`
    : kind === 1
    ? `
/* Ones'-complement checksum over the key words, unrolled by the compiler. */
static u16 ${n}_csum(const u32 *words, u32 n) {
  u32 sum = 0;
  for (u32 i = 0; i < 4; i++) {
    if (i >= n)
      break;
    sum += words[i] & 0xffff;
    sum += words[i] >> 16;
  }
  /* Two folds suffice for four words (a while loop would not verify). */
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return (u16)~sum;
}
`
    : `
/* Classification by port ranges, as a policy table would. */
union ${n}_port_pair {
  struct l4_ports ports;
  u32 both;
};

static enum verdict_reason ${n}_classify(u16 sport, u16 dport) {
  union ${n}_port_pair pp = {.ports = {.sport = sport, .dport = dport}};
  switch (bswap16(dport)) {
  case 22:
  case 80:
  case 443:
    return REASON_NONE;
  case 53:
    return REASON_RATE;
  default:
    return pp.both % ${rng.int(3, 9)}u == 0 ? REASON_POLICY : REASON_SCORE;
  }
}
`;
  const useExtra = kind === 0
    ? `  struct ${n}_bucket b = {.tokens = ${rng.int(1, 9)}, .last = seed, .burst = ${rng.int(8, 64)}, .rate = ${rng.int(1, 50)}};
  s.acc += ${n}_take(&b, (u64)seed + k->sport);`
    : kind === 1
    ? `  s.acc ^= ${n}_csum((const u32 *)k, ${rng.int(2, 4)});`
    : `  s.acc += (u32)${n}_classify(k->sport, k->dport);`;
  const calls = callees.map((c) => `  s.acc ^= ${lib(c)}_a(k, s.acc + ${rng.int(1, 99)});`).join("\n");

  return `/* Generated by bench/corpus/c_units.ts: library unit ${i} (tier ${tierOf(i)}). */
#include "bpf_defs.h"
#include "net.h"
#include "lib_api.h"

struct ${n}_state {
  u32 acc;
  u32 rounds;
  u16 lanes[${lanes}];
  u8 tag[8];
};

static const u8 ${n}_sbox[16] = {${sbox.join(", ")}};

static u32 ${n}_mix(u32 a, u32 b) {
  a ^= b << ${r1};
  a *= ${hex(mult)};
  return a ^ (a >> ${r2});
}

static void ${n}_fold(struct ${n}_state *s, u32 v) {
  for (u32 i = 0; i < ${lanes}; i++)
    s->lanes[i] = (u16)(s->lanes[i] + ((v >> ((i & 3) * 8)) & 0xff) + ${n}_sbox[(v + i) & 15]);
  s->tag[s->rounds & 7] ^= (u8)v;
  s->rounds++;
}
${extra}
${noinlineA}u32 ${n}_a(const struct flow_key *k, u32 seed) {
  struct ${n}_state s = {};
  if (!k)
    return seed;
  s.acc = seed ^ k->saddr;
  for (u32 r = 0; r < ${rounds}; r++) {
    ${n}_fold(&s, ${n}_mix(s.acc + r, k->daddr ^ k->sport));
    s.acc = ${n}_mix(s.acc, s.lanes[r % ${lanes}]);
  }
${useExtra}
${calls}
  return s.acc ^ s.rounds ^ s.tag[${rng.int(0, 7)}];
}

u64 ${n}_b(struct flow_stats *st, u32 x) {
  if (!st)
    return 0;
  st->packets += 1;
  st->bytes += x;
  st->score = ${n}_mix(st->score, x) & 0xffff;
  if (st->score > ${threshold})
    st->flags |= ${flag};
  return st->packets ^ st->bytes;
}

/* A batch report, part of the library's API but used by no program: dead code the link removes. */
struct ${n}_report {
  u64 total_packets;
  u64 total_bytes;
  u32 hot;
  u32 cold;
  enum verdict_reason worst;
  union addr_any last;
};

u32 ${n}_c(const struct flow_stats *batch, u32 count, struct ${n}_report *out) {
  if (!batch || !out)
    return 0;
  for (u32 i = 0; i < ${rng.pick([8, 16, 32])}; i++) {
    if (i >= count)
      break;
    out->total_packets += batch[i].packets;
    out->total_bytes += batch[i].bytes;
    switch (batch[i].flags & 3) {
    case 0:
      out->hot++;
      break;
    case 1:
      out->cold++;
      break;
    default:
      if (batch[i].score > ${rng.int(100, 9000)})
        out->worst = REASON_POLICY;
    }
  }
  out->last.v4 = ${n}_mix(out->hot, out->cold);
  return out->hot;
}
`;
}

function progSource(p: number, rng: Rng, callees: number[], bCallees: number[]): { name: string; text: string } {
  const xdp = p % 2 === 0;
  const name = `${xdp ? "xdp" : "tc"}_prog_${String(p).padStart(2, "0")}`;
  const slots = rng.pick([16, 32, 64]);
  const ctxType = xdp ? "struct xdp_md" : "struct __sk_buff";
  const pass = xdp ? "XDP_PASS" : "TC_ACT_OK";
  const drop = xdp ? "XDP_DROP" : "TC_ACT_SHOT";
  const calls = callees.map((c) => `  h ^= ${lib(c)}_a(&k, h + ${rng.int(1, 999)});`).join("\n");
  const bCalls = bCallees.map((c) => `  h ^= (u32)${lib(c)}_b(st, len + ${rng.int(0, 9)});`).join("\n");
  const text = `/* Generated by bench/corpus/c_units.ts: program unit ${p}. */
#include "bpf_defs.h"
#include "net.h"
#include "parse.h"
#include "lib_api.h"

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, ${slots});
  __type(key, u32);
  __type(value, struct flow_stats);
} ${name}_stats SEC(".maps");

SEC("${xdp ? "xdp" : "tc"}")
int ${name}(${ctxType} *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct flow_key k = {};
  struct verdict v = {.action = ${pass}, .reason = REASON_NONE};
  int rc = parse_flow(data, data_end, &k);
  if (rc < 0)
    return ${xdp ? "XDP_ABORTED" : "TC_ACT_OK"};
  if (rc > 0)
    return ${pass};
  u32 h = k.saddr ^ ${hex(rng.int(1, 0x7fffffff))};
${calls}
  u32 slot = h & ${slots - 1};
  struct flow_stats *st = bpf_map_lookup_elem(&${name}_stats, &slot);
  if (!st)
    return ${pass};
  u32 len = (u32)(data_end - data);
${bCalls}
  st->last_seen = bpf_ktime_get_ns();
  if ((h & 0xff) == ${rng.int(0, 255)}) {
    v.action = ${drop};
    v.reason = REASON_SCORE;
  }
  v.cookie = h;
  return (int)v.action;
}
${p === 0 ? '\nchar LICENSE[] SEC("license") = "GPL";\n' : ""}`;
  return { name, text };
}

/** Write the sources and compile them into `dir`; returns the link manifest. */
export async function generateCUnits(dir: string): Promise<CorpusManifest> {
  const rng = new Rng(0xb0f0_000a);
  const src = join(dir, "src");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, "bpf_defs.h"), BPF_DEFS_H);
  writeFileSync(join(src, "net.h"), NET_H);
  writeFileSync(join(src, "parse.h"), PARSE_H);
  writeFileSync(join(src, "lib_api.h"), libApiHeader());

  const graph = callGraph(rng);
  const units: string[] = [];
  for (let i = 0; i < LIBS; i++) {
    writeFileSync(join(src, `${lib(i)}.c`), libSource(i, rng, graph.get(i) ?? []));
    units.push(lib(i));
  }
  const exports: string[] = [];
  const tier2 = TIER[3] - TIER[2];
  for (let p = 0; p < PROGS; p++) {
    const callees = Array.from({ length: CALLS_PER_PROG }, (_, j) => TIER[2] + ((p * CALLS_PER_PROG + j) % tier2));
    const bCallees = [p * 13 % LIBS, (p * 29 + 7) % LIBS, (p * 7 + 150) % LIBS];
    const { name, text } = progSource(p, rng, callees, bCallees);
    const file = `prog_${String(p).padStart(2, "0")}`;
    writeFileSync(join(src, `${file}.c`), text);
    units.push(file);
    // The maps are exported too: libbpf refuses a map of static linkage.
    exports.push(name, `${name}_stats`);
  }
  // Programs first, as a build would list main objects before libraries.
  units.sort((a, b) => (a.startsWith("prog") === b.startsWith("prog") ? a.localeCompare(b) : a.startsWith("prog") ? -1 : 1));
  await parallel(units, JOBS, (u) =>
    runAsync("clang-22", ["-target", "bpf", "-O2", "-g", "-emit-llvm", "-c", join(src, `${u}.c`), "-o", join(dir, `${u}.bc`)])
  );
  return {
    inputs: units.map((u) => `${u}.bc`),
    exports,
    notes: { units: units.length, libraries: LIBS, programs: PROGS },
  };
}
