import { createHash } from "node:crypto";
import {
  DescribeJobDefinitionsCommand,
  RegisterJobDefinitionCommand,
  type JobDefinition,
  type RegisterJobDefinitionCommandInput,
} from "@aws-sdk/client-batch";
import { UserError } from "../errors.js";
import { essential, type Batch } from "./batch.js";

/**
 * The job definition to submit against: a "name:revision" or ARN as given,
 * otherwise the latest ACTIVE revision of the name.
 */
export async function findJobDefinition(batch: Batch, name: string, region: string): Promise<JobDefinition> {
  const explicit = name.includes(":");
  const found: JobDefinition[] = [];
  let nextToken: string | undefined;
  do {
    const res = await batch.send(
      new DescribeJobDefinitionsCommand(explicit ? { jobDefinitions: [name], nextToken } : { jobDefinitionName: name, status: "ACTIVE", nextToken }),
    );
    found.push(...(res.jobDefinitions ?? []).filter((d) => d.status !== "INACTIVE"));
    nextToken = res.nextToken;
  } while (nextToken);
  const latest = found.sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))[0];
  if (!latest) {
    throw new UserError(
      `job definition "${name}" not found (no ACTIVE revision) in ${region}: check the job setting (--aws-batch-job, NBATCH_AWS_BATCH_JOB or [aws-batch] job), or register it (see docs/job-image/)`,
    );
  }
  return latest;
}

/** What a run changes in the configured job definition: --image, --secret, --disk, --arch, --shm-size. */
export interface JobDefinitionChanges {
  image?: string;
  secrets?: { name: string; valueFrom: string }[];
  /** Fargate's ephemeral storage. */
  diskGiB?: number;
  /** Fargate's runtime platform. */
  arch?: "x86_64" | "arm64";
  /** EC2's /dev/shm, in MiB. */
  sharedMemoryMiB?: number;
}

export function hasChanges(c: JobDefinitionChanges): boolean {
  return Boolean(c.image || c.secrets?.length || c.diskGiB !== undefined || c.arch || c.sharedMemoryMiB !== undefined);
}

/** The fields a derived definition copies from its base as they are: everything but the name and what describes the revision. */
const KEPT = ["type", "parameters", "retryStrategy", "timeout", "platformCapabilities", "propagateTags", "tags", "schedulingPriority", "nodeProperties", "eksProperties"] as const;

type Container = NonNullable<JobDefinition["containerProperties"]>;
type EcsContainer = NonNullable<NonNullable<NonNullable<JobDefinition["ecsProperties"]>["taskProperties"]>[number]["containers"]>[number];

/** A container with the run's image, secrets and shared memory size. */
function changed<C extends Container | EcsContainer>(c: C, changes: JobDefinitionChanges): C {
  const secretNames = new Set(changes.secrets?.map((s) => s.name));
  return {
    ...c,
    ...(changes.image ? { image: changes.image } : {}),
    ...(changes.secrets?.length ? { secrets: [...(c.secrets ?? []).filter((s) => !secretNames.has(s.name!)), ...changes.secrets] } : {}),
    ...(changes.sharedMemoryMiB !== undefined ? { linuxParameters: { ...c.linuxParameters, sharedMemorySize: changes.sharedMemoryMiB } } : {}),
  };
}

/** Fargate's settings of the task: its disk and its CPU architecture. */
function fargateSettings(changes: JobDefinitionChanges, task: { ephemeralStorage?: { sizeInGiB?: number }; runtimePlatform?: object }) {
  return {
    ...(changes.diskGiB !== undefined ? { ephemeralStorage: { sizeInGiB: changes.diskGiB } } : {}),
    ...(changes.arch ? { runtimePlatform: { ...task.runtimePlatform, operatingSystemFamily: "LINUX", cpuArchitecture: changes.arch === "arm64" ? "ARM64" : "X86_64" } } : {}),
  };
}

/**
 * A job definition like base but with the changes, keeping everything else
 * the base has (its tags, scheduling priority, retry strategy, ...). Its
 * name carries a hash of its content, so the same changes reuse one
 * registration and a changed base definition gets a new one.
 */
export async function deriveJobDefinition(
  batch: Batch,
  base: JobDefinition,
  changes: JobDefinitionChanges,
  region: string,
  o: { register: boolean },
): Promise<JobDefinition> {
  const content = Object.fromEntries(KEPT.filter((k) => base[k] !== undefined).map((k) => [k, base[k]])) as Omit<RegisterJobDefinitionCommandInput, "jobDefinitionName">;
  if (base.containerProperties) {
    const props = changed(base.containerProperties, changes);
    content.containerProperties = { ...props, ...fargateSettings(changes, props) };
  }
  if (base.ecsProperties) {
    // The essential container is the one the agent runs in (job/batch.ts); the others stay as they are.
    content.ecsProperties = {
      ...base.ecsProperties,
      taskProperties: (base.ecsProperties.taskProperties ?? []).map((task, t) => {
        if (t > 0) return task;
        const main = essential(task.containers);
        return { ...task, ...fargateSettings(changes, task), containers: (task.containers ?? []).map((c) => (c === main ? changed(c, changes) : c)) };
      }),
    };
  }
  const hash = createHash("sha256").update(canonicalJson(content)).digest("hex").slice(0, 12);
  const name = `${base.jobDefinitionName!.slice(0, 128 - 14)}-${hash}`;
  const existing = await findJobDefinition(batch, name, region).catch((err) => {
    if (err instanceof UserError && /not found/.test(err.message)) return undefined;
    throw err;
  });
  if (existing) return existing;
  if (!o.register) return { ...content, jobDefinitionName: name, status: "to be registered" } as JobDefinition;
  const res = await batch.send(new RegisterJobDefinitionCommand({ jobDefinitionName: name, ...content }));
  return { ...content, jobDefinitionName: name, jobDefinitionArn: res.jobDefinitionArn, revision: res.revision, status: "ACTIVE" } as JobDefinition;
}

/** JSON with sorted keys, so equal content always hashes the same. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).filter(([, x]) => x !== undefined).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  );
}

/** The container of a definition the agent runs in: its own, or the essential one of an ecsProperties task. */
export function definitionContainer(d: JobDefinition | undefined): Container | EcsContainer | undefined {
  return d?.containerProperties ?? essential(d?.ecsProperties?.taskProperties?.[0]?.containers);
}

/** The vCPUs and memory (MiB) a job definition asks for, in either of Batch's two spellings. */
export function requestedBy(d: JobDefinition | undefined): { cpus?: number; memoryMiB?: number } {
  const props = definitionContainer(d);
  const requirement = (type: string) => {
    const value = props?.resourceRequirements?.find((r) => r.type === type)?.value;
    return value === undefined ? undefined : Number(value);
  };
  return { cpus: requirement("VCPU") ?? (props && "vcpus" in props ? props.vcpus : undefined), memoryMiB: requirement("MEMORY") ?? (props && "memory" in props ? props.memory : undefined) };
}
