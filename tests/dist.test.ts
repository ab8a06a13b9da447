// The single executable (dist/bpf-linker from `bun build --compile`) as
// a user gets it: copied alone into an empty directory and run with nothing in
// the environment but PATH. It must link what the script entry links, byte for
// byte, into objects the kernel loads and runs; choose LLVM 19 on request; and
// fail like the script entry. Also: the libLLVM of a rustup toolchain.

import assert from "node:assert/strict";
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { test } from "node:test";
import { listCandidates } from "../ffi/discover.ts";
import {
  assertXdpVerdicts,
  builtExecutable,
  compileXdpExample,
  fileTempDir,
  linkerCommand,
  LLVM_BIN,
  MINIMAL_ENV,
  needsBpf,
  runLinker,
  runWithEnv,
  tool,
} from "./support/tools.ts";

const dir = fileTempDir("bpfl-dist-");

const exe = builtExecutable();
const ex22 = compileXdpExample(join(dir, mkdir("x22")));
const ex19 = compileXdpExample(join(dir, mkdir("x19")), "clang-19");

function mkdir(name: string): string {
  tool("mkdir", ["-p", join(dir, name)]);
  return name;
}

/** The executable, run from the scratch directory with PATH as its whole environment. */
function runExe(args: string[]) {
  return runWithEnv(exe, args, { cwd: dir, env: MINIMAL_ENV });
}

/**
 * The script entry, with the executable's environment as far as discovery goes:
 * no rustup toolchain (the executable has no HOME), which it would otherwise
 * prefer at the same LLVM major. HOME stays, for Deno's cache.
 */
function runScript(args: string[]) {
  const { command, args: prefix } = linkerCommand();
  return runWithEnv(command, [...prefix, ...args], {
    cwd: dir,
    env: { ...MINIMAL_ENV, HOME: process.env.HOME ?? "/root", RUSTUP_HOME: join(dir, "no-rustup") },
  });
}

/** Link with the executable and with the script entry; both must succeed. Returns both outputs. */
function linkBoth(name: string, args: string[]): { exeOut: string; scriptOut: string } {
  const exeOut = join(dir, `${name}.exe.out`);
  const scriptOut = join(dir, `${name}.script.out`);
  const a = runExe([...args, "-o", exeOut]);
  assert.equal(a.status, 0, `executable failed (${a.status}, signal ${a.signal}):\n${a.stderr}`);
  assert.equal(a.stderr, "", "a clean link prints nothing");
  const b = runScript([...args, "-o", scriptOut]);
  assert.equal(b.status, 0, `script entry failed:\n${b.stderr}`);
  return { exeOut, scriptOut };
}

function assertSameBytes(a: string, b: string) {
  const x = readFileSync(a);
  const y = readFileSync(b);
  assert.ok(x.length > 0, `${a} is empty`);
  assert.ok(
    Buffer.compare(x, y) === 0,
    `${basename(a)} (${x.length} bytes) differs from ${basename(b)} (${y.length} bytes)`,
  );
}

// ------------------------------------------------------------------ the file itself

test("the executable stands alone: one file in an empty directory, needing only glibc", () => {
  assert.deepEqual(readdirSync(dirname(exe)), ["bpf-linker"]);
  const size = statSync(exe).size;
  process.stderr.write(`dist: dist/bpf-linker is ${(size / 2 ** 20).toFixed(1)} MiB\n`);
  const dynamic = tool(join(LLVM_BIN, "llvm-readelf"), ["-d", "-W", exe]);
  const needed = [...dynamic.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)].map((m) =>
    m[1]
  );
  const glibc = /^(libc|libm|libpthread|libdl|librt|ld-linux-[\w-]+)\.so\.\d+$/;
  assert.deepEqual(
    needed.filter((n) => !glibc.test(n)),
    [],
    `needs more than glibc: ${needed.join(", ")}`,
  );
  // Nothing in it refers to the source tree or node_modules it was built from.
  const text = readFileSync(exe).toString("latin1");
  assert.equal(text.includes("/work/main/node_modules"), false);
});

