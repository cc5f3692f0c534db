import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listKeys } from "../support/aws.js";
import { describeWithMoto } from "../support/moto.js";
import { readEnvDump, startWorld, type World } from "../support/world.js";

const LOG_LINE = /^\[batch\] \[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d\] /;

describeWithMoto("nbatch build --aws-batch: the round trip", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  it("uploads, runs, streams the log, downloads results with their modes, and exits 0", async () => {
    const dir = await w.makeDir("ok", {
      "input.txt": "alpha\nbeta\n",
      "run.sh": { text: "#!/bin/sh\nmkdir -p out\nsort -r input.txt > out/sorted.txt\nchmod 640 out/sorted.txt\ncp run.sh out/tool\necho done sorting\n", mode: 0o755 },
    });
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "./run.sh"]);
    expect(r.stderr).toContain("Uploading");
    expect(r.stderr).toMatch(/Submitted job [0-9a-f-]+ \(nbatch-ok-[0-9a-f-]+\) to queue nbatch-job-queue/);
    expect(r.stderr).toContain("Job status: RUNNING");
    expect(r.stderr).toMatch(/Job SUCCEEDED after \d+ seconds? \(exited 0\)/);
    expect(r.stdout.split("\n").filter((l) => LOG_LINE.test(l)).map((l) => l.replace(LOG_LINE, ""))).toContain("done sorting");
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "out/sorted.txt"), "utf8")).toBe("beta\nalpha\n");
    expect((await stat(join(dir, "out/sorted.txt"))).mode & 0o777).toBe(0o640);
    expect((await stat(join(dir, "out/tool"))).mode & 0o777).toBe(0o755);
    // The job protocol: the agent wraps the command, and the job knows where things are.
    const submit = w.submits().at(-1);
    expect(submit.containerOverrides.command).toEqual(["nbatch", "agent", "--", "./run.sh"]);
    const names = submit.containerOverrides.environment.map((e: { name: string }) => e.name).sort();
    expect(names).toEqual(["NBATCH_AWS_BATCH_SSE", "NBATCH_INPUTS_URL", "NBATCH_LOG_URL", "NBATCH_PROTOCOL", "NBATCH_RESULTS_URL", "NBATCH_RUN_ID"]);
    expect(submit.jobName).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/);
  });

  it("gives the command the container's environment plus the job protocol's variables and Batch's, and nothing of the CLI's own", async () => {
    const dir = await w.makeDir("job-env", {});
    // The CLI's own credentials and SDK settings: they must stay on this machine.
    const own = { AWS_ACCESS_KEY_ID: "AKIACLIOWNKEY0000007", AWS_SECRET_ACCESS_KEY: "cli-own-secret-7", AWS_SESSION_TOKEN: "cli-own-token-7", AWS_SDK_UA_APP_ID: "cli-own-app" };
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "env -0 > env.bin"], { env: { ...w.env, ...own } });
    expect(r.code, r.stderr).toBe(0);
    const seen = await readEnvDump(join(dir, "env.bin"));
    const jobId = /Submitted job (\S+)/.exec(r.stderr)![1]!;
    const container = w.executor.containerEnv(jobId)!;
    // The agent passes the container's environment on whole, adding nothing.
    expect(seen).toEqual(container.all);
    const added = Object.keys(container.all).filter((k) => !(k in container.image)).sort();
    expect(added).toEqual([
      "AWS_BATCH_JOB_ATTEMPT",
      "AWS_BATCH_JOB_ID",
      "AWS_BATCH_JQ_NAME",
      "NBATCH_AWS_BATCH_SSE",
      "NBATCH_INPUTS_URL",
      "NBATCH_LOG_URL",
      "NBATCH_PROTOCOL",
      "NBATCH_RESULTS_URL",
      "NBATCH_RUN_ID",
    ]);
    expect(Object.keys(seen).filter((k) => k.startsWith("AWS_SDK"))).toEqual([]);
    expect(Object.values(seen).filter((v) => Object.values(own).some((o) => v.includes(o)))).toEqual([]);
    expect(seen.AWS_ACCESS_KEY_ID).toBe(container.image.AWS_ACCESS_KEY_ID);
  });

  it("propagates a failing command's exit code and still brings back its partial results", async () => {
    const dir = await w.makeDir("fails", { "Makefile": "x" });
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "echo half > partial.txt; echo failing >&2; exit 3"]);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/Job FAILED.*\(exited 3\)/);
    expect(r.stdout).toMatch(/\] failing$/m);
    expect(await readFile(join(dir, "partial.txt"), "utf8")).toBe("half\n");
  });

  it("does not upload an unchanged directory twice", async () => {
    const dir = await w.makeDir("again", { "data.txt": "same" });
    const first = await w.nbatch(["build", "--aws-batch", dir, "--", "true"]);
    expect(first.code).toBe(0);
    expect(first.stderr).toContain("Uploading");
    const inputs = await listKeys(w.bucket, "jobs/inputs/");
    const second = await w.nbatch(["build", "--aws-batch", dir, "--", "true"]);
    expect(second.code).toBe(0);
    expect(second.stderr).not.toContain("Uploading");
    expect(second.stderr).toMatch(/Inputs unchanged .*already at s3:\/\//);
    expect(await listKeys(w.bucket, "jobs/inputs/")).toEqual(inputs);
    const [a, b] = w.submits().slice(-2).map((s) => s.containerOverrides.environment.find((e: any) => e.name === "NBATCH_INPUTS_URL").value);
    expect(a).toBe(b);
  });

  it("keeps --env values out of the job description and deletes them after the job", async () => {
    const dir = await w.makeDir("env", {});
    const r = await w.nbatch(["build", "--aws-batch", "--env", "TOKEN=hunter2", "--env", "FROM_SHELL", dir, "--", "sh", "-c", 'echo "$TOKEN $FROM_SHELL" > seen.txt'], {
      env: { ...w.env, FROM_SHELL: "shell-value" },
    });
    expect(r.code).toBe(0);
    expect(await readFile(join(dir, "seen.txt"), "utf8")).toBe("hunter2 shell-value\n");
    const submit = w.submits().at(-1);
    expect(JSON.stringify(submit)).not.toContain("hunter2");
    expect(JSON.stringify(w.executor.jobs())).not.toContain("hunter2");
    expect(submit.containerOverrides.environment.map((e: any) => e.name)).toContain("NBATCH_ENV_URL");
    expect((await listKeys(w.bucket, "jobs/runs/")).filter((k) => k.endsWith("env.json"))).toEqual([]);
  });

  it("gives the job a valid name whatever the directory is called", async () => {
    const dir = await w.makeDir("--weird dir (ünïcode) & more!", { "a": "a" });
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "true"]);
    expect(r.code).toBe(0);
    expect(w.submits().at(-1).jobName).toMatch(/^nbatch-weird-dir-unicode-more-[0-9a-f-]{36}$/);
  });

  it("wraps the job definition's own command when none is given", async () => {
    const dir = await w.makeDir("default-cmd", {});
    const r = await w.nbatch(["build", "--aws-batch", dir]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\] default command$/m);
    expect(w.submits().at(-1).containerOverrides.command).toEqual(["nbatch", "agent", "--", "sh", "-c", "echo default command"]);
  });

  it("says so when the job left no results archive", async () => {
    const dir = await w.makeDir("no-agent", {});
    const r = await w.nbatch(["build", "--aws-batch", "--agent-command", "env", dir, "--", "true"]);
    expect(r.stderr).toMatch(/the job left no results at s3:\/\/.*its image may not run the nbatch agent/);
    expect(r.code).toBe(0);
  });

  it("sends vCPUs and memory as resourceRequirements", async () => {
    const dir = await w.makeDir("resources", {});
    const r = await w.nbatch(["build", "--aws-batch", "--aws-batch-cpus", "2", "--aws-batch-memory", "1.5GiB", dir, "--", "true"]);
    expect(r.code).toBe(0);
    expect(w.submits().at(-1).containerOverrides.resourceRequirements).toEqual([
      { type: "VCPU", value: "2" },
      { type: "MEMORY", value: "1536" },
    ]);
  });

  it("runs another image through a derived job definition, registered once", async () => {
    const dir = await w.makeDir("image", {});
    for (let i = 0; i < 2; i++) expect((await w.nbatch(["build", "--aws-batch", "--image", "my/pipeline:2", dir, "--", "true"])).code).toBe(0);
    const registered = w.executor.requests.filter((r) => r.operation === "RegisterJobDefinition");
    expect(registered).toHaveLength(1);
    expect(registered[0]!.body.containerProperties.image).toBe("my/pipeline:2");
    expect(w.submits().at(-1).jobDefinition).toContain(registered[0]!.body.jobDefinitionName);
  });
});
