// A minimal tar writer (POSIX ustar, with a pax `path` record for names that
// do not fit the ustar name/prefix fields). Regular files and directories only;
// fixed owner and time, so the same entries always give the same bytes.

export interface TarEntry {
  /** Relative path inside the archive, `/`-separated; a directory ends in `/`. */
  path: string;
  /** File contents; absent for a directory. */
  data?: Uint8Array;
  /** Permission bits; default 0o644 for files, 0o755 for directories. */
  mode?: number;
}

const BLOCK = 512;
const encoder = new TextEncoder();

function octal(value: number, width: number): string {
  // `width - 1` digits and a NUL, as GNU tar writes them.
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

function putString(
  block: Uint8Array,
  offset: number,
  width: number,
  text: string | Uint8Array,
): void {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  if (bytes.length > width) throw new Error(`tar header field too long: ${text}`);
  block.set(bytes, offset);
}

/** Split a path into ustar (prefix, name), or undefined when it does not fit. */
function splitUstarPath(path: Uint8Array): { prefix: Uint8Array; name: Uint8Array } | undefined {
  if (path.length <= 100) return { prefix: new Uint8Array(0), name: path };
  for (let i = path.length - 1; i > 0; i--) {
    if (path[i] !== 0x2f) continue; // '/'
    const prefix = path.subarray(0, i);
    const name = path.subarray(i + 1);
    if (prefix.length <= 155 && name.length <= 100 && name.length > 0) return { prefix, name };
  }
  return undefined;
}

function header(
  path: Uint8Array,
  size: number,
  mode: number,
  type: "0" | "5" | "x",
): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const split = splitUstarPath(path) ?? { prefix: new Uint8Array(0), name: path.subarray(0, 100) };
  putString(block, 0, 100, split.name);
  putString(block, 100, 8, octal(mode, 8));
  putString(block, 108, 8, octal(0, 8)); // uid
  putString(block, 116, 8, octal(0, 8)); // gid
  if (size >= 8 ** 11) throw new Error("tar entry too large");
  putString(block, 124, 12, octal(size, 12));
  putString(block, 136, 12, octal(0, 12)); // mtime
  block.fill(0x20, 148, 156); // checksum field counts as spaces
  block[156] = type.charCodeAt(0);
  putString(block, 257, 6, "ustar\0");
  putString(block, 263, 2, "00");
  putString(block, 265, 32, "root");
  putString(block, 297, 32, "root");
  putString(block, 345, 155, split.prefix);
  let sum = 0;
  for (const b of block) sum += b;
  putString(block, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return block;
}

/** A pax extended header record: "<len> path=<value>\n", len counting itself. */
function paxRecord(key: string, value: Uint8Array): Uint8Array {
  const body = [...encoder.encode(` ${key}=`), ...value, 0x0a];
  let length = body.length + 1;
  while (String(length).length + body.length > length) length++;
  return Uint8Array.from([...encoder.encode(String(length)), ...body]);
}

function padded(data: Uint8Array): Uint8Array[] {
  const rest = data.length % BLOCK;
  return rest === 0 ? [data] : [data, new Uint8Array(BLOCK - rest)];
}

/** The bytes of a tar archive holding `entries`, in order. */
export function makeTar(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const isDirectory = entry.data === undefined;
    const path = encoder.encode(
      isDirectory && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path,
    );
    if (!splitUstarPath(path)) {
      const record = paxRecord("path", path);
      parts.push(
        header(encoder.encode("PaxHeader/long-name"), record.length, 0o644, "x"),
        ...padded(record),
      );
    }
    const data = entry.data ?? new Uint8Array(0);
    const mode = entry.mode ?? (isDirectory ? 0o755 : 0o644);
    parts.push(header(path, data.length, mode, isDirectory ? "5" : "0"), ...padded(data));
  }
  parts.push(new Uint8Array(BLOCK * 2));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
