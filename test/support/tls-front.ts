import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:https";
import { join } from "node:path";
import { promisify } from "node:util";
import { listenOnLoopback } from "./listen.js";

const run = promisify(execFile);

export interface TlsFront {
  /** https://127.0.0.1:PORT */
  endpoint: string;
  /** The PEM of the private CA that signed the front's certificate: what AWS_CA_BUNDLE names. */
  caPath: string;
  stop(): Promise<void>;
}

/**
 * An HTTPS endpoint in front of a plain one, with a certificate from a
 * private CA made for the test, as an on-premises S3 or a TLS-inspecting
 * network presents: clients trust it only when told to.
 */
export async function startTlsFront(target: string, dir: string): Promise<TlsFront> {
  const file = (name: string) => join(dir, name);
  await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=nbatch test CA", "-keyout", file("ca.key"), "-out", file("ca.pem")]);
  await writeFile(file("san.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await run("openssl", ["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", file("front.key"), "-out", file("front.csr")]);
  await run("openssl", ["x509", "-req", "-in", file("front.csr"), "-CA", file("ca.pem"), "-CAkey", file("ca.key"), "-CAcreateserial", "-days", "2", "-extfile", file("san.cnf"), "-out", file("front.pem")]);
  const server = createServer({ key: await readFile(file("front.key")), cert: await readFile(file("front.pem")) }, (req, res) => {
    const out = request(new URL(req.url ?? "/", target), { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.once("error", (err) => res.writeHead(502).end(`tls front: ${err.message}`));
    req.pipe(out);
  });
  const listening = await listenOnLoopback(server);
  return {
    endpoint: `https://127.0.0.1:${listening.port}`,
    caPath: file("ca.pem"),
    stop: listening.stop,
  };
}
