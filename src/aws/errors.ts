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
  /** The endpoint override in use, named when it cannot be reached, and where it was set. */
  endpoint?: string;
  endpointFrom?: string;
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
/** Node's codes for a server certificate it cannot trust: a TLS-inspecting proxy or a private CA. */
const UNTRUSTED = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

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
  const tls = [...(e.errors ?? []), e].find((x) => UNTRUSTED.has((x as AwsErrorShape)?.code ?? "")) as AwsErrorShape | undefined;
  if (tls) {
    const target = context.endpoint ?? tls.hostname ?? "AWS";
    return fail(
      `cannot trust the certificate of ${target} (${tls.code}): on a network that inspects TLS or with a private CA, set AWS_CA_BUNDLE or ca_bundle in ~/.aws/config to the CA's PEM file`,
    );
  }
  const network = networkError(e);
  if (network) {
    const { hostname, address, port } = network;
    const target = context.endpoint ?? hostname ?? (address ? `${address}:${port}` : "AWS");
    return fail(`cannot reach ${target}: ${network.code ?? network.name}; check your network connection, proxy settings or ${context.endpointFrom ?? "AWS_ENDPOINT_URL"}`);
  }
  return undefined;
}

/** An AWS failure the user can fix, as one line; the SDK's error is its cause. */
export class AwsUserError extends UserError {
  constructor(
    message: string,
    readonly context: AwsContext,
    options: { cause: unknown },
  ) {
    super(message, options);
    this.name = "AwsUserError";
  }
}

/** The SDK's own error under one the clients explained (retry and not-found checks look at it). */
export function sdkError(err: unknown): unknown {
  return err instanceof AwsUserError ? err.cause : err;
}

const CONTEXT = Symbol("nbatch.awsContext");

/** What the call that failed was doing: attached by the clients to every error they pass on. */
export function contextOf(err: unknown): AwsContext | undefined {
  if (err instanceof AwsUserError) return err.context;
  return typeof err === "object" && err !== null ? (err as { [CONTEXT]?: AwsContext })[CONTEXT] : undefined;
}

/**
 * What a client does with a failed call (clients.ts): a failure the user can
 * fix becomes an AwsUserError; any other keeps its identity, for the
 * callers that retry it or treat it as absent, and carries its context, so
 * that if nobody handles it the user still learns what failed and where.
 */
export function explainAwsError(err: unknown, context: AwsContext): unknown {
  const mapped = awsErrorToUserError(err, context);
  if (mapped) return new AwsUserError(mapped.message, context, { cause: err });
  if (typeof err === "object" && err !== null && !(CONTEXT in err)) Object.defineProperty(err, CONTEXT, { value: context, enumerable: false });
  return err;
}

/**
 * The last word on an AWS failure nobody handled (cli.ts): the server's own
 * message, what was being done, and a hint. These are the user's to fix or
 * to retry, never nbatch's internal errors.
 */
export function unhandledAwsError(err: unknown): UserError | undefined {
  const failed = awsFailure(err);
  if (!failed) return undefined;
  const e = err as AwsErrorShape;
  return new UserError(`${failed}; ${hintFor(e, e.$metadata?.httpStatusCode)}`, { cause: err });
}

/** What an AWS call that failed was doing and what the server said, without advice; undefined if err is not one. */
export function awsFailure(err: unknown): string | undefined {
  const context = contextOf(err);
  const e = err as AwsErrorShape;
  if (!context || typeof e?.$metadata !== "object") return undefined;
  const status = e.$metadata.httpStatusCode;
  const said = `${e.name ?? "Error"}${e.message && e.message !== e.name ? `: ${e.message}` : ""}`;
  const where = `${context.action} on ${context.resource}${context.region ? ` (region ${context.region})` : ""}${context.endpoint ? ` at ${context.endpoint}` : ""}`;
  return `${where} failed: ${said}${status ? ` (HTTP ${status})` : ""}`;
}

/** Credentials that expired, or that the SDK could no longer find or refresh (an SSO session that ended). */
export function isCredentialsFailure(err: unknown): boolean {
  const name = (sdkError(err) as AwsErrorShape | undefined)?.name ?? "";
  return EXPIRED.has(name) || name === "CredentialsProviderError" || name === "TokenProviderError";
}

function hintFor(e: AwsErrorShape, status: number | undefined): string {
  const name = e.name ?? "";
  if (/^KMS\.|KMS/.test(name) || /kms/i.test(e.message ?? "")) {
    return "check the KMS key (--sse-kms-key-id) and that you may use it (kms:GenerateDataKey, kms:Decrypt)";
  }
  if (name === "InvalidRequest" || name === "NotImplemented" || name === "InvalidArgument") {
    return "an S3-compatible store may refuse what AWS accepts: try --sse none, or request_checksum_calculation = when_required in ~/.aws/config (docs/configuration.md)";
  }
  if ((status ?? 0) >= 500) return "the service is having trouble: try again later";
  return "check the settings that name it (nbatch config list --show-origin)";
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

/** The IAM action of an SDK command, where it is not simply service:Name. */
const ACTIONS: Record<string, string> = {
  HeadObject: "s3:GetObject",
  HeadBucket: "s3:ListBucket",
  ListObjectsV2: "s3:ListBucket",
  ListMultipartUploads: "s3:ListBucketMultipartUploads",
  CreateMultipartUpload: "s3:PutObject",
  UploadPart: "s3:PutObject",
  CompleteMultipartUpload: "s3:PutObject",
  GetBucketLifecycleConfiguration: "s3:GetLifecycleConfiguration",
  GetBucketEncryption: "s3:GetEncryptionConfiguration",
  GetPublicAccessBlock: "s3:GetBucketPublicAccessBlock",
};

/** What a call does, in the words of IAM and of the user's settings: "s3:PutObject on s3://b/k". */
export function callContext(service: string, commandName: string, input: Record<string, unknown>, region: string, endpoint?: string, endpointFrom?: string): AwsContext {
  const name = commandName.replace(/Command$/, "");
  return { action: ACTIONS[name] ?? `${service}:${name}`, resource: resourceOf(service, input), region, ...(endpoint ? { endpoint, ...(endpointFrom ? { endpointFrom } : {}) } : {}) };
}

function resourceOf(service: string, input: Record<string, unknown>): string {
  const list = (what: string, value: unknown) => {
    const items = [value].flat().map(String);
    return `${what}${items.length > 1 ? "s" : ""} ${items.slice(0, 3).join(", ")}${items.length > 3 ? ` and ${items.length - 3} more` : ""}`;
  };
  if (service === "s3") return input.Bucket ? `s3://${input.Bucket}${input.Key ? `/${input.Key}` : ""}` : "S3";
  if (service === "sts") return "the caller's identity";
  if (service === "logs") return input.logGroupName ? `log group ${input.logGroupName}` : input.logGroupNamePrefix ? `log groups ${input.logGroupNamePrefix}*` : "CloudWatch Logs";
  if (input.jobId) return `job ${input.jobId}`;
  if (Array.isArray(input.jobs)) return list("job", input.jobs);
  if (input.jobQueue) return `job queue ${input.jobQueue}`;
  if (Array.isArray(input.jobQueues) && input.jobQueues.length) return list("job queue", input.jobQueues);
  const definition = input.jobDefinition ?? input.jobDefinitionName ?? input.jobDefinitions;
  if (definition) return list("job definition", definition);
  if (Array.isArray(input.computeEnvironments) && input.computeEnvironments.length) return list("compute environment", input.computeEnvironments);
  return "AWS Batch";
}
