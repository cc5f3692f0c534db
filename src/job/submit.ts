import { SubmitJobCommand, type JobDefinition, type RetryStrategy, type SubmitJobCommandInput } from "@aws-sdk/client-batch";
import { deleteObject, putText, type S3Object } from "../aws/s3.js";
import { UserError } from "../errors.js";
import { agentOptions, JOB_ENV, PROTOCOL_VERSION } from "../protocol.js";
import { jobName } from "../runid.js";
import type { AwsSettings } from "../config/settings.js";
import type { SettingValues } from "../config/table.js";
import { agentS3Env } from "../aws/s3-policy.js";
import { definitionContainer, requestedBy } from "./definition.js";
import type { BatchContext } from "./context.js";
import { definedOnly, resourceEnv } from "./resources.js";

export interface SubmitPlan {
  runId: string;
  dirName: string;
  jobDefinition: JobDefinition;
  userCommand: string[];
  /** The subdirectory the command runs in, if not the top. */
  workdir?: string;
  inputsUrl: string;
  resultsUrl: string;
  envUrl?: string;
  /** From --retries and --retry-on (job/retries.ts); undefined keeps the definition's. */
  retryStrategy?: RetryStrategy;
  /** Where the agent keeps its copy of the log. */
  logUrl?: string;
  timeoutSeconds?: number;
  /** A fair-share queue's share for the job, and --priority. */
  shareIdentifier?: string;
  schedulingPriority?: number;
  gpus?: number;
  resume?: boolean;
  tags: Record<string, string>;
  /** How the agent must treat S3 (the S3 policy, the checksum setting). */
  aws?: Pick<AwsSettings, "s3" | "requestChecksumCalculation">;
}

/** The settings that shape a SubmitJob request. */
export type SubmitSettings = Pick<SettingValues, "queue" | "cpus" | "memoryMiB" | "agentCommand">;

/**
 * The SubmitJob request of the job protocol (docs/protocol.md): the agent
 * wraps the command in the job's container, with the protocol's variables,
 * in the override that matches the job definition's form.
 */
export function submitInput(settings: SubmitSettings, plan: SubmitPlan): SubmitJobCommandInput {
  const def = plan.jobDefinition;
  const main = definitionContainer(def);
  const command = plan.userCommand.length ? plan.userCommand : (main?.command ?? []);
  if (!command.length) {
    throw new UserError(`no command given and job definition ${def.jobDefinitionName} has none: put the command after --, e.g. nbatch build --aws-batch dir -- make`);
  }
  const attempts = plan.retryStrategy?.attempts ?? def.retryStrategy?.attempts ?? 1;
  const environment = [
    { name: JOB_ENV.protocol, value: String(PROTOCOL_VERSION) },
    { name: JOB_ENV.runId, value: plan.runId },
    { name: JOB_ENV.inputsUrl, value: plan.inputsUrl },
    { name: JOB_ENV.resultsUrl, value: plan.resultsUrl },
    ...(plan.envUrl ? [{ name: JOB_ENV.envUrl, value: plan.envUrl }, { name: JOB_ENV.attempts, value: String(attempts) }] : []),
    ...(plan.resume ? [{ name: JOB_ENV.resume, value: "1" }] : []),
    ...(plan.logUrl ? [{ name: JOB_ENV.logUrl, value: plan.logUrl }] : []),
    ...(plan.aws ? agentS3Env(plan.aws) : []),
    ...resourceEnv({ ...definedOnly(requestedBy(def)), ...definedOnly({ cpus: settings.cpus, memoryMiB: settings.memoryMiB }) }),
  ];
  const resourceRequirements = [
    ...(settings.cpus !== undefined ? [{ type: "VCPU" as const, value: String(settings.cpus) }] : []),
    ...(settings.memoryMiB !== undefined ? [{ type: "MEMORY" as const, value: String(settings.memoryMiB) }] : []),
    ...(plan.gpus !== undefined ? [{ type: "GPU" as const, value: String(plan.gpus) }] : []),
  ];
  const overrides = { command: [...settings.agentCommand, ...agentOptions(plan), "--", ...command], environment, ...(resourceRequirements.length ? { resourceRequirements } : {}) };
  return {
    jobName: jobName(plan.dirName, plan.runId),
    jobQueue: settings.queue,
    jobDefinition: def.jobDefinitionArn ?? (def.revision ? `${def.jobDefinitionName}:${def.revision}` : def.jobDefinitionName!),
    // An ecsProperties definition takes its overrides per container, by name (AWS Batch API reference, TaskContainerOverrides).
    ...(def.ecsProperties ? { ecsPropertiesOverride: { taskProperties: [{ containers: [{ ...(main && "name" in main && main.name ? { name: main.name } : {}), ...overrides }] }] } } : { containerOverrides: overrides }),
    tags: { ...plan.tags, "nbatch:run-id": plan.runId },
    propagateTags: true,
    ...(plan.retryStrategy ? { retryStrategy: plan.retryStrategy } : {}),
    ...(plan.timeoutSeconds !== undefined ? { timeout: { attemptDurationSeconds: plan.timeoutSeconds } } : {}),
    ...(plan.shareIdentifier !== undefined ? { shareIdentifier: plan.shareIdentifier } : {}),
    ...(plan.schedulingPriority !== undefined ? { schedulingPriorityOverride: plan.schedulingPriority } : {}),
  };
}

export interface Submission {
  input: SubmitJobCommandInput;
  /** Where the --env values go, and the values. */
  env?: { obj: S3Object; values: Record<string, string> };
}

/**
 * The submit stage: the --env values go up, then SubmitJob. If the job
 * cannot be submitted (or Ctrl-C comes first), the values are deleted: no
 * job will read them, and they must not stay in the bucket.
 */
export async function submitJob(ctx: BatchContext, s: Submission, interrupted: () => Error | undefined): Promise<string> {
  const { clients } = ctx;
  const check = () => {
    const stop = interrupted();
    if (stop) throw stop;
  };
  // A Ctrl-C during the upload must not leave the values in the bucket, even for a moment.
  check();
  try {
    if (s.env) await putText(clients.s3, s.env.obj, JSON.stringify(s.env.values));
    check();
    const submitted = await clients.batch.send(new SubmitJobCommand(s.input));
    return submitted.jobId!;
  } catch (err) {
    if (s.env) await deleteObject(clients.s3, s.env.obj).catch(() => undefined);
    throw err;
  }
}
