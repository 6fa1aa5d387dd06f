// Entry of an inference thread: session.run blocks its event loop, so it never runs on the gRPC thread.
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { readModelFolder } from '../models/model-folder.js';
import { DEFAULT_SAMPLING_CHUNK } from '../shared/manifest.js';
import { DecoderGraph, LevelGraphs, openSession, type ExecutionProvider, type OpenedSession } from './onnx-runtime.js';
import { sampleBatch } from './window-sampler.js';
import type { FromThread, ThreadInit, ToThread } from './inference-messages.js';

const init = workerData as ThreadInit;
const port = parentPort!;
const cancel = new Int32Array(init.cancel);
const post = (m: FromThread, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

interface Loaded {
  levels: Map<number, LevelGraphs>;
  /** Tokens per loop-graph run per level (absent: the step graph). */
  chunks: Map<number, number>;
  decoders: Map<number, DecoderGraph>;
  provider: ExecutionProvider;
}

async function load(): Promise<Loaded> {
  const folder = await readModelFolder(init.modelDir);
  const opts = { provider: init.provider, intraOpThreads: init.intraOpThreads };
  // All sessions on one provider: the first session decides, so a partial CUDA fallback cannot mix kernels.
  const open = async (file: string): Promise<OpenedSession['session']> => {
    const s = await openSession(join(folder.dir, file), opts);
    opts.provider = s.provider;
    return s.session;
  };
  const levels = new Map<number, LevelGraphs>();
  const chunks = new Map<number, number>();
  for (const l of init.levels) {
    const lm = folder.manifest.levels[l];
    // The loop graph prefills too, so a worker that uses it does not load the step graph (the weights once in memory).
    const fused = lm.graphs.loop !== undefined && init.samplingChunk !== 0;
    const conditioner = await open(lm.graphs.conditioner.file);
    levels.set(l, fused ? new LevelGraphs(lm, conditioner, undefined, await open(lm.graphs.loop!.file)) : new LevelGraphs(lm, conditioner, await open(lm.graphs.step.file)));
    if (fused) chunks.set(l, init.samplingChunk > 0 ? init.samplingChunk : (lm.samplingChunk ?? DEFAULT_SAMPLING_CHUNK));
  }
  const decoders = new Map<number, DecoderGraph>();
  if (init.decode) {
    for (const d of folder.manifest.vqvae.decoders) {
      decoders.set(d.level, new DecoderGraph(folder.manifest.levels[d.level].hopLength, await open(d.file)));
    }
  }
  return { levels, chunks, decoders, provider: opts.provider };
}

const loaded = load();
loaded.then(
  (m) => post({ type: 'ready', provider: m.provider }),
  (err: Error) => post({ type: 'init-error', message: err.message }),
);

async function handle(msg: ToThread): Promise<void> {
  const { levels, chunks, decoders } = await loaded;
  if (msg.type === 'sample') {
    const graphs = levels.get(msg.batch.level);
    if (!graphs) throw new Error(`level ${msg.batch.level} is not hosted here`);
    const { rows, timing } = await sampleBatch(graphs, msg.batch, {
      samplingChunk: chunks.get(msg.batch.level),
      cancelled: () => Atomics.load(cancel, 0) === msg.id,
      onTokens: (fresh, tokensDone) => post({ type: 'tokens', id: msg.id, fresh, tokensDone }),
    });
    post({ type: 'sampled', id: msg.id, rows, timing }, rows.map((r) => r.buffer as ArrayBuffer));
  } else {
    const decoder = decoders.get(msg.level);
    if (!decoder) throw new Error(`no VQ-VAE decoder for level ${msg.level} here`);
    const t0 = performance.now();
    const full = await decoder.decode(msg.rows);
    const hop = decoder.hopLength;
    const audio = full.map((a) => a.slice(msg.trimStart * hop, a.length - msg.trimEnd * hop));
    post({ type: 'decoded', id: msg.id, audio, seconds: (performance.now() - t0) / 1000 }, audio.map((a) => a.buffer as ArrayBuffer));
  }
}

// One task at a time: the pool never sends a second before the first answers.
port.on('message', (msg: ToThread) => {
  handle(msg).catch((err: Error) => post({ type: 'error', id: msg.id, name: err.name, message: err.message }));
});
