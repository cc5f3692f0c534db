/**
 * The rules of AWS Batch the test executor follows beyond running a
 * process, each from the AWS Batch documentation named beside it.
 */
import type { EvaluateOnExit, JobDetail, JobQueueDetail, ResourceRequirement } from "@aws-sdk/client-batch";
import { ClientException } from "./executor-registry.js";

/**
 * A retried attempt: "Specifies an array of up to 5 conditions to be met,
 * and an action to take (RETRY or EXIT) if all conditions are met. If none
 * of the EvaluateOnExit conditions in a RetryStrategy match, then the job is
 * retried." Patterns are globs that may end with *, matched against the
 * decimal exit code, the container's reason and the attempt's status
 * reason; the actions are not case sensitive (AWS Batch API reference,
 * EvaluateOnExit). The first rule that matches decides. A lone "*" matches
 * every failure, with a reason or without: the user guide's final rule
 * `{ "action": "EXIT", "onReason": "*" }` "exits for any reason" (AWS Batch
 * user guide, "Automated job retries").
 */
export function retries(rules: readonly EvaluateOnExit[] | undefined, ended: { exitCode?: number; reason?: string; statusReason?: string }): boolean {
  const glob = (pattern: string | undefined, value: string | undefined) => {
    if (pattern === undefined || pattern === "*") return true;
    if (value === undefined) return false;
    return pattern.endsWith("*") ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
  };
  const rule = (rules ?? []).find(
    (r) => glob(r.onExitCode, ended.exitCode === undefined ? undefined : String(ended.exitCode)) && glob(r.onReason, ended.reason) && glob(r.onStatusReason, ended.statusReason),
  );
  return rule === undefined || rule.action!.toUpperCase() === "RETRY";
}

/**
 * "Don't specify this parameter if the job queue doesn't have a fair-share
 * scheduling policy. If the job queue has a fair-share scheduling policy,
 * then this parameter must be specified." (AWS Batch API reference,
 * SubmitJob, shareIdentifier).
 */
export function checkShare(queue: JobQueueDetail, shareIdentifier: string | undefined): void {
  if (queue.schedulingPolicyArn && !shareIdentifier) {
    throw new ClientException(`Job queue ${queue.jobQueueName} has a scheduling policy: SubmitJob needs a shareIdentifier`);
  }
  if (!queue.schedulingPolicyArn && shareIdentifier !== undefined) {
    throw new ClientException(`Job queue ${queue.jobQueueName} has no scheduling policy: SubmitJob must not have a shareIdentifier`);
  }
  if (shareIdentifier !== undefined && !/^[A-Za-z0-9]{1,255}\*?$/.test(shareIdentifier)) {
    throw new ClientException("shareIdentifier is limited to 255 alphanumeric characters, and can be followed by an asterisk (*)");
  }
}

/**
 * Fargate's vCPU and memory: "VCPU ... For jobs that are running on Fargate
 * resources, then value must match one of the supported values and the
 * MEMORY values must be one of the values supported for that VCPU value.
 * The supported values are 0.25, 0.5, 1, 2, 4, 8, and 16"; MEMORY for each
 * (AWS Batch API reference, ResourceRequirement): 0.25 vCPU 512, 1024 or
 * 2048 MiB; 0.5 vCPU 1024 to 4096 in steps of 1024; 1 vCPU 2048 to 8192;
 * 2 vCPU 4096 to 16384; 4 vCPU 8192 to 30720 (steps of 1024); 8 vCPU 16384
 * to 61440 (steps of 4096); 16 vCPU 32768 to 122880 (steps of 8192).
 * GPUs "aren't available for jobs that are running on Fargate resources".
 */
export function checkFargate(definition: Pick<JobDetail, "platformCapabilities">, requirements: readonly ResourceRequirement[]): void {
  if (!definition.platformCapabilities?.includes("FARGATE")) return;
  const get = (type: string) => requirements.find((r) => r.type === type)?.value;
  if (get("GPU") !== undefined) throw new ClientException("GPU resource requirements aren't available for jobs that are running on Fargate resources");
  const vcpus = Number(get("VCPU"));
  const memory = Number(get("MEMORY"));
  const ranges: Record<number, [number, number, number]> = { 0.5: [1024, 4096, 1024], 1: [2048, 8192, 1024], 2: [4096, 16384, 1024], 4: [8192, 30720, 1024], 8: [16384, 61440, 4096], 16: [32768, 122880, 8192] };
  const ok = vcpus === 0.25 ? [512, 1024, 2048].includes(memory) : ranges[vcpus] !== undefined && memory >= ranges[vcpus]![0] && memory <= ranges[vcpus]![1] && (memory - ranges[vcpus]![0]) % ranges[vcpus]![2] === 0;
  if (!ok) throw new ClientException(`Fargate resource requirements VCPU ${get("VCPU")} and MEMORY ${get("MEMORY")} are not a supported combination`);
}

/** A spot reclaim, as Batch reports the attempt: "Host EC2 (instance i-…) terminated." (AWS Batch user guide, "Job status reasons" / retrying on spot interruptions). */
export function reclaimedReason(): string {
  const id = Array.from({ length: 17 }, () => "0123456789abcdef"[Math.floor(Math.random() * 16)]).join("");
  return `Host EC2 (instance i-${id}) terminated.`;
}

/** An attempt killed for its memory: the container's reason as ECS gives it (AWS Batch user guide, troubleshooting "OutOfMemoryError"). */
export const OUT_OF_MEMORY = "OutOfMemoryError: Container killed due to memory usage";
