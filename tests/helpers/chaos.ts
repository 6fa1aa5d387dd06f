// A real multi-process deployment (nats-server, a coordinator, workers, all through the `jukebox` CLI) and a
// fault injector that kill -9s its processes during a render. Shared by tests/chaos.test.ts and bench/chaos.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort, killHard } from './processes.js';
import { mulberry32 } from '../../bench/seams-dsp.js';
import { createInterface } from 'node:readline';
import { CoordinatorClient, type SubmitRequest } from '../../client/coordinator-client.js';
import { BIN } from './cli.js';
import { planSong } from '../../shared/plan.js';
import { taskKey } from '../../coordinator/scheduler.js';
import type { Manifest } from '../../shared/types.js';
import { NatsServer } from './nats-server.js';


/** A worker's log line about a batch: when, which windows (job@level:start:context), how many tokens per row. */
export interface BatchLog {
  atMs: number;
  worker: number;
  event: 'started' | 'sampled';
  windows: string[];
  newTokens: number;
  rows: number;
}

/** One CLI process that can be killed and started again with the same arguments (same port). */
class Proc {
  child?: ChildProcess;
  private stderrTail = '';

  constructor(
    readonly name: string,
    private readonly args: string[],
    private readonly onLine: (line: string) => void = () => undefined,
  ) {}

  async start(timeoutMs = 60_000): Promise<void> {
    const child = spawn(process.execPath, [BIN, ...this.args, '--announce'], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    createInterface({ input: child.stderr! }).on('line', (line) => {
      this.stderrTail = (this.stderrTail + line + '\n').slice(-4000);
      this.onLine(line);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${this.name} did not start in ${timeoutMs} ms\n${this.stderrTail}`)), timeoutMs);
      createInterface({ input: child.stdout! }).on('line', (line) => {
        if (line.includes('"listening"')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited (${code}) before listening\n${this.stderrTail}`));
      });
    });
  }

  async kill9(): Promise<void> {
    const c = this.child;
    this.child = undefined;
    await killHard(c);
  }
}

export class Deployment {
  readonly batches: BatchLog[] = [];
  private constructor(
    readonly nats: NatsServer,
    readonly coordinator: Proc,
    readonly workers: Proc[],
    readonly address: string,
  ) {}

  /** nats-server, a coordinator that keeps its jobs in JetStream, and `workers` workers that announce themselves. */
  static async start(workers: number, opts: { leaseTtlMs?: number; modelDir?: string } = {}): Promise<Deployment> {
    const nats = await NatsServer.start();
    const port = await freePort();
    const model = opts.modelDir ? ['--model', opts.modelDir] : [];
    const coordinator = new Proc('coordinator', [
      'coordinator', '--nats', nats.url, '--host', '127.0.0.1', '--port', String(port), '--metrics-port', '-1',
      '--coordinator-id', 'chaos-coordinator', '--lease-ttl', String(opts.leaseTtlMs ?? 5000), ...model,
    ]);
    const procs: Proc[] = [];
    const d = new Deployment(nats, coordinator, procs, `127.0.0.1:${port}`);
    for (let i = 0; i < workers; i++) {
      const wp = await freePort();
      procs.push(
        new Proc(`worker-${i}`, ['worker', '--nats', nats.url, '--host', '127.0.0.1', '--port', String(wp), '--metrics-port', '-1', '--advertise', `127.0.0.1:${wp}`, ...model], (line) => d.onWorkerLine(i, line)),
      );
    }
    await Promise.all(procs.map((p) => p.start()));
    await coordinator.start();
    return d;
  }

  private onWorkerLine(worker: number, line: string): void {
    if (!line.includes('"batch ')) return;
    try {
      const m = JSON.parse(line) as { t: string; msg: string; windows: string; newTokens: number; rows: number };
      if (m.msg !== 'batch started' && m.msg !== 'batch sampled') return;
      this.batches.push({ atMs: Date.parse(m.t), worker, event: m.msg === 'batch started' ? 'started' : 'sampled', windows: m.windows.split(','), newTokens: m.newTokens, rows: m.rows });
    } catch {
      // not a log line of ours
    }
  }

