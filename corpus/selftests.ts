// The kernel's BPF selftests as a corpus of real C programs (README "C programs"):
// each program is compiled by clang-22 once as an object (the reference, as
// `clang -c` users build) and once as bitcode that this linker links with no
// flag but --btf; the kernel verifier (bpftool prog loadall) judges both. Only
// differences in verdict matter: many programs do not load from clang's
// object either on a given kernel (other kernel version, programs that are
// meant to fail, programs that need a map created by a test harness).
//
// Sources come from Debian's linux-source-6.1 tarball; headers are the
// selftests' own, Debian's libbpf-dev and a vmlinux.h of the running kernel.
// Everything extracted and compiled is cached under .cache/corpus; links and
// loads are redone every run (they are what is measured).

import { execFile, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const TARBALL = "/usr/src/linux-source-6.1.tar.xz";
const TREE = "linux-source-6.1";
const SELFTESTS = `${TREE}/tools/testing/selftests/bpf`;
export const CLANG = "clang-22";

/** One program of the corpus: one C file, or the files libbpf's static linker joins. */
export interface Unit {
  name: string;
  /** File names in progs/, in link order. */
  sources: string[];
}

export type Verdict = { ok: true } | { ok: false; cause: string };

export interface UnitResult {
  unit: Unit;
  /** Compile failure of either form, or undefined. */
  compileError?: string;
  /** Our link's failure, or undefined (only when compiled). */
  linkError?: string;
  /** bpftool's verdict on clang's object (joined by `bpftool gen object` for several files). */
  reference?: Verdict;
  /** bpftool's verdict on this linker's object. */
  ours?: Verdict;
  /**
   * Where ours differs from clang's loading object: the same link with `--cpu v3`
   * (clang-22's default CPU; ours is generic, BPF v1), to tell the CPU apart from
   * the linker. A link error is a failed verdict here.
   */
  oursV3?: Verdict;
}

export interface CorpusConfig {
  /** Cache directory (default <repo>/.cache/corpus). */
  cache?: string;
  /** Command that runs the linker: argv prefix (default: bun src/main.ts). */
  linker?: string[];
  /** Parallel jobs (default 2). */
  jobs?: number;
  /** Progress lines. */
  progress?: (line: string) => void;
}

function sha(text: string | Uint8Array): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 16);
}

function writeAtomically(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}

/** Why the corpus cannot run here (no tarball, bpftool, vmlinux BTF...), or undefined. */
export function corpusUnavailable(): string | undefined {
  if (!existsSync(TARBALL)) return `${TARBALL} is missing (Debian package linux-source-6.1)`;
  if (!existsSync("/usr/include/bpf/bpf_helpers.h")) {
    return "libbpf headers are missing (Debian package libbpf-dev)";
  }
  if (!existsSync("/sys/kernel/btf/vmlinux")) {
    return "the running kernel has no BTF (/sys/kernel/btf/vmlinux)";
  }
  for (const tool of [CLANG, "bpftool"]) {
    try {
      execFileSync(tool, ["--version"], { stdio: "ignore" });
    } catch {
      return `${tool} is not installed`;
    }
  }
  return undefined;
}

/** Extract the parts of the kernel tree the corpus needs, once. */
export function extractTree(cache: string): string {
  const root = join(cache, "src");
  const stamp = join(root, ".extracted");
  if (existsSync(stamp)) return join(root, TREE);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  execFileSync("tar", [
    "-xJf",
    TARBALL,
    "-C",
    root,
    `${SELFTESTS}`,
    `${TREE}/tools/include`,
  ], { stdio: ["ignore", "ignore", "pipe"] });
  writeFileSync(stamp, "");
  return join(root, TREE);
}

/** vmlinux.h of the running kernel, regenerated when the kernel's BTF changes. */
export function vmlinuxHeader(cache: string): string {
  const dir = join(cache, "include");
  mkdirSync(dir, { recursive: true });
  const btf = readFileSync("/sys/kernel/btf/vmlinux");
  const header = join(dir, "vmlinux.h");
  const stampPath = join(dir, "vmlinux.h.key");
  const key = sha(btf);
  if (!existsSync(header) || !existsSync(stampPath) || readFileSync(stampPath, "utf8") !== key) {
    const text = execFileSync("bpftool", [
      "btf",
      "dump",
      "file",
      "/sys/kernel/btf/vmlinux",
      "format",
      "c",
    ], {
      maxBuffer: 1 << 30,
    });
    writeAtomically(header, text);
    writeAtomically(stampPath, key);
  }
  return dir;
}

