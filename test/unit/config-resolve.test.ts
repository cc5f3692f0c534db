import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { UsageError, UserError } from "../../src/errors.js";
import { requireBucket, resolveSettings, type ResolveInput } from "../../src/config/resolve.js";
import type { Runner, Settings } from "../../src/config/settings.js";
import { SETTING_ROWS } from "../../src/config/table.js";

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "nbatch-resolve-"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let fileCount = 0;
function configFile(text: string): string {
  const path = join(dir, `config-${++fileCount}`);
  writeFileSync(path, text);
  return path;
}

/** Resolves with an isolated environment: no real config file or AWS config is read. */
function resolve(input: Partial<ResolveInput> & { env?: ResolveInput["env"] }): Settings {
  return resolveSettings({
    flags: {},
    ...input,
    env: { HOME: dir, NBATCH_CONFIG: join(dir, "absent"), AWS_CONFIG_FILE: join(dir, "absent"), ...input.env },
  });
}

interface Case {
  name: string;
  flag?: string;
  runnerFlag?: Runner;
  env: string;
  values: { flag?: string; env: string; file: string };
  expected: { flag?: unknown; env: unknown; file: unknown; default: unknown };
  pick: (s: Settings) => unknown;
}

const cases: Case[] = [
  {
    name: "core.runner",
    runnerFlag: "aws-batch",
    env: "NBATCH_CORE_RUNNER",
    values: { env: "local", file: "aws-batch" },
    expected: { flag: "aws-batch", env: "local", file: "aws-batch", default: "local" },
    pick: (s) => s.values.runner,
  },
  {
    name: "aws-batch.job",
    env: "NBATCH_AWS_BATCH_JOB",
    values: { flag: "flag-job", env: "env-job", file: "file-job:3" },
    expected: { flag: "flag-job", env: "env-job", file: "file-job:3", default: "nbatch-job" },
    pick: (s) => s.values.job,
  },
  {
    name: "aws-batch.queue",
    env: "NBATCH_AWS_BATCH_QUEUE",
    values: { flag: "flag-q", env: "env-q", file: "file-q" },
    expected: { flag: "flag-q", env: "env-q", file: "file-q", default: "nbatch-job-queue" },
    pick: (s) => s.values.queue,
  },
  {
    name: "aws-batch.s3-bucket",
    env: "NBATCH_AWS_BATCH_S3_BUCKET",
    values: { flag: "s3://flag-bucket/p/", env: "env-bucket", file: "s3://file-bucket/a/b" },
    expected: {
      flag: { bucket: "flag-bucket", prefix: "p" },
      env: { bucket: "env-bucket", prefix: "" },
      file: { bucket: "file-bucket", prefix: "a/b" },
      default: undefined,
    },
    pick: (s) => s.values.s3Bucket,
  },
  {
    name: "aws-batch.share",
    env: "NBATCH_AWS_BATCH_SHARE",
    values: { flag: "flagshare", env: "envshare", file: "fileshare" },
    expected: { flag: "flagshare", env: "envshare", file: "fileshare", default: undefined },
    pick: (s) => s.values.share,
  },
  {
    name: "aws-batch.cpus",
    env: "NBATCH_AWS_BATCH_CPUS",
    values: { flag: "16", env: "0.5", file: "8" },
    expected: { flag: 16, env: 0.5, file: 8, default: undefined },
    pick: (s) => s.values.cpus,
  },
  {
    name: "aws-batch.memory",
    env: "NBATCH_AWS_BATCH_MEMORY",
    values: { flag: "1GiB", env: "2048", file: "15GiB" },
    expected: { flag: 1024, env: 2048, file: 15360, default: undefined },
    pick: (s) => s.values.memoryMiB,
  },
  {
    name: "aws-batch.agent-command",
    env: "NBATCH_AWS_BATCH_AGENT_COMMAND",
    values: { flag: "/opt/agent run", env: '["node", "/a b/agent.js"]', file: "'my agent' go" },
    expected: {
      flag: ["/opt/agent", "run"],
      env: ["node", "/a b/agent.js"],
      file: ["my agent", "go"],
      default: ["nbatch", "agent"],
    },
    pick: (s) => s.values.agentCommand,
  },
  {
    name: "aws-batch.poll-interval",
    env: "NBATCH_AWS_BATCH_POLL_INTERVAL",
    values: { env: "0.5", file: "30" },
    expected: { env: 500, file: 30000, default: 5000 },
    pick: (s) => s.values.pollIntervalMs,
  },
  {
    name: "aws-batch.s3-bucket-owner",
    env: "NBATCH_AWS_BATCH_S3_BUCKET_OWNER",
    values: { flag: "111111111111", env: "222222222222", file: "333333333333" },
    expected: { flag: "111111111111", env: "222222222222", file: "333333333333", default: undefined },
    pick: (s) => s.aws.s3?.expectedBucketOwner,
  },
  {
    name: "aws-batch.sse",
    env: "NBATCH_AWS_BATCH_SSE",
    values: { flag: "aws:kms", env: "AES256", file: "aws:kms:dsse" },
    expected: { flag: "aws:kms", env: "AES256", file: "aws:kms:dsse", default: "AES256" },
    pick: (s) => s.aws.s3?.sse,
  },
  {
    name: "aws-batch.sse-kms-key-id",
    env: "NBATCH_AWS_BATCH_SSE_KMS_KEY_ID",
    values: { flag: "alias/flag", env: "alias/env", file: "alias/file" },
    expected: { flag: "alias/flag", env: "alias/env", file: "alias/file", default: undefined },
    pick: (s) => s.aws.s3?.sseKmsKeyId,
  },
  {
    name: "core.max-results-size",
    env: "NBATCH_CORE_MAX_RESULTS_SIZE",
    values: { flag: "1GiB", env: "10MiB", file: "2TiB" },
    expected: { flag: 1024 ** 3, env: 10 * 1024 ** 2, file: 2 * 1024 ** 4, default: 100 * 1024 ** 3 },
    pick: (s) => s.values.maxResultsBytes,
  },
  {
    name: "core.max-results-entries",
    env: "NBATCH_CORE_MAX_RESULTS_ENTRIES",
    values: { flag: "5", env: "2000", file: "1000000" },
    expected: { flag: 5, env: 2000, file: 1_000_000, default: 100_000 },
    pick: (s) => s.values.maxResultsEntries,
  },
  {
    name: "aws-batch.image",
    env: "NBATCH_AWS_BATCH_IMAGE",
    values: { flag: "flag/image:1", env: "env/image:2", file: "file/image:3" },
    expected: { flag: "flag/image:1", env: "env/image:2", file: "file/image:3", default: undefined },
    pick: (s) => s.values.image,
  },
  {
    name: "build.command",
    env: "NBATCH_BUILD_COMMAND",
    values: { env: "make all", file: `sh -c 'snakemake --cores "$NBATCH_CPUS"'` },
    expected: { env: ["make", "all"], file: ["sh", "-c", 'snakemake --cores "$NBATCH_CPUS"'], default: undefined },
    pick: (s) => s.values.command,
  },
  {
    name: "build.workdir",
    env: "NBATCH_BUILD_WORKDIR",
    values: { flag: "./pathogen/", env: "a/./b/", file: "workflows/flu" },
    expected: { flag: "pathogen", env: "a/b", file: "workflows/flu", default: undefined },
    pick: (s) => s.values.workdir,
  },
  {
    name: "build.exclude-from-upload",
    env: "NBATCH_BUILD_EXCLUDE_FROM_UPLOAD",
    values: { env: "data/ results/", file: '["my data/", "*.bam"]' },
    expected: { env: ["data/", "results/"], file: ["my data/", "*.bam"], default: undefined },
    pick: (s) => s.values.excludeFromUpload,
  },
  {
    name: "build.download",
    env: "NBATCH_BUILD_DOWNLOAD",
    values: { flag: '["results/**"]', env: "auspice/ 'a b'", file: "results/" },
    expected: { flag: ["results/**"], env: ["auspice/", "a b"], file: ["results/"], default: undefined },
    pick: (s) => s.values.download,
  },
  {
    name: "build.exclude-from-download",
    env: "NBATCH_BUILD_EXCLUDE_FROM_DOWNLOAD",
    values: { flag: '["*.log", "tmp/"]', env: "*.tmp", file: "logs/" },
    expected: { flag: ["*.log", "tmp/"], env: ["*.tmp"], file: ["logs/"], default: undefined },
    pick: (s) => s.values.excludeFromDownload,
  },
];

