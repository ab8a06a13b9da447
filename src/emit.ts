// Output (docs/ARCHITECTURE.md#pipeline: dump module, codegen, write): IR dump, code generation, and writing the file
// atomically so a failed or killed link never leaves a partial output.

import { host, type HostError } from "../ffi/host.ts";
import { basename, dirname, join } from "../ffi/path.ts";
import type { Module } from "../ffi/module.ts";
import type { TargetMachine } from "../ffi/target_machine.ts";
import { LlvmError, OutputError } from "./errors.ts";
import { withLlvm } from "./with_llvm.ts";
import type { EmitKind } from "./options.ts";

export function emitOutput(module: Module, machine: TargetMachine, kind: EmitKind): Uint8Array {
  switch (kind) {
    case "llvm-ir":
      return new TextEncoder().encode(module.toIrText());
    case "llvm-bc":
      return withLlvm(() => module.toBitcode(), (message) => new LlvmError(`cannot write bitcode: ${message}`));
    default:
      return withLlvm(
        () => machine.emit(module, kind),
        (message) => new LlvmError(`code generation failed: ${message}`),
      );
  }
}

/** --dump-module: a file path, or a directory that gets `<output name>.ll`. */
export function dumpModulePath(path: string, outputName: string): string {
  let isDirectory = false;
  try {
    isDirectory = host.stat(path).isDirectory;
  } catch {
    // does not exist yet: a file path
  }
  return isDirectory ? join(path, `${basename(outputName).replace(/\.[^.]*$/, "")}.ll`) : path;
}

/** Temp files not yet renamed, removed if LLVM aborts the process. */
const pendingTemps = new Set<string>();

export function removePendingOutputs(): void {
  for (const temp of pendingTemps) {
    try {
      host.unlink(temp);
    } catch {
      // already gone
    }
  }
  pendingTemps.clear();
}

/**
 * Write `bytes` to `path` via a temporary file in the same directory and a
 * rename, so readers (and parallel builds) only ever see a complete file (or,
 * for a moment before the rename, none).
 */
export function writeFileAtomically(path: string, bytes: Uint8Array): void {
  const temp = join(dirname(path), `.${basename(path)}.${host.pid}.${Math.random().toString(36).slice(2)}.tmp`);
  pendingTemps.add(temp);
  try {
    host.writeNewFile(temp, bytes);
    // The old file goes first: ext4 writes back at once a file renamed over
    // another (auto_da_alloc; ~1 ms for a CO-RE object), and a file renamed to
    // a free name later, as any. Never a partial file at `path` either way;
    // a failure here is the rename's to report.
    try {
      host.unlink(path);
    } catch {
      // absent, or a directory: the rename says
    }
    host.rename(temp, path);
    pendingTemps.delete(temp);
  } catch (e) {
    pendingTemps.delete(temp);
    try {
      host.unlink(temp);
    } catch {
      // never created
    }
    throw new OutputError(`cannot write output: ${writeFailure(e, path)}`, { file: path });
  }
}

/** Why writing `path` failed, in words about `path` (not the temporary name). */
function writeFailure(e: unknown, path: string): string {
  switch ((e as HostError).code) {
    case "ENOENT":
    case "ENOTDIR":
      return `directory '${dirname(path)}' does not exist`;
    case "EACCES":
    case "EPERM":
      return `permission denied in '${dirname(path)}'`;
    case "EISDIR":
      return "it is a directory";
    case "ENOSPC":
      return "no space left on the device";
    case "EROFS":
      return "read-only file system";
    default:
      return (e as Error).message;
  }
}
