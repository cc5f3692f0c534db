/**
 * The largest job a compute environment can place, estimated without EC2
 * calls: a job must fit on one instance, and within maxvCpus. Memory comes
 * from each instance family's GiB per vCPU, so it is an estimate (ECS also
 * keeps a little of each instance for itself).
 */
import type { ComputeEnvironmentDetail } from "@aws-sdk/client-batch";

export interface Capacity {
  vcpus: number;
  /** Undefined when an instance type is one this table does not know. */
  memoryMiB?: number;
}

const GiB = 1024;
/** Memory per vCPU of the smallest-memory generation of each family, in GiB. */
const GIB_PER_VCPU: Record<string, number> = { a: 2, c: 2, inf: 2, m: 4, t: 4, g: 4, h: 4, trn: 4, p: 7.5, r: 8, z: 8, i: 7.5, d: 7.5, f: 15, x: 15 };
/** Batch's instance type aliases pick among c, m and r families. */
const ALIASES = new Set(["optimal", "default_x86_64", "default_arm64"]);
const FARGATE = { vcpus: 16, memoryMiB: 120 * GiB };

export function capacityOf(ce: ComputeEnvironmentDetail): Capacity | undefined {
  const res = ce.computeResources;
  if (ce.type === "UNMANAGED" || !res) return undefined;
  const max = res.maxvCpus ?? 0;
  if (res.type === "FARGATE" || res.type === "FARGATE_SPOT") return { vcpus: Math.min(max, FARGATE.vcpus), memoryMiB: FARGATE.memoryMiB };
  const types = (res.instanceTypes?.length ? res.instanceTypes : ["optimal"]).map((t) => instanceShape(t, max));
  const vcpus = Math.max(...types.map((t) => t.vcpus));
  const known = types.every((t) => t.gibPerVcpu !== undefined);
  return { vcpus, ...(known ? { memoryMiB: Math.max(...types.map((t) => t.vcpus * t.gibPerVcpu! * GiB)) } : {}) };
}

/** "r5.4xlarge" is 16 vCPUs × 8 GiB; a family ("r5") or an alias goes up to maxvCpus. */
function instanceShape(type: string, maxvCpus: number): { vcpus: number; gibPerVcpu?: number } {
  if (ALIASES.has(type)) return { vcpus: maxvCpus, gibPerVcpu: GIB_PER_VCPU.r };
  const [family = "", size] = type.split(".");
  const letters = /^([a-z]+?)\d/.exec(family)?.[1] ?? family;
  return { vcpus: Math.min(maxvCpus, sizeVcpus(size, letters) ?? maxvCpus), gibPerVcpu: GIB_PER_VCPU[letters] };
}

function sizeVcpus(size: string | undefined, family: string): number | undefined {
  if (!size || size === "metal" || size.startsWith("metal-")) return undefined;
  if (size === "large") return 2;
  if (size === "xlarge") return 4;
  const n = /^(\d+)xlarge$/.exec(size);
  if (n) return 4 * Number(n[1]);
  // nano to medium: burstable t instances have 2 vCPUs, the others 1.
  return family === "t" ? 2 : 1;
}


/**
 * Whether a compute environment can give a job GPUs, or run an
 * architecture: from its instance types (GPUs in the p and g families,
 * Graviton's arm64 where the generation is followed by a "g", as in m6g or
 * c7gn), and Fargate (no GPUs; x86_64 and arm64 both). Batch's own aliases:
 * "optimal" and "default_x86_64" are x86 c, m and r types, "default_arm64" Graviton.
 */
export function serves(ce: ComputeEnvironmentDetail, want: { gpus?: number; arch?: string }): boolean {
  const res = ce.computeResources;
  if (ce.type === "UNMANAGED" || !res) return true;
  if (res.type === "FARGATE" || res.type === "FARGATE_SPOT") return want.gpus === undefined;
  const types = res.instanceTypes?.length ? res.instanceTypes : ["optimal"];
  return types.some((t) => {
    const family = t.split(".")[0]!;
    const arm = family === "default_arm64" || family === "a1" || /^[a-z]+\d+[a-z]*g[a-z]*$/.test(family);
    const gpu = /^[pg]\d/.test(family);
    return (want.gpus === undefined || gpu) && (want.arch === undefined || (want.arch === "arm64") === arm);
  });
}
