/** The version of this linker (kept in step with package.json and deno.json). */
export const VERSION = "0.1.0";
