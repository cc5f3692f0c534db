import type { EvaluateOnExit } from "@aws-sdk/client-batch";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listKeys } from "../support/aws.js";
import { spawnCli } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

const jobIdIn = (stderr: string) => /Submitted job (\S+)/.exec(stderr)![1]!;
const registrations = (w: World) => w.executor.requests.filter((r) => r.operation === "RegisterJobDefinition").map((r) => r.body);

describeWithMoto("nbatch build: how attempts end", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  async function runUntil(args: string[], marker: string, act: (jobId: string) => void) {
    const p = spawnCli(args, { env: w.env });
    let stderr = "";
    p.stderr!.on("data", (d: Buffer | string) => (stderr += d.toString()));
    await p.waitForOutput(marker, 30_000);
    act(jobIdIn(stderr));
    return p.result;
  }

  it("an out-of-memory kill says how much memory the job had and how to ask for more", async () => {
    const dir = await w.makeDir("oom", {});
    const r = await runUntil(["build", "--aws-batch", "--aws-batch-memory", "2GiB", dir, "--", "sh", "-c", "echo started; sleep 60"], "] started", (id) => w.executor.outOfMemory(id));
    expect(r.code).toBe(137);
    expect(r.stderr).toContain("OutOfMemoryError: Container killed due to memory usage (it had 2 GiB)");
    expect(r.stderr).toContain("--aws-batch-memory 4GiB");
    const status = await w.nbatch(["status", "--json", jobIdIn(r.stderr)]);
    expect(JSON.parse(status.stdout)).toMatchObject({ status: "FAILED", reason: expect.stringMatching(/^OutOfMemoryError/), fix: expect.stringContaining("--aws-batch-memory 4GiB") });
    const table = await w.nbatch(["status", jobIdIn(r.stderr)]);
    expect(table.stdout).toMatch(/^JOB ID\s.*\sWHY$/m);
    expect(table.stdout).toContain("OutOfMemoryError: Container killed due to memory usage (it had 2 GiB)");
  });

  it("--retries alone retries an attempt lost to a spot reclaim, and says so, but not a command that failed", async () => {
    const dir = await w.makeDir("reclaimed", {});
    const script = 'echo attempt $AWS_BATCH_JOB_ATTEMPT; [ "$AWS_BATCH_JOB_ATTEMPT" -gt 1 ] || sleep 60';
    const r = await runUntil(["build", "--aws-batch", "--retries", "2", dir, "--", "sh", "-c", script], "] attempt 1", (id) => w.executor.reclaim(id));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/Attempt 1 lost to a spot reclaim \(Host EC2 \(instance i-[0-9a-f]+\) terminated\.\); attempt 2 of 3/);
    expect(r.stdout).toMatch(/\] attempt 2$/m);
    expect(w.submits().at(-1).retryStrategy).toEqual({
      attempts: 3,
      evaluateOnExit: [
        { onStatusReason: "Host EC2*", action: "RETRY" },
        { onReason: "*", action: "EXIT" },
      ],
    });

    const failing = await w.nbatch(["build", "--aws-batch", "--retries", "2", dir, "--", "sh", "-c", "echo try $AWS_BATCH_JOB_ATTEMPT; exit 3"]);
    expect(failing.code).toBe(3);
    expect(failing.stdout.match(/\] try \d$/gm)).toEqual(["] try 1"]);
  });

  it("--retry-on 3 retries that exit code, and the job definition's own rules are kept with --retries alone", async () => {
    const dir = await w.makeDir("exit-codes", {});
    const r = await w.nbatch(["build", "--aws-batch", "--retries", "1", "--retry-on", "3", dir, "--", "sh", "-c", 'echo try $AWS_BATCH_JOB_ATTEMPT; exit $((2 + AWS_BATCH_JOB_ATTEMPT))']);
    expect(r.stdout.match(/\] try \d$/gm)).toEqual(["] try 1", "] try 2"]);
    expect(r.stderr).toContain("Attempt 1 exited 3; attempt 2 of 2");
    expect(r.code).toBe(4);

    const rules: EvaluateOnExit[] = [{ onExitCode: "9", action: "RETRY" }, { onReason: "*", action: "EXIT" }];
    await w.executor.registerJobDefinition({ jobDefinitionName: "own-rules", type: "container", containerProperties: { image: "nbatch-test" }, retryStrategy: { attempts: 1, evaluateOnExit: rules } });
    const own = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "own-rules", "--retries", "1", dir, "--", "sh", "-c", "exit 9"]);
    expect(own.code).toBe(9);
    expect(w.submits().at(-1).retryStrategy).toEqual({ attempts: 2, evaluateOnExit: rules });
    expect(own.stderr).toContain("Attempt 1 exited 9; attempt 2 of 2");
  });

  it("--resume: the attempt after a reclaim starts from what the one before it made", async () => {
    const dir = await w.makeDir("resume", { "Makefile.in": "inputs\n" });
    const script = [
      "if [ -e step1.done ]; then echo resumed; echo two > step2.done; exit 0; fi",
      "echo one > step1.done; rm Makefile.in",
      "trap 'exit 143' TERM",
      "echo working; sleep 60 & wait",
    ].join("\n");
    const r = await runUntil(["build", "--aws-batch", "--retries", "1", "--retry-on", "spot", "--resume", dir, "--", "sh", "-c", script], "] working", (id) => w.executor.reclaim(id));
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("attempt 2 resumes from the 1 entries the attempt before it left");
    expect(r.stdout).toMatch(/\] resumed$/m);
    expect(await readFile(join(dir, "step1.done"), "utf8")).toBe("one\n");
    expect(await readFile(join(dir, "step2.done"), "utf8")).toBe("two\n");
    // What the first attempt deleted stays deleted in the job (local copies are kept, as always).
    expect(r.stderr).toContain("The job deleted 1 path (Makefile.in); local copies are kept");
  });

  it("a command that ignores SIGTERM is killed after the agent's grace period, so what it made is still uploaded", async () => {
    await w.executor.registerJobDefinition({
      jobDefinitionName: "short-grace",
      type: "container",
      containerProperties: { image: "nbatch-test", environment: [{ name: "NBATCH_AGENT_STOP_GRACE", value: "0.3" }] },
    });
    const dir = await w.makeDir("stubborn", {});
    const script = "if [ -e step1.done ]; then echo resumed; exit 0; fi; echo one > step1.done; trap '' TERM; echo working; sleep 60";
    const args = ["build", "--aws-batch", "--aws-batch-job", "short-grace", "--retries", "1", "--resume", dir, "--", "sh", "-c", script];
    const r = await runUntil(args, "] working", (id) => w.executor.reclaim(id));
    expect(r.stdout).toMatch(/nbatch agent: the command did not end within 0\.3 s of SIGTERM; killing it/);
    expect(r.stdout).toMatch(/\] resumed$/m);
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "step1.done"), "utf8")).toBe("one\n");
  });
});

