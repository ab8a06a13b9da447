// Are the objects valid? `bpftool prog loadall` has libbpf open the object and
// the kernel verifier check every program in it. Needs root and a mounted
// bpffs; elsewhere every check says why it was skipped. A verdict is
// reported, never enforced.

import { existsSync, readFileSync, rmSync } from "node:fs";
import { tryRun } from "./util.ts";

export interface Verdict {
  status: "loads" | "rejected" | "skipped";
  detail: string;
}

function bpffsMounted(): boolean {
  try {
    return readFileSync("/proc/mounts", "utf8").split("\n").some((l) => l.split(" ")[2] === "bpf" && l.split(" ")[1] === "/sys/fs/bpf");
  } catch {
    return false;
  }
}

export function canLoad(): string | null {
  if (typeof process.getuid === "function" && process.getuid() !== 0) return "not root";
  if (!existsSync("/usr/sbin/bpftool") && tryRun("bpftool", ["version"]).status !== 0) return "no bpftool";
  if (!bpffsMounted()) return "no bpffs at /sys/fs/bpf";
  return null;
}

/** The reason a load failed, in one line: the verifier's last word or libbpf's complaint. */
function reason(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const end = lines.findIndex((l) => l.includes("-- END PROG LOAD LOG --"));
  if (end > 0) {
    const prog = /prog '([^']+)': -- BEGIN/.exec(output)?.[1];
    for (let i = end - 1; i >= 0; i--) {
      const l = lines[i];
      if (/^(verification time|stack depth|processed \d+ insns|-- BEGIN)/.test(l)) continue;
      return `${prog ? `${prog}: ` : ""}${l}`.slice(0, 160);
    }
  }
  const libbpf = lines.find((l) => /^libbpf: .*(unsupported|failed|error|invalid|BTF)/i.test(l) && !/failed to load object/.test(l));
  return (libbpf ?? lines.find((l) => l.startsWith("Error")) ?? lines[0] ?? "unknown").slice(0, 160);
}

export function loadAll(object: string, pinName: string): Verdict {
  const why = canLoad();
  if (why) return { status: "skipped", detail: why };
  const pin = `/sys/fs/bpf/${pinName}`;
  rmSync(pin, { recursive: true, force: true });
  const r = tryRun("bpftool", ["prog", "loadall", object, pin]);
  let pinned: string[] = [];
  try {
    pinned = existsSync(pin) ? (tryRun("ls", [pin]).stdout.trim().split("\n").filter((x) => x)) : [];
  } finally {
    rmSync(pin, { recursive: true, force: true });
  }
  if (r.status === 0) return { status: "loads", detail: `${pinned.length} programs` };
  return { status: "rejected", detail: reason(r.stderr + r.stdout) };
}
