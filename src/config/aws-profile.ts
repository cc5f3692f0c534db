/**
 * A profile of the AWS CLI's shared config file (~/.aws/config, or
 * $AWS_CONFIG_FILE), read with the one ini grammar (config/ini.ts): the
 * settings nbatch follows the way the AWS CLI v2 does (docs/configuration.md).
 */
import { join } from "node:path";
import { envValue, homeDir, readSmallTextFile, type Env } from "./file.js";
import { iniSections, parseIni } from "./ini.js";

export function awsConfigPath(env: Env): string {
  return envValue(env, "AWS_CONFIG_FILE") ?? join(homeDir(env), ".aws", "config");
}

export interface AwsProfile {
  /** The profile's own settings, nested ones as "s3.addressing_style". */
  get(key: string): string | undefined;
  /** A setting for one service from the profile's `services` section: `[services name]` then `s3 =` / `  endpoint_url = ...`. */
  service(service: string, key: string): string | undefined;
}

/**
 * The named profile (default "default"). A missing or unreadable file, or
 * profile, has no settings: the defaults apply, as for the AWS CLI.
 */
export function awsProfile(env: Env, profile = "default"): AwsProfile {
  let sections = new Map<string, Map<string, string>>();
  try {
    const path = awsConfigPath(env);
    const text = readSmallTextFile(path, path, "set AWS_CONFIG_FILE to another file");
    if (text !== undefined) sections = iniSections(parseIni(text, { nested: true }));
  } catch {
    // An unreadable AWS config is the AWS CLI's to complain about; nbatch uses its defaults.
  }
  const own = profile === "default" ? (sections.get("default") ?? sections.get("profile default")) : sections.get(`profile ${profile}`);
  const services = own?.get("services");
  const serviceSection = services === undefined ? undefined : sections.get(`services ${services}`);
  return {
    get: (key) => nonEmpty(own?.get(key)),
    service: (service, key) => nonEmpty(serviceSection?.get(`${service}.${key}`)),
  };
}

const nonEmpty = (value: string | undefined) => (value === "" ? undefined : value);
