// The `jukebox` command line.
import { Command, InvalidArgumentError as CommanderArgError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ServiceError } from '@grpc/grpc-js';
import { DEFAULT_MODEL_DIR, readModelFolder } from '../models/model-folder.js';
import { planSong, planWork, songSamples, type SegmentLayout } from '../shared/plan.js';
import { validateJobRequest } from '../shared/job-spec.js';
import { analysePlan, relativeStepCost, scheduleBounds } from '../shared/critical-path.js';
import type { JobSpec, JobStart, Manifest, RowLabels } from '../shared/types.js';
import { METAS_SYNTAX, ROW_SYNTAX, parseRowFlag, readMetasFile, rowsSamples } from './row-labels.js';
import { givenTokens, readTokensFile, tokenRows, type TokenLevels } from './start-files.js';
import { resolveLayout } from '../coordinator/coordinator.js';
import { simulate } from '../coordinator/simulation.js';
import { JukeboxWorker } from '../worker/worker-server.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { CoordinatorClient, isTerminal, type JobView, type SubmitRequest } from './coordinator-client.js';
import type { JobState } from '../proto/generated/jukebox/v1/JobState.js';
import { ProgressDisplay } from './progress.js';
import { outputPaths } from './output-paths.js';
import { registerModelsCommand } from './models-command.js';
import { startLocalCluster } from './local-cluster.js';
import { setQuiet } from '../server/log.js';
import { addSecurityOptions, connectCoordinator, coordinatorSecurity, workerServerSecurity, type CoordinatorSecurityFlags, type ServerSecurityFlags } from './security-flags.js';

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n)) throw new CommanderArgError(`${name} must be an integer`);
    return n;
  };
}

function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new CommanderArgError(`${name} must be a positive integer`);
    return n;
  };
}

function num(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new CommanderArgError(`${name} must be a number`);
    return n;
  };
}

/** "0.98" for every level, or "a,b,c" indexed by level (0 = bottom). */
function perLevel(v: string): number[] {
  return v.split(',').map((x) => {
    const n = Number(x);
    if (!Number.isFinite(n) || x.trim() === '') throw new CommanderArgError(`"${v}" must be a number or a comma list of numbers`);
    return n;
  });
}

/** Options given more than once on purpose (each occurrence adds a value); every other one-value option refuses a second. */
const REPEATABLE = new WeakSet<Option>();

/**
 * Makes every single-valued option of `cmd` and its subcommands refuse a second occurrence, which commander
 * would let replace the first silently (`--artist a --artist b`). Variadic options and REPEATABLE ones collect.
 */
function refuseRepeatedOptions(cmd: Command): void {
  for (const option of cmd.options) {
    if (!(option.required || option.optional) || option.variadic || REPEATABLE.has(option)) continue;
    const parse = option.parseArg;
    const key = option.attributeName();
    option.parseArg = <T>(value: string, previous: T): T => {
      // 'cli': an earlier occurrence on this command line set it (a default or $ENV value may be overridden once).
      if (cmd.getOptionValueSource(key) === 'cli') throw new CommanderArgError(`${option.long ?? option.flags} is given more than once; give it once`);
      return parse ? parse(value, previous) : (value as T);
    };
  }
  for (const sub of cmd.commands) refuseRepeatedOptions(sub);
}

/** An option whose every occurrence adds one parsed value to a list. */
function repeatableOption<T>(flags: string, description: string, parse: (value: string) => T): Option {
  const option = new Option(flags, description).argParser((value: string, previous: T[] | undefined): T[] => [...(previous ?? []), parse(value)]);
  REPEATABLE.add(option);
  return option;
}

/** Runs a parser that throws plain Errors as an option parser (commander names the flag and the value). */
function flagParser<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new CommanderArgError((err as Error).message);
    }
  };
}

interface JobFlags {
  /** Required, except with --upsample (the tokens' length). */
  seconds?: number;
  prompt?: Uint8Array;
  promptSeconds?: number;
  continue?: TokenLevels;
  upsample?: TokenLevels;
  seed: string;
  /** Unset: 1, or the number of per-row labels. */
  samples?: number;
  /** Unset: "unknown". */
  artist?: string;
  genre?: string[];
  lyrics?: string;
  row?: RowLabels[];
  metas?: RowLabels[];
  temperature?: number[];
  topK?: number[];
  topP?: number[];
  model: string;
  wavFormat: string;
  mode: string;
  segments?: number[];
  overlap?: number;
  priority: number;
}

