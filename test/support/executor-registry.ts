import type {
  ComputeEnvironmentDetail,
  CreateComputeEnvironmentRequest,
  CreateJobQueueRequest,
  DescribeJobDefinitionsRequest,
  JobDefinition,
  JobQueueDetail,
  RegisterJobDefinitionRequest,
} from "@aws-sdk/client-batch";

/** Becomes a 400 ClientException, the error Batch returns for anything the caller got wrong. */
export class ClientException extends Error {}

export const ACCOUNT = "123456789012";
/** Batch's rule for job, queue and job definition names. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** The executor's compute environments, job queues and job definitions, resolved the way Batch resolves references. */
export class Registry {
  readonly computeEnvironments = new Map<string, ComputeEnvironmentDetail>();
  readonly queues = new Map<string, JobQueueDetail>();
  readonly definitions: JobDefinition[] = [];

  constructor(private readonly region: string) {}

  arn(kind: string, id: string): string {
    return `arn:aws:batch:${this.region}:${ACCOUNT}:${kind}/${id}`;
  }

  /** Only bookkeeping: jobs run as local processes whatever the environment says. */
  createComputeEnvironment(input: Partial<CreateComputeEnvironmentRequest>): ComputeEnvironmentDetail {
    const name = requireName(input.computeEnvironmentName, "computeEnvironmentName");
    if (this.computeEnvironments.has(name)) throw new ClientException(`Object already exists: compute environment ${name}`);
    if (input.type !== "MANAGED" && input.type !== "UNMANAGED") throw new ClientException(`type must be MANAGED or UNMANAGED, got ${input.type}`);
    const ce: ComputeEnvironmentDetail = {
      computeEnvironmentName: name,
      computeEnvironmentArn: this.arn("compute-environment", name),
      ecsClusterArn: `arn:aws:ecs:${this.region}:${ACCOUNT}:cluster/${name}`,
      type: input.type,
      state: input.state ?? "ENABLED",
      status: "VALID",
      statusReason: "ComputeEnvironment Healthy",
      computeResources: input.computeResources,
      serviceRole: input.serviceRole,
      tags: input.tags,
    };
    this.computeEnvironments.set(name, ce);
    return ce;
  }

  /** Compute environments by name or ARN; all of them when refs is empty. */
  describeComputeEnvironments(refs: string[] | undefined): ComputeEnvironmentDetail[] {
    const all = [...this.computeEnvironments.values()];
    if (!refs?.length) return all;
    return all.filter((ce) => refs.includes(ce.computeEnvironmentName!) || refs.includes(ce.computeEnvironmentArn!));
  }

  createQueue(input: Partial<CreateJobQueueRequest>): JobQueueDetail {
    const name = requireName(input.jobQueueName, "jobQueueName");
    if (this.queues.has(name)) throw new ClientException(`Object already exists: job queue ${name}`);
    const queue: JobQueueDetail = {
      jobQueueName: name,
      jobQueueArn: this.arn("job-queue", name),
      state: input.state ?? "ENABLED",
      status: "VALID",
      statusReason: "JobQueue Healthy",
      priority: input.priority ?? 1,
      // Batch accepts names or ARNs here and reports ARNs.
      computeEnvironmentOrder: (input.computeEnvironmentOrder ?? []).map(({ order, computeEnvironment }) => ({
        order,
        computeEnvironment: this.computeEnvironments.get(computeEnvironment!)?.computeEnvironmentArn ?? computeEnvironment,
      })),
      tags: input.tags,
      // A fair-share queue and its limits on jobs stuck in a state (AWS Batch API reference, CreateJobQueue).
      ...(input.schedulingPolicyArn ? { schedulingPolicyArn: input.schedulingPolicyArn } : {}),
      ...(input.jobStateTimeLimitActions ? { jobStateTimeLimitActions: input.jobStateTimeLimitActions } : {}),
    };
    this.queues.set(name, queue);
    return queue;
  }

  /** A queue by name or ARN. */
  queue(ref: string | undefined): JobQueueDetail {
    const queue = ref === undefined ? undefined : this.queues.get(ref.replace(/^arn:.*:job-queue\//, ""));
    if (!queue) throw new ClientException(`JobQueue ${ref} not found.`);
    return queue;
  }

  register(input: Partial<RegisterJobDefinitionRequest>): JobDefinition {
    const name = requireName(input.jobDefinitionName, "jobDefinitionName");
    if (input.type !== "container" && input.type !== "multinode") {
      throw new ClientException(`type must be container or multinode, got ${input.type}`);
    }
    const revision = 1 + Math.max(0, ...this.definitions.filter((d) => d.jobDefinitionName === name).map((d) => d.revision!));
    const definition: JobDefinition = {
      ...input,
      jobDefinitionName: name,
      jobDefinitionArn: this.arn("job-definition", `${name}:${revision}`),
      revision,
      status: "ACTIVE",
      type: input.type,
      containerOrchestrationType: "ECS",
    };
    this.definitions.push(definition);
    return definition;
  }

  /** "name" (latest ACTIVE revision), "name:rev" or an ARN, as SubmitJob accepts. */
  definition(ref: string | undefined): JobDefinition {
    const matches = ref === undefined ? [] : this.matching(ref).filter((d) => d.status === "ACTIVE");
    const found = matches.at(-1);
    if (!found) throw new ClientException(`JobDefinition ${ref} does not exist or is not ACTIVE.`);
    return found;
  }

  describe(input: Partial<DescribeJobDefinitionsRequest>): JobDefinition[] {
    if (input.jobDefinitions?.length) return input.jobDefinitions.flatMap((ref) => this.matching(ref));
    return this.definitions.filter(
      (d) =>
        (input.jobDefinitionName === undefined || d.jobDefinitionName === input.jobDefinitionName) &&
        (input.status === undefined || d.status === input.status),
    );
  }

  deregister(ref: string | undefined): void {
    const found = ref === undefined ? [] : this.matching(ref);
    if (found.length !== 1 || !/:\d+$/.test(ref!)) {
      throw new ClientException(`jobDefinition must name one revision (name:revision or ARN), got ${ref}`);
    }
    found[0]!.status = "INACTIVE";
  }

  private matching(ref: string): JobDefinition[] {
    const m = /^(?:arn:[^/]*:job-definition\/)?([^:/]+)(?::(\d+))?$/.exec(ref);
    if (!m) return [];
    return this.definitions.filter(
      (d) => d.jobDefinitionName === m[1] && (m[2] === undefined || d.revision === Number(m[2])),
    );
  }
}

export function requireName(value: string | undefined, field: string): string {
  if (value === undefined || !NAME_PATTERN.test(value)) {
    throw new ClientException(
      `${field} ${JSON.stringify(value)} is invalid: up to 128 letters, numbers, hyphens and underscores, starting with a letter or number`,
    );
  }
  return value;
}
