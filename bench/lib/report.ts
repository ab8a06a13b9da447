// The Markdown report: results table, targets, phase breakdown, scaling.

import type { CaseResult, ContestantResult, ScalingRow } from "../run.ts";

interface Results {
  date: string;
  command: string;
  runs: number;
  machine: Record<string, string | number>;
  spawnOverheadMs: number;
  verify: string;
  cases: CaseResult[];
  scaling?: { rows: ScalingRow[]; llvmLink: { members: number; ms: number }[]; runtime: string };
  elapsedS: number;
}

const SHORT: Record<string, string> = {
  compiled: "compiled",
  bun: "bun",
  deno: "deno",
  pipeline: "LLVM pipeline",
  "pipeline-members": "LLVM pipeline, only the needed members",
  "pipeline-all": "LLVM pipeline, handed the .a",
  llc: "llc alone",
  "dlopen-floor": "Bun executable that only dlopens libLLVM",
  "deno-dlopen-floor": "deno run that only dlopens libLLVM",
  "deno-modules-floor": "deno run that loads a link's modules and dlopens libLLVM",
  "llvm-floor": "Bun executable running only LLVM's phases",
  "deno-llvm-floor": "deno run of the LLVM-phases program",
  version: "compiled, --version",
};

function time(ms: number | undefined): string {
  if (ms === undefined || Number.isNaN(ms)) return "–";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms >= 100 ? 0 : 1)} ms`;
}

const num = (v: number | undefined, digits = 0) => (v === undefined || Number.isNaN(v) ? "–" : v.toFixed(digits));

function verdict(r: ContestantResult): string {
  if (r.error) return "–";
  if (!r.verify) return "not checked";
  if (r.verify.status === "loads") return `loads (${r.verify.detail})`;
  if (r.verify.status === "skipped") return `skipped: ${r.verify.detail}`;
  return `**rejected**: ${r.verify.detail.replace(/\|/g, "\\|")}`;
}

function resultsTable(res: Results): string[] {
  const out = [
    "| case | contestant | min | median | ratio to baseline | peak RSS MiB | kernel verifier (bpftool prog loadall) |",
    "|---|---|---:|---:|---:|---:|---|",
  ];
  for (const c of res.cases) {
    for (const r of c.contestants) {
      const name = `${SHORT[r.id] ?? r.id}${r.id === c.baseline ? " (baseline)" : ""}`;
      if (r.error) {
        out.push(`| ${c.title} | ${name} | failed | | | | ${r.error.split("\n")[0].replace(/\|/g, "\\|").slice(0, 120)} |`);
        continue;
      }
      out.push(
        `| ${c.title} | ${name} | ${time(r.minMs)} | ${time(r.medianMs)} | ${r.ratio === undefined ? "–" : `${r.ratio.toFixed(2)}x`} | ${num(r.peakRssMiB)} | ${verdict(r)} |`,
      );
    }
  }
  return out;
}

/** The phases that are LLVM's own work (or loading it), which no linker on the C API can avoid. */
const LLVM_FLOOR_PHASES = ["load libLLVM", "configure LLVM", "parse and link", "optimize", "codegen"];

/**
 * The best ratio a linker running this pipeline through LLVM could reach: the time of
 * LLVM's own phases in our --time run, over the baseline's median.
 */
function llvmFloor(r: ContestantResult, baseMs: number | undefined): string {
  if (!r.phases || !baseMs) return "–";
  const ms = r.phases.filter((p) => LLVM_FLOOR_PHASES.includes(p.name)).reduce((a, p) => a + p.ms, 0);
  return `${(ms / baseMs).toFixed(2)}x`;
}

function targetsTable(res: Results): string[] {
  const out = [
    "| case | contestant | time: ratio of medians (target) | LLVM's own phases / baseline | peak RSS: ours vs largest pipeline process + 64 MiB |",
    "|---|---|---|---:|---|",
  ];
  for (const c of res.cases) {
    const base = c.contestants.find((r) => r.id === c.baseline);
    const largest = base?.stepRssMiB ? Math.max(...base.stepRssMiB) : base?.peakRssMiB;
    for (const r of c.contestants.filter((x) => x.ours && !x.error)) {
      const t = c.timeTargetFor.includes(r.id)
        ? `${r.ratio?.toFixed(2) ?? "–"}x (≤ ${c.timeTarget}x): ${r.ratio !== undefined && r.ratio <= c.timeTarget ? "met" : "**missed**"}`
        : `${r.ratio?.toFixed(2) ?? "–"}x (no target)`;
      const limit = largest === undefined ? undefined : largest + 64;
      const m = r.peakRssMiB === undefined || limit === undefined
        ? "–"
        : `${r.peakRssMiB.toFixed(0)} vs ${limit.toFixed(0)} MiB: ${r.peakRssMiB <= limit ? "met" : "**missed**"}`;
      out.push(`| ${c.title} | ${SHORT[r.id] ?? r.id} | ${t} | ${llvmFloor(r, base?.medianMs)} | ${m} |`);
    }
  }
  return out;
}

/** What `extra` ms that Deno always adds mean for (c)'s `deno run` / compiled ratio, and its 1.15x target. */
function denoBound(compiledC: number, extra: number): string {
  const best = (compiledC + extra) / compiledC;
  return `so on (c) \`deno run\` / compiled cannot go below ${best.toFixed(2)}x ` +
    `(${best > 1.15 ? "the 1.15x target is below that floor" : "the floor is within the 1.15x target"})`;
}

