// The start-up floor of case (d): a Bun executable that only dlopens libLLVM
// and asks its version, with no linking at all. `bun build --compile`d by the
// benchmark; what the compiled linker can at best approach on a tiny input.

import { dlopen } from "bun:ffi";

const path = process.argv[2];
if (!path) throw new Error("usage: dlopen_only <libLLVM path>");
const lib = dlopen(path, { LLVMGetVersion: { args: ["ptr", "ptr", "ptr"], returns: "void" } });
const version = new Uint32Array(3);
lib.symbols.LLVMGetVersion(version.subarray(0, 1), version.subarray(1, 2), version.subarray(2, 3));
if (version[0] === 0) process.exit(1);