it("the cases cover every row of the table", () => {
  expect(cases.map((c) => c.name).sort()).toEqual(SETTING_ROWS.map((r) => r.name).sort());
});

describe.each(cases)("$name", (c) => {
  const [section, key] = [c.name.slice(0, c.name.indexOf(".")), c.name.slice(c.name.indexOf(".") + 1)];
  const file = () => configFile(`[${section}]\n${key} = ${c.values.file}\n`);
  const flagInput = (): Partial<ResolveInput> =>
    c.runnerFlag ? { runner: c.runnerFlag } : c.values.flag !== undefined ? { flags: { [c.name]: c.values.flag } } : {};

  if (c.expected.flag !== undefined) {
    it("a flag beats the environment and the file", () => {
      const s = resolve({ ...flagInput(), env: { [c.env]: c.values.env, NBATCH_CONFIG: file() } });
      expect(c.pick(s)).toEqual(c.expected.flag);
      expect(s.origins[c.name]).toBe("flag");
    });
  }

  it("the environment beats the file", () => {
    const s = resolve({ env: { [c.env]: c.values.env, NBATCH_CONFIG: file() } });
    expect(c.pick(s)).toEqual(c.expected.env);
    expect(s.origins[c.name]).toBe("env");
  });

  it("the file beats the default", () => {
    const s = resolve({ env: { NBATCH_CONFIG: file() } });
    expect(c.pick(s)).toEqual(c.expected.file);
    expect(s.origins[c.name]).toBe("file");
  });

  it("an empty environment variable counts as unset", () => {
    const s = resolve({ env: { [c.env]: "", NBATCH_CONFIG: file() } });
    expect(c.pick(s)).toEqual(c.expected.file);
    expect(s.origins[c.name]).toBe("file");
  });

  it("falls back to the default", () => {
    const s = resolve({});
    expect(c.pick(s)).toEqual(c.expected.default);
    expect(s.origins[c.name]).toBe("default");
  });

  const row = SETTING_ROWS.find((r) => r.name === c.name)!;
  const project = () => {
    const projectDir = mkdtempSync(join(dir, "project-"));
    writeFileSync(join(projectDir, "nbatch.ini"), `; the project's\n[${section}]\n${key} = ${c.values.file}\n`);
    return projectDir;
  };
  if (row.project) {
    it("the environment beats the project file, which beats the user's config file", () => {
      const projectDir = project();
      // The user's file holds another valid value: the environment's.
      const userFile = configFile(`[${section}]\n${key} = ${c.values.env}\n`);
      expect(c.pick(resolve({ projectDir, env: { [c.env]: c.values.env } }))).toEqual(c.expected.env);
      const s = resolve({ projectDir, env: { NBATCH_CONFIG: userFile } });
      expect(c.pick(s)).toEqual(c.expected.file);
      expect(s.origins[c.name]).toBe("project");
      expect(s.projectFileShown).toBe(`~/${basename(projectDir)}/nbatch.ini`);
    });
  } else {
    it("a project file cannot set it: one line names the file, the line and where to set it", () => {
      const projectDir = project();
      expect(() => resolve({ projectDir })).toThrow(UserError);
      expect(() => resolve({ projectDir })).toThrow(
        `~/${basename(projectDir)}/nbatch.ini line 3: ${c.name} is yours to choose, not a project's, so a project file cannot set it: set it in ~/absent (nbatch config set ${c.name} ...) or with ${c.env}`,
      );
    });
  }
});

