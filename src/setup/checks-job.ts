import type { JobDefinition } from "@aws-sdk/client-batch";
import { DescribeLogGroupsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { DEFAULT_LOG_GROUP } from "../job/batch.js";
import { formatDuration } from "../ui/format.js";
import { findJobDefinition } from "../job/definition.js";
import { attempt, check, skipped, type CheckResult, type SetupContext } from "./check.js";

/** The job definition (ACTIVE, image, timeout, retry, job role) and its log group's retention. */
export async function checkJob(ctx: SetupContext): Promise<{ definition?: JobDefinition; results: CheckResult[] }> {
  const { job } = ctx.settings.values;
  const { region } = ctx.settings.aws;
  const found = await attempt({ action: "batch:DescribeJobDefinitions", resource: `job definition ${job}`, region }, () =>
    findJobDefinition(ctx.clients.batch, job, region),
  );
  if ("error" in found) {
    return {
      results: [
        check("job-definition", "job definition", "fail", found.error, "register one from docs/job-image/job-definition.json, or fix the job setting: nbatch config set aws-batch.job NAME"),
        skipped("log-group", "log group", "no job definition"),
      ],
    };
  }
  const definition = found.value;
  return { definition, results: [describeDefinition(definition), await checkLogGroup(ctx, definition)] };
}

function describeDefinition(d: JobDefinition): CheckResult {
  const props = d.containerProperties;
  const image = props?.image ?? "(no container image)";
  const timeout = d.timeout?.attemptDurationSeconds;
  const attempts = d.retryStrategy?.attempts ?? 1;
  const role = props?.jobRoleArn?.replace(/^arn:[^:]*:iam::\d+:role\//, "");
  const facts = { name: `${d.jobDefinitionName}:${d.revision}`, image, timeoutSeconds: timeout ?? 0, attempts, jobRole: props?.jobRoleArn ?? "" };
  const found = [
    `${facts.name} is ${d.status}`,
    `image ${image}`,
    timeout ? `timeout ${formatDuration(timeout * 1000)}` : "no timeout",
    attempts > 1 ? `up to ${attempts} attempts` : "no retries",
    role ? `job role ${role}` : "no job role",
  ].join(", ");
  const problems: [string, string][] = [];
  if (!timeout) problems.push(["a stuck job runs, and costs, until someone stops it", 'set "timeout": {"attemptDurationSeconds": 86400}']);
  if (attempts < 2) problems.push(["a job on a reclaimed spot instance fails instead of retrying", 'set "retryStrategy" with attempts 2 or 3, retrying on "Host EC2*" status reasons']);
  if (!role) problems.push(["without a job role the agent can only reach S3 through the instance role", "set containerProperties.jobRoleArn to the nbatch job role"]);
  if (!problems.length) return { ...check("job-definition", "job definition", "ok", found), facts };
  const detail = `${found}: ${problems.map(([why]) => why).join("; ")}`;
  const hint = `register a new revision that fixes this: ${problems.map(([, fix]) => fix).join("; ")} (docs/job-image/job-definition.json)`;
  return { ...check("job-definition", "job definition", "warn", detail, hint), facts };
}

async function checkLogGroup(ctx: SetupContext, d: JobDefinition): Promise<CheckResult> {
  const logging = d.containerProperties?.logConfiguration;
  if (logging && logging.logDriver !== "awslogs") {
    return check("log-group", "log group", "fail", `the job logs with the ${logging.logDriver} driver: nbatch can only stream awslogs (CloudWatch Logs)`, "use the awslogs log driver in the job definition");
  }
  const group = logging?.options?.["awslogs-group"] ?? DEFAULT_LOG_GROUP;
  const { region } = ctx.settings.aws;
  const res = await attempt({ action: "logs:DescribeLogGroups", resource: `log group ${group}`, region }, () =>
    ctx.clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: group })),
  );
  if ("error" in res) return check("log-group", "log group", "warn", `cannot tell: ${res.error}`);
  const found = res.value.logGroups?.find((g) => g.logGroupName === group);
  const retentionFix = `aws logs put-retention-policy --log-group-name ${group} --retention-in-days 30`;
  if (!found) {
    const created = group === DEFAULT_LOG_GROUP || logging?.options?.["awslogs-create-group"] === "true";
    const create = `aws logs create-log-group --log-group-name ${group} && ${retentionFix}`;
    return created
      ? check("log-group", "log group", "warn", `${group} does not exist yet: the first job creates it, and its logs then never expire`, create)
      : check("log-group", "log group", "fail", `${group} does not exist: jobs cannot start without their log group`, create);
  }
  if (!found.retentionInDays) {
    return check("log-group", "log group", "warn", `${group} keeps logs forever (no retention): they are billed for as long as they are kept`, retentionFix);
  }
  return { ...check("log-group", "log group", "ok", `${group} keeps logs for ${found.retentionInDays} days`), facts: { logGroup: group, retentionDays: found.retentionInDays } };
}
