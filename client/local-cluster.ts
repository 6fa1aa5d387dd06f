// Embedded mode: a coordinator in this process and W worker processes on loopback, talking real gRPC.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Coordinator } from '../coordinator/coordinator.js';
import { readModelFolder } from '../models/model-folder.js';

/** This module runs compiled (dist/client/local-cluster.js) or from source through tsx (client/local-cluster.ts). */
const COMPILED = import.meta.url.endsWith('.js');
/** Workers run the same way as this process: the compiled CLI with plain node, or the TypeScript CLI through tsx. */
const CLI_PATH = fileURLToPath(new URL(COMPILED ? './cli.js' : './cli.ts', import.meta.url));

/** Node flags a worker process needs: none compiled; from source, tsx's loader resolved from here (`--import tsx`
 * would resolve it from the user's working directory). */
function nodeFlags(): string[] {
  return COMPILED ? [] : ['--import', import.meta.resolve('tsx')];
}
const WORKER_START_TIMEOUT_MS = 60_000;

export interface LocalClusterOptions {
  modelDir: string;
  workers: number;
  /** Inference threads per worker. @default 1 */
  threadsPerWorker?: number;
  /** Rows one worker batch holds. @default 16 */
  maxBatchRows?: number;
  decodeChunkTokens?: number;
  /** Forward worker logs to this process's stderr. @default false */
  verbose?: boolean;
}

export interface LocalCluster {
  coordinator: Coordinator;
  workerAddresses: string[];
  close(): Promise<void>;
}

/** Starts one worker process; resolves with its gRPC address once it listens. */
export function spawnWorker(modelDir: string, threads: number, verbose: boolean, maxBatchRows = 16, maxDecodeTokens?: number): Promise<{ child: ChildProcess; address: string }> {
  const decodeLimit = maxDecodeTokens === undefined ? [] : ['--max-decode-tokens', String(maxDecodeTokens)];
  const child = spawn(
    process.execPath,
    [...nodeFlags(), CLI_PATH, 'worker', '--model', modelDir, '--host', '127.0.0.1', '--port', '0', '--metrics-port', '-1', '--threads', String(threads), '--max-batch-rows', String(maxBatchRows), ...decodeLimit, '--announce'],
    { stdio: ['ignore', 'pipe', verbose ? 'inherit' : 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`worker did not start within ${WORKER_START_TIMEOUT_MS} ms\n${stderr}`));
    }, WORKER_START_TIMEOUT_MS);
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const msg = JSON.parse(line) as { listening?: string };
        if (msg.listening) {
          clearTimeout(timer);
          resolve({ child, address: msg.listening });
        }
      } catch {
        // Not an announcement.
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited with code ${code} before listening\n${stderr}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export async function startLocalCluster(opts: LocalClusterOptions): Promise<LocalCluster> {
  // The workers take decode chunks of the size this cluster's coordinator sends (margins on both sides).
  const { manifest } = await readModelFolder(opts.modelDir);
  const margin = Math.max(0, ...manifest.vqvae.decoders.map((d) => d.marginTokens));
  const maxDecodeTokens = opts.decodeChunkTokens === undefined ? undefined : opts.decodeChunkTokens + 2 * margin;
  const started = await Promise.allSettled(
    Array.from({ length: opts.workers }, () => spawnWorker(opts.modelDir, opts.threadsPerWorker ?? 1, opts.verbose ?? false, opts.maxBatchRows ?? 16, maxDecodeTokens)),
  );
  const children = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value.child] : []));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all(children.map(stopChild));
    throw failed.reason;
  }
  const workerAddresses = started.map((s) => (s as PromiseFulfilledResult<{ address: string }>).value.address);
  let coordinator: Coordinator;
  try {
    coordinator = await Coordinator.start({ modelDirs: [opts.modelDir], workers: workerAddresses, decodeChunkTokens: opts.decodeChunkTokens });
  } catch (err) {
    await Promise.all(children.map(stopChild));
    throw err;
  }
  return {
    coordinator,
    workerAddresses,
    async close() {
      await coordinator.close();
      await Promise.all(children.map(stopChild));
    },
  };
}
