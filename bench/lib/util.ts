// Small helpers shared by the corpus generators and the runner: a seeded
// PRNG (the corpus must be the same on every machine), running tools, and
// the cache stamps that decide when a corpus is regenerated.

import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export const REPO = resolve(dirname(new URL(import.meta.url).pathname), "../..");
export const CACHE = join(REPO, ".cache/bench");

/** mulberry32: tiny, fast, deterministic. */
export class Rng {
  private state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  next(): number {
    let t = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface RunResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run a tool; throw with its stderr when it fails (corpus generation must not half-succeed). */
export function run(cmd: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    cwd: opts.cwd,
    env: opts.env ? { ...process.env, ...opts.env } : process.env,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} failed (exit ${r.status}):\n${(r.stderr ?? "").slice(0, 4000)}`);
  }
  return { status: r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/** Run a tool, returning its result whatever the exit status. */
export function tryRun(cmd: string, args: string[], opts: { cwd?: string } = {}): RunResult {
  const r = spawnSync(cmd, args, { cwd: opts.cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  return { status: r.error ? -1 : r.status, stdout: r.stdout ?? "", stderr: r.stderr ?? (r.error?.message ?? "") };
}

export function sha256(...parts: (string | Uint8Array)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/** The version line(s) of a tool, part of a corpus stamp. */
export function toolVersion(cmd: string, args = ["--version"]): string {
  const r = tryRun(cmd, args);
  return `${cmd}: ${(r.stdout + r.stderr).trim()}`;
}

/**
 * A cached corpus directory: `build(dir)` runs only when the stamp (hash of
 * the generator sources and the tool versions) differs from the one saved.
 * Generation happens in a temporary directory that replaces the old one.
 */
export async function cached(
  name: string,
  stampParts: string[],
  build: (dir: string) => void | Promise<void>,
): Promise<{ dir: string; fresh: boolean }> {
  const dir = join(CACHE, "corpus", name);
  const stampFile = join(dir, ".stamp");
  const stamp = sha256(...stampParts);
  if (existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return { dir, fresh: false };
  const tmp = `${dir}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await build(tmp);
  writeFileSync(join(tmp, ".stamp"), stamp);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  run("mv", [tmp, dir]);
  return { dir, fresh: true };
}

/** Source text of files (for stamps): the generator and everything it depends on. */
export function sourcesOf(...paths: string[]): string[] {
  return paths.map((p) => `${p}\n${readFileSync(join(REPO, p), "utf8")}`);
}

export function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Run `fn` over items with at most `jobs` child processes at once (async spawn). */
export async function parallel<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.max(1, jobs) }, async () => {
    while (next < items.length) {
      const item = items[next++];
      await fn(item);
    }
  });
  await Promise.all(workers);
}

/** Async `run` (for compiling the corpus on every core). */
export async function runAsync(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<void> {
  const { spawn } = await import("node:child_process");
  await new Promise<void>((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", (e) => reject(new Error(`${cmd}: ${e.message}`)));
    child.on("close", (code) => {
      if (code === 0) resolvePromise();
      else reject(new Error(`${cmd} ${args.join(" ")} failed (exit ${code}):\n${stderr.slice(0, 4000)}`));
    });
  });
}

export const JOBS = Math.max(1, (await import("node:os")).availableParallelism?.() ?? 2);
