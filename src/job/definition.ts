import { createHash } from "node:crypto";
import {
  DescribeJobDefinitionsCommand,
  RegisterJobDefinitionCommand,
  type JobDefinition,
  type RegisterJobDefinitionCommandInput,
} from "@aws-sdk/client-batch";
import { UserError } from "../errors.js";
import type { Batch } from "./batch.js";

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

/** What --image and --secret change in the configured job definition. */
export interface JobDefinitionChanges {
  image?: string;
  secrets?: { name: string; valueFrom: string }[];
}

/**
 * A job definition like base but with the changes. Its name carries a hash
 * of its content, so the same changes reuse one registration and a changed
 * base definition gets a new one.
 */
export async function deriveJobDefinition(
  batch: Batch,
  base: JobDefinition,
  changes: JobDefinitionChanges,
  region: string,
  o: { register: boolean },
): Promise<JobDefinition> {
  const props = base.containerProperties ?? {};
  const secretNames = new Set(changes.secrets?.map((s) => s.name));
  const content: Omit<RegisterJobDefinitionCommandInput, "jobDefinitionName"> = {
    type: base.type as RegisterJobDefinitionCommandInput["type"],
    containerProperties: {
      ...props,
      ...(changes.image ? { image: changes.image } : {}),
      ...(changes.secrets?.length ? { secrets: [...(props.secrets ?? []).filter((s) => !secretNames.has(s.name!)), ...changes.secrets] } : {}),
    },
    parameters: base.parameters,
    retryStrategy: base.retryStrategy,
    timeout: base.timeout,
    platformCapabilities: base.platformCapabilities,
    propagateTags: base.propagateTags,
  };
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
