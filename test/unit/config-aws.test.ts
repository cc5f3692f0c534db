import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { proxyFor } from "../../src/aws/transport.js";
import { resolveAws } from "../../src/config/aws.js";
import { UsageError, UserError } from "../../src/errors.js";
import { awsConfigPath, awsProfile } from "../../src/config/aws-profile.js";
import { resolveSettings, type ResolveInput } from "../../src/config/resolve.js";

let dir: string;
let awsConfig: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "nbatch-aws-"));
  awsConfig = join(dir, "aws-config");
  writeFileSync(
    awsConfig,
    [
      "[default]",
      "region = eu-west-1",
      "output = json",
      "",
      "[profile lab]",
      "s3 =",
      "  region = wrong-nested",
      "region = ap-south-1   # Mumbai",
      "",
      "[profile my.team]",
      "region=eu-north-1",
      "",
      "[profile no-region]",
      "output = text",
      "",
      "[lab]",
      "region = not-a-profile-header",
    ].join("\n"),
  );
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function aws(input: Partial<ResolveInput> & { env?: ResolveInput["env"] }) {
  return resolveSettings({
    flags: {},
    ...input,
    env: { HOME: dir, NBATCH_CONFIG: join(dir, "absent"), AWS_CONFIG_FILE: join(dir, "absent"), ...input.env },
  }).aws;
}

describe("region", () => {
  it("--aws-region comes first", () => {
    const env = { AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "us-east-2", AWS_CONFIG_FILE: awsConfig };
    expect(aws({ region: "eu-central-1", env }).region).toBe("eu-central-1");
  });

  it("then AWS_REGION", () => {
    const env = { AWS_REGION: "us-west-2", AWS_DEFAULT_REGION: "us-east-2", AWS_CONFIG_FILE: awsConfig };
    expect(aws({ env }).region).toBe("us-west-2");
  });

  it("then AWS_DEFAULT_REGION", () => {
    expect(aws({ env: { AWS_REGION: "", AWS_DEFAULT_REGION: "us-east-2", AWS_CONFIG_FILE: awsConfig } }).region).toBe("us-east-2");
  });

  it("then the default profile's region from the AWS config file", () => {
    expect(aws({ env: { AWS_CONFIG_FILE: awsConfig } }).region).toBe("eu-west-1");
  });

  it("then the named profile's region, ignoring nested settings and comments", () => {
    expect(aws({ profile: "lab", env: { AWS_CONFIG_FILE: awsConfig } }).region).toBe("ap-south-1");
    expect(aws({ env: { AWS_PROFILE: "lab", AWS_CONFIG_FILE: awsConfig } }).region).toBe("ap-south-1");
  });

  it("handles dots in profile names", () => {
    expect(aws({ profile: "my.team", env: { AWS_CONFIG_FILE: awsConfig } }).region).toBe("eu-north-1");
  });

  it("else us-east-1", () => {
    expect(aws({}).region).toBe("us-east-1");
    expect(aws({ profile: "no-region", env: { AWS_CONFIG_FILE: awsConfig } }).region).toBe("us-east-1");
    expect(aws({ profile: "missing", env: { AWS_CONFIG_FILE: awsConfig } }).region).toBe("us-east-1");
  });

  it("records where it came from, for nbatch check-setup", () => {
    const env = { AWS_DEFAULT_REGION: "us-east-2", AWS_CONFIG_FILE: awsConfig };
    expect(aws({ region: "eu-central-1", env }).regionFrom).toBe("--aws-region");
    expect(aws({ env }).regionFrom).toBe("AWS_DEFAULT_REGION");
    expect(aws({ profile: "lab", env: { AWS_CONFIG_FILE: awsConfig } }).regionFrom).toBe("profile lab");
    expect(aws({}).regionFrom).toBeUndefined();
  });

  it("reads ~/.aws/config when AWS_CONFIG_FILE is unset", () => {
    const home = join(dir, "home");
    mkdirSync(join(home, ".aws"), { recursive: true });
    writeFileSync(join(home, ".aws", "config"), "[profile default]\nregion = sa-east-1\n");
    expect(awsConfigPath({ HOME: home })).toBe(join(home, ".aws", "config"));
    expect(awsProfile({ HOME: home }).get("region")).toBe("sa-east-1");
    expect(aws({ env: { HOME: home, AWS_CONFIG_FILE: "" } }).region).toBe("sa-east-1");
  });
});

