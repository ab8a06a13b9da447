// Hand-built LLVM bitstreams for the bitcode reader tests: what real producers
// rarely or never write.

import assert from "node:assert/strict";

/** Abbreviation operand encodings (DEFINE_ABBREV). */
export const FIXED = 1, VBR = 2, ARRAY = 3, CHAR6 = 4, BLOB = 5;

/** A tiny bitstream writer: bits LSB-first, packed into little-endian words. */
export class BitWriter {
  private bits: number[] = [];
  private blocks: { lengthAt: number; width: number }[] = [];
  width = 2;

  constructor(magic = true) {
    if (magic) { for (const byte of [0x42, 0x43, 0xc0, 0xde]) this.fixed(byte, 8); }
  }

  fixed(value: number, width: number): this {
    for (let i = 0; i < width; i++) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }

  vbr(value: number, width: number): this {
    const payload = 2 ** (width - 1);
    do {
      const chunk = value % payload;
      value = Math.floor(value / payload);
      this.fixed(chunk + (value > 0 ? payload : 0), width);
    } while (value > 0);
    return this;
  }

  align32(): this {
    while (this.bits.length % 32 !== 0) this.bits.push(0);
    return this;
  }

  enter(blockId: number, width: number, lengthWords?: number): this {
    this.fixed(1, this.width).vbr(blockId, 8).vbr(width, 4).align32();
    this.blocks.push({ lengthAt: this.bits.length, width: this.width });
    this.fixed(lengthWords ?? 0, 32);
    this.width = width;
    return this;
  }

  /** END_BLOCK; backpatches the length word unless `keepLength`. */
  end(keepLength = false): this {
    this.fixed(0, this.width).align32();
    const block = this.blocks.pop()!;
    if (!keepLength) {
      const words = (this.bits.length - block.lengthAt - 32) / 32;
      const saved = this.bits.splice(block.lengthAt, 32);
      assert.equal(saved.length, 32);
      const length: number[] = [];
      for (let i = 0; i < 32; i++) length.push(Math.floor(words / 2 ** i) % 2);
      this.bits.splice(block.lengthAt, 0, ...length);
    }
    this.width = block.width;
    return this;
  }

  unabbrev(code: number, ops: number[]): this {
    this.fixed(3, this.width).vbr(code, 6).vbr(ops.length, 6);
    for (const op of ops) this.vbr(op, 6);
    return this;
  }

  /** DEFINE_ABBREV with raw operand encodings: [literal, value] or [encoding, width?]. */
  defineAbbrev(ops: ([true, number] | [false, number, number?])[]): this {
    this.fixed(2, this.width).vbr(ops.length, 5);
    for (const op of ops) {
      if (op[0]) {
        this.fixed(1, 1).vbr(op[1], 8);
      } else {
        this.fixed(0, 1).fixed(op[1], 3);
        if (op[2] !== undefined) this.vbr(op[2], 5);
      }
    }
    return this;
  }

  /** A STRTAB_BLOCK holding `text`, as LLVM writes it: a blob abbreviation. */
  strtab(text: string): this {
    const bytes = new TextEncoder().encode(text);
    this.enter(23, 3).defineAbbrev([[true, 1], [false, BLOB]]);
    this.fixed(4, 3).vbr(bytes.length, 6).align32();
    for (const byte of bytes) this.fixed(byte, 8);
    return this.align32().end();
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(Math.ceil(this.bits.length / 8));
    this.bits.forEach((bit, i) => (out[i >> 3] |= bit << (i & 7)));
    return out;
  }
}
