import { describe, expect, it } from "vitest";
import { main } from "../../src/cli.js";
import { checkProtocol, parseInputsManifest } from "../../src/protocol.js";
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
    expect(() => checkProtocol(1, "the results archive")).not.toThrow();
    expect(() => checkProtocol(undefined, "the results archive")).not.toThrow();
    expect(() => checkProtocol(2, "the results archive")).toThrow(/^the results archive uses job protocol 2, newer than this nbatch's 1: upgrade nbatch/);
  });

  it("checks the inputs manifest as it parses it, for the agent and for --attach alike", () => {
    const manifest = (protocol: number) => Buffer.from(JSON.stringify({ protocol, entries: [{ path: "a.txt" }] }));
    expect(parseInputsManifest(manifest(1), "the inputs archive s3://b/i.zip").entries).toEqual([{ path: "a.txt" }]);
    expect(() => parseInputsManifest(manifest(2), "the inputs archive s3://b/i.zip")).toThrow(/^the inputs archive s3:\/\/b\/i\.zip uses job protocol 2/);
  });
});
