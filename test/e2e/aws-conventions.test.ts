import { mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, expect, it } from "vitest";
import type { FaultProxy } from "../support/fault-proxy.js";
import { startForwardProxy, type ForwardProxy } from "../support/forward-proxy.js";
import { describeWithMoto, motoEndpoint } from "../support/moto.js";
import { startTlsFront, type TlsFront } from "../support/tls-front.js";
import { startWorld, type World } from "../support/world.js";

/**
 * The AWS conventions users already have, through the built binary, in the
 * CLI and in the job's agent alike: a private CA, proxies, retry settings,
 * endpoints and credentials from the AWS config files, --sse none and the
 * checksum setting.
 */
describeWithMoto("the AWS settings users already have", () => {
  let w: World;
  let proxy: FaultProxy;
  let viaProxy: Record<string, string>;
  let front: TlsFront;
  let forwardCli: ForwardProxy;
  let forwardJob: ForwardProxy;
  let dir: string;
  /** The CLI's environment with every service at the HTTPS front. */
  let tls: Record<string, string>;
  const ENDPOINT_VARS = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_BATCH", "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "AWS_ENDPOINT_URL_STS"];
  const without = (env: Record<string, string>, names: string[]) => Object.fromEntries(Object.entries(env).filter(([k]) => !names.includes(k)));
  /** A job definition whose container has this environment, as an administrator sets one. */
  const jobWith = async (name: string, environment: Record<string, string>) => {
    await w.executor.registerJobDefinition({
      jobDefinitionName: name,
      type: "container",
      containerProperties: { image: "nbatch-test", command: ["true"], environment: Object.entries(environment).map(([k, v]) => ({ name: k, value: v })) },
    });
    return name;
  };
  const build = (env: Record<string, string>, job: string, extra: string[] = []) => w.nbatch(["build", "--aws-batch", "--aws-batch-job", job, ...extra, dir, "--", "sh", "-c", "echo done > out.txt"], { env });
  /** Each test its own inputs, so each uploads them. */
  let tests = 0;
  const freshInputs = async () => {
    dir = await w.makeDir(`conventions-${++tests}`, { "in.txt": `${tests}\n` });
  };

  beforeAll(async () => {
    w = await startWorld();
    ({ proxy, env: viaProxy } = await w.proxy());
    const certs = await mkdtemp(join(tmpdir(), "nbatch-certs-"));
    front = await startTlsFront(proxy.endpoint, certs);
    forwardCli = await startForwardProxy();
    forwardJob = await startForwardProxy();
    const endpoints = Object.fromEntries(ENDPOINT_VARS.slice(1).map((k) => [k, front.endpoint]));
    tls = { ...without(w.env, ENDPOINT_VARS), ...endpoints };
  });
  beforeEach(freshInputs);
  afterAll(async () => {
    await forwardCli?.stop();
    await forwardJob?.stop();
    await front?.stop();
    await w?.stop();
  });

  it("trusts a private CA only when told (AWS_CA_BUNDLE, or ca_bundle in the profile), and says so when it is not", async () => {
    const job = await jobWith("tls-job", { AWS_ENDPOINT_URL: front.endpoint, AWS_CA_BUNDLE: front.caPath });
    const untrusted = await build(tls, job);
    expect(untrusted.code).toBe(1);
    expect(untrusted.stderr).toMatch(/nbatch: error: cannot trust the certificate of https:\/\/127\.0\.0\.1:\d+ \(\w+\): .*set AWS_CA_BUNDLE or ca_bundle in ~\/\.aws\/config/);
    expect(untrusted.stderr).not.toMatch(/internal error/);
    const trusted = await build({ ...tls, AWS_CA_BUNDLE: front.caPath }, job);
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(await readFile(join(dir, "out.txt"), "utf8")).toBe("done\n");
    const config = join(w.home, "aws-config");
    await writeFile(config, `[default]\nca_bundle = ${front.caPath}\n`);
    const fromProfile = await build({ ...tls, AWS_CONFIG_FILE: config }, job, ["--dry-run"]);
    expect(fromProfile.code, fromProfile.stderr).toBe(0);
  });

  it("goes through HTTPS_PROXY, in the CLI and in the job's agent, unless NO_PROXY names the host", async () => {
    const job = await jobWith("proxied-job", { AWS_ENDPOINT_URL: front.endpoint, AWS_CA_BUNDLE: front.caPath, HTTPS_PROXY: forwardJob.url });
    const env = { ...tls, AWS_CA_BUNDLE: front.caPath, HTTPS_PROXY: forwardCli.url };
    const r = await build(env, job);
    expect(r.code, r.stderr).toBe(0);
    const host = new URL(front.endpoint).host;
    expect(forwardCli.seen).toContain(`CONNECT ${host}`);
    expect(forwardJob.seen).toContain(`CONNECT ${host}`);
    forwardCli.seen.length = 0;
    const direct = await build({ ...env, no_proxy: "localhost,127.0.0.1" }, job, ["--dry-run"]);
    expect(direct.code, direct.stderr).toBe(0);
    expect(forwardCli.seen).toEqual([]);
  });

  it("sends plain-HTTP endpoints through http_proxy", async () => {
    forwardCli.seen.length = 0;
    const r = await w.nbatch(["build", "--aws-batch", "--dry-run", dir, "--", "true"], { env: { ...w.env, http_proxy: forwardCli.url } });
    expect(r.code, r.stderr).toBe(0);
    expect(forwardCli.seen.some((s) => s.startsWith(`HEAD ${motoEndpoint()}/`))).toBe(true);
    expect(forwardCli.seen).toContain(`POST ${w.executor.endpoint}/v1/describejobqueues`);
  });

  it("retries as AWS_MAX_ATTEMPTS or max_attempts says, and refuses a bad value with exit 2", async () => {
    const failing = () => proxy.add({ operation: "DescribeJobQueues" }, { error: { status: 500, code: "InternalError" } }, { times: 2 });
    let rule = failing();
    const once = await w.nbatch(["build", "--aws-batch", "--dry-run", dir, "--", "true"], { env: { ...viaProxy, AWS_MAX_ATTEMPTS: "2" } });
    expect(once.code).toBe(1);
    expect(once.stderr).toMatch(/nbatch: error: batch:DescribeJobQueues on job queue nbatch-job-queue \(region us-east-1\) at http:\/\/127\.0\.0\.1:\d+ failed: InternalError.*\(HTTP 500\); the service is having trouble/);
    expect(rule.hits).toBe(2);
    rule.remove();
    rule = failing();
    const config = join(w.home, "aws-retries");
    await writeFile(config, "[default]\nmax_attempts = 3\nretry_mode = adaptive\n");
    const thrice = await w.nbatch(["build", "--aws-batch", "--dry-run", dir, "--", "true"], { env: { ...viaProxy, AWS_CONFIG_FILE: config } });
    expect(thrice.code, thrice.stderr).toBe(0);
    expect(rule.hits).toBe(2);
    rule.remove();
    const bad = await w.nbatch(["build", "--aws-batch", "--dry-run", dir, "--", "true"], { env: { ...w.env, AWS_MAX_ATTEMPTS: "many" } });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('invalid max attempts "many" (from AWS_MAX_ATTEMPTS): use a whole number from 1 to 50');
    const mode = await w.nbatch(["build", "--aws-batch", "--dry-run", dir, "--", "true"], { env: { ...w.env, AWS_RETRY_MODE: "eager" } });
    expect(mode.code).toBe(2);
  });

  it("takes endpoints from endpoint_url and a [services] section of the AWS config, with S3 by path", async () => {
    const config = join(w.home, "aws-endpoints");
    await writeFile(config, `[default]\nendpoint_url = ${motoEndpoint()}\nservices = local\n\n[services local]\nbatch =\n  endpoint_url = ${w.executor.endpoint}\n`);
    const r = await build({ ...without(w.env, ENDPOINT_VARS), AWS_CONFIG_FILE: config }, w.job);
    expect(r.code, r.stderr).toBe(0);
  });

  it("uses access keys in the environment over AWS_PROFILE, as the AWS CLI does, a --aws-profile over both, and says which with -v", async () => {
    const awsDir = join(w.home, ".aws");
    await mkdir(awsDir, { recursive: true });
    await writeFile(join(awsDir, "credentials"), "[lab]\naws_access_key_id = PROFILEKEY\naws_secret_access_key = profile-secret\n");
    const signedWith = () => [...new Set(proxy.requests.map((r) => /Credential=([^/]+)\//.exec(String(r.headers.authorization ?? ""))?.[1]).filter(Boolean))];
    const env = { ...viaProxy, AWS_ACCESS_KEY_ID: "ENVKEY", AWS_PROFILE: "lab" };
    proxy.requests.length = 0;
    const r = await w.nbatch(["-v", "build", "--aws-batch", "--dry-run", dir, "--", "true"], { env });
    expect(r.code, r.stderr).toBe(0);
    expect(signedWith()).toEqual(["ENVKEY"]);
    expect(r.stderr).toMatch(/AWS: credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; region us-east-1 \(from AWS_REGION\)/);
    proxy.requests.length = 0;
    const flag = await w.nbatch(["-v", "build", "--aws-batch", "--dry-run", "--aws-profile", "lab", dir, "--", "true"], { env });
    expect(flag.code, flag.stderr).toBe(0);
    expect(signedWith()).toEqual(["PROFILEKEY"]);
    expect(flag.stderr).toMatch(/AWS: credentials from profile lab \(--aws-profile\)/);
  });

  it("sends no encryption header with --sse none, for stores that refuse it, in the CLI and the agent", async () => {
    const refuse = proxy.add({ service: "s3", headers: { "x-amz-server-side-encryption": /./ } }, { error: { status: 400, code: "InvalidRequest" }, message: "Server side encryption is not supported" });
    const job = await jobWith("sse-job", { AWS_ENDPOINT_URL_S3: proxy.endpoint });
    const refused = await build(viaProxy, job);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/nbatch: error: s3:PutObject on s3:\/\/.* failed: InvalidRequest: Server side encryption is not supported \(HTTP 400\); an S3-compatible store may refuse what AWS accepts: try --sse none/);
    expect(refused.stderr).not.toMatch(/internal error/);
    const hits = refuse.hits;
    await freshInputs();
    const r = await build(viaProxy, job, ["--sse", "none"]);
    expect(r.code, r.stderr).toBe(0);
    expect(refuse.hits).toBe(hits);
    expect(await readFile(join(dir, "out.txt"), "utf8")).toBe("done\n");
    refuse.remove();
  });

  it("follows request_checksum_calculation, and passes it to the job so the agent's upload does too", async () => {
    const refuse = proxy.add({ service: "s3", headers: { "x-amz-sdk-checksum-algorithm": /./ } }, { error: { status: 400, code: "InvalidRequest" }, message: "checksums are not supported" });
    const refuseToo = proxy.add({ service: "s3", headers: { "x-amz-checksum-crc32": /./ } }, { error: { status: 400, code: "InvalidRequest" }, message: "checksums are not supported" });
    const job = await jobWith("checksum-job", { AWS_ENDPOINT_URL_S3: proxy.endpoint });
    const config = join(w.home, "aws-checksums");
    await writeFile(config, "[default]\nrequest_checksum_calculation = when_required\n");
    const r = await build({ ...viaProxy, AWS_CONFIG_FILE: config }, job);
    expect(r.code, r.stderr).toBe(0);
    expect(refuse.hits + refuseToo.hits).toBe(0);
    expect(await readFile(join(dir, "out.txt"), "utf8")).toBe("done\n");
    const submit = w.submits().at(-1);
    expect(submit.containerOverrides.environment).toContainEqual({ name: "AWS_REQUEST_CHECKSUM_CALCULATION", value: "when_required" });
    refuse.remove();
    refuseToo.remove();
  });
});
