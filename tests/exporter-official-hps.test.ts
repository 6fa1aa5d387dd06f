// The exporter given official hyperparameters as the official code takes them (tools/export_jukebox.py --hps with
// "hparams" set names and "overrides" per component, resolved as setup_hparams resolves them), for a model of no
// released size: tools/configs/small-official-sets.json (the `vqvae` set made small, `small_upsampler` on levels 0
// and 1, a `small_sep_enc_dec_prior` top trained with all_fp16, overrides copied from train.py runs).
// tests/fixtures/make-small-checkpoints.py saves the tensors of its `--random-seed 1` export as train.py saves
// checkpoints (logs/<name>/checkpoint_latest.pth.tar / checkpoint_step_<N>.pth.tar, {hps, model, opt, step}).
// The export from those files must be usable (models check, a render), give the random export's graphs (byte for
// byte where the checkpoint weights are fp32), list the ignored training names on one line, and an entry it cannot
// use must fail with one line naming the set or the name. With JUKEBOX_SRC (a checkout of openai/jukebox, as
// tools/check_official.py takes it) our resolution is compared with the official setup_hparams.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { readModelFolder } from '../models/model-folder.js';
import { planSong } from '../shared/plan.js';
import type { Manifest } from '../shared/types.js';
import { manifestStructure as structure, writeOfficialFiles } from './helpers/official-files.js';
import { PYTHON, requireTorch, runPython } from './helpers/python.js';

const run = promisify(execFile);
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'jukebox.js');
const EXPORTER = join(ROOT, 'tools', 'export_jukebox.py');
const MAKE_CHECKPOINTS = join(ROOT, 'tests', 'fixtures', 'make-small-checkpoints.py');
const HPS = join(ROOT, 'tools', 'configs', 'small-official-sets.json');
const SEED = '1';

interface Entry {
  hparams: string;
  overrides: Record<string, unknown>;
  checkpoint: string;
}
interface HpsFile {
  vqvae: Entry;
  priors: Entry[];
}

let work = '';
let idsDir = '';

before(() => {
  requireTorch();
  work = mkdtempSync(join(tmpdir(), 'jukebox-exporter-official-hps-'));
  // Official-format id files (v3 ids below the config's y_bins [10, 16]) and a stand-in text_processor.py.
  idsDir = writeOfficialFiles(work);
});

after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function exportArgs(hps: string, source: string[], out: string): string[] {
  return [EXPORTER, '--hps', hps, ...source, '--ids', idsDir, '--out', out];
}


