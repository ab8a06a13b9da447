// --print-llvm: the libLLVM discovery survey (ffi/survey.ts) and the LLVM
// version that produced each input module, as text:
//
//   libLLVM candidates, in discovery order (LLVM 19 or newer; the inputs need 22):
//     1. /usr/lib/llvm-14/lib/libLLVM-14.0.6.so [llvm-config] 14.0.6 (file name): too old (...)
//     2. /usr/lib/llvm-22/lib/libLLVM.so [system] 22.1.8: chosen
//     3. /usr/lib/llvm-19/lib/libLLVM.so [system] 19.1.7: usable, but older than the input bitcode (LLVM 22)
//   chosen: /usr/lib/llvm-22/lib/libLLVM.so (LLVM 22.1.8)
//
//   inputs (the LLVM that wrote each module):
//     main.bc: LLVM 22.1.8 (producer 'LLVM22.1.8')

import { type LlvmSurvey, surveyLlvm } from "../../ffi/survey.ts";
import { readBitcodeProducer } from "../input/bitcode_producer.ts";
import { LinkerError } from "../errors.ts";
import { describeInput, type InputFile, type ModuleInput, modulesOf } from "../input/files.ts";
import { newestProducerMajor } from "../link.ts";
import { Logger, MemorySink } from "../log.ts";
import { VERSION } from "../version.ts";

/** What the report says about one input file. */
export type InputReport =
  | { path: string; modules: ModuleInput[]; notes: string[] }
  | { path: string; error: string };

function producerText(input: ModuleInput): string {
  if (input.format === "ir") return "LLVM IR text (it records no producer)";
  const producer = readBitcodeProducer(input.bytes);
  if (!producer) return "bitcode without a readable producer (LLVM older than 3.8, or damaged)";
  const v = producer.llvmVersion;
  return v
    ? `LLVM ${v.major}.${v.minor}.${v.patch} (producer '${producer.producer}')`
    : `producer '${producer.producer}' (no LLVM version in it)`;
}

/** One input of the report: its name, and how to read it (the command maps a file; the library has the bytes). */
export interface ReportInput {
  path: string;
  read(): InputFile;
}

/**
 * The --print-llvm report, for the command and the library alike: the survey of
 * every libLLVM candidate (preferring the newest producer of the inputs, as
 * loading does) and the LLVM that wrote each input module. An input that
 * cannot be read is a line of the report, not an error.
 */
export async function llvmReport(
  inputs: ReportInput[],
  llvmPath?: string,
): Promise<{ text: string; survey: LlvmSurvey }> {
  const reports: InputReport[] = inputs.map(({ path, read }) => {
    try {
      const notes = new MemorySink();
      const modules = modulesOf(read(), new Logger("info", notes));
      return { path, modules, notes: notes.lines.map((line) => line.replace(/^info: /, "")) };
    } catch (e) {
      if (e instanceof LinkerError) return { path, error: e.detail };
      throw e;
    }
  });
  const modules = reports.flatMap((r) => ("modules" in r ? r.modules : []));
  const survey = await surveyLlvm({ explicitPath: llvmPath, preferMajor: newestProducerMajor(modules) });
  return { text: formatLlvmReport(survey, reports, `bpf-linker ${VERSION}`), survey };
}

export function formatLlvmReport(
  survey: LlvmSurvey,
  inputs: InputReport[],
  header: string,
): string {
  const lines = [header, ""];
  const need = survey.preferMajor !== undefined ? `; the inputs need ${survey.preferMajor}` : "";
  lines.push(`libLLVM candidates, in discovery order (LLVM ${survey.minMajor} or newer${need}):`);
  if (survey.entries.length === 0) lines.push("  (none found: set --llvm or BPF_LINKER_LLVM)");
  survey.entries.forEach((e, i) => {
    const version = e.version ? ` ${e.version}${e.versionFromName ? " (file name)" : ""}` : "";
    const reason = e.verdict === "rejected" ? `rejected: ${e.reason}` : e.reason;
    lines.push(`  ${i + 1}. ${e.path} [${e.source}]${version}: ${reason}`);
  });
  const chosen = survey.chosen;
  lines.push(
    chosen
      ? `chosen: ${chosen.path} (LLVM ${chosen.version})`
      : "chosen: none: no usable libLLVM (install LLVM 19 or newer, or set --llvm or BPF_LINKER_LLVM)",
  );
  if (inputs.length > 0) {
    lines.push("", "inputs (the LLVM that wrote each module):");
    for (const input of inputs) {
      if ("error" in input) {
        lines.push(`  ${input.path}: ${input.error}`);
        continue;
      }
      if (input.modules.length === 0 && input.notes.length === 0) {
        lines.push(`  ${input.path}: no modules`);
      }
      for (const module of input.modules) {
        lines.push(`  ${describeInput(module)}: ${producerText(module)}`);
      }
      for (const note of input.notes) lines.push(`  ${note}`);
    }
    if (
      chosen && survey.preferMajor !== undefined &&
      Number(chosen.version?.split(".")[0]) < survey.preferMajor
    ) {
      lines.push(
        `warning: the chosen libLLVM (${chosen.version}) cannot read bitcode from LLVM ${survey.preferMajor}`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}
