import type { JobDefinition } from "@aws-sdk/client-batch";
import { expect, it } from "vitest";
import { submitInput, type SubmitPlan } from "../../src/job/submit.js";

const definition = (containerProperties: JobDefinition["containerProperties"]): JobDefinition => ({
  jobDefinitionName: "nbatch-job",
  jobDefinitionArn: "arn:aws:batch:us-east-1:123456789012:job-definition/nbatch-job:1",
  revision: 1,
  type: "container",
  containerProperties: { image: "lab/nbatch:1", ...containerProperties },
});

const envOf = (cpus: number | undefined, memoryMiB: number | undefined, def: JobDefinition) => {
  const plan: SubmitPlan = { runId: "r", dirName: "d", jobDefinition: def, userCommand: ["true"], inputsUrl: "s3://b/i.zip", resultsUrl: "s3://b/r.zip", tags: {} };
  const env = submitInput({ queue: "q", cpus, memoryMiB, agentCommand: ["nbatch", "agent"] }, plan).containerOverrides!.environment!;
  return Object.fromEntries(env.filter((e) => e.name === "NBATCH_CPUS" || e.name === "NBATCH_MEMORY_MIB").map((e) => [e.name, e.value]));
};

it("tells the job the vCPUs and memory it was given: the overrides, else the job definition's", () => {
  const def = definition({ resourceRequirements: [{ type: "VCPU", value: "4" }, { type: "MEMORY", value: "8192" }] });
  expect(envOf(undefined, undefined, def)).toEqual({ NBATCH_CPUS: "4", NBATCH_MEMORY_MIB: "8192" });
  expect(envOf(16, undefined, def)).toEqual({ NBATCH_CPUS: "16", NBATCH_MEMORY_MIB: "8192" });
  expect(envOf(undefined, 30720, def)).toEqual({ NBATCH_CPUS: "4", NBATCH_MEMORY_MIB: "30720" });
  // The older vcpus and memory fields of a job definition count too.
  expect(envOf(undefined, undefined, definition({ vcpus: 2, memory: 2048 }))).toEqual({ NBATCH_CPUS: "2", NBATCH_MEMORY_MIB: "2048" });
});

it("gives whole vCPUs, as --cores and make -j take them, and nothing it does not know", () => {
  expect(envOf(0.25, undefined, definition({}))).toEqual({ NBATCH_CPUS: "1" });
  expect(envOf(2.5, 512, definition({}))).toEqual({ NBATCH_CPUS: "2", NBATCH_MEMORY_MIB: "512" });
  expect(envOf(undefined, undefined, definition({}))).toEqual({});
});
