/**
 * Where a job runs, EC2 or Fargate, and what each allows, checked before
 * anything is uploaded. Fargate takes only certain vCPU and memory pairs
 * (AWS Batch API reference, ResourceRequirement: "value" for VCPU and MEMORY
 * on Fargate), no GPUs and no shared memory size; EC2 takes no ephemeral
 * storage size or runtime platform (its instances decide both).
 */
import type { ComputeEnvironmentDetail, JobDefinition } from "@aws-sdk/client-batch";
import { UsageError } from "../errors.js";
import { formatMiB } from "../ui/format.js";

export type Platform = "EC2" | "FARGATE";

/** From the job definition's platform capabilities, else from the queue's compute environments. */
export function platformOf(def: Pick<JobDefinition, "platformCapabilities">, environments: readonly ComputeEnvironmentDetail[]): Platform {
  if (def.platformCapabilities?.includes("FARGATE")) return "FARGATE";
  const types = environments.map((ce) => ce.computeResources?.type);
  return types.length > 0 && types.every((t) => t === "FARGATE" || t === "FARGATE_SPOT") ? "FARGATE" : "EC2";
}

/** Fargate's memory choices (MiB) for each vCPU count: from, to, step. */
const FARGATE: [vcpus: number, from: number, to: number, step: number][] = [
  [0.25, 512, 2048, 512],
  [0.5, 1024, 4096, 1024],
  [1, 2048, 8192, 1024],
  [2, 4096, 16384, 1024],
  [4, 8192, 30720, 1024],
  [8, 16384, 61440, 4096],
  [16, 32768, 122880, 8192],
];

/** The memory Fargate allows with vcpus; undefined for a vCPU count it does not have. */
function memoryChoices(vcpus: number): number[] | undefined {
  const row = FARGATE.find(([v]) => v === vcpus);
  if (!row) return undefined;
  const [, from, to, step] = row;
  // 0.25 vCPU takes 512, 1024 and 2048 MiB only.
  if (vcpus === 0.25) return [512, 1024, 2048];
  return Array.from({ length: (to - from) / step + 1 }, (_, i) => from + i * step);
}

/** Refuses a vCPU and memory pair Fargate does not offer, naming the nearest valid choices. */
export function checkFargateSize(vcpus: number | undefined, memoryMiB: number | undefined): void {
  if (vcpus === undefined && memoryMiB === undefined) return;
  const counts = FARGATE.map(([v]) => v);
  if (vcpus !== undefined && !counts.includes(vcpus)) {
    const nearest = counts.reduce((a, b) => (Math.abs(b - vcpus) < Math.abs(a - vcpus) ? b : a));
    throw new UsageError(`Fargate has no ${vcpus} vCPUs: use ${counts.join(", ")} (the nearest is ${nearest})`);
  }
  if (vcpus === undefined || memoryMiB === undefined) return;
  const choices = memoryChoices(vcpus)!;
  if (choices.includes(memoryMiB)) return;
  const nearest = choices.reduce((a, b) => (Math.abs(b - memoryMiB) < Math.abs(a - memoryMiB) ? b : a));
  const withMemory = FARGATE.filter(([v]) => memoryChoices(v)!.includes(memoryMiB)).map(([v]) => v);
  const range = `${formatMiB(choices[0]!)} to ${formatMiB(choices.at(-1)!)}${choices.length > 3 ? ` in steps of ${formatMiB(choices[1]! - choices[0]!)}` : ""}`;
  throw new UsageError(
    `Fargate has no ${vcpus} vCPUs with ${formatMiB(memoryMiB)}: with ${vcpus} vCPUs use ${range} (the nearest is --aws-batch-memory ${formatMiB(nearest).replace(" ", "")})` +
      (withMemory.length ? `, or with ${formatMiB(memoryMiB)} use ${withMemory.join(" or ")} vCPUs` : ""),
  );
}

/** The per-run resources, checked against where the job runs. */
export interface RunResources {
  gpus?: number;
  diskGiB?: number;
  arch?: "x86_64" | "arm64";
  sharedMemoryMiB?: number;
}

export function checkResources(platform: Platform, r: RunResources): void {
  if (platform === "FARGATE") {
    if (r.gpus !== undefined) throw new UsageError("--gpus: Fargate has no GPUs; use a queue of EC2 compute environments with GPU instances (p or g families)");
    if (r.sharedMemoryMiB !== undefined) throw new UsageError("--shm-size: Fargate does not set the shared memory size; use a queue of EC2 compute environments");
    if (r.diskGiB !== undefined && !(r.diskGiB >= 21 && r.diskGiB <= 200)) throw new UsageError(`--disk ${r.diskGiB}GiB: Fargate gives 21 to 200 GiB of ephemeral storage`);
    return;
  }
  if (r.diskGiB !== undefined) {
    throw new UsageError("--disk sets a Fargate job's ephemeral storage; on EC2 the disk is the instance's, set by the compute environment's launch template (docs/aws-setup.md, \"Disk\")");
  }
  if (r.arch !== undefined) {
    throw new UsageError(`--arch sets a Fargate job's CPU architecture; on EC2 the instance types of the queue's compute environments decide it (nbatch check-setup --arch ${r.arch} tells whether they can)`);
  }
}
