// What tests that run servers as processes share: a free port (for servers restarted on the same port) and a
// kill -9 that waits for the exit.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { BIN } from './cli.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** SIGKILL, resolved once the process has exited (at once if it already has). */
export async function killHard(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  await new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** What `jukebox worker|coordinator --announce` prints once it serves. */
export interface Announcement {
  listening: string;
  metricsPort?: number;
  healthPort?: number;
}

/** Starts `jukebox <args> --announce`, adds the process to `children`, resolves with its announcement. */
export function startCliServer(args: string[], children: ChildProcess[]): Promise<Announcement> {
  const child = spawn(process.execPath, [BIN, ...args, '--announce'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line) as Announcement));
    child.once('exit', (code) => reject(new Error(`${args[0]} exited with ${code}: ${err}`)));
  });
}
