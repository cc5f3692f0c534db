import type { JobQueueDetail } from "@aws-sdk/client-batch";
import { listChildren, summary } from "./executor-arrays.js";
import type { JobRunner } from "./executor-jobs.js";
import { ClientException, type Registry } from "./executor-registry.js";
import { newJob } from "./executor-submit.js";

// Request bodies are parsed JSON from the client; handlers check what they rely on.
type Body = any;
type Handler = (body: Body) => unknown;

/** The Batch operations the executor answers, by the lower-case name in their /v1/ path. */
export function batchOperations(registry: Registry, runner: JobRunner): Record<string, [string, Handler]> {
  const queueRef = (q: JobQueueDetail) => ({ jobQueueName: q.jobQueueName, jobQueueArn: q.jobQueueArn });
  const copy = <T>(value: T): T => structuredClone(value);

  return {
    createcomputeenvironment: [
      "CreateComputeEnvironment",
      (b) => {
        const ce = registry.createComputeEnvironment(b);
        return { computeEnvironmentName: ce.computeEnvironmentName, computeEnvironmentArn: ce.computeEnvironmentArn };
      },
    ],
    describecomputeenvironments: [
      "DescribeComputeEnvironments",
      (b) => ({ computeEnvironments: copy(registry.describeComputeEnvironments(b.computeEnvironments)) }),
    ],
    createjobqueue: ["CreateJobQueue", (b) => queueRef(registry.createQueue(b))],
    updatejobqueue: [
      "UpdateJobQueue",
      (b) => {
        // "You must specify only one of the following items": a job queue, or an array job's id (API reference, ListJobs).
        if (b.arrayJobId !== undefined) return listChildren(runner.childrenOf(b.arrayJobId), b);
        const queue = registry.queue(b.jobQueue);
        if (b.state !== undefined) queue.state = b.state;
        if (b.priority !== undefined) queue.priority = b.priority;
        return queueRef(queue);
      },
    ],
    describejobqueues: [
      "DescribeJobQueues",
      (b) => ({
        jobQueues: copy(
          [...registry.queues.values()].filter(
            (q) => !b.jobQueues?.length || b.jobQueues.includes(q.jobQueueName) || b.jobQueues.includes(q.jobQueueArn),
          ),
        ),
      }),
    ],
    registerjobdefinition: [
      "RegisterJobDefinition",
      (b) => {
        const d = registry.register(b);
        return { jobDefinitionName: d.jobDefinitionName, jobDefinitionArn: d.jobDefinitionArn, revision: d.revision };
      },
    ],
    describejobdefinitions: ["DescribeJobDefinitions", (b) => ({ jobDefinitions: copy(registry.describe(b)) })],
    deregisterjobdefinition: ["DeregisterJobDefinition", (b) => (registry.deregister(b.jobDefinition), {})],
    submitjob: [
      "SubmitJob",
      (b) => {
        const job = newJob(registry, b, Date.now());
        runner.submit(job);
        return { jobArn: job.jobArn, jobName: job.jobName, jobId: job.jobId };
      },
    ],
    describejobs: [
      "DescribeJobs",
      (b) => {
        const ids: unknown = b.jobs;
        if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100) {
          throw new ClientException("jobs must list 1 to 100 job IDs");
        }
        return { jobs: ids.flatMap((id) => runner.view(id) ?? []).map(copy) };
      },
    ],
    listjobs: [
      "ListJobs",
      (b) => {
        // "You must specify only one of the following items": a job queue, or an array job's id (API reference, ListJobs).
        if (b.arrayJobId !== undefined) return listChildren(runner.childrenOf(b.arrayJobId), b);
        const queue = registry.queue(b.jobQueue);
        const status = b.jobStatus ?? "RUNNING";
        const jobs = [...runner.jobs.values()].map((j) => j.detail);
        return { jobSummaryList: jobs.filter((j) => j.jobQueue === queue.jobQueueArn && j.status === status).map(summary) };
      },
    ],
    terminatejob: ["TerminateJob", (b) => (runner.stop(b.jobId, b.reason, false), {})],
    canceljob: ["CancelJob", (b) => (runner.stop(b.jobId, b.reason, true), {})],
  };
}
