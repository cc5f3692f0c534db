/**
 * The one factory for AWS SDK clients. Each client is built on first use,
 * so a command that never touches Batch never pays for a Batch client, and
 * nothing is created at import time.
 */
import { createRequire } from "node:module";
import { BatchClient } from "@aws-sdk/client-batch";
import type { CloudWatchLogsClient } from "@aws-sdk/client-cloudwatch-logs";
import { S3Client } from "@aws-sdk/client-s3";
import type { STSClient } from "@aws-sdk/client-sts";
import type { AwsSettings, Service } from "../config/settings.js";
import { unsignedPayloadOverTls } from "./s3-payload.js";
import { callContext, explainAwsError } from "./errors.js";
import { applyS3Policy } from "./s3-policy.js";
import { requestHandlerFor } from "./transport.js";

export interface AwsClients {
  readonly s3: S3Client;
  readonly batch: BatchClient;
  readonly logs: CloudWatchLogsClient;
  readonly sts: STSClient;
  /** Closes the clients' sockets so the process can exit without waiting for keep-alive timeouts. */
  destroy(): void;
}

// The clients a build needs before SubmitJob are imported up front; the rest
// load on first use (the SDK is CommonJS, so require shares its module cache).
const load = createRequire(import.meta.url);
const lazy = {
  logs: () => load("@aws-sdk/client-cloudwatch-logs") as typeof import("@aws-sdk/client-cloudwatch-logs"),
  sts: () => load("@aws-sdk/client-sts") as typeof import("@aws-sdk/client-sts"),
  credentials: () => load("@aws-sdk/credential-providers") as typeof import("@aws-sdk/credential-providers"),
};

/**
 * The credential chain prints a console warning when a profile and access
 * keys are both set; nbatch has already chosen between them as the AWS CLI
 * does (config/aws.ts), so the warning would only be noise from a dependency.
 */
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The SDK's notice that its releases after January 2027 need Node 22 speaks
 * to whoever picks SDK versions: nbatch installs exactly the ones it was
 * tested with (npm-shrinkwrap.json), and its Node policy is in the README.
 * The SDK records that it has spoken in a flag it exports; setting that flag
 * keeps the notice off the user's terminal without touching the environment
 * that the user's command inherits.
 */
function quietSdkNodeNotice(): void {
  const notice = (load("@aws-sdk/core/client") as { state?: { warningEmitted: boolean } }).state;
  if (notice) notice.warningEmitted = true;
}

export function createAwsClients(aws: AwsSettings): AwsClients {
  quietSdkNodeNotice();
  const credentials = credentialsFor(aws);
  // Throttling and transient faults are retried by the SDK; nbatch's own backoff sits above this.
  const common = (service: Service) => ({
    region: aws.region,
    retryMode: aws.retries?.mode ?? "standard",
    maxAttempts: aws.retries?.maxAttempts ?? 5,
    requestHandler: requestHandlerFor(aws, service),
    ...(credentials ? { credentials } : {}),
    ...endpoint(aws.endpoints[service]),
  });
  let clients: { s3?: S3Client; batch?: BatchClient; logs?: CloudWatchLogsClient; sts?: STSClient } = {};
  return {
    get s3() {
      if (clients.s3) return clients.s3;
      clients.s3 = explained(
        new S3Client({
          ...common("s3"),
          forcePathStyle: aws.s3PathStyle ?? aws.endpoints.s3 !== undefined,
          // A bucket in another region is then used where it is instead of failing with a redirect.
          followRegionRedirects: true,
          ...(aws.requestChecksumCalculation ? { requestChecksumCalculation: aws.requestChecksumCalculation } : {}),
        }),
        "s3",
        aws.region,
        aws.endpoints.s3,
        aws.endpointsFrom?.s3,
      );
      if (aws.s3) applyS3Policy(clients.s3, aws.s3);
      unsignedPayloadOverTls(clients.s3);
      return clients.s3;
    },
    get batch() {
      return (clients.batch ??= explained(new BatchClient(common("batch")), "batch", aws.region, aws.endpoints.batch, aws.endpointsFrom?.batch));
    },
    get logs() {
      return (clients.logs ??= explained(new (lazy.logs().CloudWatchLogsClient)(common("logs")), "logs", aws.region, aws.endpoints.logs, aws.endpointsFrom?.logs));
    },
    get sts() {
      return (clients.sts ??= explained(new (lazy.sts().STSClient)(common("sts")), "sts", aws.region, aws.endpoints.sts, aws.endpointsFrom?.sts));
    },
    destroy() {
      for (const client of Object.values(clients)) client.destroy();
      clients = {};
    },
  };
}

/** The credentials config/aws.ts chose; undefined leaves the SDK's default chain. */
function credentialsFor(aws: AwsSettings) {
  const chosen = aws.credentials ?? (aws.profile ? { source: "profile" as const, profile: aws.profile, from: "" } : undefined);
  if (chosen?.source === "profile") return lazy.credentials().fromNodeProviderChain({ profile: chosen.profile, logger: quiet });
  if (chosen?.source === "env") return lazy.credentials().fromEnv();
  return undefined;
}

/**
 * The client explains its own failures: outermost in its stack, after the
 * SDK's retries, it turns what the user can fix into one line naming the
 * action, the resource, the region and the endpoint (aws/errors.ts), and
 * tags every other failure with the same, for whoever handles it last.
 */
export function explained<C extends { middlewareStack: { add: (...a: any[]) => void } }>(client: C, service: string, region: string, endpointUrl?: string, endpointFrom?: string): C {
  client.middlewareStack.add(
    (next: (args: { input: unknown }) => Promise<unknown>, context: { commandName?: string }) => async (args: { input: unknown }) => {
      try {
        return await next(args);
      } catch (err) {
        throw explainAwsError(err, callContext(service, context.commandName ?? "", args.input as Record<string, unknown>, region, endpointUrl, endpointFrom));
      }
    },
    { step: "initialize", priority: "high", name: "nbatchExplainErrors" },
  );
  return client;
}

function endpoint(url: string | undefined): { endpoint?: string } {
  return url ? { endpoint: url } : {};
}