describe("profile", () => {
  it("--aws-profile beats AWS_PROFILE", () => {
    expect(aws({ profile: "a", env: { AWS_PROFILE: "b" } }).profile).toBe("a");
    expect(aws({ env: { AWS_PROFILE: "b" } }).profile).toBe("b");
  });

  it("is absent when neither is set", () => {
    expect(aws({ env: { AWS_PROFILE: "" } }).profile).toBeUndefined();
  });
});

describe("endpoints", () => {
  it("are absent by default", () => {
    expect(aws({}).endpoints).toEqual({});
  });

  it("AWS_ENDPOINT_URL applies to every service", () => {
    expect(aws({ env: { AWS_ENDPOINT_URL: "http://127.0.0.1:5000" } }).endpoints).toEqual({
      s3: "http://127.0.0.1:5000",
      batch: "http://127.0.0.1:5000",
      logs: "http://127.0.0.1:5000",
      sts: "http://127.0.0.1:5000",
    });
  });

  it("service-specific variables win", () => {
    const env = {
      AWS_ENDPOINT_URL: "http://all:1",
      AWS_ENDPOINT_URL_S3: "http://s3:2",
      AWS_ENDPOINT_URL_BATCH: "https://batch:3",
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: "http://logs:4",
      AWS_ENDPOINT_URL_STS: "http://sts:5",
    };
    expect(aws({ env }).endpoints).toEqual({ s3: "http://s3:2", batch: "https://batch:3", logs: "http://logs:4", sts: "http://sts:5" });
    expect(aws({ env: { AWS_ENDPOINT_URL_S3: "http://s3:2" } }).endpoints).toEqual({ s3: "http://s3:2" });
    expect(aws({ env: { AWS_ENDPOINT_URL: "http://all:1", AWS_ENDPOINT_URL_S3: "" } }).endpoints.s3).toBe("http://all:1");
  });

  it("rejects a value that is not an http(s) URL, naming the variable", () => {
    const run = () => aws({ env: { AWS_ENDPOINT_URL_S3: "localhost:5000" } });
    expect(run).toThrow(UserError);
    expect(run).toThrow('invalid endpoint "localhost:5000" (from AWS_ENDPOINT_URL_S3): use a URL such as http://localhost:5000');
  });
});

describe("proxies and NO_PROXY", () => {
  const proxies = (noProxy: string) => ({ https: "http://proxy:3128", http: "http://proxy:3128", noProxy: noProxy.split(",").filter(Boolean) });
  it.each([
    ["", "https://s3.us-east-1.amazonaws.com", "http://proxy:3128"],
    [".amazonaws.com", "https://s3.us-east-1.amazonaws.com", undefined],
    ["amazonaws.com", "https://batch.eu-west-1.amazonaws.com", undefined],
    ["*.amazonaws.com", "https://logs.eu-west-1.amazonaws.com", undefined],
    ["*", "https://anything.example", undefined],
    ["s3.lab.internal:9000", "http://s3.lab.internal:9000", undefined],
    ["s3.lab.internal:9000", "http://s3.lab.internal:9001", "http://proxy:3128"],
    ["notamazonaws.com", "https://s3.us-east-1.amazonaws.com", "http://proxy:3128"],
    ["127.0.0.1", "http://127.0.0.1:5000", undefined],
  ])("NO_PROXY=%j: %s goes through %s", (noProxy, url, expected) => {
    expect(proxyFor(new URL(url), proxies(noProxy))).toBe(expected);
  });

  it("takes the lower-case variables before the upper-case ones, and ALL_PROXY behind both", () => {
    expect(resolveAws({ env: { HTTPS_PROXY: "http://upper:1", https_proxy: "http://lower:1" } }).proxies?.https).toBe("http://lower:1");
    expect(resolveAws({ env: { ALL_PROXY: "proxy.lab:3128" } }).proxies).toMatchObject({ https: "http://proxy.lab:3128", http: "http://proxy.lab:3128" });
  });

  it("names the variable a bad proxy came from", () => {
    expect(() => resolveAws({ env: { https_proxy: "ftp://p:1" } })).toThrow(/\(from https_proxy\)/);
    expect(() => resolveAws({ env: { ALL_PROXY: "socks5://p:1" } })).toThrow(/\(from ALL_PROXY\)/);
  });
});

