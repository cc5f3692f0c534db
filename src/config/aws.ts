/**
 * The AWS settings a user already has, followed the way the AWS CLI v2
 * follows them (docs/configuration.md, "AWS"): region, profile and
 * credentials, endpoints (environment, then the profile's endpoint_url and
 * [services] section), retries, the CA bundle, proxies and the checksum
 * setting. A value always names where it came from.
 */
import { UsageError, UserError } from "../errors.js";
import { awsProfile, type AwsProfile } from "./aws-profile.js";
import { envValue, type Env } from "./file.js";
import type { AwsSettings, Credentials, Proxies } from "./settings.js";

const DEFAULT_REGION = "us-east-1";
/** nbatch's default: a little more patience than the AWS CLI's 3, for long uploads over flaky links. */
const DEFAULT_MAX_ATTEMPTS = 5;

/** The services nbatch calls: their names in AWS_ENDPOINT_URL_<NAME> and in a [services] section. */
const SERVICES = { s3: ["S3", "s3"], batch: ["BATCH", "batch"], logs: ["CLOUDWATCH_LOGS", "cloudwatch_logs"], sts: ["STS", "sts"] } as const;

export interface AwsInput {
  env: Env;
  /** --aws-region and --aws-profile. */
  region?: string;
  profile?: string;
}

export function resolveAws(input: AwsInput): Omit<AwsSettings, "s3"> {
  const { env } = input;
  const profileName = input.profile || envValue(env, "AWS_PROFILE");
  const profile = awsProfile(env, profileName);
  const profileFrom = `profile ${profileName ?? "default"}`;
  const [region, regionFrom] = first([
    ["--aws-region", input.region || undefined],
    ["AWS_REGION", envValue(env, "AWS_REGION")],
    ["AWS_DEFAULT_REGION", envValue(env, "AWS_DEFAULT_REGION")],
    [profileFrom, profile.get("region")],
  ]) ?? [DEFAULT_REGION, undefined];
  const endpoints = resolveEndpoints(env, profile, profileFrom);
  const caBundle = first([
    ["AWS_CA_BUNDLE", envValue(env, "AWS_CA_BUNDLE")],
    [`ca_bundle in ${profileFrom}`, profile.get("ca_bundle")],
  ]);
  const checksum = first([
    ["AWS_REQUEST_CHECKSUM_CALCULATION", envValue(env, "AWS_REQUEST_CHECKSUM_CALCULATION")],
    [`request_checksum_calculation in ${profileFrom}`, profile.get("request_checksum_calculation")],
  ]);
  const addressing = profile.get("s3.addressing_style");
  return {
    region,
    ...(regionFrom ? { regionFrom } : {}),
    ...(profileName ? { profile: profileName } : {}),
    credentials: credentialsOf(input, env, profileName),
    endpoints: Object.fromEntries(Object.entries(endpoints).map(([k, v]) => [k, v?.url])),
    endpointsFrom: Object.fromEntries(Object.entries(endpoints).map(([k, v]) => [k, v?.from])),
    // With an endpoint of its own, S3 is addressed by path (as S3-compatible stores and emulators expect) unless the profile says virtual.
    s3PathStyle: endpoints.s3 !== undefined && addressing !== "virtual" ? true : addressing === "path",
    retries: retriesOf(env, profile, profileFrom),
    ...(caBundle ? { caBundle: { path: caBundle[0], from: caBundle[1] } } : {}),
    ...(checksum ? { requestChecksumCalculation: checksumOf(checksum) } : {}),
    proxies: proxiesOf(env),
  };
}

type Candidate = [from: string, value: string | undefined];

/** The first candidate with a value, as [value, from]. */
function first(candidates: Candidate[]): [string, string] | undefined {
  const found = candidates.find(([, value]) => value !== undefined);
  return found && [found[1]!, found[0]];
}

/**
 * Like the AWS CLI: --aws-profile beats access keys in the environment,
 * which beat AWS_PROFILE; otherwise the SDK's chain (SSO, container and
 * instance roles, the default profile).
 */
function credentialsOf(input: AwsInput, env: Env, profile: string | undefined): Credentials {
  if (input.profile) return { source: "profile", profile: input.profile, from: "--aws-profile" };
  if (envValue(env, "AWS_ACCESS_KEY_ID") && envValue(env, "AWS_SECRET_ACCESS_KEY")) return { source: "env", from: "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY" };
  if (profile) return { source: "profile", profile, from: "AWS_PROFILE" };
  return { source: "chain", from: "the default credential chain" };
}

/**
 * Per service: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's
 * [services] section, the profile's endpoint_url; none of them with
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true (the AWS CLI's order).
 */
