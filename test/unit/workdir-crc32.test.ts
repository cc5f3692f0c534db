import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { crc32, crc32File } from "../../src/archive/crc32.js";
import { tempDir } from "./workdir-helpers.js";

describe("crc32", () => {
  it("matches the standard check values", () => {
    expect(crc32(Buffer.from("123456789"))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
    expect(crc32(Buffer.from("The quick brown fox jumps over the lazy dog"))).toBe(0x414fa339);
  });

  it("continues across chunks of any length", () => {
    const data = randomBytes(1000);
    const whole = crc32(data);
    for (const cut of [1, 7, 8, 9, 500, 999]) {
      expect(crc32(data.subarray(cut), crc32(data.subarray(0, cut)))).toBe(whole);
    }
  });

  it("streams a file", async () => {
    const path = join(tempDir(), "f");
    const data = randomBytes(3 * 1024 * 1024 + 5);
    writeFileSync(path, data);
    expect(await crc32File(path)).toEqual({ crc: crc32(data), size: data.length });
  });
});
