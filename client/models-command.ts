// `jukebox models check DIR`: validates a model folder (manifest, contract version, every graph file and its
// sha256) and prints what the model is: levels, conditioning, vocabularies and decoder margins.
import type { Command } from 'commander';
import { levelGraphList, modelFiles, readModelFolder, verifyModelFiles, type ModelFolder } from '../models/model-folder.js';
import { CONTRACT_VERSION, DEFAULT_SAMPLING_CHUNK } from '../shared/manifest.js';
import type { LevelManifest, Manifest } from '../shared/types.js';
import { formatSecondsUp } from '../shared/plan.js';
import type { ModelInfo__Output } from '../proto/generated/jukebox/v1/ModelInfo.js';
import { connectCoordinator } from './security-flags.js';

/**
 * Reads and verifies a model folder: the manifest against the contract (this build speaks version
 * CONTRACT_VERSION), then every graph and external weight file against its sha256. Throws (ManifestError)
 * naming the field or the file.
 */
export async function checkModelFolder(dir: string): Promise<ModelFolder> {
  const folder = await readModelFolder(dir);
  await verifyModelFiles(folder);
  return folder;
}

function distinct(ids: Record<string, number>): number {
  return new Set(Object.values(ids)).size;
}

function conditioningText(l: LevelManifest): string {
  const c = l.conditioning;
  const parts: string[] = [];
  if (c.labels) parts.push('artist/genre');
  if (c.timing) parts.push('timing');
  if (c.lyrics !== 'none') parts.push(`lyrics ${c.lyrics} (${c.lyricTokens} chars/window)`);
  if (c.upper) parts.push(`upper level ${l.level + 1}`);
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function seconds(samples: number, sampleRate: number): string {
  return `${(samples / sampleRate).toFixed(2)} s`;
}

/** The report `models check` prints for a verified folder. */
export function describeModel(folder: ModelFolder): string {
  const m: Manifest = folder.manifest;
  const { labels } = m;
  const graphs = [...m.levels.flatMap(levelGraphList), ...m.vqvae.decoders, ...(m.vqvae.encoders ?? [])];
  const external = modelFiles(m).length - graphs.length;
  const out: string[] = [];
  out.push(`model ${m.modelId}: OK (contract version ${m.contractVersion}, ${m.sampleRate} Hz)`);
  out.push(`folder ${folder.dir}`);
  out.push(`manifest sha256 ${folder.hash}`);
  out.push(`files: ${graphs.length} graphs${external > 0 ? ` and ${external} external weight files` : ''} present, sha256 matches the manifest`);
  out.push(
    `labels ${labels.version}: ${Object.keys(labels.artists).length} artist names (${distinct(labels.artists)} ids), ` +
      `${Object.keys(labels.genres).length} genre ${labels.version === 'v2' ? 'words' : 'names'} (${distinct(labels.genres)} ids), ` +
      `${labels.maxGenreWords} genre slot${labels.maxGenreWords === 1 ? '' : 's'}; songs ${labels.minDurationSeconds}..${labels.maxDurationSeconds} s`,
  );
  out.push(
    m.lyrics === undefined
      ? 'lyrics: none'
      : `lyrics: ${Array.from(m.lyrics.vocab).length} characters (ids 1..${Array.from(m.lyrics.vocab).length}, 0 = padding), at most ${m.lyrics.maxChars} per job`,
  );
  out.push('levels (0 = bottom):');
  for (const l of m.levels) {
    const hop = Math.floor(l.hopFraction * l.nCtx);
    out.push(
      `  level ${l.level}: hop length ${l.hopLength}, n_ctx ${l.nCtx} (${seconds(l.nCtx * l.hopLength, m.sampleRate)}), ` +
        `hop ${hop} tokens (fraction ${l.hopFraction}), codebook ${l.codebookSize}` +
        (l.vocabOffset > 0 ? ` (+${l.vocabOffset} lyric ids)` : ''),
    );
    out.push(
      `    transformer: width ${l.width}, ${l.layers} layers, ${l.heads} heads x headDim ${l.headDim}, prefill chunk ${l.prefillChunk}; ` +
        `label vector ${l.labelLength}`,
    );
    out.push(`    conditioning: ${conditioningText(l)}`);
    out.push(`    graphs: ${l.graphs.conditioner.file}, ${l.graphs.step.file}${l.graphs.loop ? `, ${l.graphs.loop.file} (fused, ${l.samplingChunk ?? DEFAULT_SAMPLING_CHUNK} tokens per run)` : ''}`);
    const h = l.graphs.fp16;
    if (h) out.push(`    fp16 graphs: ${h.conditioner.file}, ${h.step.file}${h.loop ? `, ${h.loop.file}` : ''}`);
  }
  out.push('decoders:');
  for (const d of m.vqvae.decoders) {
    const hopLength = m.levels[d.level].hopLength;
    out.push(`  level ${d.level}: ${d.file}, margin ${d.marginTokens} tokens (${d.marginTokens * hopLength} samples each side)`);
  }
  // Encoders: what primed jobs need (a model without them serves every other mode).
  out.push(m.vqvae.encoders?.length ? `encoders: ${m.vqvae.encoders.map((e) => e.file).join(', ')}` : 'encoders: none (no primed jobs)');
  return out.join('\n');
}

/** `models labels`: what each model a coordinator serves accepts, as ListModels answers. */
export function describeLabels(models: ModelInfo__Output[], search: string): string {
  const out: string[] = [];
  for (const m of models) {
    const filtered = search !== '' ? ` matching "${search}"` : '';
    out.push(`model ${m.model} (${m.ready ? 'ready' : 'not ready: a level or decoding has no worker'}, labels ${m.labelsVersion}, ${m.sampleRate} Hz)`);
    out.push(`  songs ${formatSecondsUp(m.minDurationSeconds)} up to (not including) ${m.maxDurationSeconds} s; modes ${m.modes.map((x) => x.replace('JOB_MODE_', '').toLowerCase()).join(', ')}`);
    out.push(`  lyrics: ${m.lyrics ? `at most ${m.lyricsMaxChars} characters` : 'none'}; at most ${m.maxGenreWords} genre word${m.maxGenreWords === 1 ? '' : 's'}`);
    out.push(`  levels: ${m.levels.map((l) => `${l.level} (hop ${l.hopLength}, window ${l.windowSeconds.toFixed(2)} s${l.lyrics ? ', lyrics' : ''})`).join(', ')}`);
    out.push(`  artists${filtered}: ${m.artists.length} of ${m.artistsTotal}`);
    for (const a of m.artists) out.push(`    ${a}`);
    out.push(`  genres${filtered}: ${m.genres.length} of ${m.genresTotal}`);
    for (const g of m.genres) out.push(`    ${g}`);
  }
  return out.join('\n');
}

/** Adds `models check DIR` and `models labels [MODEL]` to the program. */
export function registerModelsCommand(program: Command): void {
  const models = program.command('models').description('inspect model folders, and the models a coordinator serves');
  models
    .command('labels [model]')
    .description('list the artists and genres (searchable), lyrics limit, song lengths, levels and modes of the models a coordinator serves')
    .option('--coordinator <address>', 'coordinator address', process.env.JUKEBOX_COORDINATOR ?? '127.0.0.1:50051')
    .option('--search <text>', 'only artists and genres whose name holds TEXT (case-insensitive)', '')
    .option('--json', 'JSON output (ListModels as is)')
    .action(async (model: string | undefined, flags: { coordinator: string; search: string; json?: boolean }) => {
      const client = connectCoordinator(flags);
      try {
        const found = await client.listModels({ model: model ?? '', search: flags.search });
        process.stdout.write(`${flags.json ? JSON.stringify(found, null, 2) : describeLabels(found, flags.search)}\n`);
      } finally {
        client.close();
      }
    });
  models
    .command('check <dir>')
    .description(`validate a model folder (manifest, contract version ${CONTRACT_VERSION}, graph files and sha256) and print its levels`)
    .action(async (dir: string) => {
      let folder: ModelFolder;
      try {
        folder = await checkModelFolder(dir);
      } catch (err) {
        process.stderr.write(`jukebox models check: ${dir} is not a usable model folder: ${(err as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      process.stdout.write(`${describeModel(folder)}\n`);
    });
}
