import type { IncomingHttpHeaders } from "node:http";

export type Service = "s3" | "logs" | "batch" | "sts";

export interface Classified {
  service: Service;
  operation: string;
  bucket?: string;
  key?: string;
}

/** Batch's REST paths are the lower-cased operation names. */
const BATCH_OPERATIONS = [
  "CancelJob",
  "CreateComputeEnvironment",
  "CreateJobQueue",
  "DeregisterJobDefinition",
  "DescribeComputeEnvironments",
  "DescribeJobDefinitions",
  "DescribeJobQueues",
  "DescribeJobs",
  "ListJobs",
  "RegisterJobDefinition",
  "SubmitJob",
  "TerminateJob",
  "UpdateJobQueue",
];
const BATCH_BY_PATH = new Map(BATCH_OPERATIONS.map((op) => [op.toLowerCase(), op]));

/** Which service and operation an AWS request is, from its signature scope, target header, path and query. */
export function classify(method: string, url: URL, headers: IncomingHttpHeaders, body: Buffer): Classified {
  const scope = /Credential=[^/]+\/\d+\/[^/]+\/([^/]+)\//.exec(String(headers.authorization ?? ""))?.[1];
  const target = headers["x-amz-target"];
  if (typeof target === "string") {
    return { service: target.startsWith("Logs_") ? "logs" : ((scope ?? "logs") as Service), operation: target.slice(target.indexOf(".") + 1) };
  }
  const batch = /^\/v1\/([a-z]+)$/.exec(url.pathname);
  if (scope === "batch" || (!scope && batch && method === "POST")) {
    return { service: "batch", operation: BATCH_BY_PATH.get(batch?.[1] ?? "") ?? `${method} ${url.pathname}` };
  }
  if (scope === "sts" || (!scope && /x-www-form-urlencoded/.test(String(headers["content-type"])))) {
    return { service: "sts", operation: new URLSearchParams(body.toString("utf8")).get("Action") ?? `${method} ${url.pathname}` };
  }
  return s3Request(method, url, headers);
}

/** A path-style S3 request: /bucket or /bucket/key, with the operation its method and query make. */
function s3Request(method: string, url: URL, headers: IncomingHttpHeaders): Classified {
  const [bucket, ...rest] = url.pathname.split("/").slice(1).map(decodeURIComponent);
  // The SDK spells a bucket-level path-style request /bucket/.
  const key = rest.join("/") || undefined;
  const q = url.searchParams;
  const where = { service: "s3" as const, ...(bucket ? { bucket } : {}), ...(key !== undefined ? { key } : {}) };
  return { ...where, operation: key === undefined ? bucketOperation(method, q) : objectOperation(method, q, headers) };
}

function objectOperation(method: string, q: URLSearchParams, headers: IncomingHttpHeaders): string {
  const copy = headers["x-amz-copy-source"] !== undefined;
  switch (method) {
    case "HEAD":
      return "HeadObject";
    case "GET":
      return q.has("uploadId") ? "ListParts" : q.has("tagging") ? "GetObjectTagging" : "GetObject";
    case "PUT":
      if (q.has("partNumber")) return copy ? "UploadPartCopy" : "UploadPart";
      return q.has("tagging") ? "PutObjectTagging" : copy ? "CopyObject" : "PutObject";
    case "POST":
      return q.has("uploads") ? "CreateMultipartUpload" : q.has("uploadId") ? "CompleteMultipartUpload" : "PostObject";
    case "DELETE":
      return q.has("uploadId") ? "AbortMultipartUpload" : "DeleteObject";
    default:
      return `${method} object`;
  }
}

function bucketOperation(method: string, q: URLSearchParams): string {
  if (method === "HEAD") return "HeadBucket";
  if (method === "POST" && q.has("delete")) return "DeleteObjects";
  if (method === "GET" && q.has("uploads")) return "ListMultipartUploads";
  if (method === "GET" && q.get("list-type") === "2") return "ListObjectsV2";
  // Other bucket calls name a subresource: ?location, ?lifecycle, ?encryption...
  const sub = [...q.keys()].find((k) => !k.startsWith("x-") && !["prefix", "delimiter", "max-keys", "marker"].includes(k));
  const verb = { GET: "Get", PUT: "Put", DELETE: "Delete" }[method] ?? method;
  if (!sub) return method === "GET" ? "ListObjects" : method === "PUT" ? "CreateBucket" : `${verb}Bucket`;
  return `${verb}Bucket${sub[0]!.toUpperCase()}${sub.slice(1)}`;
}