function addJobOptions(cmd: Command): Command {
  return cmd
    .option('--seconds <s>', 'song length in seconds (rounded down to the top level hop); with --upsample, default: the tokens\' length', num('--seconds'))
    .addOption(new Option('--prompt <file.wav>', 'primed: continue from this audio (any WAV; resampled to the model\'s rate, encoded at every level)').argParser(flagParser((v) => readFileBytes(v))).conflicts(['continue', 'upsample']))
    .option('--prompt-seconds <s>', 'primed: seconds of --prompt to keep from its start', num('--prompt-seconds'))
    .addOption(new Option('--continue <tokens.json>', 'continue: extend the song of this --tokens-out file to --seconds').argParser(flagParser((v) => readTokensFile(v))).conflicts(['upsample']))
    .addOption(new Option('--upsample <tokens.json>', 'upsample-only: take the top level\'s tokens from this --tokens-out file, sample the levels below').argParser(flagParser((v) => readTokensFile(v))))
    .option('--seed <n>', 'seed: fixes every token', '0')
    .option('--samples <k>', 'sample rows rendered together (default: 1, or the number of --row / --metas rows)', positiveInt('--samples'))
    .option('--artist <name>', 'artist label of every row (default: "unknown")')
    .option('--genre <name...>', 'genre label(s) of every row')
    .option('--lyrics <text|@file>', 'lyrics of every row, or @path to read them from a file')
    .addOption(repeatableOption('--row <labels>', ROW_SYNTAX, flagParser((v) => parseRowFlag(v))).conflicts(['artist', 'genre', 'lyrics']))
    .addOption(new Option('--metas <file.json>', METAS_SYNTAX).argParser(flagParser((v) => readMetasFile(v))).conflicts(['artist', 'genre', 'lyrics', 'row']))
    .option('--temperature <t>', 'temperature, one value or per level "t0,t1,t2" (0 = bottom)', perLevel)
    .option('--top-k <k>', 'top-k (0 = off), one value or per level', perLevel)
    .option('--top-p <p>', 'top-p in (0,1] (1 = off), one value or per level', perLevel)
    .addOption(new Option('--wav-format <f>', 'WAV sample format').choices(['pcm16', 'float32']).default('pcm16'))
    .addOption(new Option('--mode <m>', 'exact (Jukebox\'s own windows) or sharded (levels below the top in parallel segments)').choices(['exact', 'sharded']).default('exact'))
    .option('--segments <n>', 'sharded: segments per level, one count for every split level or "n0,n1" (0 = automatic)', perLevel)
    .option('--overlap <f>', 'sharded: warm-up of each segment as a fraction of n_ctx, in [0, 1]', num('--overlap'))
    .option('--priority <p>', 'share of the workers against other jobs, 1..10', int('--priority'), 0);
}

function readLyrics(v: string | undefined): string {
  if (!v) return '';
  return v.startsWith('@') ? readFileSync(v.slice(1), 'utf8') : v;
}

function readFileBytes(path: string): Uint8Array {
  return readFileSync(path);
}

/** The job's start (primed, continue, upsample-only) as SubmitJobRequest fields; checks the flags that go together. */
function startFields(flags: JobFlags, levels: number): Pick<SubmitRequest, 'prompt' | 'continueFrom' | 'upsample'> {
  if ((flags.prompt === undefined) !== (flags.promptSeconds === undefined)) throw new Error('--prompt and --prompt-seconds go together: give both');
  if (flags.seconds === undefined && flags.upsample === undefined) throw new Error('--seconds is required (it may be left out only with --upsample)');
  if (flags.prompt && flags.promptSeconds !== undefined) return { prompt: { wav: flags.prompt, seconds: flags.promptSeconds } };
  if (flags.continue) return { continueFrom: givenTokens(flags.continue) };
  if (flags.upsample) {
    if (!flags.upsample[levels - 1]) throw new Error(`--upsample: the file has no tokens of the top level (${levels - 1})`);
    return { upsample: givenTokens(flags.upsample, levels - 1) };
  }
  return {};
}