it("a project file may carry only what the work needs, never where data goes or what guards it", () => {
  const allowed = SETTING_ROWS.filter((r) => r.project).map((r) => r.name);
  expect(allowed.sort()).toEqual(
    ["aws-batch.cpus", "aws-batch.memory", "aws-batch.image", "build.command", "build.workdir", "build.exclude-from-upload", "build.download", "build.exclude-from-download"].sort(),
  );
});

it("takes a working directory only inside the uploaded directory", () => {
  const workdir = (text: string) => resolve({ flags: { "build.workdir": text } }).values.workdir;
  expect([workdir("."), workdir("./"), workdir("a/../b"), workdir("x//y/")]).toEqual([".", ".", "b", "x/y"]);
  for (const bad of ["/abs", "..", "../up", "a/../../up", "a\\b"]) {
    expect(() => workdir(bad)).toThrow(`invalid working directory ${JSON.stringify(bad)} (from --workdir): use a subdirectory of the uploaded directory`);
    expect(() => workdir(bad)).toThrow(UsageError);
  }
});

describe("resolveSettings", () => {
  it("fills an origin for every row of the table", () => {
    expect(Object.keys(resolve({}).origins).sort()).toEqual(SETTING_ROWS.map((r) => r.name).sort());
  });

  it("accepts NBATCH_POLL_INTERVAL as a short name, after the long one", () => {
    expect(resolve({ env: { NBATCH_POLL_INTERVAL: "2" } }).values.pollIntervalMs).toBe(2000);
    expect(resolve({ env: { NBATCH_POLL_INTERVAL: "2", NBATCH_AWS_BATCH_POLL_INTERVAL: "3" } }).values.pollIntervalMs).toBe(3000);
  });

  it("records the config file path it used", () => {
    const path = configFile("");
    expect(resolve({ env: { NBATCH_CONFIG: path } }).configFile).toBe(path);
    expect(resolve({ env: { NBATCH_CONFIG: "", XDG_CONFIG_HOME: "/xdg" } }).configFile).toBe("/xdg/nbatch/config");
  });

  it("reads NBATCH_DEBUG", () => {
    expect(resolve({}).debug).toBe(false);
    expect(resolve({ env: { NBATCH_DEBUG: "" } }).debug).toBe(false);
    expect(resolve({ env: { NBATCH_DEBUG: "0" } }).debug).toBe(false);
    expect(resolve({ env: { NBATCH_DEBUG: "1" } }).debug).toBe(true);
    expect(resolve({ env: { NBATCH_DEBUG: "true" } }).debug).toBe(true);
  });

  it("reports a bad flag value as a usage error naming the flag", () => {
    const run = () => resolve({ flags: { "aws-batch.memory": "lots" } });
    expect(run).toThrow(UsageError);
    expect(run).toThrow('invalid memory "lots" (from --aws-batch-memory): use a size such as 15GiB, 7200MB or 4096 (MiB)');
  });

  it("reports a bad environment value as a user error naming the variable", () => {
    const run = () => resolve({ env: { NBATCH_AWS_BATCH_MEMORY: "lots" } });
    expect(run).toThrow('invalid memory "lots" (from NBATCH_AWS_BATCH_MEMORY): use a size such as 15GiB, 7200MB or 4096 (MiB)');
    try {
      run();
    } catch (err) {
      expect(err).toBeInstanceOf(UserError);
      expect(err).not.toBeInstanceOf(UsageError);
    }
  });

  it("reports a bad file value naming the section, key and file", () => {
    const path = configFile("[aws-batch]\ncpus = many\n");
    const run = () => resolve({ env: { NBATCH_CONFIG: path } });
    // HOME is the temporary directory here, so the file is shown under ~.
    const shown = path.replace(dir, "~");
    expect(run).toThrow(`invalid vCPU count "many" (from [aws-batch] cpus in ${shown}): use a positive number`);
    expect(run).not.toThrow(UsageError);
  });

  it("does not parse a lower layer that a higher one overrides", () => {
    const path = configFile("[aws-batch]\ncpus = many\n[core]\nrunner = cloud\n");
    const s = resolve({ runner: "local", flags: { "aws-batch.cpus": "2" }, env: { NBATCH_CONFIG: path } });
    expect(s.values.cpus).toBe(2);
    expect(s.values.runner).toBe("local");
  });

  it("rejects an unknown runner", () => {
    expect(() => resolve({ env: { NBATCH_CORE_RUNNER: "cloud" } })).toThrow(
      'invalid runner "cloud" (from NBATCH_CORE_RUNNER): use aws-batch or local',
    );
  });

  it("reports a malformed config file with its line", () => {
    const path = configFile("[aws-batch]\nqueue\n");
    expect(() => resolve({ env: { NBATCH_CONFIG: path } })).toThrow(`${path.replace(dir, "~")} line 2: expected \`key = value\``);
  });

  it("refuses flags that are not settings, which would be a programming error", () => {
    expect(() => resolve({ flags: { "aws-batch.bucket": "b" } })).toThrow(/unknown setting aws-batch.bucket/);
  });
});

describe("requireBucket", () => {
  it("returns the configured bucket", () => {
    const s = resolve({ flags: { "aws-batch.s3-bucket": "s3://b-1/p" } });
    expect(requireBucket(s)).toEqual({ bucket: "b-1", prefix: "p" });
  });

  it("names the three ways to set one", () => {
    const s = resolve({ env: { NBATCH_CONFIG: "/etc/nbatch/config" } });
    expect(() => requireBucket(s)).toThrow(UserError);
    expect(() => requireBucket(s)).toThrow(
      "no S3 bucket configured: pass --aws-batch-s3-bucket, set NBATCH_AWS_BATCH_S3_BUCKET, " +
        'or add "s3-bucket = s3://your-bucket/prefix" under [aws-batch] in /etc/nbatch/config',
    );
  });
});
