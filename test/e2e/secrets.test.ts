import { HeadObjectCommand } from "@aws-sdk/client-s3";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { listKeys, s3 } from "../support/aws.js";
import { spawnCli } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

const envOf = (submit: any, name: string): string | undefined =>
  submit.containerOverrides.environment.find((e: { name: string }) => e.name === name)?.value;
const keyOf = (url: string) => url.replace(/^s3:\/\/[^/]+\//, "");

async function head(bucket: string, key: string) {
  const client = s3();
  try {
    return await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  } finally {
    client.destroy();
  }
}

describeWithMoto("nbatch build: secrets and encryption", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  /** The env.json objects of the world's bucket. */
  const envObjects = async () => (await listKeys(w.bucket, "jobs/runs/")).filter((k) => k.endsWith("/env.json"));

  it("never forwards the local AWS credentials to the job", async () => {
    const local = { AWS_ACCESS_KEY_ID: "AKIALOCALUSER0000042", AWS_SECRET_ACCESS_KEY: "local-secret-key-42", AWS_SESSION_TOKEN: "local-session-token-42" };
    const dir = await w.makeDir("credentials", {});
    const r = await w.nbatch(["build", "--aws-batch", dir, "--", "sh", "-c", "env > job-env.txt"], { env: { ...w.env, ...local } });
    expect(r.code, r.stderr).toBe(0);
    const jobEnv = await readFile(join(dir, "job-env.txt"), "utf8");
    expect(jobEnv).toMatch(/^AWS_ACCESS_KEY_ID=job-role$/m);
    for (const value of Object.values(local)) {
      expect(jobEnv).not.toContain(value);
      expect(JSON.stringify(w.executor.requests)).not.toContain(value);
      expect(JSON.stringify(w.executor.jobs())).not.toContain(value);
    }
  });

  it("keeps --env and --envdir values and --secret out of the job description and out of everything nbatch prints", async () => {
    const secretArn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-password-AbCdEf";
    const values = ["env-value-9f3e2", "shell-value-77ab", "envdir-value-c41d"];
    const dir = await w.makeDir("env-and-secret", {});
    const envdir = await w.makeDir("env-and-secret-envdir", { API_KEY: `${values[2]}\n` });
    const flags = ["--env", `TOKEN=${values[0]}`, "--env", "FROM_SHELL", "--envdir", envdir, "--secret", `DB_PASSWORD=${secretArn}`];
    const env = { ...w.env, FROM_SHELL: values[1]! };
    // The job checks the values by their hashes: the command itself is part of the job description.
    const hash = (v: string) => createHash("sha256").update(v).digest("hex");
    const check = (name: string, v: string) => `test "$(printf %s "$${name}" | sha256sum | cut -c1-64)" = ${hash(v)}`;
    const job = ["sh", "-c", `${check("TOKEN", values[0]!)} && ${check("FROM_SHELL", values[1]!)} && ${check("API_KEY", values[2]!)} && echo values arrived`];
    const before = w.executor.requests.length;
    const runs = [
      await w.nbatch(["build", "--aws-batch", ...flags, dir, "--", ...job], { env }),
      await w.nbatch(["build", "--aws-batch", "--json", ...flags, dir, "--", ...job], { env }),
      await w.nbatch(["build", "--aws-batch", "--dry-run", ...flags, dir, "--", ...job], { env }),
    ];
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    expect(runs[0]!.stdout).toMatch(/\] values arrived$/m);

    const calls = w.executor.requests.slice(before);
    for (const value of values) {
      for (const r of runs) expect(r.stdout + r.stderr).not.toContain(value);
      expect(JSON.stringify(calls)).not.toContain(value);
      expect(JSON.stringify(w.executor.jobs())).not.toContain(value);
    }
    // The secret reaches Batch only as a reference in the job definition's secrets, never as a value.
    const registered = calls.filter((q) => q.operation === "RegisterJobDefinition");
    expect(registered.length).toBeGreaterThanOrEqual(1);
    expect(registered[0]!.body.containerProperties.secrets).toContainEqual({ name: "DB_PASSWORD", valueFrom: secretArn });
    const submits = calls.filter((q) => q.operation === "SubmitJob").map((q) => q.body);
    expect(submits).toHaveLength(2);
    for (const submit of submits) {
      expect(submit.jobDefinition).toContain(registered[0]!.body.jobDefinitionName);
      expect(JSON.stringify(submit.containerOverrides)).not.toContain(secretArn);
      expect(envOf(submit, "NBATCH_ENV_URL")).toMatch(/^s3:\/\/.*\/env\.json$/);
    }
    const described = w.executor.jobs().find((j) => j.jobName === submits[0].jobName)!;
    expect(described.container!.secrets).toContainEqual({ name: "DB_PASSWORD", valueFrom: secretArn });
    expect(JSON.stringify(described.container!.environment)).not.toContain(secretArn);
  });

  it("leaves credential files and private keys in the root out of the upload, shows each with --dry-run, and takes one on purpose with !pattern", async () => {
    const secrets = {
      ".git-credentials": "https://u:token@host",
      ".npmrc": "//registry/:_authToken=t",
      "web/.npmrc": "//registry/:_authToken=t",
      ".pypirc": "[pypi]\npassword = p",
      ".pgpass": "db:5432:*:u:p",
      ".docker/config.json": '{"auths":{}}',
      "home/.kube/config": "users: []",
      id_rsa: "PRIVATE",
      "keys/id_ed25519": "PRIVATE",
      "server.pem": "PRIVATE",
      "tls.key": "PRIVATE",
    };
    // Data that only looks like keys deeper down, public halves and other Docker files do travel.
    const data = ["certs/ca.pem", "data/slides.key", ".docker/notes.txt", "id_rsa.pub", "notes.txt"];
    const dir = await w.makeDir("credential-files", { ...secrets, ...Object.fromEntries(data.map((p) => [p, "data"])) });
    const dry = await w.nbatch(["build", "--aws-batch", "--dry-run", dir, "--", "true"]);
    expect(dry.code, dry.stderr).toBe(0);
    const excluded = Object.fromEntries([...dry.stderr.matchAll(/^ {2}(\S+) {2}\((.+)\)$/gm)].map((m) => [m[1], m[2]]));
    for (const path of Object.keys(secrets)) expect.soft(excluded[path], path).toMatch(/^default: /);
    for (const path of data) expect.soft(excluded[path], path).toBeUndefined();

    const r = await w.nbatch(["build", "--aws-batch", "--exclude-from-upload", "!/tls.key", dir, "--", "sh", "-c", "find . -type f ! -name seen.txt > seen.txt; echo new > made.pem"]);
    expect(r.code, r.stderr).toBe(0);
    const seen = (await readFile(join(dir, "seen.txt"), "utf8")).trim().split("\n").map((p) => p.slice(2)).sort();
    expect(seen).toEqual([...data, "tls.key"].sort());
    // What the job makes under those names does not come back either.
    await expect(readFile(join(dir, "made.pem"))).rejects.toThrow(/ENOENT/);
  });

  it("has the agent delete the env object as soon as it has read it", async () => {
    const dir = await w.makeDir("env-read", {});
    const p = spawnCli(["build", "--aws-batch", "--env", "TOKEN=read-me", dir, "--", "sh", "-c", 'test "$TOKEN" = read-me && echo has read; sleep 1'], { env: w.env });
    await p.waitForOutput("] has read", 30_000);
    const runId = envOf(w.submits().at(-1), "NBATCH_RUN_ID")!;
    // The job is still running: only the agent can have deleted it.
    expect(w.executor.jobs().find((j) => j.jobName === w.submits().at(-1).jobName)!.status).toBe("RUNNING");
    expect((await envObjects()).filter((k) => k.includes(runId))).toEqual([]);
    expect((await p.result).code).toBe(0);
  });

  it("deletes the env object itself when the job never ran the agent", async () => {
    const dir = await w.makeDir("env-unread", {});
    const p = spawnCli(["build", "--aws-batch", "--agent-command", "env", "--env", "TOKEN=never-read", dir, "--", "sh", "-c", "echo up; sleep 1"], { env: w.env });
    await p.waitForOutput("] up", 30_000);
    const submit = w.submits().at(-1);
    const envKey = keyOf(envOf(submit, "NBATCH_ENV_URL")!);
    expect(await envObjects()).toContain(envKey);
    const r = await p.result;
    expect(r.code, r.stderr).toBe(0);
    expect(await envObjects()).not.toContain(envKey);
  });

  for (const sse of [
    { flags: [], algorithm: "AES256", key: undefined },
    { flags: ["--sse", "aws:kms", "--sse-kms-key-id", "alias/nbatch-test"], algorithm: "aws:kms", key: "alias/nbatch-test" },
  ]) {
    it(`encrypts every upload, the CLI's and the agent's, with ${sse.algorithm}${sse.flags.length ? "" : " by default"}`, async () => {
      const { proxy, env } = await w.proxy();
      const dir = await w.makeDir(`sse-${sse.algorithm.replace(":", "-")}`, { "in.txt": sse.algorithm });
      // The agent's uploads go through the proxy too.
      const agent = `env AWS_ENDPOINT_URL=${proxy.endpoint} nbatch agent`;
      const r = await w.nbatch(["build", "--aws-batch", ...sse.flags, "--agent-command", agent, "--env", "X=1", dir, "--", "sh", "-c", "cp in.txt out.txt"], { env });
      expect(r.code, r.stderr).toBe(0);

      const writes = proxy.requests.filter((q) => q.operation === "PutObject" || q.operation === "CreateMultipartUpload");
      const submit = w.submits().at(-1);
      const [inputs, results, envObject, log] = ["NBATCH_INPUTS_URL", "NBATCH_RESULTS_URL", "NBATCH_ENV_URL", "NBATCH_LOG_URL"].map((n) => keyOf(envOf(submit, n)!));
      const pack = writes.map((q) => q.key!).find((k) => k.endsWith(".zip") && k.includes("/inputs/packs/"))!;
      expect(writes.map((q) => q.key).sort()).toEqual([inputs, pack, pack.replace(/\.zip$/, ".idx.json"), results, envObject, log].sort());
      for (const q of writes) {
        expect(q.headers["x-amz-server-side-encryption"], q.key).toBe(sse.algorithm);
        expect(q.headers["x-amz-server-side-encryption-aws-kms-key-id"], q.key).toBe(sse.key);
      }
      for (const key of [inputs!, pack, results!, log!]) {
        const object = await head(w.bucket, key);
        expect(object.ServerSideEncryption, key).toBe(sse.algorithm);
        expect(object.SSEKMSKeyId, key).toBe(sse.key);
      }
    });
  }
});