/** Every program of the selftests: the multi-file skeletons of the Makefile, then each other file. */
export function listUnits(tree: string): Unit[] {
  const selftests = join(tree, "tools/testing/selftests/bpf");
  const makefile = readFileSync(join(selftests, "Makefile"), "utf8");
  const groups: Unit[] = [];
  const grouped = new Set<string>();
  for (const m of makefile.matchAll(/^(\w+)\.skel\.h-deps := (.+)$/gm)) {
    const sources = m[2].trim().split(/\s+/).map((o) => o.replace(/\.bpf\.o$/, ".c"));
    if (sources.length < 2) continue;
    groups.push({ name: m[1], sources });
    for (const s of sources) grouped.add(s);
  }
  const singles = readdirSync(join(selftests, "progs"))
    .filter((f) => f.endsWith(".c") && !grouped.has(f))
    .sort()
    .map((f) => ({ name: f.replace(/\.c$/, ""), sources: [f] }));
  return [...groups, ...singles];
}

function clangFlags(tree: string, include: string): string[] {
  const selftests = join(tree, "tools/testing/selftests/bpf");
  // As the selftests' Makefile (BPF_CFLAGS, CLANG_CFLAGS) but without -Werror and
  // -mcpu: the reference is what a plain `clang -g -O2 -target bpf -c` makes.
  return [
    "-g",
    "-O2",
    "-target",
    "bpf",
    "-D__TARGET_ARCH_x86",
    "-mlittle-endian",
    `-I${include}`,
    `-I${selftests}`,
    `-I${join(tree, "tools/include/uapi")}`,
    "-idirafter",
    "/usr/local/include",
    "-idirafter",
    "/usr/include/x86_64-linux-gnu",
    "-idirafter",
    "/usr/include",
    "-Wno-compare-distinct-pointer-types",
    "-DENABLE_ATOMICS_TESTS",
  ];
}

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

function runAsync(command: string, args: string[], timeoutMs = 300_000): Promise<Run> {
  return new Promise((done) => {
    execFile(
      command,
      args,
      { maxBuffer: 1 << 28, timeout: timeoutMs, encoding: "utf8" },
      (error, stdout, stderr) => {
        const err = error as (Error & { code?: number | string; killed?: boolean }) | null;
        const status = err ? (typeof err.code === "number" ? err.code : -1) : 0;
        const extra = err?.killed ? `\n(killed after ${timeoutMs / 1000} s)` : "";
        done({
          status,
          stdout,
          stderr: `${stderr}${status !== 0 && !stderr && err ? err.message : ""}${extra}`,
        });
      },
    );
  });
}

/** Run `tasks` with at most `jobs` at once, keeping order of results. */
async function pool<T, R>(
  items: T[],
  jobs: number,
  task: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await task(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}

/** The first line that says what went wrong, from libbpf/verifier/clang output. */
export function causeOf(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  const pick =
    lines.find((l) =>
      /^libbpf: (prog '[^']+': )?(failed|BTF|map|extern|elf|Error|-)/i.test(l) &&
      !/^libbpf: prog '[^']+': -- BEGIN/.test(l)
    ) ??
      lines.find((l) => /error|invalid|failed|unknown|not supported|refused/i.test(l)) ??
      lines[lines.length - 1] ??
      "(no message)";
  return pick.length > 200 ? `${pick.slice(0, 200)}...` : pick;
}

/** The verifier's own reason, when the log holds one (the line before "processed N insns"). */
function verifierReason(text: string): string | undefined {
  const lines = text.split("\n");
  const i = lines.findIndex((l) =>
    /^processed \d+ insns/.test(l) || /-- END PROG LOAD LOG --/.test(l)
  );
  if (i <= 0) return undefined;
  for (let j = i - 1; j >= 0; j--) {
    const l = lines[j].trim();
    if (l && !/^(verification time|stack depth|processed|libbpf: -- END)/.test(l)) {
      return l.slice(0, 200);
    }
  }
  return undefined;
}

let pinCounter = 0;

