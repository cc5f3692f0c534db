/**
 * The region of an AWS CLI profile, read from the shared config file the
 * way the AWS CLI does. Our own small scan, because the ini package splits
 * section names at dots and "[profile my.team]" is a valid profile.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { envValue, homeDir, type Env } from "./file.js";

export function awsConfigPath(env: Env): string {
  return envValue(env, "AWS_CONFIG_FILE") ?? join(homeDir(env), ".aws", "config");
}

/** The profile's region, or undefined when the file, the profile or its region is missing. */
export function profileRegion(env: Env, profile = "default"): string | undefined {
  let text: string;
  try {
    text = readFileSync(awsConfigPath(env), "utf8");
  } catch {
    // No readable AWS config file simply means no profile region: the default applies.
    return undefined;
  }
  const wanted = profile === "default" ? ["default", "profile default"] : [`profile ${profile}`];
  let inProfile = false;
  for (const line of text.split(/\r?\n/)) {
    const header = /^\s*\[\s*([^\]]+?)\s*\]/.exec(line);
    if (header) {
      inProfile = wanted.includes(header[1]!.replace(/\s+/g, " "));
      continue;
    }
    // Indented lines are sub-settings of a nested key (e.g. "s3 =\n  region = ..."), not the profile's own.
    const setting = /^(\S[^=]*?)\s*=\s*(.*?)\s*(?:\s[;#].*)?$/.exec(line);
    if (inProfile && setting && setting[1] === "region" && setting[2]) return setting[2];
  }
  return undefined;
}
