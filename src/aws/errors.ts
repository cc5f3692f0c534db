/**
 * AWS failures a user can fix, as one line saying what is wrong and how to
 * fix it. Throttling and other transient faults are deliberately not mapped:
 * callers retry those.
 */
import { UserError } from "../errors.js";

export interface AwsContext {
  /** The IAM action the call needs, e.g. "s3:PutObject". */
  action: string;
  /** What it acts on, e.g. "s3://bucket/key" or "job queue q". */
  resource: string;
  region?: string;
  /** The endpoint override in use, named when it cannot be reached. */
  endpoint?: string;
}

interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  hostname?: string;
  address?: string;
  port?: number;
  errors?: unknown[];
  BucketName?: string;
  Region?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

const EXPIRED = new Set(["ExpiredToken", "ExpiredTokenException", "RequestExpired"]);
const INVALID_KEYS = new Set(["InvalidAccessKeyId", "InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"]);
const ACCESS_DENIED = new Set(["AccessDenied", "AccessDeniedException"]);
/** Names the SDK gives an error response without a body, as S3 sends for HEAD requests. */
const BODYLESS = new Set(["Unknown", "UnknownError", "Forbidden", "403"]);
const WRONG_REGION = new Set(["PermanentRedirect", "AuthorizationHeaderMalformed"]);
const NETWORK = new Set(["ECONNREFUSED", "ENOTFOUND", "ETIMEDOUT", "EAI_AGAIN", "ECONNRESET", "EHOSTUNREACH", "ENETUNREACH"]);

export function awsErrorToUserError(err: unknown, context: AwsContext): UserError | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const e = err as AwsErrorShape;
  const name = e.name ?? "";
  const status = e.$metadata?.httpStatusCode;
  const where = context.region ? ` (region ${context.region})` : "";
  const fail = (message: string) => new UserError(message, { cause: err });

  if (name === "CredentialsProviderError" || name === "TokenProviderError") {
    if (/aws sso login/i.test(e.message ?? "")) {
      return fail("the AWS SSO session has expired or is not signed in: run `aws sso login` (with --profile if you use one)");
    }
    return fail("no AWS credentials found: run `aws configure`, set AWS_PROFILE, or set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY");
  }
  if (EXPIRED.has(name)) {
    return fail(`AWS credentials have expired (${name}): refresh them, e.g. with \`aws sso login\` or new session keys, and try again`);
  }
  if (INVALID_KEYS.has(name)) {
    return fail(`AWS rejected the credentials (${name}): check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or the profile in use`);
  }
  if (ACCESS_DENIED.has(name) || (status === 403 && BODYLESS.has(name))) {
    return fail(`access denied: ${context.action} on ${context.resource}; ask your AWS administrator to grant it`);
  }
  // A bodyless 404 means "no such bucket" only for HeadBucket (IAM action s3:ListBucket); from HeadObject it means "no such key".
  if (name === "NoSuchBucket" || (status === 404 && name === "NotFound" && context.action === "s3:ListBucket")) {
    const bucket = e.BucketName ?? bucketOf(context.resource);
    return fail(`bucket ${bucket} does not exist${where}: create it or fix the s3-bucket setting`);
  }
  if (WRONG_REGION.has(name) || status === 301) {
    const bucket = e.BucketName ?? bucketOf(context.resource);
    const region = e.$response?.headers?.["x-amz-bucket-region"] ?? e.Region;
    return fail(
      region
        ? `bucket ${bucket} is in region ${region}, not ${context.region ?? "the one in use"}: pass --aws-region ${region} or set AWS_REGION=${region}`
        : `bucket ${bucket} is in another region than ${context.region ?? "the one in use"}: pass --aws-region or set AWS_REGION to the bucket's region`,
    );
  }
  const network = networkError(e);
  if (network) {
    const { hostname, address, port } = network;
    const target = context.endpoint ?? hostname ?? (address ? `${address}:${port}` : "AWS");
    return fail(`cannot reach ${target}: ${network.code ?? network.name}; check your network connection, proxy settings or AWS_ENDPOINT_URL`);
  }
  return undefined;
}

/** Calls fn, turning AWS failures a user can fix into UserError and passing everything else through. */
export async function aws<T>(context: AwsContext, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw awsErrorToUserError(err, context) ?? err;
  }
}

function networkError(e: AwsErrorShape): AwsErrorShape | undefined {
  if (e.name === "TimeoutError") return { name: e.name };
  // Node reports a failed connection to a dual-stack host as an AggregateError of per-address errors.
  const candidates = [...(e.errors ?? []), e] as AwsErrorShape[];
  return candidates.find((x) => typeof x === "object" && x !== null && NETWORK.has(x.code ?? ""));
}

function bucketOf(resource: string): string {
  return /^s3:\/\/([^/]+)/.exec(resource)?.[1] ?? resource;
}
