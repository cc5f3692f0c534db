import { expect, it } from "vitest";
import { partSizeFor } from "../../src/aws/s3.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

it("uses 8 MiB parts, growing them so any archive stays within S3's 10,000 parts", () => {
  expect(partSizeFor(0)).toBe(8 * MiB);
  expect(partSizeFor(254 * MiB)).toBe(8 * MiB);
  for (const size of [70 * GiB, 100 * GiB, 1024 * GiB, 4 * 1024 * GiB]) {
    const part = partSizeFor(size);
    expect(part % MiB).toBe(0);
    expect(Math.ceil(size / part)).toBeLessThanOrEqual(9000);
  }
  expect(partSizeFor(100 * GiB)).toBeGreaterThan(8 * MiB);
});
