import type {
  ContainerDetail,
  JobDefinition,
  JobDetail,
  KeyValuePair,
  ResourceRequirement,
  SubmitJobRequest,
} from "@aws-sdk/client-batch";
import { randomUUID } from "node:crypto";
import { ClientException, requireName, type Registry } from "./executor-registry.js";

/**
 * Validates a SubmitJob request as Batch does and builds the job's
 * description: the job definition merged with the overrides, which is what
 * DescribeJobs reports.
 */
export function newJob(registry: Registry, input: Partial<SubmitJobRequest>, now: number): JobDetail {
  const jobName = requireName(input.jobName, "jobName");
  const queue = registry.queue(input.jobQueue);
  if (queue.state !== "ENABLED") {
    throw new ClientException(`JobQueue ${queue.jobQueueName} is not ENABLED: it accepts no new jobs`);
  }
  const definition = registry.definition(input.jobDefinition);
  const overrides = input.containerOverrides ?? {};
  for (const { name } of overrides.environment ?? []) {
    if (!name) throw new ClientException("containerOverrides.environment: every entry needs a name");
    if (name.startsWith("AWS_BATCH")) {
      throw new ClientException(`containerOverrides.environment: ${name}: names beginning with AWS_BATCH are reserved`);
    }
  }
  const retryStrategy = input.retryStrategy ?? definition.retryStrategy;
  const attempts = retryStrategy?.attempts ?? 1;
  if (!Number.isInteger(attempts) || attempts < 1 || attempts > 10) {
    throw new ClientException(`retryStrategy.attempts must be an integer from 1 to 10, got ${attempts}`);
  }
  const timeout = input.timeout ?? definition.timeout;
  if (timeout?.attemptDurationSeconds !== undefined && timeout.attemptDurationSeconds < 60) {
    throw new ClientException("timeout.attemptDurationSeconds must be at least 60 seconds");
  }
  const jobId = randomUUID();
  const propagateTags = input.propagateTags ?? definition.propagateTags;
  const tags = { ...(propagateTags ? definition.tags : {}), ...input.tags };
  return {
    jobArn: registry.arn("job", jobId),
    jobName,
    jobId,
    jobQueue: queue.jobQueueArn,
    status: "SUBMITTED",
    attempts: [],
    createdAt: now,
    startedAt: undefined,
    retryStrategy,
    dependsOn: [],
    jobDefinition: definition.jobDefinitionArn,
    parameters: { ...definition.parameters, ...input.parameters },
    container: containerDetail(definition, overrides.command, overrides.environment, overrides.resourceRequirements),
    timeout,
    tags: Object.keys(tags).length > 0 ? tags : undefined,
    propagateTags,
    platformCapabilities: definition.platformCapabilities,
  };
}

function containerDetail(
  definition: JobDefinition,
  command: string[] | undefined,
  environment: KeyValuePair[] | undefined,
  resourceRequirements: ResourceRequirement[] | undefined,
): ContainerDetail {
  const props = definition.containerProperties ?? {};
  return {
    image: props.image,
    command: command ?? props.command ?? [],
    jobRoleArn: props.jobRoleArn,
    executionRoleArn: props.executionRoleArn,
    environment: mergeBy("name", props.environment, environment),
    resourceRequirements: validResources(mergeBy("type", props.resourceRequirements, resourceRequirements)),
    logConfiguration: props.logConfiguration,
    volumes: props.volumes ?? [],
    mountPoints: props.mountPoints ?? [],
    ulimits: props.ulimits ?? [],
    networkInterfaces: [],
    secrets: props.secrets ?? [],
    // The user the container runs as (docker run --user): AWS Batch API reference, ContainerProperties.user.
    ...(props.user ? { user: props.user } : {}),
  };
}

/** Later entries replace earlier ones with the same key, keeping first-seen order. */
function mergeBy<K extends string, T extends Partial<Record<K, unknown>>>(key: K, ...lists: (T[] | undefined)[]): T[] {
  const merged = new Map<unknown, T>();
  for (const item of lists.flatMap((l) => l ?? [])) merged.set(item[key], item);
  return [...merged.values()];
}

function validResources(requirements: ResourceRequirement[]): ResourceRequirement[] {
  for (const { type, value } of requirements) {
    const ok =
      type === "VCPU" ? /^\d+(\.\d+)?$/.test(value ?? "") && Number(value) > 0
      : type === "MEMORY" || type === "GPU" ? /^[1-9]\d*$/.test(value ?? "")
      : false;
    if (!ok) {
      throw new ClientException(
        `resourceRequirements: invalid ${type} value ${JSON.stringify(value)} (VCPU is a number of vCPUs, MEMORY a whole number of MiB)`,
      );
    }
  }
  return requirements;
}
