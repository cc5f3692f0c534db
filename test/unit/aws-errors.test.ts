import { HeadBucketCommand, PutObjectCommand, S3Client, S3ServiceException } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { afterEach, describe, expect, it } from "vitest";
import { createAwsClients } from "../../src/aws/clients.js";
import { aws, awsErrorToUserError, type AwsContext } from "../../src/aws/errors.js";
import { UserError } from "../../src/errors.js";

const put: AwsContext = { action: "s3:PutObject", resource: "s3://b/k", region: "us-east-1" };
const headBucket: AwsContext = { action: "s3:ListBucket", resource: "s3://b", region: "us-east-1" };

/** An error shaped like the SDK's: a name, $metadata and a non-enumerable $response. */
function sdkError(name: string, status: number, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const err = Object.assign(new Error(name === "Unknown" ? "UnknownError" : `${name} happened`), {
    name,
    $fault: "client",
    $metadata: { httpStatusCode: status },
    ...extra,
  });
  Object.defineProperty(err, "$response", { value: { statusCode: status, headers }, enumerable: false });
  return err;
}

function netError(code: string, props: Record<string, unknown> = {}) {
  return Object.assign(new Error(`connect ${code}`), { code, ...props });
}

const message = (err: unknown, context: AwsContext = put) => awsErrorToUserError(err, context)?.message;

