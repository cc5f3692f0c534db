import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, expect, it } from "vitest";
import { jobRolePolicy, secretsPolicy, userPolicy, type PolicyNames } from "../../src/setup/policies.js";
import { uniqueBucketName } from "../support/aws.js";
import { repoRoot, runCli, testEnv } from "../support/cli.js";
import { describeWithMoto, motoEndpoint } from "../support/moto.js";

/**
 * Deploys docs/cloudformation.yaml on moto's CloudFormation with boto3 (moto's
 * own dependency, so present wherever moto is) and reports what was created.
 * moto's CloudFormation creates every resource type of the template except
 * AWS::IAM::Group (skipped with a warning), and ignores some properties: the
 * bucket's lifecycle rule and public access block, the job definition's
 * timeout, and the roles' ManagedPolicyArns. Those are not checked here.
 */
const DEPLOY = `
import ast, json, sys, boto3
endpoint, template, stack, params = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="test", aws_secret_access_key="test")
ec2 = boto3.client("ec2", **kw)
vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
params["SubnetIds"] = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
params["SecurityGroupIds"] = ec2.create_security_group(GroupName=stack, Description="nbatch test", VpcId=vpc)["GroupId"]
cfn = boto3.client("cloudformation", **kw)
cfn.create_stack(StackName=stack, TemplateBody=open(template).read(), Capabilities=["CAPABILITY_NAMED_IAM"],
                 Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in params.items()])
s = cfn.describe_stacks(StackName=stack)["Stacks"][0]
# A resource type moto cannot create is listed with an empty logical id.
resources = {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in cfn.list_stack_resources(StackName=stack)["StackResourceSummaries"] if r["LogicalResourceId"]}
outputs = {o["OutputKey"]: o["OutputValue"] for o in s.get("Outputs", [])}
iam, s3, batch, logs = (boto3.client(n, **kw) for n in ("iam", "s3", "batch", "logs"))
policy = iam.get_policy(PolicyArn=resources["UserPolicy"])["Policy"]
# moto hands back some CloudFormation-made policies as the repr of a Python dict.
def as_dict(doc):
    while isinstance(doc, str):
        doc = ast.literal_eval(doc)
    return doc
report = {
    "status": s["StackStatus"],
    "resources": resources,
    "outputs": outputs,
    "userPolicy": as_dict(iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])["PolicyVersion"]["Document"]),
    "jobRolePolicy": as_dict(iam.get_role_policy(RoleName=params["JobRoleName"], PolicyName="nbatch-bucket")["PolicyDocument"]),
    "secretsPolicy": as_dict(iam.get_role_policy(RoleName=params["ExecutionRoleName"], PolicyName="nbatch-secrets")["PolicyDocument"]),
    "encryption": s3.get_bucket_encryption(Bucket=outputs["BucketName"])["ServerSideEncryptionConfiguration"],
    "computeEnvironment": batch.describe_compute_environments(computeEnvironments=[resources["ComputeEnvironment"]])["computeEnvironments"][0],
    "queue": batch.describe_job_queues(jobQueues=[params["QueueName"]])["jobQueues"][0],
    "jobDefinition": batch.describe_job_definitions(jobDefinitions=[resources["JobDefinition"]])["jobDefinitions"][0],
    "logGroup": [g for g in logs.describe_log_groups(logGroupNamePrefix=params["LogGroupName"])["logGroups"] if g["logGroupName"] == params["LogGroupName"]][0],
}
print(json.dumps(report, default=str))
`;