/** Issue 14's targets that compare two of our own rows: Deno against the executable, start-up. */
function startupTargets(res: Results): string[] {
  const out: string[] = [];
  const median = (caseId: string, id: string) =>
    res.cases.find((c) => c.id === caseId)?.contestants.find((r) => r.id === id)?.medianMs;
  for (const caseId of ["c", "c-btf"]) {
    const deno = median(caseId, "deno"), compiled = median(caseId, "compiled");
    const title = res.cases.find((c) => c.id === caseId)?.title;
    if (deno === undefined || compiled === undefined) continue;
    const ratio = deno / compiled;
    const target = caseId === "c" ? ` (≤ 1.15x): ${ratio <= 1.15 ? "met" : "**missed**"}` : " (no target)";
    out.push(`- ${title}: \`deno run\` / compiled: ${ratio.toFixed(2)}x${target}`);
  }
  const denoFloor = median("d", "deno-dlopen-floor"), compiledFloor = median("d", "dlopen-floor");
  const compiledC = median("c", "compiled");
  if (denoFloor !== undefined && compiledFloor !== undefined && compiledC !== undefined) {
    const extra = denoFloor - compiledFloor;
    out.push(
      `- \`deno run\` start-up floor: a script that only dlopens libLLVM takes ${time(denoFloor)} under \`deno run\` ` +
        `against ${time(compiledFloor)} compiled: ${extra.toFixed(1)} ms before any module of ours loads, ` +
        denoBound(compiledC, extra),
    );
  }
  // Deno's start plus loading (not running) the modules a link loads: what a
  // `deno run` of the sources pays before its first phase, where the
  // executable pays its own start (the dlopen floor and ~1.5 ms of bundle).
  const denoModules = median("d", "deno-modules-floor");
  if (denoModules !== undefined && compiledFloor !== undefined && compiledC !== undefined) {
    const extra = denoModules - compiledFloor;
    out.push(
      `- \`deno run\` modules floor: loading the modules a link loads and dlopening libLLVM takes ${time(denoModules)} ` +
        `under \`deno run\` against ${time(compiledFloor)} for the compiled dlopen floor: ${extra.toFixed(1)} ms ` +
        `before the first phase, ` + denoBound(compiledC, extra),
    );
  }
  // The same LLVM work under both runtimes: what Deno adds on a real link
  // (start-up, its FFI, LLVM sharing two cores with V8's threads). Our own
  // work is no faster under Deno than compiled (the phase table), so the ratio
  // cannot go below 1 + that difference over the compiled link.
  const denoLlvm = median("c", "deno-llvm-floor"), compiledLlvm = median("c", "llvm-floor");
  if (denoLlvm !== undefined && compiledLlvm !== undefined && compiledC !== undefined) {
    const extra = denoLlvm - compiledLlvm;
    out.push(
      `- \`deno run\` LLVM-phases floor on (c): (c)'s LLVM work alone takes ${time(denoLlvm)} under \`deno run\` ` +
        `against ${time(compiledLlvm)} compiled (${extra.toFixed(1)} ms more), ` + denoBound(compiledC, extra),
    );
  }
  const version = median("d", "version"), floor = median("d", "dlopen-floor");
  if (version !== undefined && floor !== undefined) {
    const met = version <= floor + 10;
    out.push(
      `- \`dist/bpf-linker --version\`: ${time(version)} against the dlopen-only floor ${time(floor)} + 10 ms: ` +
        `${met ? "met" : "**missed**"} (${(version - floor).toFixed(1)} ms above the floor)`,
    );
  }
  return out;
}

