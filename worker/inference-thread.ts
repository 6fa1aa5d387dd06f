// Entry of an inference thread: session.run blocks its event loop, so it never runs on the gRPC thread.
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { readModelFolder } from '../models/model-folder.js';
import { DEFAULT_SAMPLING_CHUNK, levelGraphFiles } from '../shared/manifest.js';
import { DecoderGraph, EncoderGraph, LevelGraphs, openSession, type ExecutionProvider, type OpenedSession, type Precision } from './onnx-runtime.js';
import { sampleBatch } from './window-sampler.js';
import type { FromThread, ThreadInit, ToThread } from './inference-messages.js';
import type { LevelGraphFiles, LevelManifest } from '../shared/types.js';

const init = workerData as ThreadInit;
const port = parentPort!;
const cancel = new Int32Array(init.cancel);
const post = (m: FromThread, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

interface Loaded {
  levels: Map<number, LevelGraphs>;
  /** Tokens per loop-graph run per level (absent: the step graph). */
  chunks: Map<number, number>;
  decoders: Map<number, DecoderGraph>;
  /** Opened on first use: few jobs are primed, and a session being created cannot be stopped (see close). */
  encoder: (level: number) => Promise<EncoderGraph | undefined>;
  provider: ExecutionProvider;
  precision: Precision;
}

async function load(): Promise<Loaded> {
  const folder = await readModelFolder(init.modelDir);
  const opts = { provider: init.provider, intraOpThreads: init.intraOpThreads };
  // All sessions on one provider: the first session decides, so a partial CUDA fallback cannot mix kernels.
  const open = async (file: string, loopGraph = false): Promise<OpenedSession['session']> => {
    const s = await openSession(join(folder.dir, file), { ...opts, loopGraph });
    opts.provider = s.provider;
    return s.session;
  };
  const hosted = init.levels.map((l) => folder.manifest.levels[l]);
  // auto: the float16 graphs on CUDA only. ORT's CPU provider has no float16 MatMul/Add/...: it would compute them
  // in float32 between casts, neither faithful float16 nor faster.
  const asked = init.precision ?? 'auto';
  const auto = asked === 'auto';
  let precision: Precision = asked !== 'auto' ? asked : opts.provider === 'cuda' && hosted.every((lm) => lm.graphs.fp16) ? 'fp16' : 'fp32';
  const levels = new Map<number, LevelGraphs>();
  const chunks = new Map<number, number>();
  for (const lm of hosted) {
    let conditioner = await open(graphSet(lm, precision).conditioner.file);
    if (auto && precision === 'fp16' && opts.provider === 'cpu') {
      // CUDA was asked for but is unavailable (the first session decides): back to float32, as auto means.
      precision = 'fp32';
      conditioner = await open(graphSet(lm, precision).conditioner.file);
    }
    const files = graphSet(lm, precision);
    // The loop graph prefills too, so a worker that uses it does not load the step graph (the weights once in memory).
    const fused = files.loop !== undefined && init.samplingChunk !== 0;
    levels.set(lm.level, fused ? new LevelGraphs(lm, conditioner, undefined, await open(files.loop!.file, true)) : new LevelGraphs(lm, conditioner, await open(files.step.file)));
    if (fused) chunks.set(lm.level, init.samplingChunk > 0 ? init.samplingChunk : (lm.samplingChunk ?? DEFAULT_SAMPLING_CHUNK));
  }
  const decoders = new Map<number, DecoderGraph>();
  // A worker that decodes also encodes (primed jobs' prompts) when the model has encoders: both are the VQ-VAE.
  const encoders = new Map<number, Promise<EncoderGraph>>();
  const encoder = (level: number): Promise<EncoderGraph | undefined> => {
    const e = init.decode ? folder.manifest.vqvae.encoders?.find((x) => x.level === level) : undefined;
    if (!e) return Promise.resolve(undefined);
    let opened = encoders.get(level);
    if (!opened) {
      opened = open(e.file).then((s) => new EncoderGraph(e.hopLength, s));
      opened.catch(() => encoders.delete(level)); // a failed open is tried again by the next encode
      encoders.set(level, opened);
    }
    return opened;
  };
  if (init.decode) {
    for (const d of folder.manifest.vqvae.decoders) {
      decoders.set(d.level, new DecoderGraph(folder.manifest.levels[d.level].hopLength, await open(d.file)));
    }
  }
  return { levels, chunks, decoders, encoder, provider: opts.provider, precision };
}

function graphSet(lm: LevelManifest, precision: Precision): LevelGraphFiles {
  const files = levelGraphFiles(lm, precision);
  if (!files) throw new Error(`level ${lm.level} has no ${precision} graphs in the manifest (graphs.fp16)`);
  return files;
}

const loaded = load();
loaded.then(
  (m) => post({ type: 'ready', provider: m.provider, precision: m.precision }),
  (err: Error) => post({ type: 'init-error', message: err.message }),
);

async function handle(msg: ToThread): Promise<void> {
  const { levels, chunks, decoders, encoder: encoderOf } = await loaded;
  if (msg.type === 'sample') {
    const graphs = levels.get(msg.batch.level);
    if (!graphs) throw new Error(`level ${msg.batch.level} is not hosted here`);
    const { rows, timing } = await sampleBatch(graphs, msg.batch, {
      samplingChunk: chunks.get(msg.batch.level),
      cancelled: () => Atomics.load(cancel, 0) === msg.id,
      onTokens: (fresh, tokensDone) => post({ type: 'tokens', id: msg.id, fresh, tokensDone }),
    });
    post({ type: 'sampled', id: msg.id, rows, timing }, rows.map((r) => r.buffer as ArrayBuffer));
  } else if (msg.type === 'encode') {
    const encoder = await encoderOf(msg.level);
    if (!encoder) throw new Error(`no VQ-VAE encoder for level ${msg.level} here`);
    const t0 = performance.now();
    const tokens = await encoder.encode(msg.rows);
    post({ type: 'encoded', id: msg.id, tokens, seconds: (performance.now() - t0) / 1000 }, tokens.map((t) => t.buffer as ArrayBuffer));
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