describe("endpoints, retries and credentials, as the AWS CLI reads them", () => {
  const config = (text: string) => {
    const path = join(mkdtempSync(join(dir, "profile-")), "config");
    writeFileSync(path, text);
    return path;
  };

  it("puts the environment before the profile's [services] section before its endpoint_url", () => {
    const file = config("[profile lab]\nendpoint_url = http://all:1\nservices = here\n[services here]\ns3 =\n  endpoint_url = http://s3:1\n");
    const aws = resolveAws({ env: { AWS_CONFIG_FILE: file, AWS_ENDPOINT_URL_BATCH: "http://batch:1" }, profile: "lab" });
    expect(aws.endpoints).toEqual({ s3: "http://s3:1", batch: "http://batch:1", logs: "http://all:1", sts: "http://all:1" });
    expect(aws.s3PathStyle).toBe(true);
    expect(resolveAws({ env: { AWS_CONFIG_FILE: file, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "true" }, profile: "lab" }).endpoints.s3).toBeUndefined();
    const ignoring = config("[profile lab]\nendpoint_url = http://all:1\nignore_configured_endpoint_urls = true\n");
    expect(resolveAws({ env: { AWS_CONFIG_FILE: ignoring }, profile: "lab" }).endpoints.s3).toBeUndefined();
    expect(resolveAws({ env: { AWS_CONFIG_FILE: ignoring, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: "false" }, profile: "lab" }).endpoints.s3).toBe("http://all:1");
  });

  it("chooses credentials as the AWS CLI does", () => {
    const keys = { AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s" };
    expect(resolveAws({ env: { ...keys, AWS_PROFILE: "lab" } }).credentials).toMatchObject({ source: "env" });
    expect(resolveAws({ env: { ...keys, AWS_PROFILE: "lab" }, profile: "other" }).credentials).toMatchObject({ source: "profile", profile: "other" });
    expect(resolveAws({ env: { AWS_PROFILE: "lab" } }).credentials).toMatchObject({ source: "profile", profile: "lab" });
    expect(resolveAws({ env: {} }).credentials).toMatchObject({ source: "chain" });
  });

  it("reads max_attempts and retry_mode, the environment first, and refuses nonsense as a usage error", () => {
    const file = config("[default]\nmax_attempts = 7\nretry_mode = adaptive\n");
    expect(resolveAws({ env: { AWS_CONFIG_FILE: file } }).retries).toEqual({ maxAttempts: 7, mode: "adaptive" });
    expect(resolveAws({ env: { AWS_CONFIG_FILE: file, AWS_MAX_ATTEMPTS: "2", AWS_RETRY_MODE: "legacy" } }).retries).toEqual({ maxAttempts: 2, mode: "standard" });
    expect(() => resolveAws({ env: { AWS_MAX_ATTEMPTS: "0" } })).toThrow(UsageError);
    expect(() => resolveAws({ env: { AWS_REQUEST_CHECKSUM_CALCULATION: "never" } })).toThrow(UsageError);
  });
});
