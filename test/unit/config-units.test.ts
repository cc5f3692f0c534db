import { describe, expect, it } from "vitest";
import { UsageError } from "../../src/errors.js";
import {
  parseBucket,
  parseCommand,
  parseCpus,
  parseDurationSeconds,
  parseMemoryMiB,
  parsePollIntervalMs,
} from "../../src/config/units.js";

describe("parseMemoryMiB", () => {
  it.each([
    ["4096", 4096],
    ["1", 1],
    ["0.5", 1],
    ["15GiB", 15360],
    ["15gib", 15360],
    ["1.5GiB", 1536],
    ["1.5G", 1536],
    ["2g", 2048],
    ["512MiB", 512],
    ["512M", 512],
    ["2048KiB", 2],
    ["1K", 1],
    ["1TiB", 1048576],
    ["1T", 1048576],
    ["7200MB", 6867],
    ["1GB", 954],
    ["1KB", 1],
    ["1TB", 953675],
    ["0.3GiB", 308],
    [" 8 GiB ", 8192],
  ])("%s is %d MiB", (text, mib) => {
    expect(parseMemoryMiB(text)).toBe(mib);
  });

  it.each(["0", "0GiB", "-1", "-4GiB", "lots", "", "GiB", "15 GiBs", "15PB", "1e3", "1.2.3"])("rejects %j", (text) => {
    expect(() => parseMemoryMiB(text)).toThrow(UsageError);
    expect(() => parseMemoryMiB(text)).toThrow(
      `invalid memory ${JSON.stringify(text)}: use a size such as 15GiB, 7200MB or 4096 (MiB)`,
    );
  });
});

describe("parseCpus", () => {
  it.each([
    ["8", 8],
    ["0.25", 0.25],
    [".5", 0.5],
    ["16 ", 16],
  ])("%j is %d", (text, cpus) => {
    expect(parseCpus(text)).toBe(cpus);
  });

  it.each(["0", "-2", "many", "", "4 cpus", "Infinity"])("rejects %j", (text) => {
    expect(() => parseCpus(text)).toThrow(UsageError);
    expect(() => parseCpus(text)).toThrow(/invalid vCPU count .*: use a positive number/);
  });
});

describe("parseDurationSeconds", () => {
  const any = { minSeconds: 0, maxSeconds: Infinity };
  it.each([
    ["90", 90],
    ["90s", 90],
    ["15m", 900],
    ["2h", 7200],
    ["1h30m", 5400],
    ["1d", 86400],
    ["1d2h3m4s", 93784],
    ["1.5h", 5400],
    ["0.5", 0.5],
  ])("%s is %d seconds", (text, seconds) => {
    expect(parseDurationSeconds(text, "duration", any)).toBe(seconds);
  });

  it.each(["", "0", "0s", "soon", "1x", "m", "30m1h", "-5"])("rejects %j", (text) => {
    expect(() => parseDurationSeconds(text, "duration", any)).toThrow(UsageError);
    expect(() => parseDurationSeconds(text, "duration", any)).toThrow(/use a duration such as 90, 90s, 15m/);
  });

  it("holds a duration to its bounds, named in the units they are best said in", () => {
    const bounds = { minSeconds: 60, maxSeconds: 7200, owner: "Batch's" };
    expect(() => parseDurationSeconds("30s", "--timeout", bounds)).toThrow('invalid --timeout "30s": use at least 1m, Batch\'s minimum');
    expect(() => parseDurationSeconds("3h", "--timeout", bounds)).toThrow('invalid --timeout "3h": use at most 2h, Batch\'s maximum');
    expect(() => parseDurationSeconds("99999999999999999999999d", "x", bounds)).toThrow(/use at most/);
  });
});

describe("parsePollIntervalMs", () => {
  it("converts seconds to milliseconds and accepts fractions down to 0.1", () => {
    expect(parsePollIntervalMs("5")).toBe(5000);
    expect(parsePollIntervalMs("0.1")).toBe(100);
    expect(parsePollIntervalMs("1m")).toBe(60000);
  });

  it("rejects intervals below 0.1 seconds and over an hour", () => {
    expect(() => parsePollIntervalMs("0.05")).toThrow('invalid poll interval "0.05": use at least 0.1 seconds');
    expect(() => parsePollIntervalMs("30d")).toThrow('invalid poll interval "30d": use at most 1h');
  });
});

describe("parseBucket", () => {
  it.each([
    ["s3://my-bucket/jobs/", { bucket: "my-bucket", prefix: "jobs" }],
    ["s3://my-bucket", { bucket: "my-bucket", prefix: "" }],
    ["s3://my-bucket/", { bucket: "my-bucket", prefix: "" }],
    ["S3://my-bucket/a/b", { bucket: "my-bucket", prefix: "a/b" }],
    ["my-bucket", { bucket: "my-bucket", prefix: "" }],
    ["my.bucket.1/some/prefix", { bucket: "my.bucket.1", prefix: "some/prefix" }],
    ["abc//deep//", { bucket: "abc", prefix: "deep" }],
  ])("%s", (text, location) => {
    expect(parseBucket(text)).toEqual(location);
  });

  it.each([
    "",
    "s3://",
    "ab",
    "a".repeat(64),
    "My-Bucket",
    "my_bucket",
    "-bucket",
    "bucket-",
    "my..bucket",
    "192.168.1.1",
    "https://my-bucket/jobs",
    "gs://my-bucket",
  ])("rejects %j", (text) => {
    expect(() => parseBucket(text)).toThrow(UsageError);
    expect(() => parseBucket(text)).toThrow(/^invalid S3 bucket .*use s3:\/\/bucket\/prefix/);
  });

  it("accepts 3 and 63 character names", () => {
    expect(parseBucket("abc").bucket).toBe("abc");
    expect(parseBucket("a".repeat(63)).bucket).toBe("a".repeat(63));
  });
});

describe("parseCommand", () => {
  it.each([
    ["nbatch agent", ["nbatch", "agent"]],
    ["  /opt/nbatch/bin/nbatch   agent  ", ["/opt/nbatch/bin/nbatch", "agent"]],
    [`node "/opt/my app/agent.js" --x 'a b'`, ["node", "/opt/my app/agent.js", "--x", "a b"]],
    [`sh -c 'echo "hi"'`, ["sh", "-c", 'echo "hi"']],
    [`a "say \\"hi\\"" b\\ c`, ["a", 'say "hi"', "b c"]],
    [`a '' ""`, ["a", "", ""]],
    [`a 'it'"'"'s'`, ["a", "it's"]],
    [`["nbatch", "agent", "--verbose"]`, ["nbatch", "agent", "--verbose"]],
    [` ["with space", "x"]`, ["with space", "x"]],
  ])("%s", (text, words) => {
    expect(parseCommand(text)).toEqual(words);
  });

  it.each([
    ["", /give a program and its arguments/],
    ["   ", /give a program and its arguments/],
    ["[]", /give a program and its arguments/],
    ["'' agent", /give a program and its arguments/],
    ["nbatch 'agent", /close the ' quote/],
    [`nbatch "agent`, /close the " quote/],
    ["[1, 2]", /must be an array of strings/],
    ["[nbatch", /must be an array of strings/],
  ])("rejects %j", (text, message) => {
    expect(() => parseCommand(text, "agent command")).toThrow(UsageError);
    expect(() => parseCommand(text, "agent command")).toThrow(message);
  });
});