test('a small non-released model from official set names and train.py checkpoints: usable, the random export\'s graphs', async (t) => {
  const spec = JSON.parse(readFileSync(HPS, 'utf8')) as HpsFile;
  const ckpt = join(work, 'ckpt');
  const { stdout } = await runPython([MAKE_CHECKPOINTS, '--hps', HPS, '--random-seed', SEED, '--out', ckpt], 'make-small-checkpoints.py');
  const report = JSON.parse(stdout.trim().split('\n').pop()!) as { files: Record<string, string>; fp16Tensors: number };
  const paths = [spec.vqvae, ...spec.priors].map((e) => join(ckpt, e.checkpoint));
  for (const p of paths) assert.ok(existsSync(p), `train.py layout: ${p}`);
  assert.ok(report.fp16Tensors > 0, 'the all_fp16 top prior holds fp16 weights');
  // The dict the official save_checkpoint writes, with the run's hps (restore_vqvae and all).
  const { stdout: layout } = await runPython(['-c', [
    'import sys, torch',
    'c = torch.load(sys.argv[1])',
    'print(sorted(c), c["hps"]["name"], c["hps"]["levels"], c["hps"]["restore_vqvae"])',
  ].join('\n'), paths[3]], 'read a checkpoint');
  assert.equal(layout.trim(), "['hps', 'model', 'opt', 'step'] small_prior 3 logs/small_vqvae/checkpoint_step_20001.pth.tar");

  const fromCkpt = join(work, 'model-ckpt');
  const { stderr: log } = await runPython(exportArgs(HPS, ['--checkpoints', ckpt], fromCkpt), 'export from checkpoints');
  for (const p of paths) assert.ok(log.includes(p), `the exporter loaded ${p}:\n${log}`);
  assert.doesNotMatch(log, /random/i, 'nothing random in a checkpoint export');
  // One line lists the overrides that change no graph, per component; names a graph depends on are not in it.
  const ignored = log.split('\n').filter((l) => l.includes('ignored'));
  assert.equal(ignored.length, 1, log);
  for (const name of ['vqvae: name', 'restore_vqvae', 'sample_length', 'audio_files_dir', 'weight_decay', 'lr_use_linear_decay', 'epochs']) {
    assert.ok(ignored[0].includes(name), `lists ${name}: ${ignored[0]}`);
  }
  for (const name of ['n_ctx', 'emb_width', 'levels', 'level', 'prime_width', 'y_bins']) {
    assert.ok(!ignored[0].split(/[:;,] /).includes(name), `does not list ${name}: ${ignored[0]}`);
  }

  const random = join(work, 'model-random');
  await runPython(exportArgs(HPS, ['--random-seed', SEED], random), 'random export');

  try {
    const { stdout: check } = await run(process.execPath, [BIN, 'models', 'check', fromCkpt], { timeout: 60_000 });
    assert.match(check, /: OK \(contract version/);
  } catch (err) {
    const e = err as Error & { stderr?: string };
    assert.fail(`jukebox models check ${fromCkpt} failed:\n${e.stderr ?? ''}\n${e.message}`);
  }

  // What the set names resolve to: v3 labels, a lyric encoder on the top, 16 kHz, three levels of n_ctx 128.
  const ck = (await readModelFolder(fromCkpt)).manifest;
  const rnd = (await readModelFolder(random)).manifest;
  assert.equal(ck.sampleRate, 16000);
  assert.equal(ck.labels.version, 'v3');
  assert.equal(ck.levels.length, 3);
  assert.equal(ck.vqvae.decoders.length, 3);
  assert.equal(ck.vqvae.encoders?.length, 3);
  // The upsamplers and the VQ-VAE (fp32 in the checkpoints) byte for byte as the random export; the top's graphs
  // differ only by its fp16 weights, kept fp16.
  assert.deepEqual(structure(ck, [2]), structure(rnd, [2]), 'manifests equal but for the top level graph hashes');
  for (const kind of ['conditioner', 'step'] as const) {
    const a = statSync(join(fromCkpt, ck.levels[2].graphs[kind].file)).size;
    const b = statSync(join(random, rnd.levels[2].graphs[kind].file)).size;
    assert.ok(a < b, `level2.${kind}: ${a} bytes from fp16 checkpoints, ${b} bytes fp32`);
  }
  assert.match(log, /level 2 step: [1-9]\d* fp16 weight tensors kept in fp16/);

  const wav = join(work, 'ckpt.wav');
  let renderOut: string;
  try {
    ({ stdout: renderOut } = await run(process.execPath, [BIN, 'render', '--model', fromCkpt, '--seconds', '2', '--workers', '1',
      '--quiet', '--seed', '5', '--out', wav, '--artist', 'Ella Fitzgerald', '--genre', 'Jazz', '--lyrics', 'Hello tiny world'],
    { timeout: 120_000, maxBuffer: 16 << 20 }));
  } catch (err) {
    const e = err as Error & { stderr?: string };
    assert.fail(`jukebox render from the checkpoint export failed:\n${e.stderr ?? ''}\n${e.message}`);
  }
  const data = readFileSync(wav);
  assert.equal(data.toString('ascii', 0, 4), 'RIFF');
  assert.equal((data.length - 44) / 2, planSong(ck, 2).totalSamples, 'pcm16 mono samples');
  t.diagnostic(`render ${(JSON.parse(renderOut.trim().split('\n').pop()!) as { wallSeconds: number }).wallSeconds} s`);
});

/** The config with `edit` applied, exported (random weights): it must fail with one line naming `names`. */
async function failsNaming(what: string, edit: (s: HpsFile) => void, names: string[]): Promise<void> {
  const spec = JSON.parse(readFileSync(HPS, 'utf8')) as HpsFile;
  edit(spec);
  const tag = what.replace(/\W+/g, '-');
  const file = join(work, `hps-${tag}.json`);
  writeFileSync(file, JSON.stringify(spec));
  const out = join(work, `model-${tag}`);
  let failed: { code: number; stderr: string } | undefined;
  try {
    await run(PYTHON, exportArgs(file, ['--random-seed', SEED], out), { timeout: 120_000, maxBuffer: 16 << 20 });
  } catch (err) {
    const e = err as Error & { code?: number; stderr?: string };
    failed = { code: typeof e.code === 'number' ? e.code : -1, stderr: e.stderr ?? '' };
  }
  assert.ok(failed, `${what}: the exporter accepted it`);
  assert.equal(failed.code, 1, `${what}: exit 1\n${failed.stderr}`);
  assert.doesNotMatch(failed.stderr, /Traceback/, `${what}: a message, not a traceback:\n${failed.stderr}`);
  const lines = failed.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `${what}: one line:\n${failed.stderr}`);
  for (const name of names) assert.ok(lines[0].includes(name), `${what}: names ${name}: ${lines[0]}`);
  assert.ok(!existsSync(join(out, 'manifest.json')), `${what}: no model folder`);
}

