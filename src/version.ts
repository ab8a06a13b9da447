/** The version of this linker (kept in step with package.json and deno.json). */
export const VERSION = "0.1.0";

/** What `--version` prints, also the reproduce bundle's version.txt: this linker and the libLLVM in use. */
export function versionText(llvm: { versionString: string; path: string }): string {
  return `bpf-linker ${VERSION}\nLLVM ${llvm.versionString} (${llvm.path})\n`;
}