  async stop(): Promise<void> {
    await Promise.all([this.coordinator, ...this.workers].map((p) => p.kill9()));
    await this.nats.stop();
  }
}

export interface RenderResult {
  state: string;
  error: string;
  wavs: Buffer[];
  tokens: number[][][];
  wallMs: number;
  jobId: string;
  /** Sequence numbers of the changes the watcher saw, in order (each once, 1..n when nothing was lost). */
  sequences: number[];
  /** When each window's tokens were stored, by task key (window:level:segment:index), Unix ms. */
  storedAtMs: Map<string, number>;
}

/** Submits a job (retrying while the coordinator is away), watches it to the end, fetches its WAVs and tokens. */
export async function render(address: string, request: SubmitRequest): Promise<RenderResult> {
  const client = new CoordinatorClient(address);
  const t0 = performance.now();
  try {
    const job = await retrying(() => client.submit(request));
    const sequences: number[] = [];
    const storedAtMs = new Map<string, number>();
    let state = '';
    let error = '';
    for await (const u of client.watchChanges(job.jobId, { reconnectForMs: 120_000 })) {
      sequences.push(...u.changes.map((c) => c.sequence));
      for (const c of u.changes) if (c.kind === 'window') storedAtMs.set(c.task, c.atMs);
      state = u.job.state;
      error = u.job.error;
    }
    const wallMs = performance.now() - t0;
    const wavs = state === 'JOB_STATE_SUCCEEDED' ? await Promise.all(Array.from({ length: request.samples ?? 1 }, (_, i) => retrying(() => client.fetchAudio(job.jobId, i)))) : [];
    const tokens = await retrying(() => client.fetchTokens(job.jobId));
    return { state, error, wavs, tokens, wallMs, jobId: job.jobId, sequences, storedAtMs };
  } finally {
    client.close();
  }
}

