// One order for the forward declarations LLVM's BTF writer appends
// (src/object/btf_order.ts). LLVM orders them by the address of their
// debug-info nodes, so the same IR with its metadata listed in another order
// (which changes nothing else) gives llc-22 another object; a link of ours
// gives the same bytes for both, the FWDs in the order their pointers are met.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

import { ElfObject } from "../../src/object/elf.ts";
import { orderForwardDeclarations } from "../../src/object/btf_order.ts";
import {
  btfDump,
  compileC,
  fileTempDir,
  LLVM_BIN,
  needsBpf,
  parseBtfDump,
  runLinker,
  tool,
  verifierAccepts,
} from "../support/tools.ts";

const dir = fileTempDir("bpfl-btf-order-");

// Four structs reached only through pointer members (FWDs); a CO-RE read (.BTF.ext relocations).
const SOURCE = `#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct xdp_md {
  unsigned data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
} __attribute__((preserve_access_index));
static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *) 1;
struct alpha { int a; };
struct beta { long b; };
struct gamma { char g[4]; };
struct delta { short d; };
struct holder {
  struct delta *d;
  struct alpha *a;
  struct gamma *g;
  struct beta *b;
  int n;
};
struct {
  __uint(type, 2);
  __uint(max_entries, 1);
  __type(key, int);
  __type(value, struct holder);
} holders SEC(".maps");
SEC("xdp") int prog(struct xdp_md *ctx) {
  int k = 0;
  struct holder *h = bpf_map_lookup_elem(&holders, &k);
  return h ? h->n : ctx->rx_queue_index == 7 ? 1 : 2;
}
char LICENSE[] SEC("license") = "GPL";
`;

const original = compileC(dir, "holder", SOURCE, "ll", ["-g"]);
// The same module with its metadata definitions in reverse: `!N = ...` lines may come in any order.
const reordered = join(dir, "holder_reordered.ll");
{
  const lines = readFileSync(original, "utf8").split("\n");
  const isMetadata = (l: string) => /^!\d+ = /.test(l);
  writeFileSync(
    reordered,
    [...lines.filter((l) => !isMetadata(l)), ...lines.filter(isMetadata).reverse()].join("\n"),
  );
}

function llc(input: string, name: string): string {
  const out = join(dir, `${name}.o`);
  tool(join(LLVM_BIN, "llc"), ["-march=bpf", "-filetype=obj", input, "-o", out]);
  return out;
}

function link(input: string, name: string): string {
  const out = join(dir, `${name}.o`);
  const r = runLinker(["--btf", "--export", "prog,holders,LICENSE", input, "-o", out]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  return out;
}

const fwdNames = (obj: string) =>
  parseBtfDump(btfDump(obj)).filter((t) => t.kind === "FWD").map((t) => t.name);
const btfSection = (bytes: Uint8Array) => new ElfObject(bytes).section(".BTF")!.data;
const cDump = (obj: string) => tool("bpftool", ["btf", "dump", "file", obj, "format", "c"]);

test("llc-22 orders forward declarations by node address: the same IR, reordered, gives another object", () => {
  const a = llc(original, "llc_original");
  const b = llc(reordered, "llc_reordered");
  assert.equal(fwdNames(a).length, 4);
  assert.notDeepEqual(fwdNames(a), fwdNames(b));
  assert.notDeepEqual(btfSection(readFileSync(a)), btfSection(readFileSync(b)));
  // Only the order: C declarations read from either are the same.
  assert.equal(cDump(a), cDump(b));
});

test("a link of ours gives the same bytes for both, FWDs in the order their pointers are met", () => {
  const a = link(original, "ours_original");
  const b = link(reordered, "ours_reordered");
  assert.deepEqual(readFileSync(a), readFileSync(b));
  assert.deepEqual(fwdNames(a), ["delta", "alpha", "gamma", "beta"]);
  assert.equal(cDump(a), cDump(llc(original, "llc_original")));
});

test("ordering rewrites ids, references and names in place; ordered once, it is left alone", () => {
  const fromOriginal = readFileSync(llc(original, "llc_original"));
  const fromReordered = readFileSync(llc(reordered, "llc_reordered"));
  const before = btfSection(fromOriginal).slice();
  assert.equal(orderForwardDeclarations(new ElfObject(fromOriginal)), 4);
  assert.equal(orderForwardDeclarations(new ElfObject(fromReordered)), 4);
  assert.deepEqual(btfSection(fromOriginal), btfSection(fromReordered));
  assert.equal(btfSection(fromOriginal).length, before.length);
  assert.equal(orderForwardDeclarations(new ElfObject(fromOriginal)), 0);

  const ordered = join(dir, "ordered.o");
  writeFileSync(ordered, fromOriginal);
  assert.deepEqual(fwdNames(ordered), ["delta", "alpha", "gamma", "beta"]);
  // Each pointer member still points at the FWD of its own struct.
  const types = parseBtfDump(btfDump(ordered));
  const byId = new Map(types.map((t) => [t.id, t]));
  const holder = types.find((t) => t.kind === "STRUCT" && t.name === "holder")!;
  for (const member of holder.members.slice(0, 4)) {
    const [, name, pointer] = /^'(\w)' type_id=(\d+)/.exec(member)!;
    const target = Number(/type_id=(\d+)/.exec(byId.get(Number(pointer))!.line)![1]);
    assert.equal(byId.get(target)!.name[0], name);
  }
  assert.equal(cDump(ordered), cDump(llc(original, "llc_original")));
});

test("at debug level the link says how many it put in order", () => {
  // The two inputs' objects differ before ordering, so at least one link reorders.
  const lines = [original, reordered].flatMap((input, i) => {
    const r = runLinker([
      "--btf",
      "--log-level",
      "debug",
      "--export",
      "prog,holders,LICENSE",
      input,
      "-o",
      join(dir, `debug${i}.o`),
    ]);
    assert.equal(r.status, 0, r.stderr);
    return r.stderr.split("\n").filter((l) => l.includes("forward declarations"));
  });
  assert.ok(lines.length > 0);
  for (const line of lines) {
    assert.match(line, /BTF: put 4 forward declarations in the order their pointers are met$/);
  }
});

test("the kernel loads the ordered object with its BTF", needsBpf(), () => {
  const loaded = verifierAccepts(link(reordered, "ours_reordered"));
  assert.ok(loaded.ok, loaded.log);
});

test("nothing to order: no .BTF, or fewer than two trailing FWDs", () => {
  const plain = join(dir, "plain.o");
  const r = runLinker(["--export", "prog,holders,LICENSE", original, "-o", plain]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(orderForwardDeclarations(new ElfObject(readFileSync(plain))), 0);
  const one = compileC(dir, "one", SOURCE.replace(/struct (alpha|gamma|beta) \*\w;\n/g, ""), "ll", [
    "-g",
  ]);
  const bytes = readFileSync(llc(one, "one"));
  const copy = bytes.slice();
  assert.deepEqual(fwdNames(join(dir, "one.o")), ["delta"]);
  assert.equal(orderForwardDeclarations(new ElfObject(bytes)), 0);
  assert.deepEqual(bytes, copy);
});
