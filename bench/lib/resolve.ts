// Which archive members a classic (`ld`) link uses, for the LLVM tool
// pipeline's side of cases (b) and (c): llvm-link is handed exactly those
// members (extracted beforehand), so both sides link the same code.
//
// Symbols come from `llvm-nm-22 -A -P` (bitcode is read by LLVM itself).
// Semantics, as this project's linker documents them (src/input/member_selection.ts):
// exported symbols are roots; a member is loaded when it defines a symbol
// that is still undefined or a root; all archives are searched again until
// nothing changes (as one --start-group). Weak undefined references do not
// pull members, as in ld. Members that nm cannot read (rustc's lib.rmeta)
// hold no bitcode and are left out. Not modelled: members kept for
// llvm.used / module asm (nm does not show those; the corpora have none).

import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run, tryRun } from "./util.ts";

interface Syms {
  defined: Set<string>;
  undefined: Set<string>;
}

/** Symbols of every member (archive) or of the file itself (object), in order. */
function readSymbols(path: string): Map<string, Syms> {
  const out = new Map<string, Syms>();
  const r = tryRun("llvm-nm-22", ["-A", "-P", path]);
  const isArchive = path.endsWith(".a") || path.endsWith(".rlib");
  for (const line of r.stdout.split("\n")) {
    const m = /^(.*?): (\S+) ([A-Za-z?-])/.exec(line);
    if (!m) continue;
    const [, where, name, type] = m;
    // Archive members print as "archive[member]" (with -P) or "archive:member".
    const key = !isArchive ? "" : where.endsWith("]") ? where.slice(path.length + 1, -1) : where.slice(path.length + 1);
    let s = out.get(key);
    if (!s) out.set(key, (s = { defined: new Set(), undefined: new Set() }));
    if (type === "U") s.undefined.add(name);
    else if (type === "w" || type === "v") continue;
    else if (/[A-Z]/.test(type) || type === "u" || type === "i") s.defined.add(name);
  }
  return out;
}

export interface Resolution {
  /** Per archive (in input order): the members used, in archive order. */
  members: Map<string, string[]>;
  /** Symbols still undefined after the link (calls left to the loader). */
  unresolved: string[];
}

/**
 * `inputs` are top-level objects and archives (paths), in order; objects
 * that are not bitcode (nm finds nothing) simply contribute nothing.
 */
export function resolveMembers(inputs: string[], roots: string[]): Resolution {
  const defined = new Set<string>();
  const wanted = new Set<string>(roots);
  const archives: { path: string; members: [string, Syms][]; loaded: Set<string> }[] = [];
  for (const path of inputs) {
    const syms = readSymbols(path);
    if (path.endsWith(".a") || path.endsWith(".rlib")) {
      archives.push({ path, members: [...syms.entries()], loaded: new Set() });
    } else {
      for (const s of syms.values()) {
        for (const d of s.defined) defined.add(d);
        for (const u of s.undefined) wanted.add(u);
      }
    }
  }
  let changed = true;
  while (changed) {
    changed = false;
    for (const a of archives) {
      for (const [name, s] of a.members) {
        if (a.loaded.has(name)) continue;
        let needed = false;
        for (const d of s.defined) {
          if (wanted.has(d) && !defined.has(d)) {
            needed = true;
            break;
          }
        }
        if (!needed) continue;
        a.loaded.add(name);
        changed = true;
        for (const d of s.defined) defined.add(d);
        for (const u of s.undefined) wanted.add(u);
      }
    }
  }
  const members = new Map<string, string[]>();
  for (const a of archives) members.set(a.path, a.members.map(([n]) => n).filter((n) => a.loaded.has(n)));
  const unresolved = [...wanted].filter((w) => !defined.has(w) && !roots.includes(w)).sort();
  return { members, unresolved };
}

/** Extract every member of `archive` into `dir` (once; llvm-ar x keeps the names). */
export function extractArchive(archive: string, dir: string): void {
  if (existsSync(dir)) return;
  rmSync(`${dir}.tmp`, { recursive: true, force: true });
  mkdirSync(`${dir}.tmp`, { recursive: true });
  run("llvm-ar-22", ["x", archive], { cwd: `${dir}.tmp` });
  run("mv", [`${dir}.tmp`, dir]);
}

export function memberPath(dir: string, member: string): string {
  return join(dir, member);
}
