import { spawnSync } from "node:child_process";
import { expect, it } from "vitest";
import { nbatchBin } from "../support/cli.js";

it("a reader that closes the pipe early gets no stack trace on stderr", () => {
  // `head -c 1` exits after one byte, so most of the help goes to a closed pipe (EPIPE).
  const r = spawnSync("sh", ["-c", `"${process.execPath}" "${nbatchBin}" build --help | head -c 1 >/dev/null`], { encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
});
