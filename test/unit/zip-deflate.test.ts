import { inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { deflateChunk } from "../../src/archive/zip-deflate.js";
import { LADDER } from "../../src/archive/zip-pace.js";

const text = (seed: number, length: number) => Buffer.from(Array.from({ length }, (_, i) => String.fromCharCode(97 + ((i * 7 + seed * 13 + (i >> 4)) % 26))).join(""));

describe("deflating small files whole", () => {
  it("gives each file a deflate stream of its own, however the reused streams interleave", async () => {
    // Many at once, over every setting, with sizes around the whole-file limit: each output must stand alone.
    const inputs = Array.from({ length: 300 }, (_, i) => text(i, [0, 1, 300, 5000, 64 * 1024, 64 * 1024 + 1][i % 6]!));
    const outs = await Promise.all(inputs.map((b, i) => deflateChunk(b, 0, true, LADDER[1 + (i % (LADDER.length - 1))]!)));
    outs.forEach((out, i) => expect(inflateRawSync(Buffer.concat(out)).equals(inputs[i]!)).toBe(true));
    // And again in turn, so that every one comes from a stream used before.
    for (const [i, b] of inputs.entries()) expect(inflateRawSync(Buffer.concat(await deflateChunk(b, 0, true, LADDER[3]!))).equals(b), `file ${i}`).toBe(true);
  });
});
