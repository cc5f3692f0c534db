import { describe, inject } from "vitest";

export { startMoto, MotoMissingError, type MotoServer } from "./moto-server.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** moto's endpoint for this run; undefined when moto is not installed (outside CI). */
    motoEndpoint: string | undefined;
  }
}

/** The endpoint of the run's moto server, or undefined when moto is absent. */
export function motoEndpoint(): string | undefined {
  return inject("motoEndpoint");
}

/** describe() for suites that need moto: skipped, not failed, when it is absent. */
export const describeWithMoto = describe.skipIf(motoEndpoint() === undefined);
