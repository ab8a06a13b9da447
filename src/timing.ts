// --time: wall time of each link phase, reported on stderr at the end.

import { host } from "../ffi/host.ts";

export class PhaseTimer {
  readonly phases: { name: string; ms: number }[] = [];

  run<T>(name: string, fn: () => T): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.add(name, performance.now() - start);
    }
  }

  add(name: string, ms: number): void {
    const existing = this.phases.find((p) => p.name === name);
    if (existing) existing.ms += ms;
    else this.phases.push({ name, ms });
  }

  report(): string {
    const total = this.phases.reduce((sum, p) => sum + p.ms, 0);
    const width = Math.max("peak RSS".length, ...this.phases.map((p) => p.name.length));
    const lines = this.phases.map((p) => `  ${p.name.padEnd(width)} ${p.ms.toFixed(1).padStart(9)} ms`);
    lines.push(`  ${"total".padEnd(width)} ${total.toFixed(1).padStart(9)} ms`);
    const peak = peakRssMiB();
    if (peak !== undefined) lines.push(`  ${"peak RSS".padEnd(width)} ${peak.toFixed(0).padStart(9)} MiB`);
    return `time:\n${lines.join("\n")}\n`;
  }
}

/** The process's peak resident memory so far (getrusage), where the runtime reports it. */
function peakRssMiB(): number | undefined {
  try {
    const kib = host.peakRssKiB();
    return typeof kib === "number" && kib > 0 ? kib / 1024 : undefined;
  } catch {
    return undefined;
  }
}
