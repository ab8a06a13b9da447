// libbpf's multi-file convention for the `license` and `version` sections: every
// C file of a program may define them (`char LICENSE[] SEC("license") = "GPL"`).
// As libbpf's static linker (`bpftool gen object`) does, identical definitions
// from several inputs become one (the first stays) and different contents are an
// error naming both inputs. Applied to each module as it is parsed, before LLVM
// links it, so LLVM never sees two strong definitions of `LICENSE`.

import type { Context } from "../ffi/context.ts";
import { Linkage, type Module } from "../ffi/module.ts";
import { LinkError } from "./errors.ts";
import { describeInput, type ModuleInput } from "./input/files.ts";

const MERGED_SECTIONS: ReadonlySet<string> = new Set(["license", "version"]);

interface FirstDefinition {
  name: string;
  content: string;
  input: ModuleInput;
}

/** The first definition of each merged section, per link (one Context per link). */
const firstBySection = new WeakMap<Context, Map<string, FirstDefinition>>();

/** "[4 x i8] c\"GPL\\00\"" -> "GPL": the text shown in errors. */
function shown(content: string): string {
  const text = /c"((?:[^"\\]|\\[0-9A-Fa-f]{2}|\\\\)*)"/.exec(content)?.[1];
  return text === undefined ? content : `"${text.replace(/(\\00)+$/, "")}"`;
}

/**
 * Make `module`'s license/version definitions that repeat an earlier input's
 * identical one give way to it: they take the first one's name and become
 * weak, so LLVM keeps the first (SEC() marks them used, so a copy under its own
 * name would stay in the section).
 */
export function mergeSectionData(context: Context, module: Module, input: ModuleInput): Module {
  let first = firstBySection.get(context);
  const globals = module.globalVariables().filter((g) =>
    MERGED_SECTIONS.has(g.section) && !g.isDeclaration
  );
  if (globals.length === 0) return module;
  const contents = module.initializerTexts(new Set(globals.map((g) => g.name)));
  for (const global of globals) {
    const section = global.section;
    const content = contents.get(global.name);
    if (content === undefined) continue;
    if (!first) firstBySection.set(context, first = new Map());
    const earlier = first.get(section);
    if (!earlier) {
      first.set(section, { name: global.name, content, input });
      continue;
    }
    if (earlier.content !== content) {
      throw new LinkError(
        `section '${section}' is ${shown(content)} here but ${shown(earlier.content)} in ${
          describeInput(earlier.input)
        }; ` +
          `every input that defines it must give the same contents`,
        { ...input, symbol: global.name },
      );
    }
    // Another global of this module may already have the first one's name (unlikely):
    // then leave this one alone rather than collide.
    if (
      global.name !== earlier.name && module.globalVariables().some((g) => g.name === earlier.name)
    ) continue;
    global.name = earlier.name;
    global.linkage = Linkage.WeakAny;
    global.visibility = 0;
  }
  return module;
}