function resolveEndpoints(env: Env, profile: AwsProfile, profileFrom: string): Record<keyof typeof SERVICES, { url: string; from: string } | undefined> {
  // The environment's setting, true or false, beats the profile's.
  const ignored = /^true$/i.test(envValue(env, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") ?? profile.get("ignore_configured_endpoint_urls") ?? "");
  const resolve = ([envName, configName]: readonly [string, string]) => {
    if (ignored) return undefined;
    const found = first([
      [`AWS_ENDPOINT_URL_${envName}`, envValue(env, `AWS_ENDPOINT_URL_${envName}`)],
      ["AWS_ENDPOINT_URL", envValue(env, "AWS_ENDPOINT_URL")],
      [`${configName}.endpoint_url in the services of ${profileFrom}`, profile.service(configName, "endpoint_url")],
      [`endpoint_url in ${profileFrom}`, profile.get("endpoint_url")],
    ]);
    return found && { url: checkUrl(found[0], found[1], "endpoint", "http://localhost:5000"), from: found[1] };
  };
  return { s3: resolve(SERVICES.s3), batch: resolve(SERVICES.batch), logs: resolve(SERVICES.logs), sts: resolve(SERVICES.sts) };
}

function retriesOf(env: Env, profile: AwsProfile, profileFrom: string): AwsSettings["retries"] {
  const attempts = first([
    ["AWS_MAX_ATTEMPTS", envValue(env, "AWS_MAX_ATTEMPTS")],
    [`max_attempts in ${profileFrom}`, profile.get("max_attempts")],
  ]);
  const mode = first([
    ["AWS_RETRY_MODE", envValue(env, "AWS_RETRY_MODE")],
    [`retry_mode in ${profileFrom}`, profile.get("retry_mode")],
  ]);
  if (attempts && !(/^\d+$/.test(attempts[0]) && Number(attempts[0]) >= 1 && Number(attempts[0]) <= 50)) {
    throw new UsageError(`invalid max attempts ${JSON.stringify(attempts[0])} (from ${attempts[1]}): use a whole number from 1 to 50`);
  }
  const modeValue = mode?.[0].toLowerCase();
  if (mode && modeValue !== "standard" && modeValue !== "adaptive" && modeValue !== "legacy") {
    throw new UsageError(`invalid retry mode ${JSON.stringify(mode[0])} (from ${mode[1]}): use standard, adaptive or legacy`);
  }
  // The SDK for JavaScript has no legacy mode; standard is what the AWS CLI v2 uses by default.
  return { maxAttempts: attempts ? Number(attempts[0]) : DEFAULT_MAX_ATTEMPTS, mode: modeValue === "adaptive" ? "adaptive" : "standard" };
}

function checksumOf([value, from]: [string, string]): "WHEN_SUPPORTED" | "WHEN_REQUIRED" {
  const v = value.toUpperCase();
  if (v !== "WHEN_SUPPORTED" && v !== "WHEN_REQUIRED") throw new UsageError(`invalid request checksum calculation ${JSON.stringify(value)} (from ${from}): use when_supported or when_required`);
  return v;
}

/** HTTPS_PROXY, HTTP_PROXY and NO_PROXY, upper or lower case (lower wins, as in curl), with ALL_PROXY behind both. */
function proxiesOf(env: Env): Proxies {
  // Each with the name of the variable it came from, for the error that names it.
  const get = (name: string): [string, string] | undefined => {
    const lower = envValue(env, name.toLowerCase());
    if (lower !== undefined) return [lower, name.toLowerCase()];
    const upper = envValue(env, name);
    return upper === undefined ? undefined : [upper, name];
  };
  const all = get("ALL_PROXY");
  const check = (found: [string, string] | undefined) => found && checkUrl(/^[a-z][a-z0-9+.-]*:\/\//i.test(found[0]) ? found[0] : `http://${found[0]}`, found[1], "proxy", "http://proxy.example:3128");
  const https = check(get("HTTPS_PROXY") ?? all);
  const http = check(get("HTTP_PROXY") ?? all);
  return {
    ...(https ? { https } : {}),
    ...(http ? { http } : {}),
    noProxy: (get("NO_PROXY")?.[0] ?? "").split(/[\s,]+/).filter(Boolean),
  };
}

function checkUrl(value: string, from: string, what: string, example: string): string {
  let protocol: string | undefined;
  try {
    protocol = new URL(value).protocol;
  } catch {
    protocol = undefined;
  }
  if (protocol !== "http:" && protocol !== "https:") throw new UserError(`invalid ${what} ${JSON.stringify(value)} (from ${from}): use a URL such as ${example}`);
  return value;
}

/** What the AWS clients will use, for -v: "AWS: credentials from ...; region ... (from ...); ...". */
export function describeAws(aws: AwsSettings): string {
  const parts = [
    `credentials from ${aws.credentials?.source === "profile" ? `profile ${aws.credentials.profile} (${aws.credentials.from})` : (aws.credentials?.from ?? "the default credential chain")}`,
    `region ${aws.region} (from ${aws.regionFrom ?? "the default"})`,
  ];
  const endpoints = Object.entries(aws.endpoints).filter(([, url]) => url);
  if (endpoints.length) parts.push(`endpoints ${endpoints.map(([service, url]) => `${service} ${url} (from ${aws.endpointsFrom?.[service as keyof typeof aws.endpoints] ?? "?"})`).join(", ")}`);
  if (aws.proxies?.https || aws.proxies?.http) {
    parts.push(`proxies ${[aws.proxies.https && `https ${aws.proxies.https}`, aws.proxies.http && `http ${aws.proxies.http}`].filter(Boolean).join(", ")}${aws.proxies.noProxy.length ? `, not for ${aws.proxies.noProxy.join(",")}` : ""}`);
  }
  if (aws.caBundle) parts.push(`CA bundle ${aws.caBundle.path} (from ${aws.caBundle.from})`);
  return `AWS: ${parts.join("; ")}`;
}
