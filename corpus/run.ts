// `bash scripts/corpus`: the kernel selftests corpus (corpus/selftests.ts), every
// program, and the table of verdicts. See README "C programs".
//
// Options: --jobs N (default 2), --only a,b (unit names), --linker "<command ...>"
// (default: this runtime running src/main.ts). Writes .cache/corpus/results.md
// and results.json, prints the table on stdout, progress on stderr.

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Corpus, corpusUnavailable, formatSummary, summarize } from "./selftests.ts";

const argv = process.argv.slice(2);
function option(name: string): string | undefined {
  const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
  if (i < 0) return undefined;
  return argv[i].includes("=") ? argv[i].slice(name.length + 1) : argv[i + 1];
}
if (argv.includes("--help") || argv.includes("-h")) {
  process.stdout.write(
    `usage: bash scripts/corpus [--jobs N] [--only name,name] [--linker "command args"]\n`,
  );
  process.exit(0);
}

const unavailable = corpusUnavailable();
if (unavailable) {
  process.stderr.write(`corpus: ${unavailable}\n`);
  process.exit(1);
}
const log = (line: string) => process.stderr.write(`corpus: ${line}\n`);
const start = performance.now();
const corpus = new Corpus({
  jobs: Number(option("--jobs") ?? 2),
  linker: option("--linker")?.split(/\s+/).filter((a) => a.length > 0),
  progress: log,
});
const only = option("--only")?.split(",");
const units = corpus.units().filter((u) => !only || only.includes(u.name));
log(`${units.length} programs; compiled inputs cached in ${corpus.buildDir}`);
const scratch = mkdtempSync(join(tmpdir(), "bpfl-corpus-"));
try {
  const results = await corpus.run(units, scratch);
  const summary = summarize(results);
  const seconds = Math.round((performance.now() - start) / 1000);
  const text = `${formatSummary(summary)}\n(${seconds} s, ${corpus.jobs} jobs)\n`;
  writeFileSync(join(corpus.cache, "results.md"), text);
  writeFileSync(join(corpus.cache, "results.json"), JSON.stringify(results, null, 1));
  process.stdout.write(text);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
