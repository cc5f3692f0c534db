import {
  DescribeComputeEnvironmentsCommand,
  DescribeJobQueuesCommand,
  type ComputeEnvironmentDetail,
  type JobDefinition,
  type JobQueueDetail,
} from "@aws-sdk/client-batch";
import { formatMiB } from "../ui/format.js";
import { requestedBy } from "../job/definition.js";
import { timeLimitText } from "../job/reasons.js";
import { capacityOf, serves } from "./capacity.js";
import { attempt, check, skipped, type CheckResult, type SetupContext } from "./check.js";

const TITLES = { queue: "job queue", compute: "compute environments" };

/** The queue is ENABLED and VALID; its compute environments scale to 0 and can fit the job. */
export async function checkBatch(ctx: SetupContext, definition: JobDefinition | undefined): Promise<CheckResult[]> {
  const { queue: name } = ctx.settings.values;
  const { region } = ctx.settings.aws;
  const res = await attempt({ action: "batch:DescribeJobQueues", resource: `job queue ${name}`, region }, () =>
    ctx.clients.batch.send(new DescribeJobQueuesCommand({ jobQueues: [name] })),
  );
  const queue = "value" in res ? res.value.jobQueues?.[0] : undefined;
  if (!queue) {
    const detail = "error" in res ? res.error : `job queue ${name} not found in ${region}`;
    return [
      check("queue", TITLES.queue, "fail", detail, "fix the queue setting (nbatch config set aws-batch.queue NAME) or the region, or create the queue (docs/aws-setup.md)"),
      skipped("compute-environments", TITLES.compute, "no job queue"),
    ];
  }
  return [queueResult(queue, ctx), await checkCompute(ctx, queue, definition)];
}

function queueResult(q: JobQueueDetail, ctx: SetupContext): CheckResult {
  const name = q.jobQueueName!;
  if (q.state !== "ENABLED") {
    return check("queue", TITLES.queue, "fail", `${name} is ${q.state}: it accepts no jobs`, `aws batch update-job-queue --job-queue ${name} --state ENABLED`);
  }
  if (q.status !== "VALID") {
    return check("queue", TITLES.queue, "fail", `${name} is ${q.status}${q.statusReason ? ` (${q.statusReason})` : ""}`, "fix the queue's compute environments in the AWS Batch console, or recreate the queue");
  }
  // How it schedules (fair share needs a share identifier on every job) and what it does with jobs stuck RUNNABLE.
  const scheduling = q.schedulingPolicyArn
    ? `fair share (${q.schedulingPolicyArn.replace(/^.*:scheduling-policy\//, "")}), jobs go with share ${ctx.share}`
    : "first in, first out";
  const limits = q.jobStateTimeLimitActions ?? [];
  const stuck = limits.length ? `jobs stuck ${limits.map(timeLimitText).join("; ")}` : "no jobStateTimeLimitActions: a job that can never be placed waits until cancelled";
  const facts = { scheduling: q.schedulingPolicyArn ? "fair-share" : "fifo", ...(q.schedulingPolicyArn ? { share: ctx.share } : {}), timeLimitActions: limits.length };
  return { ...check("queue", TITLES.queue, "ok", `${name} is ENABLED and VALID; ${scheduling}; ${stuck}`), facts };
}

