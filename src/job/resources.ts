import { JOB_ENV } from "../protocol.js";

/** The vCPUs and memory a job gets. */
export interface Resources {
  cpus?: number;
  memoryMiB?: number;
}

/**
 * NBATCH_CPUS and NBATCH_MEMORY_MIB for the command, so `snakemake --cores
 * $NBATCH_CPUS` fits what it was given. The vCPUs are a whole number, rounded
 * down but at least 1, as --cores and make -j take them (Fargate's 0.25 is 1).
 */
export function resourceEnv(r: Resources): { name: string; value: string }[] {
  return [
    ...(r.cpus !== undefined ? [{ name: JOB_ENV.cpus, value: String(Math.max(1, Math.floor(r.cpus))) }] : []),
    ...(r.memoryMiB !== undefined ? [{ name: JOB_ENV.memoryMiB, value: String(r.memoryMiB) }] : []),
  ];
}

/** The fields that have a value: an override that is unset leaves the job definition's. */
export function definedOnly(r: Resources): Resources {
  return Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));
}
