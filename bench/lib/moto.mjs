// moto for the benchmark: the same approach as test/support/moto-server.ts
// (moto binds port 0 itself and exits when its stdin closes), in plain JS.
import { spawn } from "node:child_process";

const SERVER_SCRIPT = `
import logging, os, sys
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
print("MOTO_PORT " + str(server.get_host_and_port()[1]), flush=True)
sys.stdin.read()
os._exit(0)
`;

export async function startMoto() {
  const child = spawn("python3", ["-c", SERVER_SCRIPT], { stdio: ["pipe", "pipe", "pipe"], detached: true });
  const kill = () => {
    try {
      process.kill(-child.pid, "SIGKILL");
    } catch {
      // already gone
    }
  };
  process.once("exit", kill);
  const port = await new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`moto did not start in 30 s: ${err.slice(-500)}`)), 30_000);
    child.stderr.on("data", (d) => (err += d));
    child.stdout.on("data", (d) => {
      out += d;
      const m = /MOTO_PORT (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on("exit", (code) => reject(new Error(`moto exited (${code}): is moto[server] installed for python3? ${err.slice(-500)}`)));
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const res = await fetch(`${endpoint}/moto-api/config`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ batch: { use_docker: false } }),
  });
  if (!res.ok) throw new Error(`moto config failed: HTTP ${res.status}`);
  return {
    endpoint,
    pid: child.pid,
    async stop() {
      process.removeListener("exit", kill);
      child.stdin.end();
      const exited = new Promise((r) => child.once("exit", r));
      const timer = setTimeout(kill, 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