function submitRequest(flags: JobFlags, modelId: string, levels: number): SubmitRequest {
  const start = startFields(flags, levels);
  const pick = (vals: number[] | undefined, l: number): number | undefined => (vals ? (vals.length === 1 ? vals[0] : vals[l]) : undefined);
  for (const [name, vals] of [['--temperature', flags.temperature], ['--top-k', flags.topK], ['--top-p', flags.topP]] as const) {
    if (vals && vals.length !== 1 && vals.length !== levels) throw new Error(`${name}: give one value or ${levels} (one per level)`);
  }
  return {
    model: modelId,
    ...labelFields(flags),
    ...start,
    durationSeconds: flags.seconds ?? 0,
    seed: flags.seed,
    wavFormat: flags.wavFormat,
    sampling: Array.from({ length: levels }, (_, level) => ({
      level,
      temperature: pick(flags.temperature, level),
      topK: pick(flags.topK, level),
      topP: pick(flags.topP, level),
    })),
    mode: flags.mode === 'sharded' ? 'JOB_MODE_SHARDED' : 'JOB_MODE_EXACT',
    segments: segmentsFlag(flags.segments, levels),
    ...(flags.overlap !== undefined ? { segmentOverlap: flags.overlap } : {}),
    priority: flags.priority,
  };
}

/** The labels and sample count: per row from --row or --metas (commander refuses them with the job-wide flags), else job-wide. */
function labelFields(flags: JobFlags): Pick<SubmitRequest, 'artist' | 'genres' | 'lyrics' | 'rows' | 'samples'> {
  const from = flags.row ? '--row' : flags.metas ? '--metas' : undefined;
  const rows = flags.row ?? flags.metas;
  if (rows && from) return { rows, samples: rowsSamples(rows, flags.samples, from) };
  // Given tokens bring their rows: --samples defaults to them.
  const given = flags.continue ?? flags.upsample;
  return { artist: flags.artist ?? 'unknown', genres: flags.genre ?? [], lyrics: readLyrics(flags.lyrics), samples: flags.samples ?? (given ? tokenRows(given) : undefined) ?? 1 };
}

/** --segments: one count for every level below the top, or one per level (level 0 first). */
function segmentsFlag(vals: number[] | undefined, levels: number): number[] {
  if (!vals) return [];
  if (vals.length === 1) return Array.from({ length: levels }, (_, l) => (l === levels - 1 ? 0 : vals[0]));
  return vals;
}

async function watchWithProgress(client: CoordinatorClient, jobId: string, showProgress: boolean): Promise<JobView> {
  const display = new ProgressDisplay();
  let last: JobView | undefined;
  for await (const job of client.watch(jobId)) {
    last = job;
    if (showProgress) display.update(job, isTerminal(job.state));
  }
  return last ?? client.get(jobId);
}

async function saveResults(client: CoordinatorClient, job: JobView, out: string | undefined, tokensOut: string | undefined): Promise<string[]> {
  const written: string[] = [];
  if (out) {
    const paths = outputPaths(out, job.samples);
    for (let i = 0; i < paths.length; i++) {
      await mkdir(dirname(paths[i]), { recursive: true });
      await writeFile(paths[i], await client.fetchAudio(job.jobId, i));
      written.push(paths[i]);
    }
  }
  if (tokensOut) {
    const levels: Record<string, number[][]> = {};
    (await client.fetchTokens(job.jobId)).forEach((rows, level) => (levels[String(level)] = rows));
    await mkdir(dirname(tokensOut), { recursive: true });
    await writeFile(tokensOut, JSON.stringify({ levels }));
    written.push(tokensOut);
  }
  return written;
}

/**
 * Writes a job's audio to `path` as it is decoded (FetchAudio with preview): the header holds the final length, so
 * players read the file while it grows. Fails with the stream (ABORTED when the job fails or is cancelled).
 */
async function playTo(client: CoordinatorClient, jobId: string, sample: number, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const file = await open(path, 'w');
  try {
    for await (const chunk of client.audioChunks(jobId, sample, { preview: true })) await file.write(chunk.data, 0, chunk.data.length, chunk.offset);
  } finally {
    await file.close();
  }
}

function describeError(err: unknown): string {
  const e = err as Partial<ServiceError> & Error;
  return typeof e.code === 'number' && e.details !== undefined ? e.details : e.message;
}