describeWithMoto("nbatch build: queues", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    await w.executor.createQueue("held");
    await w.executor.createQueue("fair", { schedulingPolicyArn: "arn:aws:batch:us-east-1:123456789012:scheduling-policy/lab" });
  });
  afterAll(() => w?.stop());

  it("a job stuck in RUNNABLE says why, with what to do, and goes on once the queue lets it", async () => {
    const dir = await w.makeDir("runnable", {});
    const reason = "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that can be met by the CE(s) attached to the job queue.";
    w.executor.holdRunnable("held", reason);
    const p = spawnCli(["build", "--aws-batch", "--aws-batch-queue", "held", dir, "--", "echo", "ran"], { env: w.env });
    await p.waitForOutput("Job RUNNABLE: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", 30_000);
    w.executor.holdRunnable("held", undefined);
    const r = await p.result;
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`Job RUNNABLE: ${reason}\n  no compute environment of the queue has instances that large`);
    expect(r.stdout).toMatch(/\] ran$/m);
  });

  it("a fair-share queue gets the user's share, or --share, and --priority", async () => {
    const dir = await w.makeDir("fair", {});
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-queue", "fair", "--priority", "50", dir, "--", "true"], { env: { ...w.env, USER: "ada.lovelace" } });
    expect(r.code).toBe(0);
    expect(w.submits().at(-1)).toMatchObject({ shareIdentifier: "adalovelace", schedulingPriorityOverride: 50 });
    const named = await w.nbatch(["build", "--aws-batch", "--aws-batch-queue", "fair", "--share", "genomics", dir, "--", "true"]);
    expect(named.code).toBe(0);
    expect(w.submits().at(-1).shareIdentifier).toBe("genomics");
    expect(w.submits().at(-1).schedulingPriorityOverride).toBeUndefined();
  });

  it("a first-in-first-out queue gets no share, and --priority there is refused before anything is uploaded", async () => {
    const dir = await w.makeDir("fifo", { "data.txt": "x" });
    const plain = await w.nbatch(["build", "--aws-batch", "--share", "genomics", dir, "--", "true"]);
    expect(plain.code).toBe(0);
    expect(w.submits().at(-1)).not.toHaveProperty("shareIdentifier");

    const before = (await listKeys(w.bucket)).length;
    const submits = w.submits().length;
    const r = await w.nbatch(["build", "--aws-batch", "--priority", "5", dir, "--", "true"]);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe("nbatch: error: --priority orders jobs on a fair-share queue; nbatch-job-queue has no scheduling policy (its jobs run first in, first out)");
    expect((await listKeys(w.bucket)).length).toBe(before);
    expect(w.submits().length).toBe(submits);
  });
});

