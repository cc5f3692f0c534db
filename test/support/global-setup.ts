import type { TestProject } from "vitest/node";
import { MotoMissingError, startMoto } from "./moto-server.js";

/** One moto server for the whole run; its endpoint reaches tests through inject("motoEndpoint"). */
export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  try {
    const moto = await startMoto();
    project.provide("motoEndpoint", moto.endpoint);
    return () => moto.stop();
  } catch (err) {
    if (!(err instanceof MotoMissingError)) throw err;
    if (process.env.CI === "true") {
      throw new Error(
        `moto is required for the end-to-end tests under CI=true (${err.message}): pip install 'moto[server]'`,
      );
    }
    console.log("moto not installed: skipping end-to-end tests");
    project.provide("motoEndpoint", undefined);
    return undefined;
  }
}
