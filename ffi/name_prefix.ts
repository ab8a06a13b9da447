// The name filter of host.readDir, shared by both hosts (and the glob pattern
// host_deno.ts makes of it).

/** Whether `name` starts with `prefix` and then, if `nextOneOf` is given, one of its characters. */
export function hasPrefix(name: string, prefix: string, nextOneOf?: string): boolean {
  if (!name.startsWith(prefix)) return false;
  return nextOneOf === undefined || (name.length > prefix.length && nextOneOf.includes(name[prefix.length]));
}

/** `text` with glob(3)'s special characters escaped, to match itself. */
export function globEscape(text: string): string {
  return text.replace(/[\\*?[]/g, "\\$&");
}

/**
 * The glob(3) pattern of the same filter, or undefined where one would differ:
 * no prefix or a "." one (glob leaves out dot files unless asked), or class
 * characters that mean something inside brackets.
 */
export function prefixGlob(prefix: string, nextOneOf?: string): string | undefined {
  if (prefix === "" || prefix.startsWith(".")) return undefined;
  const literal = globEscape(prefix);
  if (nextOneOf === undefined) return `${literal}*`;
  if (nextOneOf === "" || /[\]\\^!]/.test(nextOneOf)) return undefined;
  // A "-" is literal only last in a bracket expression.
  const klass = nextOneOf.replaceAll("-", "") + (nextOneOf.includes("-") ? "-" : "");
  return `${literal}[${klass}]*`;
}