/** Load every program of an object; the pins are removed again. */
export async function load(object: string): Promise<Verdict> {
  const pins = `/sys/fs/bpf/bpfl-corpus-${process.pid}-${pinCounter++}`;
  try {
    const r = await runAsync("bpftool", ["prog", "loadall", object, pins]);
    if (r.status === 0) return { ok: true };
    // bpftool pins after bpf_object__load succeeded: programs in '?' sections are
    // not loaded by default (the selftests load them one by one), so it cannot pin
    // them. Everything else was loaded and verified.
    if (
      /can't pin program that wasn't loaded/.test(r.stderr) &&
      !/failed to load|-- BEGIN PROG LOAD LOG/.test(r.stderr)
    ) {
      return { ok: true };
    }
    const program = /libbpf: prog '([^']+)': failed to load/.exec(r.stderr)?.[1];
    const reason = verifierReason(r.stderr);
    const cause = program && reason ? `prog '${program}': ${reason}` : causeOf(r.stderr);
    return { ok: false, cause };
  } finally {
    rmSync(pins, { recursive: true, force: true });
  }
}

export class Corpus {
  readonly cache: string;
  readonly tree: string;
  readonly include: string;
  readonly flags: string[];
  readonly buildDir: string;
  readonly linker: string[];
  readonly jobs: number;
  readonly progress: (line: string) => void;

  constructor(config: CorpusConfig = {}) {
    this.cache = config.cache ?? join(REPO, ".cache", "corpus");
    this.tree = extractTree(this.cache);
    this.include = vmlinuxHeader(this.cache);
    this.flags = clangFlags(this.tree, this.include);
    const clangVersion = execFileSync(CLANG, ["--version"], { encoding: "utf8" });
    const libbpf = readFileSync("/usr/include/bpf/libbpf_version.h", "utf8");
    const vmlinux = readFileSync(join(this.include, "vmlinux.h.key"), "utf8");
    // Compiled inputs are reused while the compiler, flags and headers stay the same.
    this.buildDir = join(
      this.cache,
      "build",
      sha(JSON.stringify([clangVersion, this.flags, libbpf, vmlinux])),
    );
    mkdirSync(this.buildDir, { recursive: true });
    this.linker = config.linker ?? [process.execPath, join(REPO, "src", "main.ts")];
    this.jobs = config.jobs ?? 2;
    this.progress = config.progress ?? (() => {});
  }

  units(): Unit[] {
    return listUnits(this.tree);
  }

  /** Compile one file as `kind`; the cached result (or cached failure) when there is one. */
  async compile(source: string, kind: "o" | "bc"): Promise<{ path?: string; error?: string }> {
    const out = join(this.buildDir, `${source.replace(/\.c$/, "")}.${kind}`);
    const failed = `${out}.failed`;
    if (existsSync(out)) return { path: out };
    if (existsSync(failed)) return { error: readFileSync(failed, "utf8") };
    const src = join(this.tree, "tools/testing/selftests/bpf/progs", source);
    const tmp = `${out}.${process.pid}.tmp`;
    const mode = kind === "bc" ? ["-emit-llvm", "-c"] : ["-c"];
    const r = await runAsync(CLANG, [...this.flags, ...mode, src, "-o", tmp]);
    if (r.status !== 0) {
      rmSync(tmp, { force: true });
      const error = `${source}: ${
        causeOf(r.stderr.split("\n").filter((l) => /error:/.test(l)).join("\n") || r.stderr)
      }`;
      writeAtomically(failed, error);
      return { error };
    }
    renameSync(tmp, out);
    return { path: out };
  }

  /** Compile (cached), link, load both; one result per unit, in order. */
  async run(units: Unit[], scratch: string): Promise<UnitResult[]> {
    mkdirSync(scratch, { recursive: true });
    let done = 0;
    return await pool(units, this.jobs, async (unit, index) => {
      const result = await this.#runUnit(unit, join(scratch, `${index}-${unit.name}`));
      done++;
      if (done % 25 === 0 || done === units.length) {
        this.progress(`${done}/${units.length} programs`);
      }
      return result;
    });
  }