/**
 * Where a target is below what the LLVM-phases floor (bench/floor/llvm_only.ts)
 * reaches, the floor's measurement is the proof that it cannot be met.
 */
function floorTargets(res: Results): string[] {
  const out: string[] = [];
  for (const c of res.cases) {
    const floor = c.contestants.find((r) => r.id === "llvm-floor" && !r.error);
    if (!floor) continue;
    const title = c.title.replace(/^(\([a-z-]+\)).*/, "$1");
    if (c.timeTargetFor.length > 0 && floor.ratio !== undefined) {
      const below = floor.ratio > c.timeTarget;
      out.push(
        `- ${title} LLVM-phases floor: ${floor.ratio.toFixed(2)}x (target ${c.timeTarget.toFixed(2)}x): ` +
          (below ? "the target is below what the floor executable reaches" : "the floor is within the target"),
      );
    }
    const base = c.contestants.find((r) => r.id === c.baseline);
    const largest = base?.stepRssMiB ? Math.max(...base.stepRssMiB) : base?.peakRssMiB;
    if (floor.peakRssMiB !== undefined && largest !== undefined) {
      const limit = largest + 64;
      out.push(
        `- ${title} peak RSS of the LLVM-phases floor: ${floor.peakRssMiB.toFixed(0)} MiB vs the ${limit.toFixed(0)} MiB target: ` +
          (floor.peakRssMiB > limit ? "the target is below what the floor executable reaches" : "the floor is within the target"),
      );
    }
  }
  return out;
}

/**
 * The linker's phases in pipeline order (discovery, and under Deno the start of
 * libLLVM's load, come before the inputs are read); names it adds later go after, as first seen.
 */
const PHASE_ORDER = [
  "load libLLVM", "read inputs", "select members", "configure LLVM", "parse and link", "link", "strip debug info",
  "internalize", "optimize", "sanitize", "prune debug info", "dump module", "codegen", "order BTF", "lint code", "lint BTF",
  "write",
];

function orderPhases(seen: string[]): string[] {
  const known = PHASE_ORDER.filter((n) => seen.includes(n));
  return [...known, ...seen.filter((n) => !PHASE_ORDER.includes(n))];
}

function phaseTable(res: Results): string[] {
  const seen: string[] = [];
  for (const c of res.cases) {
    for (const r of c.contestants) for (const p of r.phases ?? []) if (!seen.includes(p.name)) seen.push(p.name);
  }
  const names = orderPhases(seen);
  if (names.length === 0) return ["(no `--time` output)"];
  const out = [
    `| case | runtime | ${names.join(" | ")} | sum of phases | wall | wall − phases |`,
    `|---|---|${names.map(() => "---:").join("|")}|---:|---:|---:|`,
  ];
  for (const c of res.cases) {
    for (const r of c.contestants.filter((x) => x.phases && x.phases.length)) {
      const sum = r.phases!.reduce((a, p) => a + p.ms, 0);
      const cells = names.map((n) => {
        const p = r.phases!.find((x) => x.name === n);
        return p ? num(p.ms, p.ms < 10 ? 1 : 0) : "";
      });
      out.push(
        `| ${c.title} | ${SHORT[r.id] ?? r.id} | ${cells.join(" | ")} | ${num(sum)} | ${num(r.phaseWallMs)} | ${num((r.phaseWallMs ?? NaN) - sum)} |`,
      );
    }
  }
  return out;
}

function pipelineSteps(res: Results): string[] {
  const out: string[] = [];
  const names = ["llvm-link", "opt", "llc"];
  for (const c of res.cases) {
    for (const r of c.contestants.filter((x) => !x.ours && x.stepMedianMs)) {
      const steps = r.stepMedianMs!.map((ms, i) => `${names[i] ?? `step ${i + 1}`} ${time(ms)} / ${num(r.stepRssMiB?.[i])} MiB`);
      out.push(`- ${c.title}, ${SHORT[r.id] ?? r.id}: ${steps.join(", ")}`);
    }
  }
  return out;
}