test("--version in a bare environment names the libLLVM path and version, like the script entry", () => {
  const r = runExe(["--version"]);
  assert.equal(r.status, 0, r.stderr);
  const m = /^bpf-linker \S+\nLLVM (\d+)\.\d+\.\d+ \((\/[^)]*libLLVM[^)]*)\)\n$/.exec(r.stdout);
  assert.ok(m, `unexpected --version output: ${JSON.stringify(r.stdout)}`);
  assert.ok(Number(m[1]) >= 19);
  assert.ok(existsSync(m[2]), `${m[2]} does not exist`);
  assert.equal(runExe(["-V"]).stdout, r.stdout);
  assert.equal(
    runScript(["--version"]).stdout,
    r.stdout,
    "the script entry finds the same libLLVM",
  );
});

test("--help works from the executable and matches the script entry", () => {
  const r = runExe(["--help"]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /--output/);
  assert.equal(runLinker(["--help"]).stdout, r.stdout);
});

// ------------------------------------------------------------------ linking

test("links examples/xdp (two bitcode files + a bitcode archive) byte-identical to the script entry", () => {
  for (const emit of ["obj", "asm", "llvm-ir", "llvm-bc"]) {
    const { exeOut, scriptOut } = linkBoth(`xdp-${emit}`, [
      "--emit",
      emit,
      "--export",
      "xdp_filter",
      ...ex22.inputs,
    ]);
    assertSameBytes(exeOut, scriptOut);
  }
});

test("the kernel loads and runs the executable's object", needsBpf(), () => {
  const { exeOut } = linkBoth("xdp-kernel", ["--export", "xdp_filter", ...ex22.inputs]);
  assertXdpVerdicts(exeOut);
});

test("--llvm /usr/lib/llvm-19: --version names LLVM 19 and clang-19 inputs link like the script entry", () => {
  const v = runExe(["--llvm", "/usr/lib/llvm-19", "-V"]);
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /\nLLVM 19\.\d+\.\d+ \(\/usr\/lib\/llvm-19\/lib\/libLLVM[^)]*\)\n$/);
  const { exeOut, scriptOut } = linkBoth("xdp19", [
    "--llvm",
    "/usr/lib/llvm-19",
    "--export",
    "xdp_filter",
    ...ex19.inputs,
  ]);
  assertSameBytes(exeOut, scriptOut);
});

test("the kernel loads and runs the executable's LLVM 19 object", needsBpf(), () => {
  const { exeOut } = linkBoth("xdp19-kernel", [
    "--llvm",
    "/usr/lib/llvm-19",
    "--export",
    "xdp_filter",
    ...ex19.inputs,
  ]);
  assertXdpVerdicts(exeOut);
});

