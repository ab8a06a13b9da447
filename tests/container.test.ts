// The single executable in a minimal container: a Debian trixie root
// made by scripts/container-root with debootstrap --variant=minbase and nothing
// but libllvm21 from trixie-backports added. dist/bpf-linker is copied in and
// run with chroot; it must find LLVM 21 on its own, link bitcode made on the
// host by clang-19 into an object the host kernel loads and runs, and refuse
// clang-22 bitcode with the clear version error.
//
// The root is cached (default /var/cache/bpf-linker/trixie-llvm21), so only the
// first run on a machine pays for debootstrap. Where it cannot be made (not
// root, no network to the Debian mirror) every test here SKIPs with the reason.

import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import {
  assertXdpVerdicts,
  builtExecutable,
  compileXdpExample,
  containerRoot,
  needsBpf,
  runInRoot,
  sectionNames,
} from "./support/tools.ts";

type Setup = { root: string; work: string; skip?: undefined } | {
  root?: undefined;
  work?: undefined;
  skip: string;
};

/** Where the executable and inputs go inside the root (per process: runs may overlap). */
const WORK = `/work/bpfl-${process.pid}-${Date.now().toString(36)}`;

function prepare(): Setup {
  const { root, skip } = containerRoot();
  if (!root) return { skip: skip! };
  const work = join(root, WORK);
  mkdirSync(work, { recursive: true });
  copyFileSync(builtExecutable(), join(work, "bpf-linker"));
  const probe = runInRoot(root, ["/bin/true"]);
  if (probe.status !== 0) {
    rmSync(work, { recursive: true, force: true });
    return { skip: `cannot chroot into ${root} with /proc mounted: ${probe.stderr.trim()}` };
  }
  return { root, work };
}

const setup = prepare();
if (setup.skip) process.stderr.write(`SKIP: container: ${setup.skip}\n`);
const needsRoot = (): { skip?: string } => (setup.skip ? { skip: setup.skip } : {});
const both = () => ({ ...needsBpf(), ...needsRoot() });

const ROOT = setup.root ?? "";
const HOST_WORK = setup.work ?? "";
after(() => {
  if (HOST_WORK) rmSync(HOST_WORK, { recursive: true, force: true });
});

/** Inputs compiled on the host, straight into the root's work directory. */
function example(clang: "clang-19" | "clang-22") {
  if (!HOST_WORK) return undefined;
  const sub = clang === "clang-19" ? "x19" : "x22";
  mkdirSync(join(HOST_WORK, sub), { recursive: true });
  compileXdpExample(join(HOST_WORK, sub), clang);
  return ["main.bc", "classify.bc", "libcsum.a"].map((f) => `${WORK}/${sub}/${f}`);
}
const inputs19 = example("clang-19");
const inputs22 = example("clang-22");

function linker(args: string[]) {
  return runInRoot(ROOT, [`${WORK}/bpf-linker`, ...args]);
}

test(
  "the root is minimal: its only libLLVM is 21, and it has no clang, llvm tools, deno, bun or node",
  needsRoot(),
  () => {
    const libs = ["usr/lib", "usr/lib/x86_64-linux-gnu", "usr/lib/aarch64-linux-gnu"]
      .flatMap((d) => (existsSync(join(ROOT, d)) ? readdirSync(join(ROOT, d)) : []))
      .filter((n) => n.startsWith("libLLVM"));
    assert.ok(libs.length > 0);
    for (const lib of libs) {
      assert.match(
        lib,
        /^libLLVM(-21\.so|\.so\.21(\.\d+)*)$/,
        `unexpected ${lib}`,
      );
    }
    assert.equal(
      existsSync(join(ROOT, "usr/lib/llvm-19")) || existsSync(join(ROOT, "usr/lib/llvm-22")),
      false,
    );
    for (const tool of ["clang", "llvm-config", "deno", "bun", "node"]) {
      assert.equal(existsSync(join(ROOT, "usr/bin", tool)), false, `${tool} in the root`);
    }
    assert.match(readFileSync(join(ROOT, "etc/os-release"), "utf8"), /VERSION_CODENAME=trixie/);
  },
);

test("chroot <root> bpf-linker -V finds the root's LLVM 21", needsRoot(), () => {
  const r = linker(["-V"]);
  assert.equal(r.status, 0, `exit ${r.status}, signal ${r.signal}:\n${r.stderr}`);
  assert.match(r.stdout, /^bpf-linker \S+\nLLVM 21\.\d+\.\d+ \(\/usr\/lib\/[^)]*libLLVM[^)]*\)\n$/);
  process.stderr.write(`container: ${r.stdout.trim().replace("\n", ", ")}\n`);
});

test(
  "in the root, LLVM 21 links clang-19 bitcode (made on the host) into a BPF object",
  needsRoot(),
  () => {
    const r = linker(["--export", "xdp_filter", ...inputs19!, "-o", `${WORK}/xdp19.o`]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "");
    const sections = sectionNames(join(HOST_WORK, "xdp19.o"));
    assert.ok(sections.includes("xdp"), sections.join(" "));
  },
);

test("the host kernel loads and runs the object linked in the root", both(), () => {
  const r = linker(["--export", "xdp_filter", ...inputs19!, "-o", `${WORK}/xdp19-kernel.o`]);
  assert.equal(r.status, 0, r.stderr);
  const obj = join(HOST_WORK, "xdp19-kernel.o");
  assertXdpVerdicts(obj);
});

test(
  "in the root, clang-22 bitcode is one clear error naming LLVM 22 and 21, no output",
  needsRoot(),
  () => {
    const out = `${WORK}/xdp22.o`;
    const r = linker(["--export", "xdp_filter", ...inputs22!, "-o", out]);
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^error: .*main\.bc: .*LLVM 22\.\d+\.\d+.*LLVM 21\.\d+\.\d+/);
    assert.equal(existsSync(join(HOST_WORK, "xdp22.o")), false);
  },
);

test("nothing stays mounted in the root", needsRoot(), () => {
  linker(["-V"]);
  const mounts = readFileSync("/proc/mounts", "utf8").split("\n").filter((l) =>
    l.split(" ")[1]?.startsWith(ROOT + "/")
  );
  assert.deepEqual(mounts, []);
});