function scalingTable(res: Results): string[] {
  const s = res.scaling;
  if (!s) return [];
  const seen: string[] = [];
  for (const row of s.rows) for (const p of row.phases) if (!seen.includes(p.name)) seen.push(p.name);
  const names = orderPhases(seen);
  const linkPhase = names.find((n) => /link/.test(n));
  const out = [
    `Case (b)'s program linked against the first 100, 200 and 500 members of the archive (${s.runtime}, \`--time\`, ` +
    "median of 3 after a warm-up, ms), with `--whole-archive` (every member linked) and by default (only the members " +
    "that resolve undefined symbols: 5, 10 and 25 of them; the chain leaves one symbol undefined in the shorter " +
    "archives). `llvm-link-22` handed the same archive (it links every member), for reference.",
    "",
    `| members | mode | ${names.join(" | ")} | wall |${linkPhase ? ` ${linkPhase} per member |` : ""} llvm-link-22 of the .a |`,
    `|---:|---|${names.map(() => "---:").join("|")}|---:|${linkPhase ? "---:|" : ""}---:|`,
  ];
  for (const row of s.rows) {
    if (row.error) {
      out.push(`| ${row.members} | ${row.mode} | failed: ${row.error.split("\n")[0].replace(/\|/g, "\\|").slice(0, 100)} |`);
      continue;
    }
    const cells = names.map((n) => {
      const p = row.phases.find((x) => x.name === n);
      return p ? num(p.ms, p.ms < 10 ? 1 : 0) : "";
    });
    const lp = row.phases.find((p) => p.name === linkPhase);
    const per = linkPhase ? ` ${lp && row.mode === "--whole-archive" ? `${((lp.ms * 1000) / row.members).toFixed(0)} µs` : ""} |` : "";
    const ll = s.llvmLink.find((l) => l.members === row.members);
    out.push(`| ${row.members} | ${row.mode} | ${cells.join(" | ")} | ${num(row.wallMs)} |${per} ${time(ll?.ms)} |`);
  }
  if (linkPhase) {
    const whole = s.rows.filter((r) => r.mode === "--whole-archive" && !r.error);
    const first = whole[0]?.phases.find((p) => p.name === linkPhase);
    if (first && whole.length > 1) {
      const growth = whole.slice(1).map((r) => {
        const p = r.phases.find((x) => x.name === linkPhase);
        return `${r.members / whole[0].members}x the members: ${p ? (p.ms / first.ms).toFixed(1) : "–"}x the time`;
      });
      out.push("", `${linkPhase} with --whole-archive, against ${whole[0].members} members: ${growth.join("; ")} (linear would be equal).`);
    }
  }
  return out;
}

export function renderMarkdown(res: Results): string {
  const m = res.machine;
  const lines: string[] = [];
  lines.push(
    `Measured ${res.date.slice(0, 10)} on ${m.cpu} (${m.cores} cores, ${m.memoryGiB} GiB), Linux ${m.kernel}; ` +
      `${m.llvm}; ${m.linker}, commit ${m.commit}; Bun ${m.bun}; ${m.deno}; ${m.rustc}. ` +
      `\`${res.command}\`: ${res.runs} runs per contestant after one warm-up, contestants alternating; ` +
      `times in ms or s (all phases in ms), peak RSS from GNU time (largest process for the pipeline). ` +
      `Spawning a process under /usr/bin/time costs ${res.spawnOverheadMs.toFixed(1)} ms here (included in every figure). ` +
      `Whole run: ${res.elapsedS.toFixed(0)} s.`,
    "",
    ...resultsTable(res),
    "",
  );
  for (const c of res.cases) {
    const ours = c.contestants.filter((r) => r.ours && r.sha256);
    const same = ours.length > 1 ? (new Set(ours.map((r) => r.sha256)).size === 1 ? "byte-identical" : "**differ**") : "";
    const others = c.contestants.filter((r) => !r.ours && r.id !== c.baseline && r.medianMs);
    const first = ours[0];
    const extra = first?.medianMs
      ? others.map((o) => `; ${SHORT[first.id]} / ${SHORT[o.id] ?? o.id}: ${(first.medianMs! / o.medianMs!).toFixed(2)}x`).join("")
      : "";
    lines.push(`- ${c.title}: ${c.notes.join("; ")}${same ? `; outputs of ${ours.map((r) => r.id).join("/")}: ${same}` : ""}${extra}.`);
  }
  lines.push(...pipelineSteps(res), "", "**Targets** (issues 5 and 14; reported, not enforced):", "", ...targetsTable(res), "");
  const startup = [...floorTargets(res), ...startupTargets(res)];
  if (startup.length) lines.push(...startup, "");
  lines.push("**Where our time goes** (`--time`, one extra run each; ms):", "", ...phaseTable(res), "");
  const sc = scalingTable(res);
  if (sc.length) lines.push("**Link phase against archive size:**", "", ...sc, "");
  return `${lines.join("\n")}`;
}
