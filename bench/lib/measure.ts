// Running one contestant once: each step is a process started under
// `/usr/bin/time -f %M` (GNU time: the peak resident set of the process, KiB),
// its wall time taken around the spawn with a monotonic clock. A contestant
// made of several processes (the LLVM tool pipeline) gets the sum of their wall
// times and the largest of their peak RSS values.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { tmpdir } from "node:os";

export interface Step {
  cmd: string;
  args: string[];
  /**
   * A failure every `error:` line of which matches this still counts as a
   * finished run (llc-22 refusing calls to memory builtins, which the linker
   * reports at debug level and passes over; llc compiles everything first).
   */
  tolerate?: RegExp;
}

function tolerated(step: Step, status: number | null, stderr: string): boolean {
  if (!step.tolerate || status !== 1) return false;
  const errors = stderr.split("\n").filter((l) => l.startsWith("error:"));
  return errors.length > 0 && errors.every((l) => step.tolerate!.test(l));
}

export interface StepSample {
  ms: number;
  rssKiB: number | null;
}

export interface Sample {
  ok: boolean;
  ms: number;
  rssKiB: number | null;
  steps: StepSample[];
  /** stderr of the failing step, or of the last step (for --time). */
  stderr: string;
}

export const GNU_TIME = "/usr/bin/time";
export const haveGnuTime = existsSync(GNU_TIME);
const rssFile = join(tmpdir(), `bench-rss-${process.pid}`);

export function runSteps(steps: Step[], cwd: string): Sample {
  const out: StepSample[] = [];
  let stderr = "";
  for (const step of steps) {
    const [cmd, args] = haveGnuTime
      ? [GNU_TIME, ["-f", "%M", "-o", rssFile, step.cmd, ...step.args]]
      : [step.cmd, step.args];
    const start = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { cwd, stdio: ["ignore", "ignore", "pipe"], maxBuffer: 64 * 1024 * 1024 });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    stderr = r.stderr?.toString() ?? "";
    let rssKiB: number | null = null;
    if (haveGnuTime && existsSync(rssFile)) {
      // GNU time writes "Command exited with non-zero status N" before the value on failure.
      const lines = readFileSync(rssFile, "utf8").trim().split("\n");
      const v = Number(lines[lines.length - 1]);
      rssKiB = Number.isFinite(v) ? v : null;
      rmSync(rssFile, { force: true });
    }
    out.push({ ms, rssKiB });
    if ((r.status !== 0 || r.error) && !(r.error === undefined && tolerated(step, r.status, stderr))) {
      const why = r.error ? r.error.message : `exit ${r.status}`;
      return {
        ok: false,
        ms: NaN,
        rssKiB: null,
        steps: out,
        stderr: `${step.cmd.split("/").pop()} ${why}: ${stderr.trim().split("\n").slice(-6).join("\n")}`,
      };
    }
  }
  const rss = out.map((s) => s.rssKiB).filter((v): v is number => v !== null);
  return {
    ok: true,
    ms: out.reduce((a, s) => a + s.ms, 0),
    rssKiB: rss.length === out.length ? Math.max(...rss) : null,
    steps: out,
    stderr,
  };
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Phases printed by `--time` ("  name   12.3 ms" lines after "time:"). */
export function parsePhases(stderr: string): { name: string; ms: number }[] {
  const lines = stderr.split("\n");
  const start = lines.findIndex((l) => l.trim() === "time:");
  if (start < 0) return [];
  const phases: { name: string; ms: number }[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s+(.+?)\s+([\d.]+) ms\s*$/.exec(line);
    if (!m) break;
    if (m[1] === "total") continue; // the sum, not a phase
    phases.push({ name: m[1], ms: Number(m[2]) });
  }
  return phases;
}