async function checkCompute(ctx: SetupContext, queue: JobQueueDetail, definition: JobDefinition | undefined): Promise<CheckResult> {
  const refs = (queue.computeEnvironmentOrder ?? []).map((c) => c.computeEnvironment!);
  const id = "compute-environments";
  if (!refs.length) return check(id, TITLES.compute, "fail", `${queue.jobQueueName} has no compute environment`, "attach a compute environment to the queue (docs/aws-setup.md)");
  const res = await attempt({ action: "batch:DescribeComputeEnvironments", resource: refs.join(", "), region: ctx.settings.aws.region }, () =>
    ctx.clients.batch.send(new DescribeComputeEnvironmentsCommand({ computeEnvironments: refs })),
  );
  if ("error" in res) return check(id, TITLES.compute, "warn", `cannot tell: ${res.error}`);
  const all = res.value.computeEnvironments ?? [];
  const usable = all.filter((ce) => ce.state === "ENABLED" && ce.status === "VALID");
  const listing = all.map(describe).join("; ");
  if (!usable.length) {
    return check(id, TITLES.compute, "fail", `no ENABLED and VALID compute environment: ${listing}`, "enable or repair a compute environment of the queue in the AWS Batch console");
  }

  const fixed = { cpus: ctx.settings.values.cpus, memoryMiB: ctx.settings.values.memoryMiB };
  const fromDefinition = requestedBy(definition);
  const wanted = { cpus: fixed.cpus ?? fromDefinition.cpus, memoryMiB: fixed.memoryMiB ?? fromDefinition.memoryMiB };
  const fit = fitOf(usable, wanted);
  const asks = ctx.asks ?? {};
  if ((asks.gpus !== undefined || asks.arch !== undefined) && !usable.some((ce) => serves(ce, asks))) {
    const what = [asks.gpus !== undefined && `${asks.gpus} GPUs`, asks.arch].filter(Boolean).join(" on ");
    return check(id, TITLES.compute, "fail", `${listing}; none of them can run a job with ${what}`, asks.gpus !== undefined ? "add a compute environment with GPU instance types (p or g families) to the queue" : `add a compute environment with ${asks.arch} instance types (or Fargate) to the queue`);
  }
  const idle = usable.filter((ce) => (ce.computeResources?.minvCpus ?? 0) > 0);
  const facts = { computeEnvironments: all.map((ce) => ce.computeEnvironmentName).join(","), maxvCpus: Math.max(...usable.map((ce) => ce.computeResources?.maxvCpus ?? 0)) };
  const detail = `${listing}${fit.text ? `; ${fit.text}` : ""}`;
  if (fit.status === "fail") {
    return { ...check(id, TITLES.compute, "fail", detail, "raise maxvCpus or add larger instance types, or ask for fewer vCPUs (--aws-batch-cpus)"), facts };
  }
  if (idle.length) {
    const names = idle.map((ce) => ce.computeEnvironmentName).join(", ");
    const fixIdle = idle.map((ce) => `aws batch update-compute-environment --compute-environment ${ce.computeEnvironmentName} --compute-resources minvCpus=0`).join(" && ");
    return { ...check(id, TITLES.compute, "warn", `${detail}; ${names} keep${idle.length === 1 ? "s" : ""} instances running while idle, which costs money`, fixIdle), facts };
  }
  if (fit.status === "warn") return { ...check(id, TITLES.compute, "warn", detail, "add instance types with more memory, or ask for less (--aws-batch-memory)"), facts };
  return { ...check(id, TITLES.compute, "ok", detail), facts };
}

function describe(ce: ComputeEnvironmentDetail): string {
  const r = ce.computeResources;
  const state = ce.state === "ENABLED" && ce.status === "VALID" ? "" : `${ce.state}, ${ce.status}, `;
  if (!r) return `${ce.computeEnvironmentName} (${state}${ce.type})`;
  const types = r.instanceTypes?.length ? `, ${r.instanceTypes.join(" ")}` : "";
  return `${ce.computeEnvironmentName} (${state}${r.type}, ${r.minvCpus ?? 0}-${r.maxvCpus} vCPUs${r.allocationStrategy ? `, ${r.allocationStrategy}` : ""}${types})`;
}

/** Whether some usable compute environment can place a job of the wanted size. */
function fitOf(usable: ComputeEnvironmentDetail[], wanted: { cpus?: number; memoryMiB?: number }): { status: "ok" | "warn" | "fail"; text?: string } {
  if (wanted.cpus === undefined && wanted.memoryMiB === undefined) return { status: "ok" };
  const capacities = usable.map(capacityOf);
  if (capacities.some((c) => c === undefined)) return { status: "ok", text: "job size not checked (an unmanaged compute environment)" };
  const size = [wanted.cpus !== undefined ? `${wanted.cpus} vCPUs` : "", wanted.memoryMiB !== undefined ? formatMiB(wanted.memoryMiB) : ""].filter(Boolean).join(" and ");
  const byCpu = capacities.filter((c) => wanted.cpus === undefined || c!.vcpus >= wanted.cpus);
  if (!byCpu.length) {
    return { status: "fail", text: `a job of ${size} never starts: the most any compute environment can give one job is ${Math.max(...capacities.map((c) => c!.vcpus))} vCPUs` };
  }
  if (wanted.memoryMiB === undefined) return { status: "ok", text: `fits a job of ${size}` };
  const memories = byCpu.map((c) => c!.memoryMiB);
  if (memories.some((m) => m === undefined)) return { status: "ok", text: `fits ${wanted.cpus ?? "its"} vCPUs; memory not checked (unknown instance types)` };
  const most = Math.max(...(memories as number[]));
  if (most >= wanted.memoryMiB) return { status: "ok", text: `fits a job of ${size}` };
  return { status: "warn", text: `a job of ${size} may never start: its instances offer about ${formatMiB(most)} at most` };
}