  async #runUnit(unit: Unit, base: string): Promise<UnitResult> {
    const result: UnitResult = { unit };
    const objects: string[] = [];
    const bitcode: string[] = [];
    for (const source of unit.sources) {
      const o = await this.compile(source, "o");
      const bc = await this.compile(source, "bc");
      if (o.error || bc.error) {
        result.compileError = o.error ?? bc.error;
        return result;
      }
      objects.push(o.path!);
      bitcode.push(bc.path!);
    }
    let reference = objects[0];
    if (objects.length > 1) {
      // libbpf's own static linker joins the clang objects, as the selftests do.
      reference = `${base}.clang.o`;
      const r = await runAsync("bpftool", ["gen", "object", reference, ...objects]);
      if (r.status !== 0) {
        result.reference = { ok: false, cause: `bpftool gen object: ${causeOf(r.stderr)}` };
        reference = "";
      }
    }
    if (reference) result.reference = await load(reference);
    const ours = await this.#linkAndLoad(bitcode, `${base}.ours.o`, []);
    if ("linkError" in ours) result.linkError = ours.linkError;
    else result.ours = ours.verdict;
    if (result.reference?.ok && !result.ours?.ok) {
      const v3 = await this.#linkAndLoad(bitcode, `${base}.v3.o`, ["--cpu", "v3"]);
      result.oursV3 = "linkError" in v3 ? { ok: false, cause: v3.linkError } : v3.verdict;
    }
    if (objects.length > 1 && reference) rmSync(reference, { force: true });
    return result;
  }

  async #linkAndLoad(
    bitcode: string[],
    out: string,
    flags: string[],
  ): Promise<{ verdict: Verdict } | { linkError: string }> {
    const [command, ...prefix] = this.linker;
    const linked = await runAsync(command, [...prefix, "--btf", ...flags, "-o", out, ...bitcode]);
    if (linked.status !== 0) {
      return { linkError: causeOf(linked.stderr.replaceAll(`${this.buildDir}/`, "")) };
    }
    const verdict = await load(out);
    rmSync(out, { force: true });
    return { verdict };
  }
}

export interface Summary {
  programs: number;
  compiled: number;
  linked: number;
  referenceLoads: number;
  oursLoadsWhereReferenceLoads: number;
  oursLoadsOnly: number;
  /** Of those that load from clang's object but not from ours, how many load with --cpu v3. */
  loadsWithV3: number;
  /** Rows of verdict differences (and link failures): name, clang, ours, with --cpu v3, cause. */
  differences: { name: string; reference: string; ours: string; v3: string; cause: string }[];
}

export function summarize(results: UnitResult[]): Summary {
  const s: Summary = {
    programs: results.length,
    compiled: 0,
    linked: 0,
    referenceLoads: 0,
    oursLoadsWhereReferenceLoads: 0,
    oursLoadsOnly: 0,
    loadsWithV3: 0,
    differences: [],
  };
  for (const r of results) {
    if (r.compileError) continue;
    s.compiled++;
    const ref = r.reference?.ok ? "loads" : "fails";
    if (r.reference?.ok) s.referenceLoads++;
    const v3 = r.oursV3 === undefined ? "" : r.oursV3.ok ? "loads" : "fails";
    if (r.oursV3?.ok) s.loadsWithV3++;
    if (r.linkError) {
      s.differences.push({
        name: r.unit.name,
        reference: ref,
        ours: "link error",
        v3,
        cause: r.linkError,
      });
      continue;
    }
    s.linked++;
    if (r.reference?.ok && r.ours?.ok) s.oursLoadsWhereReferenceLoads++;
    else if (r.reference?.ok && r.ours && !r.ours.ok) {
      s.differences.push({
        name: r.unit.name,
        reference: "loads",
        ours: "fails",
        v3,
        cause: r.ours.cause,
      });
    } else if (!r.reference?.ok && r.ours?.ok) {
      s.oursLoadsOnly++;
      s.differences.push({
        name: r.unit.name,
        reference: "fails",
        ours: "loads",
        v3,
        cause: `clang's object: ${r.reference && !r.reference.ok ? r.reference.cause : "?"}`,
      });
    }
  }
  return s;
}

export function formatSummary(s: Summary): string {
  const lines = [
    "| programs | compiled | linked | clang's object loads | ours loads where clang's loads | of the rest, loads with --cpu v3 | ours loads, clang's does not |",
    "|---:|---:|---:|---:|---:|---:|---:|",
    `| ${s.programs} | ${s.compiled} | ${s.linked} | ${s.referenceLoads} | ${s.oursLoadsWhereReferenceLoads}/${s.referenceLoads} | ${s.loadsWithV3} | ${s.oursLoadsOnly} |`,
  ];
  if (s.differences.length > 0) {
    lines.push(
      "",
      "| program | clang's object | ours | ours with --cpu v3 | cause |",
      "|---|---|---|---|---|",
    );
    for (const d of s.differences) {
      lines.push(
        `| ${d.name} | ${d.reference} | ${d.ours} | ${d.v3} | ${d.cause.replaceAll("|", "\\|")} |`,
      );
    }
  }
  return lines.join("\n") + "\n";
}
