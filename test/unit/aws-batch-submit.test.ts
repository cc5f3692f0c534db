import type { JobDefinition } from "@aws-sdk/client-batch";
import { describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { submitInput, type SubmitPlan, type SubmitSettings } from "../../src/job/submit.js";

const RUN_ID = "0194e3a4-5b6c-7d8e-9f01-23456789abcd";
const ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/nbatch-job:3";

const settings = (o: Partial<SubmitSettings> = {}): SubmitSettings => ({
  queue: "nbatch-job-queue",
  cpus: undefined,
  memoryMiB: undefined,
  agentCommand: ["nbatch", "agent"],
  ...o,
});

const definition = (o: Partial<JobDefinition> = {}): JobDefinition => ({
  jobDefinitionName: "nbatch-job",
  jobDefinitionArn: ARN,
  revision: 3,
  type: "container",
  status: "ACTIVE",
  containerProperties: { image: "lab/nbatch:1", command: ["snakemake", "-j4"] },
  ...o,
});

const plan = (o: Partial<SubmitPlan> = {}): SubmitPlan => ({
  runId: RUN_ID,
  dirName: "analysis",
  jobDefinition: definition(),
  userCommand: ["make", "all"],
  inputsUrl: "s3://lab-bucket/jobs/inputs/abc.zip",
  resultsUrl: `s3://lab-bucket/jobs/runs/${RUN_ID}/results.zip`,
  tags: {},
  ...o,
});

describe("submitInput", () => {
  it("builds the job protocol's SubmitJob request", () => {
    expect(submitInput(settings(), plan())).toEqual({
      jobName: `nbatch-analysis-${RUN_ID}`,
      jobQueue: "nbatch-job-queue",
      jobDefinition: ARN,
      containerOverrides: {
        command: ["nbatch", "agent", "--", "make", "all"],
        environment: [
          { name: "NBATCH_PROTOCOL", value: "2" },
          { name: "NBATCH_RUN_ID", value: RUN_ID },
          { name: "NBATCH_INPUTS_URL", value: "s3://lab-bucket/jobs/inputs/abc.zip" },
          { name: "NBATCH_RESULTS_URL", value: `s3://lab-bucket/jobs/runs/${RUN_ID}/results.zip` },
        ],
      },
      tags: { "nbatch:run-id": RUN_ID },
      propagateTags: true,
    });
  });

  it("adds NBATCH_ENV_URL only when there are environment values, and never the values", () => {
    const envUrl = `s3://lab-bucket/jobs/runs/${RUN_ID}/env.json`;
    const input = submitInput(settings(), plan({ envUrl }));
    expect(input.containerOverrides!.environment!.map((e) => e.name)).toEqual([
      "NBATCH_PROTOCOL",
      "NBATCH_RUN_ID",
      "NBATCH_INPUTS_URL",
      "NBATCH_RESULTS_URL",
      "NBATCH_ENV_URL",
      "NBATCH_ATTEMPTS",
    ]);
    expect(input.containerOverrides!.environment!.at(-2)!.value).toBe(envUrl);
    expect(input.containerOverrides!.environment!.at(-1)!.value).toBe("1");
    const retried = submitInput(settings(), plan({ envUrl, retryStrategy: { attempts: 3 } }));
    expect(retried.containerOverrides!.environment!.at(-1)).toEqual({ name: "NBATCH_ATTEMPTS", value: "3" });
  });

  it("wraps the user's command in the configured agent command, words kept apart", () => {
    const input = submitInput(
      settings({ agentCommand: ["node", "/opt/nbatch/bin/nbatch.js", "agent"] }),
      plan({ userCommand: ["sh", "-c", "echo 'a b' > out.txt", "--", "--x"] }),
    );
    expect(input.containerOverrides!.command).toEqual([
      "node", "/opt/nbatch/bin/nbatch.js", "agent", "--", "sh", "-c", "echo 'a b' > out.txt", "--", "--x",
    ]);
  });

  it("wraps the job definition's own command when the user gives none", () => {
    const input = submitInput(settings(), plan({ userCommand: [] }));
    expect(input.containerOverrides!.command).toEqual(["nbatch", "agent", "--", "snakemake", "-j4"]);
  });

  it.each([
    ["no command", {}],
    ["an empty command", { command: [] }],
  ])("is a user error when neither the user nor the job definition has a command (%s)", (_what, props) => {
    const call = () => submitInput(settings(), plan({ userCommand: [], jobDefinition: definition({ containerProperties: { image: "x", ...props } }) }));
    expect(call).toThrow(UserError);
    expect(call).toThrow(/^no command given and job definition nbatch-job has none: put the command after --/);
  });

  it("sends resourceRequirements only for what is set", () => {
    const rr = (s: Partial<SubmitSettings>) => submitInput(settings(s), plan()).containerOverrides!.resourceRequirements;
    expect(rr({})).toBeUndefined();
    expect("resourceRequirements" in submitInput(settings(), plan()).containerOverrides!).toBe(false);
    expect(rr({ cpus: 0.25 })).toEqual([{ type: "VCPU", value: "0.25" }]);
    expect(rr({ memoryMiB: 15360 })).toEqual([{ type: "MEMORY", value: "15360" }]);
    expect(rr({ cpus: 8, memoryMiB: 7200 })).toEqual([
      { type: "VCPU", value: "8" },
      { type: "MEMORY", value: "7200" },
    ]);
  });

  it("names the job definition by name:revision when it has no ARN", () => {
    const input = submitInput(settings(), plan({ jobDefinition: definition({ jobDefinitionArn: undefined }) }));
    expect(input.jobDefinition).toBe("nbatch-job:3");
  });

  it("submits to the configured queue", () => {
    expect(submitInput(settings({ queue: "arn:aws:batch:us-east-1:123456789012:job-queue/spot" }), plan()).jobQueue).toBe(
      "arn:aws:batch:us-east-1:123456789012:job-queue/spot",
    );
  });

  it("gives the job a valid Batch name whatever the directory is called", () => {
    const input = submitInput(settings(), plan({ dirName: "--my data (ünï)!" }));
    expect(input.jobName).toBe(`nbatch-my-data-uni-${RUN_ID}`);
  });

  it("keeps the run-id tag even when a user tag has the same key", () => {
    const input = submitInput(settings(), plan({ tags: { project: "flu", "nbatch:run-id": "forged" } }));
    expect(input.tags).toEqual({ project: "flu", "nbatch:run-id": RUN_ID });
  });

  it("sets a retry strategy and an attempt timeout only when asked", () => {
    const plain = submitInput(settings(), plan());
    expect(plain).not.toHaveProperty("retryStrategy");
    expect(plain).not.toHaveProperty("timeout");
    const strategy = { attempts: 3, evaluateOnExit: [{ onStatusReason: "Host EC2*", action: "RETRY" as const }] };
    const input = submitInput(settings(), plan({ retryStrategy: strategy, timeoutSeconds: 5400 }));
    expect(input.retryStrategy).toEqual(strategy);
    expect(input.timeout).toEqual({ attemptDurationSeconds: 5400 });
  });
});