test("BPF_LINKER_LLVM in the environment chooses the libLLVM", () => {
  const r = runWithEnv(exe, ["-V"], {
    cwd: dir,
    env: { ...MINIMAL_ENV, BPF_LINKER_LLVM: "/usr/lib/llvm-19" },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\nLLVM 19\.\d+\.\d+ \(\/usr\/lib\/llvm-19\//);
});

test("a .env or bunfig.toml in the working directory changes nothing (Bun's autoload is off)", () => {
  const cwd = join(dir, mkdir("dotenv"));
  writeFileSync(join(cwd, ".env"), "BPF_LINKER_LLVM=/nonexistent/libLLVM.so\n");
  writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./missing-preload.ts"]\n');
  const r = runWithEnv(exe, ["--version"], { cwd, env: MINIMAL_ENV });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^LLVM \d+\.\d+\.\d+ \(\//m);
});

test("invoked by name from PATH through a symlink (as rustc runs it), with a response file", () => {
  const bin = join(dir, mkdir("bin"));
  tool("ln", ["-sf", exe, join(bin, "bpf-linker")]);
  const rsp = join(dir, "args.rsp");
  writeFileSync(rsp, `--export xdp_filter\n${ex22.inputs.map((p) => `"${p}"`).join("\n")}\n`);
  const out = join(dir, "via-path.o");
  const r = runWithEnv("bpf-linker", [`@${rsp}`, "-o", out], {
    cwd: dir,
    env: { PATH: `${bin}:/usr/bin:/bin` },
  });
  assert.equal(r.status, 0, r.stderr);
  const { scriptOut } = linkBoth("via-path-ref", ["--export", "xdp_filter", ...ex22.inputs]);
  assertSameBytes(out, scriptOut);
});

// ------------------------------------------------------------------ errors

test("errors: one `error:` line, exit 1, no output, the same message as the script entry", () => {
  const garbage = join(dir, "garbage.bin");
  writeFileSync(garbage, "this is neither bitcode nor IR nor an archive\n");
  const badArchive = join(dir, "bad.a");
  writeFileSync(badArchive, "!<arch>\nshort");
  const cases: [string, string[], RegExp][] = [
    ["missing input", [join(dir, "nope.bc")], /nope\.bc/],
    ["unknown option", ["--frobnicate", ex22.main], /frobnicate/],
    ["no inputs", [], /no input/],
    ["unrecognized input", [garbage], /garbage\.bin/],
    ["truncated archive", [badArchive], /bad\.a/],
    [
      "bitcode newer than --llvm",
      ["--llvm", "/usr/lib/llvm-19", ...ex22.inputs],
      /LLVM 22\.\d+\.\d+.*LLVM 19\.\d+\.\d+/,
    ],
    ["no libLLVM at --llvm", ["--llvm", "/nonexistent/llvm", ex22.main], /\/nonexistent\/llvm/],
    ["bad --emit", ["--emit", "exe", ex22.main], /exe/],
    ["not a libLLVM at --llvm", ["--llvm", "/bin/true", ex22.main], /\/bin\/true/],
  ];
  for (const [what, args, pattern] of cases) {
    const out = join(dir, `err-${what.replaceAll(" ", "-")}.o`);
    const a = runExe([...args, "-o", out]);
    assert.equal(a.status, 1, `${what}: exit ${a.status}, stderr:\n${a.stderr}`);
    const lines = a.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, `${what}: more than one line:\n${a.stderr}`);
    assert.match(lines[0], /^error: /, what);
    assert.match(lines[0], pattern, what);
    assert.equal(a.stdout, "", what);
    assert.equal(existsSync(out), false, `${what}: output left behind`);
    const b = runLinker([...args, "-o", out], { cwd: dir });
    if (what === "not a libLLVM at --llvm") {
      // dlopen's failure is worded by the runtime (Bun's, in the executable).
      assert.match(
        b.stderr,
        /^error: no usable libLLVM .*\/bin\/true.*position-independent executable\n$/,
      );
    } else {
      assert.equal(b.stderr, a.stderr, `${what}: the script entry says something else`);
    }
    assert.equal(b.status, 1, what);
  }
  // An output directory that does not exist.
  const w = runExe([
    "--export",
    "xdp_filter",
    ...ex22.inputs,
    "-o",
    join(dir, "no", "such", "dir", "x.o"),
  ]);
  assert.equal(w.status, 1);
  assert.match(w.stderr, /^error: .*x\.o: cannot write output.*\n$/);
  // No output option at all.
  const r = runExe([ex22.main]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^error: .*output.*\n$/);
});

test("a library dlopen refuses is reported without a repeated prefix (script entry)", () => {
  const r = runLinker(["--llvm", "/bin/true", "-V"]);
  assert.equal(r.status, 1);
  assert.match(
    r.stderr,
    /^error: no usable libLLVM .*: cannot be loaded: .*position-independent executable\n$/,
  );
  assert.doesNotMatch(
    r.stderr,
    /(Could not open library: ){2}/,
    "the runtime's prefix appears twice",
  );
});

// ------------------------------------------------------------------ rustup's libLLVM

// A rustup toolchain laid out here as rustup installs one (rustup is not part of the
// set-up: Debian has no package of it): <home>/.rustup/toolchains/<name>/lib/ holding
// libLLVM.so.22.1-rust-<release> (the library) and libLLVM-22-rust-<release>.so (a linker
// script naming it). The library is Debian's libLLVM 22 under rust's name, hard-linked
// (copied across file systems): discovery counts a file once by its real path, so a
// symlink would fold it into the system candidate.
const rustupHome = join(dir, "home", ".rustup");
const LLVM22_LIB = "/usr/lib/x86_64-linux-gnu/libLLVM.so.22.1";
const RUST_RELEASE = "1.96.0-stable";

function layOutRustup(): string[] {
  const lib = join(rustupHome, "toolchains", "stable-x86_64-unknown-linux-gnu", "lib");
  mkdirSync(lib, { recursive: true });
  const library = join(lib, `libLLVM.so.22.1-rust-${RUST_RELEASE}`);
  try {
    linkSync(LLVM22_LIB, library);
  } catch {
    copyFileSync(LLVM22_LIB, library);
  }
  writeFileSync(
    join(lib, `libLLVM-22-rust-${RUST_RELEASE}.so`),
    `INPUT(libLLVM.so.22.1-rust-${RUST_RELEASE})\n`,
  );
  return [library];
}

const rustLibs = layOutRustup();

test(
  "discovery lists each rustup toolchain's libLLVM as a 'rust toolchain' candidate",
  () => {
    // rustup's default home (~/.rustup) and RUSTUP_HOME alike.
    for (
      const env of [{ PATH: "", HOME: dirname(rustupHome) }, { PATH: "", RUSTUP_HOME: rustupHome }]
    ) {
      const candidates = listCandidates(env);
      for (const lib of rustLibs) {
        const found = candidates.find((c) => c.path === lib);
        assert.ok(
          found,
          `${lib} not among the candidates:\n${candidates.map((c) => c.path).join("\n")}`,
        );
        assert.equal(found.source, "rust toolchain");
        assert.equal(found.nameVersion?.[0], Number(/libLLVM\.so\.(\d+)/.exec(lib)![1]));
      }
    }
  },
);

test(
  "at the same LLVM major, the rustup toolchain's libLLVM comes before the system's, and is chosen",
  () => {
    const candidates = listCandidates({ PATH: "", RUSTUP_HOME: rustupHome }).map((c) => c.path);
    const rust = candidates.indexOf(rustLibs[0]);
    const system = candidates.indexOf("/usr/lib/llvm-22/lib/libLLVM.so");
    assert.ok(rust >= 0 && system > rust, candidates.join("\n"));
    // An older major stays after a newer one, whoever ships it.
    assert.ok(candidates.indexOf("/usr/lib/llvm-19/lib/libLLVM.so") > rust);
    const v = runWithEnv(exe, ["-V"], {
      cwd: dir,
      env: { ...MINIMAL_ENV, HOME: dirname(rustupHome) },
    });
    assert.equal(v.status, 0, v.stderr);
    assert.ok(v.stdout.includes(`(${rustLibs[0]})`), v.stdout);
  },
);

test(
  "--llvm <rustup libLLVM> links examples/xdp (executable and script entry alike)",
  () => {
    for (const lib of rustLibs) {
      const v = runExe(["--llvm", lib, "-V"]);
      assert.equal(v.status, 0, v.stderr);
      assert.ok(v.stdout.includes(`(${lib})`), v.stdout);
      const major = Number(/\nLLVM (\d+)\./.exec(v.stdout)![1]);
      const inputs = major >= 22 ? ex22.inputs : ex19.inputs;
      const { exeOut, scriptOut } = linkBoth(`rust-${basename(dirname(dirname(lib)))}`, [
        "--llvm",
        lib,
        "--export",
        "xdp_filter",
        ...inputs,
      ]);
      assertSameBytes(exeOut, scriptOut);
    }
  },
);

test(
  "the kernel runs an object linked by rustup's libLLVM",
  needsBpf(),
  () => {
    const lib = rustLibs[rustLibs.length - 1];
    const out = join(dir, "rust-kernel.o");
    const r = runExe(["--llvm", lib, "--export", "xdp_filter", ...ex22.inputs, "-o", out]);
    assert.equal(r.status, 0, r.stderr);
    assertXdpVerdicts(out);
  },
);

test(
  "--llvm <rustup toolchain dir> takes the library, and the linker script beside it is refused",
  () => {
    const lib = rustLibs[0];
    const toolchain = dirname(dirname(lib));
    const v = runExe(["--llvm", toolchain, "-V"]);
    assert.equal(v.status, 0, v.stderr);
    assert.ok(v.stdout.includes(`(${lib})`), `expected ${lib}:\n${v.stdout}`);
    const script = readdirSync(dirname(lib)).find((n) => /^libLLVM-\d+-rust-.*\.so$/.test(n));
    assert.ok(script, "the toolchain has its linker script");
    const r = runExe(["--llvm", join(dirname(lib), script), "-V"]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error: .*linker script.*\n$/);
  },
);