/** `--levels`: "0,1" or "none" (no prior level: a decode-only worker). */
function levelList(value: string): number[] {
  if (value.trim() === 'none') return [];
  const levels = value.split(',').map((v) => v.trim());
  if (levels.some((v) => !/^\d+$/.test(v))) throw new CommanderArgError(`--levels: a comma list of level numbers or "none", got "${value.slice(0, 40)}"`);
  return levels.map(Number);
}

const program = new Command('jukebox')
  .description('Render long songs with Jukebox-style models spread over many workers')
  .showHelpAfterError();

addJobOptions(
  program
    .command('render')
    .description('render a song on this machine: an embedded coordinator and local worker processes')
    .requiredOption('--out <file.wav>', 'output WAV (FILE-1.wav, FILE-2.wav ... with --samples > 1)')
    .option('--workers <w>', 'local worker processes', positiveInt('--workers'), 2)
    .option('--threads <n>', 'inference threads per worker (batches each runs at once)', positiveInt('--threads'), 1)
    .option('--max-batch-rows <n>', 'most rows one worker batch holds', positiveInt('--max-batch-rows'), 16)
    .option('--model <dir>', 'model folder', DEFAULT_MODEL_DIR)
    .option('--tokens-out <file.json>', 'also write every level\'s tokens as JSON')
    .option('--decode-chunk <tokens>', 'bottom-level tokens per decode chunk', positiveInt('--decode-chunk'), 16384)
    .option('--quiet', 'no progress bars')
    .option('--verbose', 'show coordinator and worker logs'),
).action(async (flags: JobFlags & { out: string; workers: number; threads: number; maxBatchRows: number; tokensOut?: string; decodeChunk: number; quiet?: boolean; verbose?: boolean }) => {
  setQuiet(!flags.verbose);
  const model = await readModelFolder(flags.model);
  const req = submitRequest(flags, model.manifest.modelId, model.manifest.levels.length);
  const t0 = performance.now();
  const cluster = await startLocalCluster({ modelDir: model.dir, workers: flags.workers, threadsPerWorker: flags.threads, maxBatchRows: flags.maxBatchRows, decodeChunkTokens: flags.decodeChunk, verbose: flags.verbose });
  const client = new CoordinatorClient(cluster.coordinator.address);
  try {
    const submitted = await client.submit(req);
    const job = await watchWithProgress(client, submitted.jobId, !flags.quiet);
    if (job.state !== 'JOB_STATE_SUCCEEDED') throw new Error(`job ${job.state.replace('JOB_STATE_', '').toLowerCase()}: ${job.error}`);
    const written = await saveResults(client, job, flags.out, flags.tokensOut);
    const seconds = (performance.now() - t0) / 1000;
    const audioSeconds = job.totalSamples / job.sampleRate;
    process.stdout.write(
      `${JSON.stringify({ job: job.jobId, files: written, audioSeconds, wallSeconds: Number(seconds.toFixed(3)), realTimeFactor: Number((seconds / audioSeconds).toFixed(3)) })}\n`,
    );
  } finally {
    client.close();
    await cluster.close();
  }
});

