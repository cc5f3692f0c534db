import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { classify, type Service } from "./fault-classify.js";
import { awsErrorResponse } from "./fault-errors.js";
import { faultName, matches, type Fault, type Match, type ProxiedRequest, type Rule, type RuleOptions, type RuleState } from "./fault-rules.js";

export type { Service } from "./fault-classify.js";
export type { Fault, Match, ProxiedRequest, Rule, RuleOptions } from "./fault-rules.js";

export interface FaultProxy {
  endpoint: string;
  /** Every request received, in order. */
  requests: ProxiedRequest[];
  /** Adds a rule; of the rules that match a request, the first added with faults left applies. */
  add(match: Match, fault: Fault, opts?: RuleOptions): Rule;
  /** The CLI environment that sends S3, Batch, CloudWatch Logs and STS calls through the proxy. */
  env(): Record<string, string>;
  stop(): Promise<void>;
}

/**
 * A loopback HTTP proxy in front of moto and the test Batch executor that
 * injects faults into chosen AWS calls: dropped connections, throttling and
 * other AWS errors, delays and stalls, each for the first N matches so a
 * test can also watch the recovery. Every request is recorded.
 */
export async function startFaultProxy(targets: Partial<Record<Service, string>> & { default: string }): Promise<FaultProxy> {
  const requests: ProxiedRequest[] = [];
  let rules: RuleState[] = [];
  const upstream = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const server = createServer((req, res) => void handle(req, res).catch((err) => fail(res, err)));
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const seen = describe(req, body);
    requests.push(seen);
    let rule: RuleState | undefined;
    for (const r of rules) {
      if (!matches(r.match, seen, body)) continue;
      r.seen++;
      if (!rule && r.seen > (r.skip ?? 0) && r.hits < (r.times ?? Infinity)) rule = r;
    }
    if (rule) rule.hits++;
    const fault = rule?.fault;
    seen.fault = fault === undefined ? undefined : faultName(fault);
    const target = targets[seen.service] ?? targets.default;

    if (fault === "drop") return void req.socket.destroy();
    if (fault === "stall") return;
    if (typeof fault === "object" && "error" in fault) {
      const { status, headers, text } = awsErrorResponse(seen.service, fault.error, fault.message);
      res.writeHead(status, headers).end(seen.method === "HEAD" ? undefined : text);
      return;
    }
    if (typeof fault === "object" && "delayMs" in fault) await new Promise((r) => setTimeout(r, fault.delayMs));
    const answer = await forward(target, req, body);
    if (typeof fault === "object" && "rewrite" in fault) {
      answer.body = Buffer.from(fault.rewrite(answer.body.toString("utf8")));
      answer.headers["content-length"] = String(answer.body.length);
    }
    res.writeHead(answer.status, answer.headers);
    if (fault === "drop-mid-response" || fault === "stall-mid-response") {
      res.flushHeaders();
      res.write(answer.body.subarray(0, Math.floor(answer.body.length / 2)), () => (fault === "drop-mid-response" ? req.socket.destroy() : undefined));
      return;
    }
    res.end(answer.body);
  }

  function forward(target: string, req: IncomingMessage, body: Buffer) {
    return new Promise<{ status: number; headers: IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
      const url = new URL(req.url ?? "/", target);
      const out = request(url, { method: req.method, headers: req.headers, agent: upstream }, async (answer) => {
        const chunks: Buffer[] = [];
        for await (const chunk of answer) chunks.push(chunk as Buffer);
        const headers = { ...answer.headers };
        // The body is sent whole, so the upstream framing no longer applies.
        delete headers["transfer-encoding"];
        resolve({ status: answer.statusCode ?? 502, headers, body: Buffer.concat(chunks) });
      });
      out.once("error", reject);
      out.end(body);
    });
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    endpoint,
    requests,
    add(match, fault, opts = {}) {
      const state: RuleState = { ...opts, match, fault, seen: 0, hits: 0 };
      rules.push(state);
      return {
        get hits() {
          return state.hits;
        },
        remove: () => void (rules = rules.filter((r) => r !== state)),
      };
    },
    env: () => ({
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_ENDPOINT_URL_BATCH: endpoint,
      AWS_ENDPOINT_URL_CLOUDWATCH_LOGS: endpoint,
      AWS_ENDPOINT_URL_STS: endpoint,
    }),
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      upstream.destroy();
    },
  };
}

function describe(req: IncomingMessage, body: Buffer): ProxiedRequest {
  const url = new URL(req.url ?? "/", "http://proxy");
  const method = req.method ?? "GET";
  const region = /Credential=[^/]+\/\d+\/([^/]+)\//.exec(String(req.headers.authorization ?? ""))?.[1];
  const where = classify(method, url, req.headers, body);
  const json = where.service === "logs" || where.service === "batch";
  return {
    ...where,
    method,
    path: url.pathname,
    query: url.searchParams,
    headers: req.headers,
    ...(region ? { region } : {}),
    ...(json && body.length ? { body: parseJson(body) } : {}),
    bytes: body.length,
  };
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString("utf8"));
  } catch {
    return undefined;
  }
}

function fail(res: ServerResponse, err: unknown): void {
  // The target itself is unreachable: answer as a gateway would, so the test sees why.
  if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" });
  res.end(`fault proxy: ${(err as Error).message}`);
}