describeWithMoto("docs/cloudformation.yaml on moto", () => {
  const id = uniqueBucketName("t").slice(2);
  const params = {
    Image: "example/nbatch:1",
    InstanceTypes: "m5,c5",
    MaxvCpus: "64",
    AllowSecrets: "true",
    QueueName: `nbatch-queue-${id}`,
    JobDefinitionName: `nbatch-job-${id}`,
    LogGroupName: `/nbatch/jobs-${id}`,
    JobRoleName: `nbatch-job-role-${id}`,
    ExecutionRoleName: `nbatch-execution-role-${id}`,
    UsersGroupName: `nbatch-users-${id}`,
  };
  let report: any;
  let home: string;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), "nbatch-cfn-"));
    const template = join(repoRoot, "docs", "cloudformation.yaml");
    const { stdout } = await promisify(execFile)("python3", ["-c", DEPLOY, motoEndpoint()!, template, `nbatch-${id}`, JSON.stringify(params)]);
    report = JSON.parse(stdout);
  });
  afterAll(() => rm(home, { recursive: true, force: true }));

  it("creates every resource moto supports (all but the users group)", () => {
    expect(report.status).toBe("CREATE_COMPLETE");
    expect(Object.keys(report.resources).sort()).toEqual(
      ["BatchServiceRole", "Bucket", "ComputeEnvironment", "ExecutionRole", "InstanceProfile", "InstanceRole", "JobDefinition", "JobQueue", "JobRole", "LogGroup", "UserPolicy"].sort(),
    );
  });

  it("outputs the config file a user pastes, which makes AWS Batch the runner", async () => {
    const config = join(home, "pasted-config");
    const shown = "~/pasted-config";
    await writeFile(config, report.outputs.NbatchConfig);
    const r = await runCli(["config", "list", "--show-origin"], { env: { HOME: home, NBATCH_CONFIG: config } });
    expect(r.stderr).toBe("");
    const lines = r.stdout.split("\n").map((l) => l.replace(/ {2,}/, " | "));
    expect(lines).toEqual(
      expect.arrayContaining([
        `file ${shown} | core.runner=aws-batch`,
        `file ${shown} | aws-batch.s3-bucket=s3://${report.outputs.BucketName}/jobs`,
        `file ${shown} | aws-batch.queue=${params.QueueName}`,
        `file ${shown} | aws-batch.job=${params.JobDefinitionName}`,
      ]),
    );
  });

  it("grants exactly the policies nbatch prints", () => {
    const names: PolicyNames = {
      bucket: { bucket: report.outputs.BucketName, prefix: "jobs" },
      queue: params.QueueName,
      job: params.JobDefinitionName,
      logGroup: params.LogGroupName,
      jobRole: params.JobRoleName,
      executionRole: params.ExecutionRoleName,
      region: "us-east-1",
      account: "123456789012",
    };
    expect(report.userPolicy).toEqual(userPolicy(names));
    expect(report.jobRolePolicy).toEqual(jobRolePolicy(names));
    expect(report.secretsPolicy).toEqual(secretsPolicy(names));
  });

  it("makes an encrypted bucket, a spot compute environment that scales to 0, a queue, a job definition and a log group with retention", () => {
    expect(report.encryption.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm).toBe("AES256");
    expect(report.computeEnvironment).toMatchObject({
      type: "MANAGED",
      state: "ENABLED",
      computeResources: { type: "SPOT", allocationStrategy: "SPOT_PRICE_CAPACITY_OPTIMIZED", minvCpus: 0, maxvCpus: 64, instanceTypes: ["m5", "c5"] },
    });
    expect(report.queue).toMatchObject({ state: "ENABLED", computeEnvironmentOrder: [{ order: 1, computeEnvironment: report.resources.ComputeEnvironment }] });
    expect(report.jobDefinition).toMatchObject({
      type: "container",
      containerProperties: {
        image: "example/nbatch:1",
        jobRoleArn: `arn:aws:iam::123456789012:role/${params.JobRoleName}`,
        executionRoleArn: `arn:aws:iam::123456789012:role/${params.ExecutionRoleName}`,
        logConfiguration: { logDriver: "awslogs", options: { "awslogs-group": params.LogGroupName } },
      },
      // Batch takes actions in any case; moto stores them lower-case.
      retryStrategy: {
        attempts: 3,
        evaluateOnExit: [
          { onStatusReason: "Host EC2*", action: expect.stringMatching(/^retry$/i) },
          { onReason: "*", action: expect.stringMatching(/^exit$/i) },
        ],
      },
    });
    expect(report.logGroup.retentionInDays).toBe(30);
  });

  it("is what nbatch check-setup checks (with moto's own Batch)", async () => {
    const env = {
      ...testEnv({ moto: motoEndpoint()!, home }),
      NBATCH_AWS_BATCH_S3_BUCKET: `s3://${report.outputs.BucketName}/jobs`,
      NBATCH_AWS_BATCH_QUEUE: params.QueueName,
      NBATCH_AWS_BATCH_JOB: params.JobDefinitionName,
    };
    const r = await runCli(["check-setup", "--aws-batch", "--json"], { env });
    const status = Object.fromEntries(JSON.parse(r.stdout).checks.map((c: { id: string; status: string }) => [c.id, c.status]));
    // Lifecycle, public access block and timeout are the properties moto's CloudFormation ignores.
    expect(status).toMatchObject({ credentials: "ok", bucket: "ok", "bucket-encryption": "ok", queue: "ok", "compute-environments": "ok", "log-group": "ok" });
  });
});
