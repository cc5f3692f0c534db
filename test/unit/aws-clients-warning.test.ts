import { afterEach, expect, it, vi } from "vitest";
import { createAwsClients } from "../../src/aws/clients.js";

// Its own file: the SDK warns at most once per process, so any earlier client would hide the warning.
afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

it("keeps the SDK's Node version warning away from the user's terminal", () => {
  vi.stubEnv("AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED", undefined);
  const emitWarning = vi.spyOn(process, "emitWarning").mockImplementation(() => {});
  const clients = createAwsClients({ region: "us-east-1", endpoints: {} });
  void clients.s3;
  void clients.batch;
  void clients.logs;
  expect(emitWarning).not.toHaveBeenCalled();
  // Not by setting the SDK's variable: the user's command would inherit it.
  expect(process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED).toBeUndefined();
  clients.destroy();
});
