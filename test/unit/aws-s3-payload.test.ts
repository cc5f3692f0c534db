import { Readable } from "node:stream";
import { PutObjectCommand, S3Client, UploadPartCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { unsignedPayloadOverTls } from "../../src/aws/s3-payload.js";

/** An S3 client whose requests are captured, signed, instead of sent. */
function capturing(endpoint: string, config: Partial<ConstructorParameters<typeof S3Client>[0]> = {}) {
  const sent: { headers: Record<string, string> }[] = [];
  const client = new S3Client({
    region: "us-east-1",
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: "a", secretAccessKey: "b" },
    requestHandler: {
      handle: async (request: { headers: Record<string, string> }) => {
        sent.push(request);
        return { response: { statusCode: 200, headers: { etag: '"e"' }, body: Readable.from([]) } };
      },
    },
    ...config,
  });
  unsignedPayloadOverTls(client);
  return { client, sent };
}

const part = () => new UploadPartCommand({ Bucket: "b", Key: "k", UploadId: "u", PartNumber: 1, Body: Buffer.from("hello"), ChecksumAlgorithm: "CRC32" });
const SHA256_OF_HELLO = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";

describe("unsignedPayloadOverTls", () => {
  it("sends checksummed bodies over HTTPS as UNSIGNED-PAYLOAD, with the checksum header signed", async () => {
    const { client, sent } = capturing("https://s3.example.test");
    await client.send(part());
    await client.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: Buffer.from("hello") }));
    for (const { headers } of sent) {
      expect(headers["x-amz-content-sha256"]).toBe("UNSIGNED-PAYLOAD");
      expect(headers["x-amz-checksum-crc32"]).toBeTruthy();
      expect(headers.authorization).toMatch(/SignedHeaders=[^,]*x-amz-checksum-crc32/);
    }
  });

  it("keeps the payload signed over plain HTTP", async () => {
    const { client, sent } = capturing("http://127.0.0.1:9");
    await client.send(part());
    expect(sent[0]!.headers["x-amz-content-sha256"]).toBe(SHA256_OF_HELLO);
  });

  it("keeps the payload signed when no checksum protects it", async () => {
    const { client, sent } = capturing("https://s3.example.test", { requestChecksumCalculation: "WHEN_REQUIRED" });
    await client.send(new UploadPartCommand({ Bucket: "b", Key: "k", UploadId: "u", PartNumber: 1, Body: Buffer.from("hello") }));
    expect(Object.keys(sent[0]!.headers).some((h) => h.startsWith("x-amz-checksum-"))).toBe(false);
    expect(sent[0]!.headers["x-amz-content-sha256"]).toBe(SHA256_OF_HELLO);
  });
});
