/**
 * How each client reaches its service: through the proxy HTTPS_PROXY or
 * HTTP_PROXY names unless NO_PROXY exempts the host, and trusting the
 * certificates of AWS_CA_BUNDLE / ca_bundle when one is set. The SDK for
 * JavaScript does neither by itself (docs/configuration.md, "Proxies and
 * certificates"); the AWS CLI does both, and nbatch behaves like it, in the
 * CLI and in the agent alike.
 */
import { readFileSync } from "node:fs";
import type { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { createRequire } from "node:module";
import type { AwsSettings, Proxies, Service } from "../config/settings.js";
import { UserError } from "../errors.js";

/** A request with no answer after 5 minutes (an 8 MiB part even at 30 kB/s) fails and is retried, instead of hanging nbatch. */
const REQUEST_TIMEOUT_MS = 300_000;
/** As the SDK's own agents: connections kept for reuse, 50 at most per host. */
const AGENT = { keepAlive: true, maxSockets: 50 };

export interface HandlerOptions {
  requestTimeout: number;
  throwOnRequestTimeout: boolean;
  httpAgent?: HttpAgent;
  httpsAgent?: HttpsAgent;
}

/** The URL a service is reached at: the configured endpoint, else AWS's regional one. */
function serviceUrl(aws: AwsSettings, service: Service): URL {
  const suffix = aws.region.startsWith("cn-") ? "amazonaws.com.cn" : "amazonaws.com";
  return new URL(aws.endpoints[service] ?? `https://${service}.${aws.region}.${suffix}`);
}

export function requestHandlerFor(aws: AwsSettings, service: Service): HandlerOptions {
  const url = serviceUrl(aws, service);
  const proxy = proxyFor(url, aws.proxies);
  const ca = aws.caBundle && readCaBundle(aws.caBundle);
  const options: HandlerOptions = { requestTimeout: REQUEST_TIMEOUT_MS, throwOnRequestTimeout: true };
  if (url.protocol === "https:") options.httpsAgent = proxy ? proxyAgents.https(proxy, ca) : ca ? new HttpsAgent({ ...AGENT, ca }) : undefined;
  else if (proxy) options.httpAgent = proxyAgents.http(proxy, AGENT);
  if (!options.httpsAgent) delete options.httpsAgent;
  return options;
}

/** The proxy for a URL, or undefined when there is none or NO_PROXY names the host (curl's rules, without CIDR ranges). */
export function proxyFor(url: URL, proxies: Proxies | undefined): string | undefined {
  const proxy = url.protocol === "https:" ? proxies?.https : proxies?.http;
  if (!proxy) return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, "").toLowerCase();
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const exempt = proxies!.noProxy.some((entry) => {
    if (entry === "*") return true;
    const [, name = entry, entryPort] = /^(.*?)(?::(\d+))?$/.exec(entry.toLowerCase()) ?? [];
    const domain = name.replace(/^\*?\./, "");
    if (entryPort && entryPort !== port) return false;
    return host === domain || host.endsWith(`.${domain}`);
  });
  return exempt ? undefined : proxy;
}

// The proxy agents load only when a proxy is in use: most runs never need them.
const load = createRequire(import.meta.url);
const proxyAgents = {
  /** A tunnel through the proxy; the CA bundle, if any, is for the TLS inside the tunnel, to the service. */
  https: (proxy: string, ca: Buffer | undefined): HttpsAgent => {
    const agent = new (load("https-proxy-agent") as typeof import("https-proxy-agent")).HttpsProxyAgent(proxy, AGENT);
    if (ca) {
      const connect = agent.connect.bind(agent);
      agent.connect = (req, opts) => connect(req, { ...opts, ca } as typeof opts);
    }
    return agent as unknown as HttpsAgent;
  },
  http: (proxy: string, opts: object): HttpAgent => new (load("http-proxy-agent") as typeof import("http-proxy-agent")).HttpProxyAgent(proxy, opts),
};

const bundles = new Map<string, Buffer>();

function readCaBundle(bundle: { path: string; from: string }): Buffer {
  let pem = bundles.get(bundle.path);
  if (!pem) {
    try {
      pem = readFileSync(bundle.path);
    } catch (err) {
      throw new UserError(`cannot read the CA bundle ${bundle.path} (from ${bundle.from}): ${(err as NodeJS.ErrnoException).code ?? err}; point it at a PEM file of the certificates to trust`);
    }
    bundles.set(bundle.path, pem);
  }
  return pem;
}
