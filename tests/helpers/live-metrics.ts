// A worker and a coordinator in this process, both serving /metrics on free loopback ports, and a render on them:
// what the metrics tests scrape.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Coordinator } from '../../coordinator/coordinator.js';
import { JukeboxWorker } from '../../worker/worker-server.js';
import { CoordinatorClient, type SubmitRequest } from '../../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../../models/model-folder.js';

export interface Served {
  worker: JukeboxWorker;
  coordinator: Coordinator;
  client: CoordinatorClient;
  /** /metrics URL per role. */
  metricsUrl: { coordinator: string; worker: string };
  close(): Promise<void>;
}

export async function startServed(): Promise<Served> {
  const worker = await JukeboxWorker.start({ modelDir: DEFAULT_MODEL_DIR, port: 0, metricsPort: 0 });
  const coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [worker.address], metricsPort: 0 });
  const client = new CoordinatorClient(coordinator.address);
  return {
    worker,
    coordinator,
    client,
    metricsUrl: {
      coordinator: `http://127.0.0.1:${coordinator.metricsPort}/metrics`,
      worker: `http://127.0.0.1:${worker.metricsPort}/metrics`,
    },
    close: async () => {
      client.close();
      await coordinator.close();
      await worker.close();
    },
  };
}

/** Submits a job on the tiny model and waits for it to succeed; returns its id. */
export async function renderSong(client: CoordinatorClient, seconds: number): Promise<string> {
  const req: SubmitRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['jazz'], lyrics: 'la la la', durationSeconds: seconds, samples: 1, seed: '11', sampling: [] };
  const job = await client.submit(req);
  let state = '';
  for await (const j of client.watch(job.jobId)) state = j.state;
  assert.equal(state, 'JOB_STATE_SUCCEEDED');
  return job.jobId;
}

export async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  return res.text();
}

/** Runs a binary with `input` on stdin; resolves with its exit code and its output (stdout and stderr together). */
export function runWithInput(command: string, args: string[], input: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
    child.stdin.end(input);
  });
}
