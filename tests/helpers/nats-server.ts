// A real nats-server with JetStream for tests: a free port, its own storage folder, restartable on the same
// port and storage (what an operator's restart does).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { freePort, killHard } from './processes.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';


async function waitHealthy(monitorPort: number, child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with code ${child.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${monitorPort}/healthz?js-enabled-only=true`);
      if (r.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nats-server not healthy after ${timeoutMs} ms`);
}

export class NatsServer {
  private child?: ChildProcess;

  private constructor(
    readonly port: number,
    readonly monitorPort: number,
    readonly storeDir: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  static async start(): Promise<NatsServer> {
    const s = new NatsServer(await freePort(), await freePort(), await mkdtemp(join(tmpdir(), 'jukebox-nats-')));
    await s.run();
    return s;
  }

  private async run(): Promise<void> {
    const child = spawn('nats-server', ['-a', '127.0.0.1', '-p', String(this.port), '-m', String(this.monitorPort), '-js', '-sd', this.storeDir], { stdio: 'ignore' });
    this.child = child;
    await waitHealthy(this.monitorPort, child);
  }

  /** Kills the server (SIGKILL) and starts it again on the same port and storage. */
  async restart(downMs = 0): Promise<void> {
    await this.kill();
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
    await this.run();
  }

  async kill(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    await killHard(c);
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.storeDir, { recursive: true, force: true });
  }
}