describeWithMoto("nbatch build: job definitions of every shape", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    await w.executor.registerJobDefinition({
      jobDefinitionName: "rich",
      type: "container",
      containerProperties: { image: "nbatch-test", resourceRequirements: [{ type: "VCPU", value: "2" }, { type: "MEMORY", value: "4096" }] },
      tags: { team: "virology" },
      propagateTags: true,
      schedulingPriority: 7,
      parameters: { genome: "h3n2" },
    });
    await w.executor.registerJobDefinition({
      jobDefinitionName: "ecs-form",
      type: "container",
      ecsProperties: {
        taskProperties: [
          {
            containers: [
              { name: "sidecar", essential: false, image: "proxy", command: ["sleep", "1"] },
              { name: "main", essential: true, image: "nbatch-test", command: ["echo", "default"] },
            ],
          },
        ],
      },
    });
    await w.executor.registerJobDefinition({
      jobDefinitionName: "serverless",
      type: "container",
      platformCapabilities: ["FARGATE"],
      containerProperties: { image: "nbatch-test", resourceRequirements: [{ type: "VCPU", value: "1" }, { type: "MEMORY", value: "2048" }] },
    });
    await w.executor.registerJobDefinition({
      jobDefinitionName: "on-eks",
      type: "container",
      eksProperties: { podProperties: { containers: [{ image: "nbatch-test" }] } },
    });
  });
  afterAll(() => w?.stop());

  it("a definition derived for --image and --shm-size keeps the base's tags, priority and parameters", async () => {
    const dir = await w.makeDir("derived", {});
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "rich", "--image", "nbatch-test:2", "--shm-size", "1GiB", dir, "--", "true"]);
    expect(r.code).toBe(0);
    const reg = registrations(w).at(-1);
    expect(reg).toMatchObject({ tags: { team: "virology" }, propagateTags: true, schedulingPriority: 7, parameters: { genome: "h3n2" } });
    expect(reg.containerProperties).toMatchObject({ image: "nbatch-test:2", linuxParameters: { sharedMemorySize: 1024 } });
    expect(w.submits().at(-1).jobDefinition).toMatch(/rich-[0-9a-f]{12}/);
  });

  it("--gpus reaches the job's resource requirements on EC2; --disk and --arch there are refused with where they are set", async () => {
    const dir = await w.makeDir("gpus", {});
    const r = await w.nbatch(["build", "--aws-batch", "--gpus", "2", dir, "--", "true"]);
    expect(r.code).toBe(0);
    expect(w.submits().at(-1).containerOverrides.resourceRequirements).toContainEqual({ type: "GPU", value: "2" });
    const disk = await w.nbatch(["build", "--aws-batch", "--disk", "100GiB", dir, "--", "true"]);
    expect(disk.code).toBe(2);
    expect(disk.stderr).toContain("launch template");
    const arch = await w.nbatch(["build", "--aws-batch", "--arch", "arm64", dir, "--", "true"]);
    expect(arch.code).toBe(2);
    expect(arch.stderr).toContain("nbatch check-setup --arch arm64");
  });

  it("an ecsProperties definition runs the agent in its essential container, and the results come back", async () => {
    const dir = await w.makeDir("ecs", {});
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "ecs-form", dir, "--", "sh", "-c", "echo made > made.txt; echo done"]);
    expect(r.stderr).not.toContain("error");
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\] done$/m);
    const submit = w.submits().at(-1);
    expect(submit).not.toHaveProperty("containerOverrides");
    expect(submit.ecsPropertiesOverride.taskProperties[0].containers[0].name).toBe("main");
    expect(await readFile(join(dir, "made.txt"), "utf8")).toBe("made\n");
  });

  describe("Fargate", () => {
    it("a vCPU and memory pair Fargate lacks is refused before any upload, naming the nearest choices", async () => {
      const dir = await w.makeDir("fargate-bad", { "input.txt": "x" });
      const before = (await listKeys(w.bucket)).length;
      const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "serverless", "--aws-batch-memory", "3000", dir, "--", "true"]);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toMatch(/^nbatch: error: Fargate has no 1 vCPUs with 2\.9 GiB: with 1 vCPUs use 2 GiB to 8 GiB in steps of 1 GiB \(the nearest is --aws-batch-memory 3GiB\)/);
      const gpus = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "serverless", "--gpus", "1", dir, "--", "true"]);
      expect(gpus.code).toBe(2);
      expect(gpus.stderr).toContain("Fargate has no GPUs");
      expect((await listKeys(w.bucket)).length).toBe(before);
    });

    it("--disk and --arch give the job its ephemeral storage and CPU architecture", async () => {
      const dir = await w.makeDir("fargate", {});
      const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "serverless", "--aws-batch-memory", "4GiB", "--disk", "50GiB", "--arch", "arm64", dir, "--", "echo", "ok"]);
      expect(r.code).toBe(0);
      expect(registrations(w).at(-1)).toMatchObject({
        platformCapabilities: ["FARGATE"],
        containerProperties: { ephemeralStorage: { sizeInGiB: 50 }, runtimePlatform: { operatingSystemFamily: "LINUX", cpuArchitecture: "ARM64" } },
      });
      expect(w.submits().at(-1).containerOverrides.resourceRequirements).toContainEqual({ type: "MEMORY", value: "4096" });
    });
  });

  it("a definition for EKS is refused before any upload, saying why", async () => {
    const dir = await w.makeDir("eks", {});
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-job", "on-eks", dir, "--", "true"]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(/^nbatch: error: job definition on-eks:1 runs on Amazon EKS \(eksProperties\)/);
  });
});
