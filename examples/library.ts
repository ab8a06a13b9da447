// The library API (src/mod.ts) in a few lines: read inputs into memory, link
// them, print the size of the BPF object. Runs under Bun and Deno alike:
//
//   bun examples/library.ts [--export SYM]... [-o OUT] INPUT...
//   deno run -A examples/library.ts [--export SYM]... [-o OUT] INPUT...
//
// For examples/xdp (after `make -C examples/xdp`):
//   bun examples/library.ts --export xdp_filter examples/xdp/build/{main.bc,classify.bc,libcsum.a}

import { readFileSync, writeFileSync } from "node:fs";
import { link, LinkerError, llvmInfo } from "../src/mod.ts";

const exports: string[] = [];
const paths: string[] = [];
let output: string | undefined;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--export") exports.push(args[++i]);
  else if (args[i] === "-o") output = args[++i];
  else paths.push(args[i]);
}
if (paths.length === 0) {
  console.error("usage: library.ts [--export SYM]... [-o OUT] INPUT...");
  process.exit(2);
}

try {
  // Inputs are plain bytes: they could as well come from the network or a build step.
  const inputs = paths.map((path) => ({ name: path, bytes: readFileSync(path) }));
  const { output: object, log } = await link(inputs, { exports, optLevel: "2", emit: "obj" });
  for (const line of log) console.error(line);
  if (output) writeFileSync(output, object);
  const { version, path } = await llvmInfo();
  console.log(
    `linked ${inputs.length} inputs into a BPF object of ${object.length} bytes (LLVM ${version}, ${path})`,
  );
} catch (e) {
  // A LinkerError's e.file / e.member / e.symbol say where; its message names them.
  if (!(e instanceof LinkerError) && !(e as NodeJS.ErrnoException).code) throw e;
  console.error(`error: ${(e as Error).message}`);
  process.exit(1);
}
