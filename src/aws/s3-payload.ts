import type { S3Client } from "@aws-sdk/client-s3";

const CHECKSUM_HEADER = /^x-amz-checksum-/i;

/**
 * Over HTTPS, parts and objects that carry a checksum S3 verifies are sent
 * as UNSIGNED-PAYLOAD: TLS and the checksum already protect the body, and
 * SigV4 would otherwise hash every uploaded byte with SHA-256 on the main
 * thread, the thread that also packs (docs/performance.md). Over plain HTTP,
 * or without a checksum, the payload stays signed.
 */
export function unsignedPayloadOverTls(client: S3Client): void {
  client.middlewareStack.add(
    (next) => async (args) => {
      const request = args.request as { protocol?: string; headers?: Record<string, string>; body?: unknown };
      const checked = Object.keys(request.headers ?? {}).some((h) => CHECKSUM_HEADER.test(h));
      if (request.protocol === "https:" && checked && request.body instanceof Uint8Array) {
        request.headers!["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
      }
      return next(args);
    },
    // After the checksum middleware (build step) has set its header, before signing.
    { step: "build", priority: "low", name: "nbatchUnsignedPayloadOverTls" },
  );
}