describe("awsErrorToUserError", () => {
  it("missing credentials", () => {
    const err = Object.assign(new Error("Could not load credentials from any providers"), { name: "CredentialsProviderError" });
    expect(message(err)).toBe(
      "no AWS credentials found: run `aws configure`, set AWS_PROFILE, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
    );
  });

  it("an expired SSO session", () => {
    const err = Object.assign(new Error("The SSO session has expired. To refresh this SSO session run aws sso login"), {
      name: "CredentialsProviderError",
    });
    expect(message(err)).toMatch(/^the AWS SSO session has expired .*: run `aws sso login`/);
  });

  it.each(["ExpiredToken", "ExpiredTokenException", "RequestExpired"])("expired credentials: %s", (name) => {
    expect(message(sdkError(name, 400))).toBe(
      `AWS credentials have expired (${name}): refresh them, e.g. with \`aws sso login\` or new session keys, and try again`,
    );
  });

  it.each(["InvalidAccessKeyId", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"])(
    "invalid keys: %s",
    (name) => {
      expect(message(sdkError(name, 403))).toBe(
        `AWS rejected the credentials (${name}): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile in use`,
      );
    },
  );

  it.each([
    ["AccessDenied", 403],
    ["AccessDeniedException", 400],
    ["Unknown", 403],
  ])("access denied: %s %d names the action and resource", (name, status) => {
    expect(message(sdkError(name, status))).toBe("access denied: s3:PutObject on s3://b/k; ask your AWS administrator to grant it");
  });

  it("a named 403 that is not about permissions is left alone", () => {
    expect(message(sdkError("InvalidObjectState", 403))).toBeUndefined();
  });

  it("NoSuchBucket names the bucket and region", () => {
    expect(message(sdkError("NoSuchBucket", 404, { BucketName: "b" }))).toBe(
      "bucket b does not exist (region us-east-1): create it or fix the s3-bucket setting",
    );
  });

  it("a bodyless 404 is a missing bucket for HeadBucket but not for HeadObject", () => {
    expect(message(sdkError("NotFound", 404), headBucket)).toBe(
      "bucket b does not exist (region us-east-1): create it or fix the s3-bucket setting",
    );
    expect(message(sdkError("NotFound", 404), { action: "s3:GetObject", resource: "s3://b/inputs/x.zip" })).toBeUndefined();
  });

  it("a 301 names the bucket's region from x-amz-bucket-region", () => {
    const err = sdkError("Unknown", 301, {}, { "x-amz-bucket-region": "eu-west-1" });
    expect(message(err, headBucket)).toBe(
      "bucket b is in region eu-west-1, not us-east-1: pass --aws-region eu-west-1 or set AWS_REGION=eu-west-1",
    );
  });

  it("AuthorizationHeaderMalformed uses the region from the error body", () => {
    expect(message(sdkError("AuthorizationHeaderMalformed", 400, { Region: "ap-south-1" }))).toBe(
      "bucket b is in region ap-south-1, not us-east-1: pass --aws-region ap-south-1 or set AWS_REGION=ap-south-1",
    );
  });

  it("PermanentRedirect without a known region still says what to do", () => {
    expect(message(sdkError("PermanentRedirect", 301))).toBe(
      "bucket b is in another region than us-east-1: pass --aws-region or set AWS_REGION to the bucket's region",
    );
  });

  it.each([
    [netError("ECONNREFUSED", { address: "127.0.0.1", port: 5000 }), "cannot reach 127.0.0.1:5000: ECONNREFUSED"],
    [netError("ENOTFOUND", { hostname: "s3.nowhere.example" }), "cannot reach s3.nowhere.example: ENOTFOUND"],
    [netError("EAI_AGAIN", { hostname: "batch.example" }), "cannot reach batch.example: EAI_AGAIN"],
    [netError("ETIMEDOUT"), "cannot reach AWS: ETIMEDOUT"],
    [Object.assign(new Error("Connection timed out after 1000 ms"), { name: "TimeoutError" }), "cannot reach AWS: TimeoutError"],
    [
      Object.assign(new AggregateError([netError("ECONNREFUSED", { address: "::1", port: 9 })], ""), { code: "ECONNREFUSED" }),
      "cannot reach ::1:9: ECONNREFUSED",
    ],
  ])("network failure %#", (err, expected) => {
    expect(message(err)).toBe(`${expected}; check your network connection, proxy settings or AWS_ENDPOINT_URL`);
  });

  it("names the configured endpoint when there is one", () => {
    const err = netError("ECONNREFUSED", { address: "127.0.0.1", port: 5000 });
    expect(message(err, { ...put, endpoint: "http://localhost:5000" })).toMatch(/^cannot reach http:\/\/localhost:5000: ECONNREFUSED/);
  });

  it.each([
    sdkError("ThrottlingException", 400),
    sdkError("SlowDown", 503),
    sdkError("TooManyRequestsException", 429),
    sdkError("ClientException", 400),
    sdkError("InternalError", 500),
    new Error("boom"),
    "a string",
    undefined,
  ])("leaves unknown failures and throttling to the caller: %#", (err) => {
    expect(awsErrorToUserError(err, put)).toBeUndefined();
  });

  it("keeps the original error as the cause, for NBATCH_DEBUG", () => {
    const err = sdkError("AccessDenied", 403);
    expect(awsErrorToUserError(err, put)?.cause).toBe(err);
  });
});

describe("aws()", () => {
  const s3 = mockClient(S3Client);
  afterEach(() => {
    s3.reset();
  });
  // From the factory, which also keeps the SDK's Node version warning out of the test output.
  const client = createAwsClients({ region: "us-east-1", endpoints: {} }).s3;

  it("returns the call's result", async () => {
    s3.on(PutObjectCommand).resolves({ ETag: '"abc"' });
    await expect(aws(put, () => client.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x" })))).resolves.toMatchObject({
      ETag: '"abc"',
    });
  });

  it("rethrows a mapped SDK failure as a one-line UserError", async () => {
    s3.on(PutObjectCommand).rejects(
      new S3ServiceException({ name: "AccessDenied", $fault: "client", $metadata: { httpStatusCode: 403 }, message: "Access Denied" }),
    );
    const call = aws(put, () => client.send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x" })));
    await expect(call).rejects.toBeInstanceOf(UserError);
    await expect(call).rejects.toThrow("access denied: s3:PutObject on s3://b/k; ask your AWS administrator to grant it");
  });

  it("rethrows anything else unchanged", async () => {
    const throttled = new S3ServiceException({ name: "SlowDown", $fault: "server", $metadata: { httpStatusCode: 503 } });
    s3.on(HeadBucketCommand).rejects(throttled);
    await expect(aws(headBucket, () => client.send(new HeadBucketCommand({ Bucket: "b" })))).rejects.toBe(throttled);
  });
});
