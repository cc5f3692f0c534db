import { GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import type { Settings } from "../config/settings.js";
import { attempt, check, type CheckResult, type SetupContext } from "./check.js";

/** The credentials work, and whose they are: GetCallerIdentity needs no permission, so only bad credentials fail it. */
export async function checkAccount(ctx: SetupContext): Promise<CheckResult> {
  const { aws } = ctx.settings;
  const res = await attempt({ action: "sts:GetCallerIdentity", resource: "the caller's identity", region: aws.region, endpoint: aws.endpoints.sts }, () =>
    ctx.clients.sts.send(new GetCallerIdentityCommand({})),
  );
  const profile = aws.profile ? `profile ${aws.profile}` : "the default credential chain";
  if ("error" in res) {
    return check("credentials", "credentials", "fail", res.error, `check the credentials of ${profile}: aws sts get-caller-identity${aws.profile ? ` --profile ${aws.profile}` : ""}`);
  }
  const { Account: account, Arn: arn } = res.value;
  return {
    ...check("credentials", "credentials", "ok", `${arn} (account ${account}, from ${profile})`),
    facts: { account: account ?? "", arn: arn ?? "" },
  };
}

const REGION_NAME = /^[a-z]{2}(-[a-z]+)+-\d+$/;

export function checkRegion(settings: Settings): CheckResult {
  const { region, regionFrom } = settings.aws;
  if (!REGION_NAME.test(region)) {
    return check("region", "region", "warn", `${region} (from ${regionFrom}) does not look like an AWS region`, "use a region name such as us-east-1 or eu-west-1");
  }
  if (!regionFrom) {
    return check(
      "region",
      "region",
      "warn",
      `${region}: no region is configured, so nbatch uses the default`,
      "set the region your queue is in: --aws-region, AWS_REGION, or region in ~/.aws/config",
    );
  }
  return { ...check("region", "region", "ok", `${region} (from ${regionFrom})`), facts: { region } };
}
