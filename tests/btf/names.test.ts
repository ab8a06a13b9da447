// BTF name sanitizing (docs/ARCHITECTURE.md#btf). Expected values come from
// tests/fixtures/rust/siphash_reference.rs (`sanitize_spec`, run once with
// rustc 1.95.0), which implements the same rule on Rust's DefaultHasher.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sanitizeTypeName } from "../../src/btf/names.ts";
import { sipHash13 } from "../../src/btf/siphash.ts";

// [name, sanitized] as printed by the Rust program.
const NAMES: [string, string][] = [
  ["Foo<u32>", "Foo_3C_u32_3E_"],
  ["core::option::Option<&str>", "core_3A__3A_option_3A__3A_Option_3C__26_str_3E_"],
  [
    "aya_ebpf::maps::hash_map::HashMap<u32, [u8; 16]>",
    "aya_ebpf_3A__3A_maps_3A__3A_hash_map_3A__3A_HashMap_3C_u32_2C__20__5B_u8_3B__20_16_5D__3E_",
  ],
  ["plain_Name_123", "plain_Name_123"],
  [
    "h\u00e9llo::w\u00f6rld<\u4e2d\u6587, \ud83e\udd80>",
    "h_C3__A9_llo_3A__3A_w_C3__B6_rld_3C__E4__B8__AD__E6__96__87__2C__20__F0__9F__A6__80__3E_",
  ],
  ["tab\u0009here", "tab_09_here"],
  ["a".repeat(128), "a".repeat(128)],
  ["a".repeat(129), "a".repeat(111) + "_45c167d2f6f5599c"],
  [
    "core::result::Result<aya_ebpf::programs::xdp::XdpContext, core::option::Option<alloc::vec::Vec<(u8, u16, u32, u64, i8, i16)>>>",
    "core_3A__3A_result_3A__3A_Result_3C_aya_ebpf_3A__3A_programs_3A__3A_xdp_3A__3A_XdpContext_2C__20_core_3A__3A_op_c2e9e49adfeddad6",
  ],
  [
    "<core::iter::adapters::map::Map<core::slice::iter::Iter<'_, u8>, fn(&u8) -> u32> as core::iter::traits::iterator::Iterator>::fold",
    "_3C_core_3A__3A_iter_3A__3A_adapters_3A__3A_map_3A__3A_Map_3C_core_3A__3A_slice_3A__3A_iter_3A__3A_Iter_3C__27__c5ef9fa0c7602feb",
  ],
  [
    "my_crate::module_0::Wrapper<core::option::Option<core::result::Result<u64, my_crate::Error>>>",
    "my_crate_3A__3A_module_0_3A__3A_Wrapper_3C_core_3A__3A_option_3A__3A_Option_3C_core_3A__3A_result_3A__3A_Result_88e5fff04738d76",
  ],
  [
    "my_crate::module_8::Wrapper<core::option::Option<core::result::Result<u64, my_crate::Error>>>",
    "my_crate_3A__3A_module_8_3A__3A_Wrapper_3C_core_3A__3A_option_3A__3A_Option_3C_core_3A__3A_result_3A__3A_Result_78f6a97753db01f",
  ],
];

const utf8Length = (s: string): number => new TextEncoder().encode(s).length;

test("sanitizeTypeName matches the Rust reference", () => {
  for (const [name, want] of NAMES) {
    assert.equal(sanitizeTypeName(name), want, JSON.stringify(name));
  }
});

test("sanitizeTypeName escapes generics and paths", () => {
  assert.equal(sanitizeTypeName("Foo<u32>"), "Foo_3C_u32_3E_");
  assert.equal(
    sanitizeTypeName("core::option::Option<&str>"),
    "core_3A__3A_option_3A__3A_Option_3C__26_str_3E_",
  );
  // Two uppercase hex digits, also below 0x10 and for DEL.
  assert.equal(sanitizeTypeName("a\tb\x7f"), "a_09_b_7F_");
  assert.equal(sanitizeTypeName(""), "");
});

test("sanitizeTypeName returns a clean name unchanged", () => {
  for (const name of ["u32", "plain_Name_123", "_", "a".repeat(128)]) {
    assert.equal(sanitizeTypeName(name), name);
  }
});

test("sanitizeTypeName escapes each UTF-8 byte of multibyte characters", () => {
  assert.equal(sanitizeTypeName("\u00e9"), "_C3__A9_");
  assert.equal(sanitizeTypeName("\u4e2d"), "_E4__B8__AD_");
  assert.equal(sanitizeTypeName("\u{1f980}"), "_F0__9F__A6__80_");
});

test("sanitizeTypeName cuts long names to 111 bytes plus the hash", () => {
  for (const [name] of NAMES) {
    const got = sanitizeTypeName(name);
    assert.ok(utf8Length(got) <= 128, `${got} is longer than 128 bytes`);
  }
  // Exactly 128 stays; 129 is cut to 111 + "_" + 16 hex digits.
  assert.equal(sanitizeTypeName("a".repeat(128)).length, 128);
  const long = sanitizeTypeName("a".repeat(129));
  assert.equal(long.length, 128);
  assert.equal(long.slice(0, 112), "a".repeat(111) + "_");
  assert.equal(long.slice(112), sipHash13(new TextEncoder().encode("a".repeat(129))).toString(16));
  // Escaping can push a short input over the limit: 43 `:` become 172 bytes.
  const colons = sanitizeTypeName(":".repeat(43));
  assert.equal(colons.slice(0, 112), "_3A_".repeat(27) + "_3A" + "_");
});

test("sanitizeTypeName drops the hash's leading zeros, giving fewer than 128 bytes", () => {
  // The Rust program searched for these: their hashes start with a zero nibble.
  for (
    const name of [
      "my_crate::module_0::Wrapper<core::option::Option<core::result::Result<u64, my_crate::Error>>>",
      "my_crate::module_8::Wrapper<core::option::Option<core::result::Result<u64, my_crate::Error>>>",
    ]
  ) {
    const got = sanitizeTypeName(name);
    assert.equal(got.length, 127, got);
    assert.equal(got[111], "_");
    assert.match(got.slice(112), /^[1-9a-f][0-9a-f]{14}$/);
  }
});

test("sanitizeTypeName hashes the whole escaped name, not the input", () => {
  // Names that share the first 111 escaped bytes still differ by their hash.
  const base = "core::result::Result<".repeat(6);
  const a = sanitizeTypeName(base + "u8>");
  const b = sanitizeTypeName(base + "u16>");
  assert.equal(a.slice(0, 112), b.slice(0, 112));
  assert.notEqual(a, b);
  let escaped = "";
  for (const byte of new TextEncoder().encode(base + "u8>")) {
    const c = String.fromCharCode(byte);
    escaped += /[A-Za-z0-9_]/.test(c)
      ? c
      : "_" + byte.toString(16).toUpperCase().padStart(2, "0") + "_";
  }
  assert.equal(
    a,
    escaped.slice(0, 111) + "_" + sipHash13(new TextEncoder().encode(escaped)).toString(16),
  );
});

test("sanitizeTypeName is stable across calls of different sizes", () => {
  // The implementation reuses scratch buffers; a big name must not leak into
  // a later small one, and a huge name must work.
  const huge = "Vec<".repeat(5000) + "u8" + ">".repeat(5000);
  const h = sanitizeTypeName(huge);
  assert.ok(h.length <= 128);
  assert.equal(h.slice(0, 17), "Vec_3C_Vec_3C_Vec");
  assert.equal(sanitizeTypeName("Foo<u32>"), "Foo_3C_u32_3E_");
  assert.equal(sanitizeTypeName(huge), h);
});