async function retrying<T>(f: () => Promise<T>, forMs = 120_000): Promise<T> {
  const until = Date.now() + forMs;
  for (;;) {
    try {
      return await f();
    } catch (err) {
      const code = (err as { code?: number }).code;
      // UNAVAILABLE (14) or NOT_FOUND (5) while a coordinator restarts and resumes.
      if ((code !== 14 && code !== 5) || Date.now() > until) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

export interface ChaosPlan {
  workerKills: number;
  coordinatorKills: number;
  natsRestarts: number;
  /** Wait between two faults, drawn uniformly from [min, max] ms. */
  gapMs: [number, number];
  seed: number;
}

export interface Fault {
  what: 'worker' | 'coordinator' | 'nats-server';
  worker?: number;
  /** Just before the kill was sent. */
  atMs: number;
  /** Once the killed process had exited (nothing it did can be logged later); nats-server: as atMs. */
  diedMs: number;
  /** When the process it hit had started (its batches before that belong to an earlier life). */
  sinceMs: number;
}

/**
 * A restarted coordinator waits this long (its discovery wait, 1.5 s) for worker heartbeats before it resumes a
 * job, so a window a worker started less than this after the old coordinator died was sent by the old one (a
 * worker may log a request some ms after its sender died). Kept below the 1.5 s, so it cannot admit a new send.
 */
const REPLACEMENT_QUIET_MS = 1000;

/**
 * Windows a fault could cost, by the workers' key (job@level:start:context): those whose tokens the coordinator
 * had not stored when the killed process died, and that were started on the killed worker in that life (a worker
 * kill), or on any worker before the replacement coordinator could send anything (a coordinator kill: a window
 * sampled but not stored is lost with it). Stored-ness, not the worker's "sampled" line, decides: a result
 * logged but still in the worker's socket dies with it. `storedAtMs` is keyed like the windows.
 */
export function inFlightAt(fault: Fault, batches: readonly BatchLog[], storedAtMs: ReadonlyMap<string, number>): string[] {
  if (fault.what === 'nats-server') return [];
  const until = fault.what === 'worker' ? fault.diedMs : fault.diedMs + REPLACEMENT_QUIET_MS;
  const atRisk = new Set<string>();
  for (const b of batches) {
    if (b.event !== 'started' || b.atMs > until) continue;
    if (fault.what === 'worker' && (b.worker !== fault.worker || b.atMs < fault.sinceMs)) continue;
    for (const w of b.windows) if ((storedAtMs.get(w) ?? Infinity) > fault.diedMs) atRisk.add(w);
  }
  return [...atRisk];
}

/**
 * Runs the plan's faults, in a seeded random order at seeded random gaps, until all are done or `finished()`:
 * kill -9 of a random worker (restarted at once), of the coordinator (restarted at once), restart of nats-server.
 */
export async function injectFaults(d: Deployment, plan: ChaosPlan, finished: () => boolean): Promise<Fault[]> {
  const random = mulberry32(plan.seed);
  const kinds = [
    ...Array.from({ length: plan.workerKills }, () => 'worker'),
    ...Array.from({ length: plan.coordinatorKills }, () => 'coordinator'),
    ...Array.from({ length: plan.natsRestarts }, () => 'nats'),
  ];
  for (let i = kinds.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [kinds[i], kinds[j]] = [kinds[j], kinds[i]];
  }
  const faults: Fault[] = [];
  const workerSince = d.workers.map(() => 0);
  let coordinatorSince = 0;
  for (const kind of kinds) {
    await new Promise((r) => setTimeout(r, plan.gapMs[0] + random() * (plan.gapMs[1] - plan.gapMs[0])));
    if (finished()) break;
    const atMs = Date.now();
    if (kind === 'worker') {
      const i = Math.floor(random() * d.workers.length);
      await d.workers[i].kill9();
      const diedMs = Date.now();
      faults.push({ what: 'worker', worker: i, atMs, diedMs, sinceMs: workerSince[i] });
      workerSince[i] = diedMs;
      await d.workers[i].start();
    } else if (kind === 'coordinator') {
      await d.coordinator.kill9();
      const diedMs = Date.now();
      faults.push({ what: 'coordinator', atMs, diedMs, sinceMs: coordinatorSince });
      coordinatorSince = diedMs;
      await d.coordinator.start();
    } else {
      faults.push({ what: 'nats-server', atMs, diedMs: atMs, sinceMs: 0 });
      await d.nats.restart();
    }
  }
  return faults;
}

/** Windows sampled more than once (started again after a fault), from the workers' logs. */
export function resampled(batches: readonly BatchLog[]): { windows: number; tokens: number; keys: string[] } {
  const starts = new Map<string, { n: number; tokens: number }>();
  for (const b of batches) {
    if (b.event !== 'started') continue;
    const perWindow = (b.newTokens * b.rows) / b.windows.length;
    for (const w of b.windows) {
      const s = starts.get(w) ?? { n: 0, tokens: perWindow };
      s.n++;
      starts.set(w, s);
    }
  }
  let windows = 0;
  let tokens = 0;
  const keys: string[] = [];
  for (const [k, s] of starts) {
    if (s.n <= 1) continue;
    windows += s.n - 1;
    tokens += (s.n - 1) * s.tokens;
    keys.push(k);
  }
  return { windows, tokens, keys };
}

/** Task keys (window:level:segment:index) of an exact-mode song mapped to the workers' keys (job@level:start:context). */
export function workerKeys(manifest: Manifest, seconds: number, jobId: string): Map<string, string> {
  const out = new Map<string, string>();
  planSong(manifest, seconds).levels.forEach((lp, level) =>
    lp.windows.forEach((window, flat) => out.set(taskKey({ kind: 'window', level, window, flat }), `${jobId}@${level}:${window.start}:${window.contextTokens}`)),
  );
  return out;
}