program
  .command('plan')
  .description('print the window plan of a song (and the segments of sharded mode) without rendering it')
  .requiredOption('--seconds <s>', 'song length in seconds', num('--seconds'))
  .option('--model <dir>', 'model folder', DEFAULT_MODEL_DIR)
  .addOption(new Option('--mode <m>', 'exact or sharded').choices(['exact', 'sharded']).default('exact'))
  .option('--segments <n>', 'sharded: segments per level, one count or "n0,n1" (0 = automatic)', perLevel)
  .option('--overlap <f>', 'sharded: warm-up of each segment as a fraction of n_ctx', num('--overlap'))
  .option('--workers <w>', 'workers to model (and, with automatic segments, to plan for)', positiveInt('--workers'), 2)
  .option('--max-batch-rows <n>', 'rows per worker batch, for automatic segments', positiveInt('--max-batch-rows'), 16)
  .option('--given-seconds <s>', 'primed or continued: tokens given at every level for the first S seconds (the prompt, or the earlier song)', num('--given-seconds'))
  .option('--upsample-only', 'upsample-only: the top level is given, only the levels below are sampled')
  .option('--json', 'JSON output (the default; kept for scripts)')
  .action(async (flags: { seconds: number; model: string; mode: string; segments?: number[]; overlap?: number; workers: number; maxBatchRows: number; givenSeconds?: number; upsampleOnly?: boolean }) => {
    setQuiet(true);
    const { manifest } = await readModelFolder(flags.model);
    const spec = validateJobRequest(
      {
        model: manifest.modelId,
        artist: Object.keys(manifest.labels.artists)[0] ?? '',
        genres: [],
        lyrics: '',
        durationSeconds: flags.seconds,
        samples: 1,
        seed: 0,
        sampling: [],
        mode: flags.mode,
        segments: segmentsFlag(flags.segments, manifest.levels.length),
        segmentOverlap: flags.overlap,
      },
      manifest,
    );
    const layout = resolveLayout(spec, manifest, songSamples(manifest, flags.seconds), () => flags.workers * flags.maxBatchRows);
    spec.start = planStart(manifest, flags);
    const plan = planSong(manifest, flags.seconds, layout, spec.start?.givenTokens);
    const work = planWork(plan);
    const model = await modelSpeedup(manifest, spec, layout, flags.workers);
    const out = {
      mode: plan.mode,
      sampleRate: plan.sampleRate,
      totalSamples: plan.totalSamples,
      levels: plan.levels.map((lp, i) => ({
        level: lp.level,
        hopLength: lp.hopLength,
        nCtx: lp.nCtx,
        hop: lp.hop,
        totalTokens: lp.totalTokens,
        overlap: lp.overlap,
        segments: lp.segments.map((sg) => ({ start: sg.start, end: sg.end, ownStart: sg.ownStart, ownEnd: sg.ownEnd, windows: sg.windows.length })),
        windows: lp.windows.map((w) => ({ segment: w.segment, start: w.start, end: w.end, newTokens: w.newTokens })),
        work: work[i],
      })),
      model,
    };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
  });

/** `jukebox plan`'s given tokens: --given-seconds at every level (rounded down to top-level tokens), or the whole top level. */
function planStart(manifest: Manifest, flags: { seconds: number; givenSeconds?: number; upsampleOnly?: boolean }): JobStart | undefined {
  if (flags.givenSeconds !== undefined && flags.upsampleOnly) throw new Error('--given-seconds and --upsample-only do not go together');
  const total = songSamples(manifest, flags.seconds);
  if (flags.upsampleOnly) {
    return { mode: 'upsample', givenTokens: manifest.levels.map((lm, l) => (l === manifest.levels.length - 1 ? total / lm.hopLength : 0)), givenSeconds: total / manifest.sampleRate };
  }
  if (flags.givenSeconds === undefined) return undefined;
  const given = songSamples(manifest, flags.givenSeconds);
  if (!(given > 0 && given < total)) throw new Error(`--given-seconds must give at least one top-level token and be shorter than --seconds, got ${flags.givenSeconds}`);
  return { mode: 'continue', givenTokens: manifest.levels.map((lm) => given / lm.hopLength), givenSeconds: given / manifest.sampleRate };
}

/**
 * The plan's modelled makespan on `workers` workers (one window at a time, a step costing layers × width²): the
 * real dispatcher on simulated workers, against Jukebox's level-after-level order on one worker.
 */
async function modelSpeedup(manifest: Manifest, spec: JobSpec, layout: SegmentLayout | undefined, workers: number): Promise<object> {
  const stepMs = manifest.levels.map((lm) => relativeStepCost(lm));
  const serial = analysePlan(planSong(manifest, spec.durationSeconds, undefined, spec.start?.givenTokens), stepMs).work;
  const fixed = layout ? { ...spec, segments: layout.segments } : spec;
  const r = await simulate({ manifest, workers: Array.from({ length: workers }, () => ({ stepMs, levels: manifest.levels.map((l) => l.level) })), jobs: [{ spec: fixed }], stepCost: stepMs });
  const { job, makespanMs } = r.jobs[0];
  const bounds = scheduleBounds(analysePlan(job.plan, stepMs), workers);
  return {
    workers,
    assumptions: 'each worker runs one window at a time; a step costs layers × width² (relative units); decoding not counted',
    levelAfterLevelOnOneWorker: Number(serial.toFixed(2)),
    makespan: Number(makespanMs.toFixed(2)),
    lowerBound: Number(bounds.simple.toFixed(2)),
    speedup: Number((serial / makespanMs).toFixed(2)),
  };
}

