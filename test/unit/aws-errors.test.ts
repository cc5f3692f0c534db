import { Readable } from "node:stream";
import { HeadBucketCommand, HeadObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { explained } from "../../src/aws/clients.js";
import { AwsUserError, awsErrorToUserError, callContext, contextOf, unhandledAwsError, type AwsContext } from "../../src/aws/errors.js";
import { isTransient } from "../../src/aws/retry.js";
import { isNotFound } from "../../src/aws/s3.js";
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
    // And the setting it came from, to fix.
    expect(message(err, { ...put, endpoint: "http://localhost:5000", endpointFrom: "AWS_ENDPOINT_URL_BATCH" })).toMatch(/proxy settings or AWS_ENDPOINT_URL_BATCH$/);
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

describe("clients that explain their own errors", () => {
  const credentials = { accessKeyId: "a", secretAccessKey: "b" };
  /** A request handler that answers every request with this status and body, or fails to connect. */
  const answering = (statusCode: number, body: string, headers: Record<string, string> = {}) => ({
    handle: async () => ({ response: { statusCode, headers: { "content-type": "application/xml", ...headers }, body: Readable.from([Buffer.from(body)]) } }),
  });
  const refusing = { handle: async () => Promise.reject(netError("ECONNREFUSED", { address: "127.0.0.1", port: 9 })) };
  const s3 = (requestHandler: unknown, endpoint?: string) =>
    explained(new S3Client({ region: "us-east-1", credentials, requestHandler: requestHandler as never, forcePathStyle: true, maxAttempts: 1, ...(endpoint ? { endpoint } : {}) }), "s3", "us-east-1", endpoint);

  it("turn a failure the user can fix into one line naming the action, the resource and the region", async () => {
    const client = s3(answering(403, "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"));
    const call = client.send(new PutObjectCommand({ Bucket: "b", Key: "inputs/x.zip", Body: "x" }));
    await expect(call).rejects.toBeInstanceOf(AwsUserError);
    await expect(call).rejects.toThrow("access denied: s3:PutObject on s3://b/inputs/x.zip; ask your AWS administrator to grant it");
  });

  it("name the endpoint they cannot reach", async () => {
    const call = s3(refusing, "http://127.0.0.1:9").send(new HeadBucketCommand({ Bucket: "b" }));
    await expect(call).rejects.toThrow(/^cannot reach http:\/\/127\.0\.0\.1:9: ECONNREFUSED/);
    // Retry loops still see the network failure under it.
    expect(isTransient(await call.catch((e: unknown) => e))).toBe(true);
  });

  it("leave other failures as they are, for callers that retry or treat them as absent, but say what they were doing", async () => {
    const err = await s3(answering(404, "")).send(new HeadObjectCommand({ Bucket: "b", Key: "inputs/x.zip" })).catch((e: unknown) => e);
    expect(isNotFound(err)).toBe(true);
    expect(contextOf(err)).toEqual({ action: "s3:GetObject", resource: "s3://b/inputs/x.zip", region: "us-east-1" });
  });

  it("give an unhandled server error the server's words, the call and a hint, as a user error", async () => {
    const body = "<Error><Code>InvalidRequest</Code><Message>x-amz-server-side-encryption is not supported</Message></Error>";
    const err = await s3(answering(400, body), "http://127.0.0.1:7480").send(new PutObjectCommand({ Bucket: "b", Key: "k", Body: "x" })).catch((e: unknown) => e);
    const user = unhandledAwsError(err);
    expect(user).toBeInstanceOf(UserError);
    expect(user!.message).toBe(
      "s3:PutObject on s3://b/k (region us-east-1) at http://127.0.0.1:7480 failed: InvalidRequest: x-amz-server-side-encryption is not supported (HTTP 400); " +
        "an S3-compatible store may refuse what AWS accepts: try --sse none, or request_checksum_calculation = when_required in ~/.aws/config (docs/configuration.md)",
    );
  });

  it("describe Batch calls by what they act on", () => {
    expect(callContext("batch", "SubmitJobCommand", { jobQueue: "q", jobDefinition: "d" }, "eu-west-1")).toEqual({ action: "batch:SubmitJob", resource: "job queue q", region: "eu-west-1" });
    expect(callContext("batch", "DescribeJobsCommand", { jobs: ["a", "b", "c", "d"] }, "r").resource).toBe("jobs a, b, c and 1 more");
    expect(callContext("logs", "GetLogEventsCommand", { logGroupName: "/aws/batch/job", logStreamName: "s" }, "r")).toMatchObject({ action: "logs:GetLogEvents", resource: "log group /aws/batch/job" });
  });
});
