// POSIX path helpers with the results of Node's path.posix, for the calls the
// linker makes: node:path would load Deno's Node compatibility layer (ffi/host.ts).

import { host } from "./host.ts";

/** Separator of PATH-like lists. */
export const delimiter = ":";

/** `.` and `..` resolved, repeated slashes folded; a trailing slash is kept. */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = path.startsWith("/");
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment !== "..") segments.push(segment);
    else if (segments.length > 0 && segments[segments.length - 1] !== "..") segments.pop();
    else if (!absolute) segments.push(".."); // above the root is the root
  }
  const trailing = path.endsWith("/") ? "/" : "";
  const body = segments.join("/");
  if (absolute) return `/${body}${body && trailing}`;
  return body === "" ? `.${trailing}` : body + trailing;
}

export function join(...parts: string[]): string {
  const joined = parts.filter((p) => p !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** The absolute, normalized path of `parts` joined, the last absolute one first; else from the cwd. */
export function resolve(...parts: string[]): string {
  let path = "";
  for (let i = parts.length - 1; i >= 0 && !path.startsWith("/"); i--) {
    if (parts[i] !== "") path = path === "" ? parts[i] : `${parts[i]}/${path}`;
  }
  if (!path.startsWith("/")) path = path === "" ? host.cwd() : `${host.cwd()}/${path}`;
  const normal = normalize(path);
  return normal.length > 1 && normal.endsWith("/") ? normal.slice(0, -1) : normal;
}

/** Everything before the last segment (trailing slashes ignored). */
export function dirname(path: string): string {
  let i = path.length - 1;
  while (i >= 1 && path[i] === "/") i--; // trailing slashes
  while (i >= 1 && path[i] !== "/") i--; // the last segment
  if (i < 1) return path.startsWith("/") ? "/" : ".";
  return i === 1 && path[0] === "/" ? "//" : path.slice(0, i);
}

/** The last segment (trailing slashes ignored). */
export function basename(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}
