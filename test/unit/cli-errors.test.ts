import { describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { checkJobProtocol, checkProtocol, parseInputsManifest } from "../../src/protocol.js";
import { createTestOutput, testContext } from "../support/io.js";

describe("NBATCH_DEBUG", () => {
  it.each([
    ["1", true],
    ["true", true],
    ["0", false],
    ["off", false],
    ["", false],
  ])("NBATCH_DEBUG=%j shows the stack: %s", async (value, shown) => {
    const io = createTestOutput();
    const code = await main(["build", "/no/such/dir", "--", "true"], testContext({ NBATCH_DEBUG: value, HOME: "/nonexistent" }, { out: io }));
    expect(code).toBe(1);
    expect(io.stderrText()).toContain("nbatch: error: /no/such/dir: no such directory");
    expect(/\n\s+at /.test(io.stderrText())).toBe(shown);
  });
});

describe("the job protocol version", () => {
  it("accepts this version and older archives, and refuses a newer one with a clear line", () => {
    expect(() => checkProtocol(2, "the results archive")).not.toThrow();
    expect(() => checkProtocol(1, "the results archive")).not.toThrow();
    expect(() => checkProtocol(undefined, "the results archive")).not.toThrow();
    expect(() => checkProtocol(3, "the results archive")).toThrow(/^the results archive uses job protocol 3, newer than this nbatch's 2: upgrade nbatch/);
    expect(() => checkJobProtocol("2")).not.toThrow();
    expect(() => checkJobProtocol(undefined)).not.toThrow();
    expect(() => checkJobProtocol("3")).toThrow(/^this job was submitted in job protocol 3, and this agent knows protocols up to 2: update the image's nbatch/);
  });

  it("checks the inputs manifest as it parses it, for the agent and for --attach alike", () => {
    const entry = { path: "a.txt", type: "file", size: 1, mtimeMs: 0, mode: 0o644 };
    const manifest = (protocol: number, entries: unknown[] = [entry]) => Buffer.from(JSON.stringify({ protocol, entries }));
    expect(parseInputsManifest(manifest(1), "the inputs archive s3://b/i.zip").entries).toEqual([entry]);
    expect(() => parseInputsManifest(manifest(3, [{ path: "a.txt" }]), "the inputs archive s3://b/i.zip")).toThrow(/^the inputs archive s3:\/\/b\/i\.zip uses job protocol 3/);
    expect(() => parseInputsManifest(manifest(1, [{ path: "a.txt" }]), "the inputs archive s3://b/i.zip")).toThrow(
      /^the inputs archive s3:\/\/b\/i\.zip is malformed \(entries\[0\]\.type is not one of file, dir, symlink\)/,
    );
  });
});
