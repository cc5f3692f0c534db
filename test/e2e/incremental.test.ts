import { DeleteObjectCommand, GetObjectCommand, HeadObjectCommand, PutBucketLifecycleConfigurationCommand } from "@aws-sdk/client-s3";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, cp, mkdir, rm, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { decodeTree, type InputsTree } from "../../src/protocol-tree.js";
import { listKeys, s3 } from "../support/aws.js";
import { runCli } from "../support/cli.js";
import { describeWithMoto } from "../support/moto.js";
import { startWorld, type World } from "../support/world.js";

/** Every path under the directory with its type, mode, mtime and size, then every file's SHA-256: what the job saw, or what is here. */
const LISTING = `find . -mindepth 1 ! -name seen.txt | sort | while read -r p; do stat -c '%n %F %a %Y %s' "$p"; done; find . -type f ! -name seen.txt | sort | xargs -r sha256sum`;
const SEE = ["sh", "-c", `(${LISTING}) > seen.txt`];

describeWithMoto("incremental inputs: only what changed goes up", () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w?.stop());

  const here = async (dir: string) => (await promisify(execFile)("sh", ["-c", LISTING], { cwd: dir })).stdout;
  const seen = (dir: string) => promisify(execFile)("cat", [join(dir, "seen.txt")]).then((r) => r.stdout);
  const packs = async () => (await listKeys(w.bucket, "jobs/inputs/packs/")).filter((k) => k.endsWith(".zip"));
  const envOf = (submit: any, name: string): string => submit.containerOverrides.environment.find((e: { name: string }) => e.name === name).value;
  const runIdOf = (submit: any) => envOf(submit, "NBATCH_RUN_ID");
  const treeKey = () => envOf(w.submits().at(-1), "NBATCH_INPUTS_URL").slice(`s3://${w.bucket}/`.length);

  async function tree(key: string): Promise<InputsTree> {
    const client = s3();
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: w.bucket, Key: key }));
      return decodeTree(Buffer.from(await res.Body!.transformToByteArray()), key);
    } finally {
      client.destroy();
    }
  }

  async function project(name: string): Promise<string> {
    // Content of its own: bytes another test uploaded would be reused, as they should be.
    const dir = await w.makeDir(name, { "Snakefile": `# ${name}\n`, "config/params.yaml": `${name}: 1\n`, "scripts/run.sh": { text: `#!/bin/sh\necho ${name}\n`, mode: 0o755 } });
    await mkdir(join(dir, "data"));
    for (let i = 0; i < 3; i++) await writeFile(join(dir, "data", `part-${i}.bin`), randomBytes(700_000));
    await writeFile(join(dir, "data", "copy-of-0.bin"), await promisify(execFile)("cat", [join(dir, "data", "part-0.bin")], { encoding: "buffer" }).then((r) => r.stdout));
    return dir;
  }

  async function build(dir: string, extra: string[] = [], env = w.env) {
    // What the job saw comes back, and is not sent again (nor kept as a local edit).
    await rm(join(dir, "seen.txt"), { force: true });
    const r = await w.nbatch(["build", "--aws-batch", "--exclude-from-upload", "/seen.txt", ...extra, dir, "--", ...SEE], { env });
    expect(r.code, r.stderr).toBe(0);
    return r;
  }

  it("uploads one changed small file, and the job sees the directory exactly as it is", async () => {
    const dir = await project("small-change");
    const first = await build(dir);
    expect(first.stderr).toMatch(/uploaded 7 files, [\d.]+ MB; reused 0 files, 0 B/);
    expect(await seen(dir)).toBe(await here(dir));
    const before = await packs();

    await writeFile(join(dir, "config/params.yaml"), "changed: 2\n");
    const second = await build(dir);
    expect(second.stderr).toMatch(/^Uploading 1 file, 11 B of .* to s3:\/\/\S+\/jobs\/inputs\/packs\/\S+\.zip; reusing 6 files, [\d.]+ MB already in S3$/m);
    expect(second.stderr).toMatch(/uploaded 1 file, 11 B; reused 6 files/);
    expect(await seen(dir)).toBe(await here(dir));
    const added = (await packs()).filter((k) => !before.includes(k));
    expect(added).toHaveLength(1);
    // Its tree takes every other file's bytes from the first run's pack.
    const t = await tree(treeKey());
    expect(t.packs.sort()).toEqual([...before, ...added].map((k) => k.replace(/^.*\/|\.zip$/g, "")).sort());
    // The same bytes at two paths went up once, and are read once.
    const copies = t.entries.filter((e) => e.path === "data/part-0.bin" || e.path === "data/copy-of-0.bin");
    expect(copies[0]!.at).toEqual(copies[1]!.at);
  });

  it("leaves a deleted file out, and brings a changed mode and time, uploading no file's bytes", async () => {
    const dir = await project("delete-chmod");
    await build(dir);
    await rm(join(dir, "data/part-2.bin"));
    await chmod(join(dir, "scripts/run.sh"), 0o700);
    await utimes(join(dir, "Snakefile"), new Date("2020-01-02T03:04:05Z"), new Date("2020-01-02T03:04:05Z"));
    const before = await packs();
    const r = await build(dir);
    expect(r.stderr).toMatch(/uploaded 0 files, 0 B; reused \d+ files/);
    expect(await packs()).toEqual(before);
    const job = await seen(dir);
    expect(job).not.toContain("part-2.bin");
    expect(job).toMatch(/^\.\/scripts\/run\.sh regular file 700 /m);
    expect(job).toMatch(new RegExp(`^\\./Snakefile regular file 644 ${Date.parse("2020-01-02T03:04:05Z") / 1000} `, "m"));
    expect(job).toBe(await here(dir));
  });


  it("keeps the hashes it packed or read, so a re-run reads no unchanged file again", async () => {
    const dir = await project("hashes-kept");
    // A file written under 2 s before it is read may not have moved its times yet: its hash is not kept (tree/hashes.ts).
    await new Promise((r) => setTimeout(r, 2100));
    const hashing = /^Hashing \d+ files?/m;
    await build(dir, ["-v"]);
    // Hashed as they were packed.
    expect((await build(dir, ["-v"])).stderr).not.toMatch(hashing);
    await rm(join(w.home, ".cache", "nbatch", "hashes"), { recursive: true });
    const unchanged = await build(dir, ["-v"]);
    expect(unchanged.stderr).toMatch(/^Hashing 7 files, [\d.]+ MB to find those already in S3$/m);
    expect(unchanged.stderr).toMatch(/^Inputs unchanged/m);
    // Read once for a run that uploaded nothing, and kept.
    expect((await build(dir, ["-v"])).stderr).not.toMatch(hashing);
  });
  it("reuses bytes any directory uploaded: a copy of it on another machine uploads none", async () => {
    const dir = await project("original");
    await build(dir);
    const copy = join(dir, "..", "copy-elsewhere");
    await cp(dir, copy, { recursive: true });
    await rm(join(copy, "seen.txt"));
    const other = { ...w.env, HOME: join(w.home, "..", "other-machine"), XDG_CONFIG_HOME: join(w.home, "..", "other-machine", ".config") };
    const r = await build(copy, [], other);
    // Hashed there, since that machine had never seen these files, then found in S3.
    expect(r.stderr).toMatch(/uploaded 0 files, 0 B; reused 7 files/);
    expect(await seen(copy)).toBe(await here(copy));
  });

  it("never references a pack that is gone: its files go up again", async () => {
    const dir = await project("deleted-pack");
    await build(dir);
    const [gone] = (await packs()).filter((k) => k.includes(runIdOf(w.submits().at(-1))));
    const client = s3();
    await client.send(new DeleteObjectCommand({ Bucket: w.bucket, Key: gone! }));
    client.destroy();
    await writeFile(join(dir, "Snakefile"), "rule all: input: 'x'\n");
    const r = await build(dir);
    expect(r.stderr).toMatch(/uploaded 7 files, [\d.]+ MB; reused 0 files/);
    expect((await tree(treeKey())).packs.map((p) => `jobs/inputs/packs/${p}.zip`)).not.toContain(gone);
    expect(await seen(dir)).toBe(await here(dir));
  });

  it("treats a pack near the lifecycle rule's expiry as gone, and uploads its files again", async () => {
    const { proxy, env } = await w.proxy();
    const dir = await project("aged-pack");
    await build(dir, [], env);
    const [old] = (await packs()).filter((k) => k.includes(runIdOf(w.submits().at(-1))));
    const client = s3();
    await client.send(new PutBucketLifecycleConfigurationCommand({ Bucket: w.bucket, LifecycleConfiguration: { Rules: [{ ID: "expire", Status: "Enabled", Filter: { Prefix: "jobs/" }, Expiration: { Days: 30 } }] } }));
    client.destroy();
    try {
      // The listing says the pack is 29 days old: a day from expiry, within the two days' margin.
      const aged = new Date(Date.now() - 29 * 24 * 3600 * 1000).toISOString();
      proxy.add({ operation: "ListObjectsV2" }, { rewrite: (xml) => xml.replace(new RegExp(`(<Key>${old}</Key>\\s*<LastModified>)[^<]+`), `$1${aged}`) });
      const r = await build(dir, [], env);
      expect(r.stderr).toMatch(/uploaded 7 files, [\d.]+ MB; reused 0 files/);
      expect((await tree(treeKey())).packs.map((p) => `jobs/inputs/packs/${p}.zip`)).not.toContain(old);
      // 28 days old is still two days from expiry: reused.
      const younger = new Date(Date.now() - 27.5 * 24 * 3600 * 1000).toISOString();
      proxy.add({ operation: "ListObjectsV2" }, { rewrite: (xml) => xml.replace(/(<LastModified>)[^<]+/g, `$1${younger}`) });
      await writeFile(join(dir, "Snakefile"), "rule all: input: 'y'\n");
      expect((await build(dir, [], env)).stderr).toMatch(/uploaded 1 file, \d+ B; reused 6 files/);
    } finally {
      const c = s3();
      await c.send(new PutBucketLifecycleConfigurationCommand({ Bucket: w.bucket, LifecycleConfiguration: { Rules: [{ ID: "expire", Status: "Enabled", Filter: { Prefix: "never/" }, Expiration: { Days: 3650 } }] } }));
      c.destroy();
    }
  });

  it("two machines building at once against one bucket each get their own directory, and change nothing the other wrote", async () => {
    const a = await project("machine-a");
    await build(a);
    const written = await listKeys(w.bucket, "jobs/inputs/");
    const b = join(a, "..", "machine-b");
    await cp(a, b, { recursive: true });
    await writeFile(join(a, "config/params.yaml"), "from: a\n");
    await writeFile(join(b, "config/params.yaml"), "from: b, which is longer\n");
    await writeFile(join(b, "data/part-1.bin"), randomBytes(300_000));
    const home = join(w.home, "..", "machine-b-home");
    const envB = { ...w.env, HOME: home, XDG_CONFIG_HOME: join(home, ".config"), XDG_STATE_HOME: join(home, ".local", "state") };
    const etags = async (keys: string[]) => {
      const client = s3();
      try {
        return await Promise.all(keys.map(async (Key) => (await client.send(new HeadObjectCommand({ Bucket: w.bucket, Key }))).ETag));
      } finally {
        client.destroy();
      }
    };
    const before = await etags(written);
    await Promise.all([a, b].map((d) => rm(join(d, "seen.txt"), { force: true })));
    const [ra, rb] = await Promise.all([
      runCli(["build", "--aws-batch", "--exclude-from-upload", "/seen.txt", a, "--", ...SEE], { env: w.env }),
      runCli(["build", "--aws-batch", "--exclude-from-upload", "/seen.txt", b, "--", ...SEE], { env: envB }),
    ]);
    expect(ra.code, ra.stderr).toBe(0);
    expect(rb.code, rb.stderr).toBe(0);
    expect(await seen(a)).toBe(await here(a));
    expect(await seen(b)).toBe(await here(b));
    expect(await seen(a)).not.toBe(await seen(b));
    expect(await etags(written)).toEqual(before);
  });

  it("--dry-run says what would go up and what would be reused, and uploads nothing", async () => {
    const dir = await project("dry-run");
    await build(dir);
    await writeFile(join(dir, "config/params.yaml"), "changed: 3\n");
    const keys = await listKeys(w.bucket);
    const r = await w.nbatch(["build", "--aws-batch", "--dry-run", "--exclude-from-upload", "/seen.txt", dir, "--", "true"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^Would upload 1 file, 11 B from .*, and the tree of the directory; would reuse 6 files, [\d.]+ MB already in S3$/m);
    expect(await listKeys(w.bucket)).toEqual(keys);
    // A fan-out's dry run says both: the upload, and the tasks with the first array job over the same tree.
    const f = await w.nbatch(["build", "--aws-batch", "--dry-run", "--array", "3", "--exclude-from-upload", "/seen.txt", dir, "--", "true"]);
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/^Would upload 1 file, 11 B from .*, and the tree of the directory; would reuse 6 files, [\d.]+ MB already in S3$/m);
    expect(f.stderr).toMatch(/^Would submit 3 tasks; the first \(or only\) array job \(SubmitJob; the tree's name in NBATCH_INPUTS_URL is known once its files are packed\):$/m);
    expect(f.stderr).toMatch(/"value": "s3:\/\/[^"]+\/inputs\/trees\/[^"]+\.json\.gz"/);
    expect(await listKeys(w.bucket)).toEqual(keys);
  });

  it("an agent refuses a job of a newer protocol in one line", async () => {
    const work = join(w.home, "..", "agent-work");
    await mkdir(work, { recursive: true });
    const r = await runCli(["agent", "--", "true"], { env: { ...w.env, NBATCH_PROTOCOL: "3", NBATCH_RUN_ID: "r", NBATCH_INPUTS_URL: "s3://b/i", NBATCH_RESULTS_URL: "s3://b/r" }, cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe("nbatch: error: this job was submitted in job protocol 3, and this agent knows protocols up to 2: update the image's nbatch to the version of the nbatch that submitted it");
  });
});
