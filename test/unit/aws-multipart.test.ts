import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { uploadParts, type MultipartOptions } from "../../src/aws/multipart.js";

const s3mock = mockClient(S3Client);
const client = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" } });
const obj = { bucket: "b", key: "k.zip" };
const PART = 1024;
const opts = (o: Partial<MultipartOptions> = {}): MultipartOptions => ({ partSize: PART, queueSize: 2, eager: false, contentType: "application/zip", ...o });

/** A body in uneven chunks, so parts are cut across chunk boundaries. */
function body(data: Buffer, chunk = 300): Readable {
  return Readable.from((function* () {
    for (let at = 0; at < data.length; at += chunk) yield data.subarray(at, at + chunk);
  })());
}

const calls = (command: Parameters<typeof s3mock.commandCalls>[0]) => s3mock.commandCalls(command).map((c) => c.args[0].input);

afterEach(() => s3mock.reset());

describe("uploadParts", () => {
  it("sends a body that fits in one part with a single PutObject", async () => {
    s3mock.on(PutObjectCommand).resolves({});
    const data = randomBytes(PART - 1);
    await uploadParts(client, obj, body(data), opts());
    const [put] = calls(PutObjectCommand);
    expect(Buffer.from(put!.Body as Uint8Array).equals(data)).toBe(true);
    expect(put!.ContentType).toBe("application/zip");
    expect(calls(CreateMultipartUploadCommand)).toHaveLength(0);
  });

  it("cuts the body into parts of partSize, at most queueSize in flight, and completes them in order with their checksums", async () => {
    let inFlight = 0;
    let most = 0;
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    s3mock.on(UploadPartCommand).callsFake(async (input: { PartNumber: number }) => {
      most = Math.max(most, ++inFlight);
      // Later parts finish first: the completion list must still be in part order.
      await new Promise((r) => setTimeout(r, 20 - input.PartNumber * 3));
      inFlight--;
      return { ETag: `"e${input.PartNumber}"`, ChecksumCRC32: `c${input.PartNumber}` };
    });
    s3mock.on(CompleteMultipartUploadCommand).resolves({});
    const data = randomBytes(4 * PART + 10);
    const progress: number[] = [];
    await uploadParts(client, obj, body(data), opts({ onProgress: (n) => progress.push(n) }));

    const parts = calls(UploadPartCommand);
    expect(parts.map((p) => p.PartNumber)).toEqual([1, 2, 3, 4, 5]);
    expect(parts.every((p) => p.UploadId === "u1" && p.ChecksumAlgorithm === "CRC32")).toBe(true);
    // Part buffers are reused, so each part's bytes are checked as the request saw them: by length and order.
    expect(parts.map((p) => (p.Body as Uint8Array).length)).toEqual([PART, PART, PART, PART, 10]);
    expect(most).toBe(2);
    expect(calls(CreateMultipartUploadCommand)[0]).toMatchObject({ ChecksumAlgorithm: "CRC32", ContentType: "application/zip" });
    expect(calls(CompleteMultipartUploadCommand)[0]!.MultipartUpload!.Parts).toEqual(
      [1, 2, 3, 4, 5].map((n) => ({ PartNumber: n, ETag: `"e${n}"`, ChecksumCRC32: `c${n}` })),
    );
    expect(progress.at(-1)).toBe(data.length);
  });

  it("sends each part's own bytes, though part buffers are reused", async () => {
    const seen: Buffer[] = [];
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    s3mock.on(UploadPartCommand).callsFake(async (input: { Body: Uint8Array; PartNumber: number }) => {
      seen[input.PartNumber - 1] = Buffer.from(input.Body);
      return { ETag: "e" };
    });
    s3mock.on(CompleteMultipartUploadCommand).resolves({});
    const data = randomBytes(6 * PART);
    await uploadParts(client, obj, body(data, 777), opts());
    expect(Buffer.concat(seen).equals(data)).toBe(true);
  });

  it("asks for no checksums when the AWS configuration wants them only where required", async () => {
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    s3mock.on(UploadPartCommand).resolves({ ETag: "e" });
    s3mock.on(CompleteMultipartUploadCommand).resolves({});
    const whenRequired = new S3Client({ region: "us-east-1", credentials: { accessKeyId: "a", secretAccessKey: "b" }, requestChecksumCalculation: "WHEN_REQUIRED" });
    await uploadParts(whenRequired, obj, body(randomBytes(2 * PART)), opts());
    expect(calls(CreateMultipartUploadCommand)[0]!.ChecksumAlgorithm).toBeUndefined();
    expect(calls(UploadPartCommand).map((p) => p.ChecksumAlgorithm)).toEqual([undefined, undefined]);
  });

  it("creates the upload before the first part is full when the body is known to be large", async () => {
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    s3mock.on(UploadPartCommand).resolves({ ETag: "e" });
    s3mock.on(CompleteMultipartUploadCommand).resolves({});
    let createdBeforeData = false;
    const late = Readable.from((async function* () {
      await new Promise((r) => setTimeout(r, 10));
      createdBeforeData = calls(CreateMultipartUploadCommand).length === 1;
      yield randomBytes(100);
    })());
    await uploadParts(client, obj, late, opts({ eager: true }));
    expect(createdBeforeData).toBe(true);
    // Smaller than one part, it is still one part of a multipart upload.
    expect(calls(UploadPartCommand).map((p) => (p.Body as Uint8Array).length)).toEqual([100]);
    expect(calls(PutObjectCommand)).toHaveLength(0);
  });

  it("stops reading, lets the parts in flight land and aborts the upload when a part fails", async () => {
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    let landed = 0;
    s3mock.on(UploadPartCommand).callsFake(async (input: { PartNumber: number }) => {
      if (input.PartNumber === 2) throw Object.assign(new Error("part 2 refused"), { name: "InternalError" });
      await new Promise((r) => setTimeout(r, 30));
      landed++;
      return { ETag: "e" };
    });
    s3mock.on(AbortMultipartUploadCommand).callsFake(async () => {
      expect(landed).toBe(1);
      return {};
    });
    let produced = 0;
    const endless = Readable.from((function* () {
      for (;;) yield (produced++, Buffer.alloc(PART));
    })());
    await expect(uploadParts(client, obj, endless, opts())).rejects.toThrow("part 2 refused");
    expect(calls(AbortMultipartUploadCommand)).toEqual([{ Bucket: "b", Key: "k.zip", UploadId: "u1" }]);
    expect(calls(CompleteMultipartUploadCommand)).toHaveLength(0);
    expect(endless.destroyed).toBe(true);
    expect(produced).toBeLessThan(10);
  });

  it("tells progress the time a part was in flight, apart from waiting on the body: what the link itself sends", async () => {
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    s3mock.on(UploadPartCommand).callsFake(async () => {
      await new Promise((r) => setTimeout(r, 30));
      return { ETag: "e" };
    });
    s3mock.on(CompleteMultipartUploadCommand).resolves({});
    // A part, then the packer slow for 300 ms, then another part and the end.
    const slow = Readable.from((async function* () {
      yield randomBytes(PART);
      await new Promise((r) => setTimeout(r, 300));
      yield randomBytes(PART + 1);
    })());
    const seen: [number, number][] = [];
    await uploadParts(client, obj, slow, opts({ eager: true, onProgress: (bytes, busyMs) => seen.push([bytes, busyMs]) }));
    expect(seen.map(([bytes]) => bytes)).toEqual([PART, 2 * PART, 2 * PART + 1]);
    // The last two parts were in flight together, and count once.
    const [, busyMs] = seen.at(-1)!;
    expect(busyMs).toBeGreaterThanOrEqual(2 * 29);
    expect(busyMs).toBeLessThan(250);
  });

  it("still aborts the upload when a progress callback throws", async () => {
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    s3mock.on(UploadPartCommand).resolves({ ETag: "e" });
    s3mock.on(AbortMultipartUploadCommand).resolves({});
    const onProgress = () => {
      throw new Error("progress bar broke");
    };
    await expect(uploadParts(client, obj, body(randomBytes(3 * PART)), opts({ onProgress }))).rejects.toThrow("progress bar broke");
    expect(calls(AbortMultipartUploadCommand)).toHaveLength(1);
    expect(calls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });

  it("aborts the upload when the body fails", async () => {
    s3mock.on(CreateMultipartUploadCommand).resolves({ UploadId: "u1" });
    s3mock.on(UploadPartCommand).resolves({ ETag: "e" });
    s3mock.on(AbortMultipartUploadCommand).resolves({});
    const failing = Readable.from((function* () {
      yield Buffer.alloc(2 * PART);
      throw new Error("disk on fire");
    })());
    await expect(uploadParts(client, obj, failing, opts())).rejects.toThrow("disk on fire");
    expect(calls(AbortMultipartUploadCommand)).toHaveLength(1);
    expect(calls(CompleteMultipartUploadCommand)).toHaveLength(0);
  });
});