program
  .command('worker')
  .description('serve model levels over gRPC')
  .option('--model <dir>', 'model folder', DEFAULT_MODEL_DIR)
  .option('--host <host>', 'address to bind (0.0.0.0: every interface; see README "Security")', '127.0.0.1')
  .option('--port <port>', 'gRPC port (0 = any free port)', int('--port'), 50052)
  .option('--metrics-port <port>', 'Prometheus /metrics port (0 = any free port, -1 = off)', int('--metrics-port'), 9465)
  .option('--levels <list>', 'levels to host, e.g. "0,1", or "none" for a decode-only worker (default: all)', levelList)
  .option('--no-decode', 'do not host the VQ-VAE decoders')
  .option('--drain-seconds <s>', 'on SIGTERM, how long calls in flight may finish before they are cut (keep under the pod\'s grace period)', positiveInt('--drain-seconds'), 60)
  .option('--threads <n>', 'inference threads (batches at once)', positiveInt('--threads'), 1)
  .option('--max-batch-rows <n>', 'most rows one batch holds (windows of any jobs sampled together)', positiveInt('--max-batch-rows'), 16)
  .option('--max-decode-tokens <n>', "most tokens per row one Decode may carry (default: 16384 + 2 · the decoder's margin, a default coordinator's --decode-chunk)", positiveInt('--max-decode-tokens'))
  .option('--batch-bucket <n>', 'pad every batch to n rows (0 = off; default: --max-batch-rows on CUDA, off on CPU)', int('--batch-bucket'))
  .option('--intra-op-threads <n>', 'ONNX Runtime threads per session', positiveInt('--intra-op-threads'), 1)
  .option('--sampling-chunk <n>', "tokens per run of a level's fused loop graph (0 = the step graph, one run per token; default: the manifest's)", int('--sampling-chunk'))
  .addOption(new Option('--provider <p>', 'execution provider').choices(['cpu', 'cuda']).default('cpu'))
  .addOption(
    new Option('--precision <p>', "graph set: the model's float16 graphs (fp16) or float32 ones; auto = fp16 on CUDA where the model has them (fp16 on CPU is for tests only)")
      .choices(['auto', 'fp32', 'fp16'])
      .default('auto'),
  )
  .option('--announce', 'print {"listening": address} on stdout once serving')
  .option('--nats <url>', 'NATS server URL(s), comma-separated: announce this worker there (heartbeats) for coordinators to discover')
  .option('--advertise <host:port>', 'address coordinators dial, announced over NATS (needed with --nats when --host is 0.0.0.0)')
  .option('--otlp-endpoint <url>', 'send OpenTelemetry traces (OTLP/HTTP, e.g. http://collector:4318/v1/traces); default $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else off', process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  .action(
    async (flags: { model: string; host: string; port: number; metricsPort: number; levels?: number[]; drainSeconds: number; decode: boolean; threads: number; maxBatchRows: number; maxDecodeTokens?: number; batchBucket?: number; intraOpThreads: number; samplingChunk?: number; provider: 'cpu' | 'cuda'; precision: 'auto' | 'fp32' | 'fp16'; announce?: boolean; nats?: string; advertise?: string; otlpEndpoint?: string } & ServerSecurityFlags) => {
      const worker = await JukeboxWorker.start({
        modelDir: flags.model,
        host: flags.host,
        port: flags.port,
        metricsPort: flags.metricsPort,
        levels: flags.levels,
        drainMs: flags.drainSeconds * 1000,
        decode: flags.decode,
        threads: flags.threads,
        maxBatchRows: flags.maxBatchRows,
        maxDecodeTokens: flags.maxDecodeTokens,
        batchBucket: flags.batchBucket,
        intraOpThreads: flags.intraOpThreads,
        samplingChunk: flags.samplingChunk,
        provider: flags.provider,
        precision: flags.precision,
        nats: flags.nats,
        advertise: flags.advertise,
        tracing: { endpoint: flags.otlpEndpoint },
        security: workerServerSecurity(flags),
        healthPort: flags.healthPort,
        metricsHost: flags.metricsHost,
      });
      if (flags.announce) process.stdout.write(`${JSON.stringify({ listening: worker.address, metricsPort: worker.metricsPort, healthPort: worker.healthPort })}\n`);
      const stop = (): void => {
        void worker.close().then(() => process.exit(0));
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
    },
  );

program
  .command('coordinator')
  .description('serve the coordinator over gRPC')
  .option('--workers <list>', 'worker addresses, comma-separated host:port (with --nats, workers that announce themselves join them)', '')
  .option('--nats <url>', 'NATS server URL(s): discover workers by heartbeat and keep job state in JetStream, so jobs survive restarts')
  .option('--otlp-endpoint <url>', 'send OpenTelemetry traces (OTLP/HTTP, e.g. http://collector:4318/v1/traces); default $OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, else off', process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
  .option('--coordinator-id <name>', 'name on job leases; a restart under the same name takes its jobs back at once (default: host:port)')
  .option('--lease-ttl <ms>', 'a job lease lasts this long without renewal; a standby takes over after it', positiveInt('--lease-ttl'), 10000)
  .option('--retention <seconds>', 'JetStream: drop job records, tokens and audio older than this (0 = until the job is dropped)', int('--retention'), 0)
  .option('--store-max-bytes <bytes>', 'JetStream: most bytes each bucket or stream holds (-1 = unlimited)', int('--store-max-bytes'), -1)
  .option('--model <dir...>', 'model folder(s) to accept jobs for', [DEFAULT_MODEL_DIR])
  .option('--host <host>', 'address to bind (0.0.0.0: every interface; see README "Security")', '127.0.0.1')
  .option('--port <port>', 'gRPC port', int('--port'), 50051)
  .option('--metrics-port <port>', 'Prometheus /metrics port (-1 = off)', int('--metrics-port'), 9464)
  .option('--decode-chunk <tokens>', 'bottom-level tokens per decode chunk', positiveInt('--decode-chunk'), 16384)
  .option('--max-jobs <n>', 'unfinished jobs accepted before SubmitJob answers RESOURCE_EXHAUSTED', positiveInt('--max-jobs'), 64)
  .option('--max-rows <n>', 'unfinished sample rows accepted before SubmitJob answers RESOURCE_EXHAUSTED', positiveInt('--max-rows'), 256)
  .option('--announce', 'print {"listening": address} on stdout once serving')
  .action(async (flags: { workers: string; nats?: string; otlpEndpoint?: string; coordinatorId?: string; leaseTtl: number; retention: number; storeMaxBytes: number; model: string[]; host: string; port: number; metricsPort: number; decodeChunk: number; maxJobs: number; maxRows: number; announce?: boolean } & CoordinatorSecurityFlags) => {
    const workers = flags.workers.split(',').filter(Boolean);
    if (workers.length === 0 && !flags.nats) program.error('error: give --workers host:port,... or --nats URL (or both)');
    const c = await Coordinator.start({
      modelDirs: flags.model,
      workers,
      nats: flags.nats,
      coordinatorId: flags.coordinatorId,
      leaseTtlMs: flags.leaseTtl,
      tracing: { endpoint: flags.otlpEndpoint },
      natsStore: { maxAgeMs: flags.retention * 1000, ...(flags.storeMaxBytes > 0 ? { maxBytes: flags.storeMaxBytes } : {}) },
      host: flags.host,
      port: flags.port,
      metricsPort: flags.metricsPort,
      decodeChunkTokens: flags.decodeChunk,
      limits: { maxPendingJobs: flags.maxJobs, maxPendingRows: flags.maxRows },
      ...coordinatorSecurity(flags),
      healthPort: flags.healthPort,
      metricsHost: flags.metricsHost,
    });
    if (flags.announce) process.stdout.write(`${JSON.stringify({ listening: c.address, metricsPort: c.metricsPort, healthPort: c.healthPort })}\n`);
    const stop = (): void => {
      void c.close().then(() => process.exit(0));
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

const COORDINATOR_FLAG = ['--coordinator <address>', 'coordinator address', process.env.JUKEBOX_COORDINATOR ?? '127.0.0.1:50051'] as const;

addJobOptions(
  program
    .command('submit')
    .description('submit a job to a running coordinator; prints its id')
    .option(...COORDINATOR_FLAG)
    .option('--model <id>', 'model id on the coordinator', 'tiny')
    .option('--levels <n>', 'levels of the model (for per-level sampling flags)', int('--levels'), 3)
    .option('--wait', 'watch until it ends'),
).action(async (flags: JobFlags & { coordinator: string; levels: number; wait?: boolean }) => {
  const req = submitRequest(flags, flags.model, flags.levels);
  const client = connectCoordinator(flags);
  try {
    const job = await client.submit(req);
    process.stdout.write(`${job.jobId}\n`);
    if (flags.wait) {
      const end = await watchWithProgress(client, job.jobId, true);
      if (end.state !== 'JOB_STATE_SUCCEEDED') process.exitCode = 1;
    }
  } finally {
    client.close();
  }
});

program
  .command('watch <jobId>')
  .description('show a job\'s progress until it ends')
  .option(...COORDINATOR_FLAG)
  .option('--play-to <file.wav>', 'write the audio to FILE.wav as it is decoded (a WAV that grows while the job runs)')
  .option('--sample <k>', 'with --play-to: the sample row, 0-based', int('--sample'), 0)
  .action(async (jobId: string, flags: { coordinator: string; playTo?: string; sample: number }) => {
    const client = connectCoordinator(flags);
    try {
      const playing = flags.playTo ? playTo(client, jobId, flags.sample, flags.playTo) : undefined;
      // Awaited below; handled now so that a failure while the watch runs is not an unhandled rejection.
      playing?.catch(() => undefined);
      const job = await watchWithProgress(client, jobId, true);
      if (playing) await playing;
      if (job.error) process.stderr.write(`${job.error}\n`);
      if (job.state !== 'JOB_STATE_SUCCEEDED') process.exitCode = 1;
    } finally {
      client.close();
    }
  });

program
  .command('fetch <jobId>')
  .description('download a finished job\'s audio (and tokens)')
  .option(...COORDINATOR_FLAG)
  .option('--out <file.wav>', 'output WAV (FILE-1.wav ... for several samples)')
  .option('--tokens-out <file.json>', 'write every level\'s tokens as JSON')
  .action(async (jobId: string, flags: { coordinator: string; out?: string; tokensOut?: string }) => {
    if (!flags.out && !flags.tokensOut) throw new Error('give --out and/or --tokens-out');
    const client = connectCoordinator(flags);
    try {
      const job = await client.get(jobId);
      const written = await saveResults(client, job, flags.out, flags.tokensOut);
      process.stdout.write(`${written.join('\n')}\n`);
    } finally {
      client.close();
    }
  });

program
  .command('cancel <jobId>')
  .description('cancel a job')
  .option(...COORDINATOR_FLAG)
  .action(async (jobId: string, flags: { coordinator: string }) => {
    const client = connectCoordinator(flags);
    try {
      const job = await client.cancel(jobId);
      process.stdout.write(`${job.jobId} ${job.state.replace('JOB_STATE_', '')}\n`);
    } finally {
      client.close();
    }
  });

program
  .command('list')
  .description('list jobs, oldest first')
  .option(...COORDINATOR_FLAG)
  .option('--state <state...>', 'only jobs in these states (queued, running, decoding, succeeded, failed, cancelled)')
  .option('--json', 'JSON output')
  .action(async (flags: { coordinator: string; json?: boolean; state?: string[] }) => {
    const client = connectCoordinator(flags);
    try {
      const states = (flags.state ?? []).map((s) => `JOB_STATE_${s.toUpperCase()}` as JobState);
      const jobs = await client.list({ states });
      if (flags.json) process.stdout.write(`${JSON.stringify(jobs, null, 2)}\n`);
      else
        for (const j of jobs) {
          process.stdout.write(`${j.jobId}  ${j.state.replace('JOB_STATE_', '').padEnd(9)}  ${j.model}  ${j.durationSeconds}s x${j.samples}  seed ${j.seed}  ${Math.floor(j.progress * 100)}%\n`);
        }
    } finally {
      client.close();
    }
  });

registerModelsCommand(program);
addSecurityOptions(program);
refuseRepeatedOptions(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`jukebox: ${describeError(err)}\n`);
  process.exit(1);
});
