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
import { checkArraySize } from "./executor-arrays.js";
import { checkFargate, checkShare } from "./executor-rules.js";

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
  checkShare(queue, input.shareIdentifier);
  if (definition.ecsProperties && input.containerOverrides) {
    // Overrides go where the definition's containers are (AWS Batch API reference, SubmitJob ecsPropertiesOverride).
    throw new ClientException("containerOverrides cannot be used with a job definition that has ecsProperties: use ecsPropertiesOverride");
  }
  if (!definition.ecsProperties && input.ecsPropertiesOverride) throw new ClientException("ecsPropertiesOverride needs a job definition with ecsProperties");
  const ecsOverride = input.ecsPropertiesOverride?.taskProperties?.[0]?.containers?.[0];
  const overrides = input.containerOverrides ?? ecsOverride ?? {};
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
  const containers = jobContainers(definition, overrides, (ecsOverride as { name?: string } | undefined)?.name);
  const main = containers.container ?? containers.ecsProperties!.taskProperties![0]!.containers!.find((c) => c.essential !== false)!;
  checkFargate(definition, main.resourceRequirements ?? []);
  const size = checkArraySize(input.arrayProperties?.size);
  const dependsOn = input.dependsOn ?? [];
  // "You can specify a SEQUENTIAL type dependency (without specifying a job ID)" for array jobs (AWS Batch user guide, "Job dependencies"); at most 20 dependencies (user guide, "AWS Batch service quotas").
  if (dependsOn.length > 20) throw new ClientException("a job can depend on at most 20 jobs");
  for (const d of dependsOn) {
    if (d.type === "SEQUENTIAL" && (d.jobId || size === undefined)) throw new ClientException("a SEQUENTIAL dependency takes no jobId and needs an array job");
    if (d.type !== "SEQUENTIAL" && !d.jobId) throw new ClientException("dependsOn: a dependency needs a jobId, unless it is SEQUENTIAL");
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
    dependsOn,
    ...(size !== undefined ? { arrayProperties: { size } } : {}),
    jobDefinition: definition.jobDefinitionArn,
    parameters: { ...definition.parameters, ...input.parameters },
    ...containers,
    timeout,
    tags: Object.keys(tags).length > 0 ? tags : undefined,
    propagateTags,
    platformCapabilities: definition.platformCapabilities,
    ...(input.shareIdentifier !== undefined ? { shareIdentifier: input.shareIdentifier } : {}),
    ...(input.schedulingPriorityOverride !== undefined ? { schedulingPriority: input.schedulingPriorityOverride } : {}),
  };
}

/**
 * The job's container: for a container definition, its containerProperties
 * with the overrides; for an ecsProperties definition, its task with the
 * named (else the essential) container overridden.
 */
function jobContainers(definition: JobDefinition, o: { command?: string[]; environment?: KeyValuePair[]; resourceRequirements?: ResourceRequirement[] }, name: string | undefined): Pick<JobDetail, "container" | "ecsProperties"> {
  const detail = (props: JobDefinition["containerProperties"]) => containerDetail({ ...definition, containerProperties: props }, o.command, o.environment, o.resourceRequirements);
  if (!definition.ecsProperties) return { container: detail(definition.containerProperties) };
  const task = definition.ecsProperties.taskProperties?.[0];
  const containers = task?.containers ?? [];
  const target = containers.find((c) => (name ? c.name === name : c.essential !== false)) ?? containers[0];
  return {
    ecsProperties: {
      taskProperties: [{ ...task, containers: containers.map((c) => (c === target ? { ...detail(c as JobDefinition["containerProperties"]), name: c.name, essential: c.essential } : c)) as never }],
    },
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
