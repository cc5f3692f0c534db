// A scripted stand-in for AWS Batch and CloudWatch Logs. S3 stays on moto;
// Batch and Logs are faked so each measurement controls exactly when a job
// runs, which log lines exist when, and counts every call nbatch makes.
import { createServer } from "node:http";

const PAGE_EVENTS = 10_000; // GetLogEvents' own limit
const PAGE_BYTES = 1024 * 1024;

/**
 * A scenario decides, given a submitted job and the time since submission:
 *   status(job, ms)      -> "RUNNABLE" | "RUNNING" | "SUCCEEDED" | "FAILED"
 *   line(i, ms, job, child) -> { message, availableAt } for line i (of array child `child`), or undefined when line i is not out yet
 */
export async function startFakeAws() {
  let scenario = instantScenario();
  const jobs = new Map();
  const calls = [];
  let seq = 0;

  const handlers = {
    describejobqueues: (b) => ({
      jobQueues: (b.jobQueues ?? []).map((q) => ({
        jobQueueName: q,
        jobQueueArn: `arn:aws:batch:us-east-1:123456789012:job-queue/${q}`,
        state: "ENABLED",
        status: "VALID",
        priority: 1,
        computeEnvironmentOrder: [],
      })),
    }),
    describejobdefinitions: (b) => {
      const name = b.jobDefinitionName ?? String(b.jobDefinitions?.[0] ?? "nbatch-job").split(":")[0];
      return {
        jobDefinitions: [
          {
            jobDefinitionName: name,
            jobDefinitionArn: `arn:aws:batch:us-east-1:123456789012:job-definition/${name}:1`,
            revision: 1,
            status: "ACTIVE",
            type: "container",
            containerProperties: { image: "nbatch-bench", command: ["true"], vcpus: 1, memory: 512 },
          },
        ],
      };
    },
    submitjob: (b) => {
      const jobId = `bench-${++seq}`;
      const job = { jobId, jobName: b.jobName, submittedAt: Date.now(), body: b, size: b.arrayProperties?.size };
      jobs.set(jobId, job);
      scenario.onSubmit?.(job);
      return { jobId, jobName: b.jobName, jobArn: `arn:aws:batch:us-east-1:123456789012:job/${jobId}` };
    },
    describejobs: (b) => ({ jobs: (b.jobs ?? []).flatMap((id) => described(id)) }),
    listjobs: (b) => listChildren(b),
    terminatejob: () => ({}),
    canceljob: () => ({}),
    tagresource: () => ({}),
    registerjobdefinition: (b) => ({ jobDefinitionName: b.jobDefinitionName, jobDefinitionArn: `arn:aws:batch:us-east-1:123456789012:job-definition/${b.jobDefinitionName}:1`, revision: 1 }),
  };

  /** A job, or a child <id>:<i> of an array job, as DescribeJobs tells it; nothing for an unknown id. */
  function described(id) {
    const [parentId, index] = String(id).split(":");
    const job = jobs.get(parentId);
    if (!job) return [];
    if (index === undefined) return [job.size ? parentDetail(job) : detail(job)];
    return [{ ...detail(job, Number(index)), jobId: id, arrayProperties: { index: Number(index) } }];
  }

  /** An array job's children each have the scenario's childStatus; the parent's statusSummary counts them. */
  function parentDetail(job) {
    const ms = Date.now() - job.submittedAt;
    const statusSummary = {};
    for (let i = 0; i < job.size; i++) {
      const s = scenario.childStatus(job, i, ms);
      statusSummary[s] = (statusSummary[s] ?? 0) + 1;
    }
    const done = (statusSummary.SUCCEEDED ?? 0) + (statusSummary.FAILED ?? 0) === job.size;
    const status = done ? (statusSummary.FAILED ? "FAILED" : "SUCCEEDED") : "PENDING";
    return { ...detail(job), status, arrayProperties: { size: job.size, statusSummary } };
  }

  function listChildren(b) {
    const job = jobs.get(b.arrayJobId);
    if (!job?.size) throw Object.assign(new Error(`${b.arrayJobId} is not an array job`), { type: "ClientException" });
    const ms = Date.now() - job.submittedAt;
    const status = b.jobStatus ?? "RUNNING";
    const from = Number(b.nextToken ?? 0);
    const page = [];
    let i = from;
    for (; i < job.size && page.length < 100; i++) {
      if (scenario.childStatus(job, i, ms) !== status) continue;
      const ended = status === "SUCCEEDED" || status === "FAILED";
      page.push({ jobId: `${job.jobId}:${i}`, jobName: job.jobName, status, arrayProperties: { index: i }, startedAt: job.submittedAt, ...(ended ? { container: { exitCode: status === "SUCCEEDED" ? 0 : 1 } } : {}) });
    }
    return { jobSummaryList: page, ...(i < job.size ? { nextToken: String(i) } : {}) };
  }

  function detail(job, index) {
    const ms = Date.now() - job.submittedAt;
    const status = index === undefined ? scenario.status(job, ms) : scenario.childStatus(job, index, ms);
    const started = status === "RUNNING" || status === "SUCCEEDED" || status === "FAILED";
    const done = status === "SUCCEEDED" || status === "FAILED";
    job.stoppedAt ??= done ? Date.now() : undefined;
    return {
      jobId: job.jobId,
      jobName: job.jobName,
      jobArn: `arn:aws:batch:us-east-1:123456789012:job/${job.jobId}`,
      jobQueue: job.body.jobQueue,
      jobDefinition: job.body.jobDefinition,
      status,
      createdAt: job.submittedAt,
      ...(started ? { startedAt: job.submittedAt } : {}),
      ...(done ? { stoppedAt: job.stoppedAt } : {}),
      attempts: [],
      container: {
        image: "nbatch-bench",
        command: job.body.containerOverrides?.command ?? [],
        environment: job.body.containerOverrides?.environment ?? [],
        // A stream name has no ":": a child's is its parent's id and its index.
        ...(started && scenario.logs ? { logStreamName: `nbatch-job/default/${job.jobId}${index === undefined ? "" : `.${index}`}` } : {}),
        ...(done ? { exitCode: status === "SUCCEEDED" ? 0 : 1 } : {}),
      },
      tags: job.body.tags ?? {},
    };
  }

  function getLogEvents(b) {
    const from = b.nextToken ? Number(String(b.nextToken).slice(2)) : 0;
    const [id, index] = String(b.logStreamName).split("/").pop().split(".");
    const job = jobs.get(id);
    if (!job || !scenario.logs) throw Object.assign(new Error("The specified log stream does not exist."), { type: "ResourceNotFoundException" });
    const ms = Date.now() - job.submittedAt;
    const child = index === undefined ? undefined : Number(index);
    if (b.startFromHead === false && !b.nextToken) return lastEvents(job, child, ms, b.limit ?? PAGE_EVENTS);
    const events = [];
    let bytes = 0;
    let i = from;
    for (; events.length < PAGE_EVENTS && bytes < PAGE_BYTES; i++) {
      const line = scenario.logs.line(i, ms, job, child);
      if (!line) break;
      events.push({ timestamp: job.submittedAt + line.availableAt, message: line.message, ingestionTime: job.submittedAt + line.availableAt });
      bytes += line.message.length + 26;
    }
    return { events, nextForwardToken: `f/${i}`, nextBackwardToken: `b/${from}` };
  }

  /** The newest `limit` events of a stream, as GetLogEvents with startFromHead false returns them (oldest first). */
  function lastEvents(job, child, ms, limit) {
    let n = 0;
    while (scenario.logs.line(n, ms, job, child)) n++;
    const events = [];
    for (let i = Math.max(0, n - limit); i < n; i++) {
      const line = scenario.logs.line(i, ms, job, child);
      events.push({ timestamp: job.submittedAt + line.availableAt, message: line.message, ingestionTime: job.submittedAt + line.availableAt });
    }
    return { events, nextForwardToken: `f/${n}`, nextBackwardToken: `b/${Math.max(0, n - limit)}` };
  }

  const server = createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const text = Buffer.concat(chunks).toString("utf8");
    const body = text ? JSON.parse(text) : {};
    const target = req.headers["x-amz-target"];
    const op = target ? String(target).split(".").pop() : (/^\/v1\/([a-z]+)$/.exec(req.url ?? "")?.[1] ?? req.url);
    calls.push({ op: op.toLowerCase(), at: Date.now() });
    try {
      const out = op === "GetLogEvents" ? getLogEvents(body) : handlers[op]?.(body);
      if (!out) throw Object.assign(new Error(`fake AWS does not support ${op}`), { type: "ClientException" });
      res.writeHead(200, { "content-type": target ? "application/x-amz-json-1.1" : "application/json" }).end(JSON.stringify(out));
    } catch (err) {
      res
        .writeHead(400, { "content-type": "application/json", "x-amzn-errortype": err.type ?? "ClientException" })
        .end(JSON.stringify({ __type: err.type ?? "ClientException", message: err.message }));
    }
  });
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    jobs,
    calls,
    /** Sets how jobs behave from now on; without a scenario they succeed at once. */
    setScenario(s) {
      scenario = s ?? instantScenario();
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** The job is done as soon as it is asked about; no log stream. */
export function instantScenario(onSubmit) {
  return { onSubmit, status: () => "SUCCEEDED" };
}
