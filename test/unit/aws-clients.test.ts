import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createAwsClients } from "../../src/aws/clients.js";
import type { AwsSettings } from "../../src/config/settings.js";

// Count constructions so laziness is observed directly, not inferred.
const constructed = vi.hoisted(() => [] as string[]);
vi.mock("@aws-sdk/client-s3", async (importOriginal) => {
  const mod = await importOriginal<typeof import("@aws-sdk/client-s3")>();
  class S3Client extends mod.S3Client {
    constructor(...args: ConstructorParameters<typeof mod.S3Client>) {
      super(...args);
      constructed.push("s3");
    }
  }
  return { ...mod, S3Client };
});
vi.mock("@aws-sdk/client-batch", async (importOriginal) => {
  const mod = await importOriginal<typeof import("@aws-sdk/client-batch")>();
  class BatchClient extends mod.BatchClient {
    constructor(...args: ConstructorParameters<typeof mod.BatchClient>) {
      super(...args);
      constructed.push("batch");
    }
  }
  return { ...mod, BatchClient };
});

const plain: AwsSettings = { region: "eu-west-1", endpoints: {} };
const local: AwsSettings = {
  region: "us-east-1",
  endpoints: { s3: "http://127.0.0.1:5000", batch: "http://127.0.0.1:6000", logs: "http://127.0.0.1:7000/logs" },
};

async function endpointOf(config: { endpoint?: unknown }) {
  const provider = config.endpoint as (() => Promise<{ protocol: string; hostname: string; port?: number; path: string }>) | undefined;
  return provider && (await provider());
}

beforeEach(() => {
  constructed.length = 0;
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

describe("createAwsClients", () => {
  it("creates nothing until a client is used, then each client once", () => {
    const clients = createAwsClients(plain);
    expect(constructed).toEqual([]);
    const s3 = clients.s3;
    expect(clients.s3).toBe(s3);
    expect(constructed).toEqual(["s3"]);
    void clients.batch;
    void clients.batch;
    expect(constructed).toEqual(["s3", "batch"]);
    clients.destroy();
  });

  it("applies region, standard retries and no endpoint by default", async () => {
    const clients = createAwsClients(plain);
    const { config } = clients.s3;
    expect(await config.region()).toBe("eu-west-1");
    expect(await config.maxAttempts()).toBe(5);
    expect(await config.retryStrategy()).toMatchObject({ mode: "standard" });
    expect(config.forcePathStyle).toBe(false);
    expect(config.followRegionRedirects).toBe(true);
    expect(await endpointOf(config)).toBeUndefined();
    expect(await endpointOf(clients.batch.config)).toBeUndefined();
    clients.destroy();
  });

  it("applies each service's endpoint, and path-style addressing for an S3 endpoint", async () => {
    const clients = createAwsClients(local);
    expect(clients.s3.config.forcePathStyle).toBe(true);
    expect(await endpointOf(clients.s3.config)).toMatchObject({ protocol: "http:", hostname: "127.0.0.1", port: 5000 });
    expect(await endpointOf(clients.batch.config)).toMatchObject({ hostname: "127.0.0.1", port: 6000 });
    expect(await endpointOf(clients.logs.config)).toMatchObject({ hostname: "127.0.0.1", port: 7000, path: "/logs" });
    clients.destroy();
  });

  it("takes credentials from the named profile", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nbatch-creds-"));
    try {
      const credentials = join(dir, "credentials");
      writeFileSync(credentials, "[default]\naws_access_key_id = DEFAULTKEY\naws_secret_access_key = s0\n[lab]\naws_access_key_id = LABKEY\naws_secret_access_key = s1\n");
      vi.stubEnv("AWS_SHARED_CREDENTIALS_FILE", credentials);
      vi.stubEnv("AWS_CONFIG_FILE", join(dir, "absent"));
      for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"]) vi.stubEnv(name, undefined);
      const withProfile = createAwsClients({ ...plain, profile: "lab" });
      expect((await withProfile.s3.config.credentials()).accessKeyId).toBe("LABKEY");
      // With keys in the environment too, the profile still wins, and the chain's console warning stays quiet.
      vi.stubEnv("AWS_ACCESS_KEY_ID", "ENVKEY");
      vi.stubEnv("AWS_SECRET_ACCESS_KEY", "s2");
      const warn = vi.spyOn(console, "warn");
      const bothSet = createAwsClients({ ...plain, profile: "lab" });
      expect((await bothSet.logs.config.credentials()).accessKeyId).toBe("LABKEY");
      expect(warn).not.toHaveBeenCalled();
      bothSet.destroy();
      for (const name of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) vi.stubEnv(name, undefined);
      const withoutProfile = createAwsClients(plain);
      expect((await withoutProfile.batch.config.credentials()).accessKeyId).toBe("DEFAULTKEY");
      withProfile.destroy();
      withoutProfile.destroy();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("destroys only the clients it created, and recreates them afterwards", () => {
    const clients = createAwsClients(plain);
    const s3 = clients.s3;
    const destroy = vi.spyOn(s3, "destroy");
    clients.destroy();
    expect(destroy).toHaveBeenCalledTimes(1);
    expect(constructed).toEqual(["s3"]);
    expect(clients.s3).not.toBe(s3);
    clients.destroy();
  });
});