test('official hyperparameters the exporter cannot use: one line naming the set or the name, exit 1', async () => {
  await failsNaming('unknown set', (s) => { s.priors[2].hparams = 'vqvae,small_sep_enc_dec_priorr,all_fp16'; },
    ['priors[2]', "'small_sep_enc_dec_priorr'"]);
  await failsNaming('unknown name', (s) => { s.priors[0].overrides.restore_priorr = 'logs/x.pth.tar'; },
    ['priors[0]', "'restore_priorr'"]);
  await failsNaming('wrong kind', (s) => { s.priors[1].overrides.n_ctx = '128'; }, ['priors[1]', 'n_ctx', "'128'"]);
  await failsNaming('unsupported value', (s) => { s.priors[2].overrides.labels = false; }, ['priors[2]', 'labels']);
  await failsNaming('unsupported attention', (s) => { s.priors[2].overrides.attn_order = 4; }, ['priors[2]', 'attn_order']);
  await failsNaming('unknown set of the VQ-VAE', (s) => { s.vqvae.hparams = 'vqvae2'; }, ['vqvae', "'vqvae2'"]);
  // A prior trained on another VQ-VAE than the one exported with it.
  await failsNaming('VQ-VAE mismatch', (s) => { s.priors[0].overrides.l_bins = 512; }, ['priors[0]', 'l_bins', '512', '256']);
  await failsNaming('two priors on one level', (s) => { s.priors[1].overrides.level = 0; }, ['levels', '[0, 0, 2]']);
});

test('our resolution of official set names and overrides equals the official setup_hparams (JUKEBOX_SRC)', async (t) => {
  const src = process.env.JUKEBOX_SRC;
  if (!src) {
    t.skip('set JUKEBOX_SRC to a checkout of openai/jukebox to compare with the official setup_hparams');
    return;
  }
  const { stdout } = await runPython([join(ROOT, 'tools', 'check_official.py'), '--only', 'hparams'], 'check_official.py --only hparams');
  assert.match(stdout, /OK: the port matches the official code/, stdout);
  t.diagnostic(stdout.split('\n').filter((l) => l.startsWith('hparams')).length + ' hparams rows');
});
