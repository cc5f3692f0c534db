/**
 * The IAM policies of the one-time setup, written once: `nbatch setup
 * aws-batch --print-policies` prints them for a bucket, docs/iam/*.json are
 * them for a placeholder bucket (a test keeps the files equal), and a test
 * checks the CloudFormation template grants exactly the same.
 */
import type { BucketLocation } from "../config/settings.js";

export interface PolicyNames {
  bucket: BucketLocation;
  queue: string;
  /** The job definition; its --image/--secret variants are named <job>-<hash>. */
  job: string;
  logGroup: string;
  jobRole: string;
  executionRole: string;
  /** "*" in the ready-made files; the stack's own in CloudFormation. */
  region: string;
  account: string;
}

export const DEFAULT_NAMES = {
  logGroup: "/nbatch/jobs",
  jobRole: "nbatch-job-role",
  executionRole: "nbatch-execution-role",
};

/** Secrets and parameters whose names start with this can be read by jobs (--secret). */
const SECRETS_PREFIX = "nbatch/";

interface Statement {
  Sid: string;
  Effect: "Allow";
  Action: string | string[];
  Resource: string | string[];
}

export interface PolicyDocument {
  Version: "2012-10-17";
  Statement: Statement[];
}

const allow = (Sid: string, Action: string | string[], Resource: string | string[]): Statement => ({ Sid, Effect: "Allow", Action, Resource });
const document = (...Statement: Statement[]): PolicyDocument => ({ Version: "2012-10-17", Statement });

const bucketArn = (n: PolicyNames) => `arn:aws:s3:::${n.bucket.bucket}`;
const objectsArn = (n: PolicyNames) => `${bucketArn(n)}/${n.bucket.prefix ? `${n.bucket.prefix}/` : ""}*`;
const batchArn = (n: PolicyNames, resource: string) => `arn:aws:batch:${n.region}:${n.account}:${resource}`;

/** A queue or job definition as a bare name: settings may give an ARN or, for jobs, name:revision. */
export function bareName(nameOrArn: string): string {
  return nameOrArn.replace(/^arn:[^:]+:batch:[^:]*:\d*:(job-queue|job-definition)\//, "").replace(/:\d+$/, "");
}
const OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"];

/** For the people (or CI) who run nbatch: submit, watch, stop and check jobs; read their logs; use the bucket. */
export function userPolicy(n: PolicyNames): PolicyDocument {
  return document(
    allow("SubmitJobs", ["batch:SubmitJob", "batch:TagResource"], [
      batchArn(n, `job-queue/${bareName(n.queue)}`),
      batchArn(n, `job-definition/${bareName(n.job)}:*`),
      batchArn(n, `job-definition/${bareName(n.job)}-*`),
      batchArn(n, "job/*"),
    ]),
    allow("RegisterImageAndSecretVariants", "batch:RegisterJobDefinition", batchArn(n, `job-definition/${bareName(n.job)}-*`)),
    allow("PassJobRoles", "iam:PassRole", [`arn:aws:iam::${n.account}:role/${n.jobRole}`, `arn:aws:iam::${n.account}:role/${n.executionRole}`]),
    allow(
      "WatchAndStopJobs",
      ["batch:DescribeJobs", "batch:ListJobs", "batch:TerminateJob", "batch:CancelJob", "batch:DescribeJobQueues", "batch:DescribeJobDefinitions", "batch:DescribeComputeEnvironments"],
      "*",
    ),
    allow("ReadJobLogs", ["logs:GetLogEvents", "logs:FilterLogEvents"], `arn:aws:logs:${n.region}:${n.account}:log-group:${n.logGroup}:*`),
    allow("CheckLogRetention", "logs:DescribeLogGroups", "*"),
    allow(
      "CheckBucket",
      ["s3:ListBucket", "s3:GetBucketLocation", "s3:GetLifecycleConfiguration", "s3:GetEncryptionConfiguration", "s3:GetBucketPublicAccessBlock", "s3:GetBucketVersioning"],
      bucketArn(n),
    ),
    // A run aborts the incomplete uploads of its inputs that a killed run left behind.
    allow("FindIncompleteUploads", "s3:ListBucketMultipartUploads", bucketArn(n)),
    allow("ReadWriteInputsAndResults", OBJECT_ACTIONS, objectsArn(n)),
  );
}

/** For the job role: the agent fetches inputs, uploads results and deletes the one-time environment object. */
export function jobRolePolicy(n: PolicyNames): PolicyDocument {
  // ListBucket lets a missing object answer 404 rather than 403.
  return document(allow("FindObjects", "s3:ListBucket", bucketArn(n)), allow("ReadWriteInputsAndResults", OBJECT_ACTIONS, objectsArn(n)));
}

/** Optional, for the execution role: Batch reads --secret values from Secrets Manager or SSM under nbatch/. */
export function secretsPolicy(n: PolicyNames): PolicyDocument {
  return document(
    allow("ReadNbatchSecrets", "secretsmanager:GetSecretValue", `arn:aws:secretsmanager:${n.region}:${n.account}:secret:${SECRETS_PREFIX}*`),
    allow("ReadNbatchParameters", ["ssm:GetParameters", "ssm:GetParameter"], `arn:aws:ssm:${n.region}:${n.account}:parameter/${SECRETS_PREFIX}*`),
  );
}

export const POLICIES = [
  { file: "user-policy.json", purpose: "for users who submit jobs (attach to their group)", build: userPolicy },
  { file: "job-role-policy.json", purpose: `for the job role (${DEFAULT_NAMES.jobRole})`, build: jobRolePolicy },
  { file: "secrets-policy.json", purpose: `optional, for the execution role (${DEFAULT_NAMES.executionRole}) when jobs use --secret`, build: secretsPolicy },
] as const;

/** As in docs/iam/: two-space JSON with a final newline. */
export const policyText = (policy: PolicyDocument) => `${JSON.stringify(policy, null, 2)}\n`;
