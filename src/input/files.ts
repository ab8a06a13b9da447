// Reading inputs: files from disk (or memory), archives opened, and every
// module-bearing piece turned into a ModuleInput in command-line order.
// Detection is by content (src/input/kind.ts), never by file name.

import { host, type HostError } from "../../ffi/host.ts";
import { readArchive } from "./archive.ts";
import { InputError } from "../errors.ts";
import { detectInputKind, extractElfBitcode, isElfWithoutContents } from "./kind.ts";
import type { Logger } from "../log.ts";

/** A top-level input: a path and its bytes. */
export interface InputFile {
  path: string;
  bytes: Uint8Array;
}

export type ModuleFormat = "bitcode" | "ir";

/** One module to parse: bitcode or IR text, with where it came from. */
export interface ModuleInput {
  file: string;
  member?: string;
  format: ModuleFormat;
  /** A view into the file's bytes (no copy). */
  bytes: Uint8Array;
  /**
   * For a bitcode archive member: the symbols the archive's index says it
   * defines (written by llvm-ar or rustc from the bitcode itself); undefined when
   * the index has no entry for it. Lets selection skip reading members no one needs.
   */
  indexedDefinitions?: readonly string[];
}

/** `file` or `file(member)`, as errors and logs name an input. */
export function describeInput(input: { file: string; member?: string }): string {
  return input.member === undefined ? input.file : `${input.file}(${input.member})`;
}

/** Maps a file into memory without copying it, or gives undefined (ffi/backend.ts mapFile). */
export type FileMapper = (path: string) => Uint8Array | undefined;

/**
 * Read one input file: mapped into memory when `map` can (big rlibs cost no
 * copy, and LLVM reads the mapping in place), else read. A missing or
 * unreadable file is an InputError naming it.
 */
export function readInputFile(path: string, map?: FileMapper): InputFile {
  try {
    return { path, bytes: map?.(path) ?? host.readFile(path) };
  } catch (e) {
    const code = (e as HostError).code;
    const reason = code === "ENOENT"
      ? "no such file"
      : code === "EISDIR"
      ? "is a directory, not an input file"
      : code === "EACCES"
      ? "permission denied"
      : (e as Error).message;
    throw new InputError(reason, { file: path });
  }
}

const UNKNOWN_FORMAT =
  "unknown input format (expected LLVM bitcode, LLVM IR, an ELF object with embedded bitcode, or an ar archive)";

/** The modules an input contributes, in order. Skipped pieces are logged. */
export function modulesOf(input: InputFile, log: Logger): ModuleInput[] {
  const file = input.path;
  switch (detectInputKind(input.bytes)) {
    case "bitcode":
      return [{ file, format: "bitcode", bytes: input.bytes }];
    case "ir":
      return [{ file, format: "ir", bytes: input.bytes }];
    case "elf": {
      const bitcode = extractElfBitcode(input.bytes, { file });
      if (bitcode) return [{ file, format: "bitcode", bytes: bitcode }];
      // rustc adds a symbols.o of undefined symbols to every link: nothing to
      // link and nothing lost, so not worth a warning. Code or data is.
      if (isElfWithoutContents(input.bytes, { file })) {
        log.info(`${file}: ELF object with symbols only (no code, data or bitcode), skipped`);
      } else {
        log.warn(`${file}: ELF object without embedded bitcode (.llvmbc), skipped`);
      }
      return [];
    }
    case "macho":
      log.info(`${file}: Mach-O object, skipped`);
      return [];
    case "archive":
      return archiveModules(input, log);
    case "thin-archive":
      throw new InputError("thin archives are not supported; create the archive without 'T'", { file });
    default:
      throw new InputError(UNKNOWN_FORMAT, { file });
  }
}

function isRustMetadata(member: string): boolean {
  return member.endsWith(".rmeta");
}

function archiveModules(input: InputFile, log: Logger): ModuleInput[] {
  const file = input.path;
  const out: ModuleInput[] = [];
  const archive = readArchive(input.bytes, file);
  const indexed = new Map<number, string[]>();
  for (const { name, memberOffset } of archive.symbols) {
    const names = indexed.get(memberOffset);
    if (names) names.push(name);
    else indexed.set(memberOffset, [name]);
  }
  for (const member of archive.members) {
    const where = `${file}(${member.name})`;
    switch (detectInputKind(member.data)) {
      case "bitcode":
        out.push({
          file,
          member: member.name,
          format: "bitcode",
          bytes: member.data,
          // Bitcode in a Darwin wrapper is indexed under Mach-O names ("_f"), not IR names.
          indexedDefinitions: member.data[0] === 0x42 ? indexed.get(member.offset) : undefined,
        });
        break;
      case "ir":
        out.push({ file, member: member.name, format: "ir", bytes: member.data });
        break;
      case "elf": {
        const bitcode = extractElfBitcode(member.data, { file, member: member.name });
        if (bitcode) out.push({ file, member: member.name, format: "bitcode", bytes: bitcode });
        // rustc's crate metadata is an ELF object on BPF targets: expected, not worth a warning.
        else if (isRustMetadata(member.name)) log.info(`${where}: Rust crate metadata, skipped`);
        else log.warn(`${where}: ELF object without embedded bitcode (.llvmbc), skipped`);
        break;
      }
      default:
        // e.g. rustc's lib.rmeta, Mach-O metadata, nested archives
        log.info(`${where}: not LLVM bitcode, skipped`);
    }
  }
  return out;
}
