import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { UserError } from "../../src/errors.js";
import { configPath, displayPath, readConfigFile } from "../../src/config/file.js";
import { quoteValue } from "../../src/config/ini.js";

describe("configPath", () => {
  it("prefers NBATCH_CONFIG", () => {
    expect(configPath({ NBATCH_CONFIG: "/etc/nbatch.ini", XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" })).toBe("/etc/nbatch.ini");
  });

  it("then $XDG_CONFIG_HOME/nbatch/config", () => {
    expect(configPath({ XDG_CONFIG_HOME: "/xdg", HOME: "/home/u" })).toBe("/xdg/nbatch/config");
  });

  it("then ~/.config/nbatch/config from HOME", () => {
    expect(configPath({ HOME: "/home/u" })).toBe("/home/u/.config/nbatch/config");
  });

  it("treats empty variables as unset", () => {
    expect(configPath({ NBATCH_CONFIG: "", XDG_CONFIG_HOME: "", HOME: "/home/u" })).toBe("/home/u/.config/nbatch/config");
  });

  it("ignores a relative XDG_CONFIG_HOME, as the XDG spec requires", () => {
    expect(configPath({ XDG_CONFIG_HOME: "relative/dir", HOME: "/home/u" })).toBe("/home/u/.config/nbatch/config");
  });

  it("falls back to the OS home directory without HOME", () => {
    expect(configPath({})).toBe(join(homedir(), ".config", "nbatch", "config"));
  });
});

describe("displayPath", () => {
  it("shortens paths under HOME to ~", () => {
    expect(displayPath("/home/u/.config/nbatch/config", { HOME: "/home/u" })).toBe("~/.config/nbatch/config");
    expect(displayPath("/home/user2/x", { HOME: "/home/u" })).toBe("/home/user2/x");
  });
});

describe("readConfigFile", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "nbatch-config-"));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const write = (text: string) => {
    const path = join(dir, "config");
    writeFileSync(path, text);
    return path;
  };

  it("returns undefined for a missing file", () => {
    expect(readConfigFile(join(dir, "nope"))).toBeUndefined();
  });

  it("reads the documented example, comments included", () => {
    const path = write(
      [
        "# nbatch settings",
        "[core]",
        "runner = aws-batch        ; makes --aws-batch the default for build",
        "",
        "[aws-batch]",
        "s3-bucket = s3://my-lab-nbatch/jobs   ; bucket, optional key prefix",
        "queue=nbatch-job-queue",
        "  cpus = 8",
        "memory = 15GiB",
        "agent-command = true",
      ].join("\n"),
    );
    expect(readConfigFile(path)).toEqual({
      core: { runner: "aws-batch" },
      "aws-batch": {
        "s3-bucket": "s3://my-lab-nbatch/jobs",
        queue: "nbatch-job-queue",
        cpus: "8",
        memory: "15GiB",
        "agent-command": "true",
      },
    });
  });

  it.each([
    ["[aws-batch]\nmemroy = 15GiB\n", /line 2: unknown key "memroy" in \[aws-batch\]; known keys: .*memory/],
    ["[core]\nrunner = local\n[aws_batch]\nqueue = q\n", /line 3: unknown section \[aws_batch\]; nbatch reads \[core\], \[aws-batch\], \[build\]$/],
  ])("reports a typo in a key or section with its line: %j", (text, message) => {
    expect(() => readConfigFile(write(text))).toThrow(message);
  });

  it("names the file and line of a malformed line", () => {
    const home = dir;
    mkdirSync(join(home, ".config", "nbatch"), { recursive: true });
    const path = join(home, ".config", "nbatch", "config");
    writeFileSync(path, "[aws-batch]\nqueue = q\n\nthis is not ini\n");
    const read = () => readConfigFile(path, { HOME: home });
    expect(read).toThrow(UserError);
    expect(read).toThrow('~/.config/nbatch/config line 4: expected `key = value` or `[section]`, found "this is not ini"');
  });

  it("rejects an unclosed section header", () => {
    const path = write("[aws-batch\nqueue = q\n");
    expect(() => readConfigFile(path)).toThrow(`${path} line 1: expected \`key = value\` or \`[section]\``);
  });

  it("rejects a setting before any section", () => {
    const path = write("; top\ns3-bucket = s3://b\n[aws-batch]\n");
    expect(() => readConfigFile(path)).toThrow(`${path} line 2: \`s3-bucket = s3://b\` comes before any [section]`);
  });

  it("reports an unreadable file as a user error", () => {
    const path = join(dir, "config");
    mkdirSync(path);
    expect(() => readConfigFile(path)).toThrow(UserError);
    expect(() => readConfigFile(path)).toThrow(/config is not a regular file: set NBATCH_CONFIG to another file/);
  });

  it.skipIf(process.getuid?.() === 0)("reports a file without read permission", () => {
    const path = write("[core]\n");
    chmodSync(path, 0o000);
    expect(() => readConfigFile(path)).toThrow(/\(EACCES\): fix its permissions or set NBATCH_CONFIG/);
  });

  it("reads a file that starts with a UTF-8 byte order mark", () => {
    const path = write("\uFEFF[aws-batch]\nqueue = q\n");
    expect(readConfigFile(path)).toEqual({ "aws-batch": { queue: "q" } });
  });

  it("reports a key set twice, with both lines", () => {
    const path = write("[aws-batch]\nmemory = 4GiB\n\nmemory = 8GiB\n");
    expect(() => readConfigFile(path)).toThrow(/config line 4: memory is set again in \[aws-batch\] \(first on line 2\): keep one/);
  });

  it("refuses a FIFO and a device instead of hanging or filling memory", () => {
    const fifo = join(dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    expect(() => readConfigFile(fifo)).toThrow(/fifo is not a regular file/);
    expect(() => readConfigFile("/dev/zero")).toThrow(/\/dev\/zero is not a regular file/);
  });

  it("refuses a file far larger than settings ever are", () => {
    const path = write(`[aws-batch]\n${"# padding\n".repeat(120_000)}`);
    expect(() => readConfigFile(path)).toThrow(/is \d+ bytes, too large for a settings file \(at most 1 MiB\)/);
  });

  it("keeps a value with comment characters and quotes, written by nbatch, as it was", () => {
    for (const value of ['say "hi" ; now', "a # b", '"quoted"']) {
      const path = write(`[aws-batch]\nagent-command = ${quoteValue(value)}\n`);
      expect(readConfigFile(path)?.["aws-batch"]?.["agent-command"]).toBe(value);
    }
  });
});
