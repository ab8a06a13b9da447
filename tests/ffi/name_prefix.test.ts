import { test } from "node:test";
import assert from "node:assert/strict";
import { globEscape, hasPrefix, prefixGlob } from "../../ffi/name_prefix.ts";

test("hasPrefix: a prefix, then one of the next characters if given", () => {
  assert.equal(hasPrefix("libLLVM.so", "libLLVM"), true);
  assert.equal(hasPrefix("libLLVM.so", "libLLVM", "-."), true);
  assert.equal(hasPrefix("libLLVM-22.so", "libLLVM", "-."), true);
  assert.equal(hasPrefix("libLLVMCore.a", "libLLVM", "-."), false);
  assert.equal(hasPrefix("libLLVM", "libLLVM", "-."), false); // nothing follows
  assert.equal(hasPrefix("libclang.so", "libLLVM"), false);
  assert.equal(hasPrefix("anything", ""), true);
});

test("prefixGlob: the same filter as a glob(3) pattern, or none where glob would differ", () => {
  assert.equal(prefixGlob("libLLVM"), "libLLVM*");
  assert.equal(prefixGlob("libLLVM", "-."), "libLLVM[.-]*"); // "-" last: literal
  assert.equal(prefixGlob("libLLVM", ".-"), "libLLVM[.-]*");
  assert.equal(prefixGlob("lib[1]*?", "*?["), "lib\\[1]\\*\\?[*?[]*");
  assert.equal(prefixGlob("", "-."), undefined); // no prefix: the runtime lists
  assert.equal(prefixGlob(".lib"), undefined); // glob leaves out dot files
  assert.equal(prefixGlob("lib", "]"), undefined);
  assert.equal(prefixGlob("lib", "^"), undefined);
  assert.equal(prefixGlob("lib", "!"), undefined);
  assert.equal(prefixGlob("lib", "\\"), undefined);
  assert.equal(prefixGlob("lib", ""), undefined);
  assert.equal(globEscape("a[b]*c?d\\e"), "a\\[b]\\*c\\?d\\\\e");
});
