// SipHash-1-3 against values printed by Rust's own DefaultHasher
// (tests/fixtures/rust/siphash_reference.rs, rustc 1.95.0); CI does not rerun
// the Rust program, the numbers below are its recorded output.
import { test } from "node:test";
import assert from "node:assert/strict";
import { sipHash13, sipHash13Hex } from "../../src/btf/siphash.ts";

// DefaultHasher write(bytes 0, 1, ..., n-1) + finish, n = 0..=64: every tail
// length 0-7 and up to eight full blocks.
const SEQUENTIAL = [
  "d1fba762150c532c",
  "68a914128e01e473",
  "010bac45c41e3669",
  "4d4c9a4a8ef6e0ad",
  "7cc43f98813e4dbd",
  "5abe2169dff36275",
  "e3c25f87624f1cdb",
  "2f098ab0c751325a",
  "ead411e67ebe2eea",
  "75927f9d95124362",
  "af9f77a65ab51a1d",
  "fe64ce8b6617fcff",
  "a6baf4fb0f9fe1c2",
  "a0cf3211850f8e0d",
  "7f86049379fbfe67",
  "f30eb725bb91c9ea",
  "8972188433a5c5b7",
  "4883c49a2c009c1d",
  "adc2c0b63044067d",
  "091f4a3329f87d19",
  "639e355ae68c0100",
  "b17bef2cb5213239",
  "f8aeb1066236ccfe",
  "37332b1389daa4ff",
  "31185a47af932f3a",
  "ebf352e82ae23e2f",
  "ed36ff242fe478b2",
  "2454d97d299299df",
  "8cd57fe8130d0ac7",
  "be98eb2faf0a0e85",
  "d427c34ee09470c6",
  "169739443111d49b",
  "31ef8061c910629b",
  "7fb71d24dfa4c9f6",
  "92771f49e836d389",
  "3c393cf6f0853bc3",
  "ac77921fcc642bd3",
  "422a9751192ff266",
  "c680ae8a8c584ddf",
  "6c76b6d34bb6d26b",
  "95bc321ab41d8206",
  "908a3a97a6d37669",
  "fcaf3c64874dd0b4",
  "f689479b32b84a44",
  "d857641079efd1fd",
  "8b581578722633f7",
  "83cb09d35ea7bcd4",
  "8485f7f5ae725a0d",
  "fe1f2445ba50237f",
  "23cece041d7866b0",
  "416687480b336c09",
  "f15960da7e7f3892",
  "ded6177b9826835a",
  "f80dae51668be6be",
  "17ecc6ee6647df18",
  "5220d642b4a52110",
  "a4f0cf4ba4adc016",
  "e5125bb26d1f2976",
  "851b0e75f580d256",
  "12605250a37e39ac",
  "d95a713568daebf1",
  "cdcf4a42ec0dd605",
  "a5c708712b617164",
  "385d3e39e5f37359",
  "75e05fd5bbc870c6",
];

// write(n bytes of 0xff): bytes with the top bit set, and lengths past 255
// where the length byte in the last block wraps.
const ALL_FF: Record<number, string> = {
  1: "30406ea523c53def",
  7: "a3cf0c89008da505",
  8: "2f205be2fec8e38d",
  9: "e271c8ef95f59694",
  15: "562bd90f8eb2852f",
  16: "35029a3b6274a39b",
  255: "fe0350ed7e3c1665",
  256: "4ce0ed31f80124c7",
  257: "c115d9f3652860c3",
  300: "d358837fd9d226bd",
};

// write(UTF-8 of s): ASCII, sanitized type names, multibyte UTF-8.
const STRINGS: [string, string][] = [
  ["", "d1fba762150c532c"],
  ["a", "407448d2b89b1813"],
  ["hello", "e2e77b41cb4e1f9e"],
  ["Foo_3C_u32_3E_", "809bd55a65bc6587"],
  ["core_3A__3A_option_3A__3A_Option_3C__26_str_3E_", "7ba962229bd02f05"],
  ["h\u00e9llo w\u00f6rld \u2713 \u4e2d\u6587 \ud83e\udd80", "4a13d5c3b9761764"],
];

// SipHasher13::new_with_keys(0x0706050403020100, 0x0f0e0d0c0b0a0908),
// write(bytes 0..n), n = 0..=16.
const KEYED = [
  "abac0158050fc4dc",
  "c9f49bf37d57ca93",
  "82cb9b024dc7d44d",
  "8bf80ab8e7ddf7fb",
  "cf75576088d38328",
  "def9d52f49533b67",
  "c50d2b50c59f22a7",
  "d3927d989bb11140",
  "369095118d299a8e",
  "25a48eb36c063de4",
  "79de85ee92ff097f",
  "70c118c1f94dc352",
  "78a384b157b4d9a2",
  "306f760c1229ffa7",
  "605aa111c0f95d34",
  "d320d86d2a519956",
  "cc4fdd1a7d908b66",
];

function sequential(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i);
}

function hex16(h: bigint): string {
  return h.toString(16).padStart(16, "0");
}

test("sipHash13 matches DefaultHasher for every length 0..64", () => {
  for (let n = 0; n <= 64; n++) {
    assert.equal(hex16(sipHash13(sequential(n))), SEQUENTIAL[n], `length ${n}`);
  }
});

test("sipHash13 handles high bytes and lengths over 255", () => {
  for (const [n, want] of Object.entries(ALL_FF)) {
    assert.equal(hex16(sipHash13(new Uint8Array(Number(n)).fill(0xff))), want, `length ${n}`);
  }
});

test("sipHash13 of UTF-8 strings", () => {
  const enc = new TextEncoder();
  for (const [s, want] of STRINGS) {
    assert.equal(hex16(sipHash13(enc.encode(s))), want, JSON.stringify(s));
  }
});

test("sipHash13 with explicit keys", () => {
  const k0 = 0x0706050403020100n;
  const k1 = 0x0f0e0d0c0b0a0908n;
  for (let n = 0; n <= 16; n++) {
    assert.equal(hex16(sipHash13(sequential(n), k0, k1)), KEYED[n], `length ${n}`);
  }
  // Explicit zero keys are the default hasher.
  assert.equal(hex16(sipHash13(sequential(5), 0n, 0n)), SEQUENTIAL[5]);
});

test("sipHash13 returns an unsigned 64-bit bigint", () => {
  const h = sipHash13(new Uint8Array(0));
  assert.equal(typeof h, "bigint");
  assert.equal(h, 0xd1fba762150c532cn);
  for (let n = 0; n <= 64; n++) {
    const v = sipHash13(sequential(n));
    assert.ok(v >= 0n && v < 1n << 64n);
  }
});

test("sipHash13 does not depend on the view's offset in its buffer", () => {
  const backing = new Uint8Array(80);
  backing.set(sequential(33), 7);
  assert.equal(hex16(sipHash13(backing.subarray(7, 40))), SEQUENTIAL[33]);
});

test("sipHash13Hex is the unpadded lowercase hex of sipHash13", () => {
  for (let n = 0; n <= 64; n++) {
    const bytes = sequential(n);
    assert.equal(sipHash13Hex(bytes), sipHash13(bytes).toString(16), `length ${n}`);
  }
  // Length 2 hashes to 010bac45c41e3669: the leading zero is dropped.
  assert.equal(sipHash13Hex(sequential(2)), "10bac45c41e3669");
  // A hash whose high word is zero would print only the low word; check the
  // join keeps the low word's zeros (e.g. 639e355ae68c0100 at length 20).
  assert.equal(sipHash13Hex(sequential(20)), "639e355ae68c0100");
});
