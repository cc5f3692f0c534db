import { createServer, request, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type Socket } from "node:net";
import { listenOnLoopback } from "./listen.js";

export interface ForwardProxy {
  /** http://127.0.0.1:PORT, for HTTP_PROXY / HTTPS_PROXY. */
  url: string;
  /** What went through it: "GET http://host:port/path" for plain requests, "CONNECT host:port" for tunnels. */
  seen: string[];
  stop(): Promise<void>;
}

/**
 * A forward proxy as labs run them: plain HTTP requests by absolute URI,
 * and CONNECT tunnels for HTTPS. It records what it carried.
 */
export async function startForwardProxy(): Promise<ForwardProxy> {
  const seen: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    seen.push(`${req.method} ${req.url}`);
    const out = request(req.url!, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.once("error", (err) => res.writeHead(502).end(`forward proxy: ${err.message}`));
    req.pipe(out);
  });
  server.on("connect", (req: IncomingMessage, client: Socket, head: Buffer) => {
    seen.push(`CONNECT ${req.url}`);
    const [host, port] = req.url!.split(":");
    const upstream = connect(Number(port), host!, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    const close = () => (client.destroy(), upstream.destroy());
    upstream.once("error", close);
    client.once("error", close);
  });
  const listening = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${listening.port}`,
    seen,
    stop: listening.stop,
  };
}
