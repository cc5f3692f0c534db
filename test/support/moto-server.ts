import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";

/** Thrown when python3 or moto's server extras cannot be imported. */
export class MotoMissingError extends Error {}

export interface MotoServer {
  endpoint: string;
  stop(): Promise<void>;
}

const READY_TIMEOUT_MS = 30_000;

// moto binds port 0 itself (no race for a "free" port) and prints the port it
// got. It exits when its stdin closes, so even a SIGKILLed test runner leaves
// no python process behind.
const SERVER_SCRIPT = `
import logging, os, sys
try:
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
except ImportError as e:
    print("MOTO_MISSING " + str(e), flush=True)
    sys.exit(3)
logging.getLogger("werkzeug").setLevel(logging.ERROR)
server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
server.start()
port = server.get_host_and_port()[1]
os.environ["MOTO_PORT"] = str(port)
print("MOTO_PORT " + str(port), flush=True)
sys.stdin.read()
os._exit(0)
`;

/** Starts one moto server on a free loopback port, ready and with Batch's docker use off. */
export async function startMoto(): Promise<MotoServer> {
  const child = spawn("python3", ["-c", SERVER_SCRIPT], {
    stdio: ["pipe", "pipe", "pipe"],
    // Its own process group, so stop() can take down anything it forks.
    detached: true,
  });
  const killGroup = () => signalGroup(child, "SIGKILL");
  process.once("exit", killGroup);
  try {
    const port = await readPort(child);
    const endpoint = `http://127.0.0.1:${port}`;
    await waitReady(endpoint);
    await configure(endpoint);
    return {
      endpoint,
      async stop() {
        process.removeListener("exit", killGroup);
        await stopChild(child);
      },
    };
  } catch (err) {
    process.removeListener("exit", killGroup);
    await stopChild(child);
    throw err;
  }
}

function readPort(child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(
      () => fail(new Error(`moto did not start within ${READY_TIMEOUT_MS} ms: ${tail(stderr)}`)),
      READY_TIMEOUT_MS,
    );
    function fail(err: Error) {
      clearTimeout(timer);
      reject(err);
    }
    child.on("error", (err: NodeJS.ErrnoException) =>
      fail(err.code === "ENOENT" ? new MotoMissingError("python3 not found") : err),
    );
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
    child.stdout!.on("data", (d: Buffer) => {
      stdout += d.toString();
      const missing = /MOTO_MISSING (.*)/.exec(stdout);
      if (missing) return fail(new MotoMissingError(missing[1]!));
      const port = /MOTO_PORT (\d+)/.exec(stdout);
      if (port) {
        clearTimeout(timer);
        resolve(Number(port[1]));
      }
    });
    child.on("exit", (code, signal) => fail(new Error(`moto exited early (${signal ?? code}): ${tail(stderr)}`)));
  });
}

async function waitReady(endpoint: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${endpoint}/moto-api/config`);
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto at ${endpoint} not ready within ${READY_TIMEOUT_MS} ms: ${String(last)}`);
}

async function configure(endpoint: string): Promise<void> {
  const res = await fetch(`${endpoint}/moto-api/config`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ batch: { use_docker: false } }),
  });
  const config = (await res.json()) as { batch?: { use_docker?: boolean } };
  if (!res.ok || config.batch?.use_docker !== false) {
    throw new Error(`moto rejected its batch config: HTTP ${res.status} ${JSON.stringify(config)}`);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, "exit");
  child.stdin?.end();
  signalGroup(child, "SIGTERM");
  const timer = setTimeout(() => signalGroup(child, "SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Already gone.
  }
}

function tail(text: string): string {
  return text.trim().split("\n").slice(-5).join(" | ") || "(no output)";
}
