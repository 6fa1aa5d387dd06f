// Reads a model folder from disk: the manifest, its hash, and (optionally) each graph's sha256.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { join, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../server/package-root.js';
import { parseManifest } from '../shared/manifest.js';
import { ManifestError } from '../shared/errors.js';
import type { GraphFile, LevelManifest, Manifest, ModelFile } from '../shared/types.js';

/** models/tiny in the package root (the compiled build in dist/ does not copy it). */
export const DEFAULT_MODEL_DIR = join(PACKAGE_ROOT, 'models', 'tiny');

export interface ModelFolder {
  dir: string;
  manifest: Manifest;
  /** sha256 of manifest.json: names every graph's digest, so it identifies the whole model. */
  hash: string;
}

export async function readModelFolder(dir: string): Promise<ModelFolder> {
  const abs = resolve(dir);
  let bytes: Buffer;
  try {
    bytes = await readFile(join(abs, 'manifest.json'));
  } catch (err) {
    throw new ManifestError(`cannot read ${join(abs, 'manifest.json')}: ${(err as Error).message}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new ManifestError(`${join(abs, 'manifest.json')} is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  const manifest = parseManifest(json);
  return { dir: abs, manifest, hash: createHash('sha256').update(bytes).digest('hex') };
}

/** A level's graphs: the float32 set, then the float16 set where there is one. */
export function levelGraphList(l: LevelManifest): GraphFile[] {
  return [l.graphs, l.graphs.fp16].flatMap((g) => (g ? [g.conditioner, g.step, ...(g.loop ? [g.loop] : [])] : []));
}

/** Every file the manifest names: graphs, then their external weight files. */
export function modelFiles(manifest: Manifest): ModelFile[] {
  const graphs: GraphFile[] = [...manifest.levels.flatMap(levelGraphList), ...manifest.vqvae.decoders, ...(manifest.vqvae.encoders ?? [])];
  return [...graphs.map(({ file, sha256 }) => ({ file, sha256 })), ...graphs.flatMap((g) => g.externalData ?? [])];
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checks every graph file against the manifest; throws ManifestError naming the first that differs. */
export async function verifyModelFiles(folder: ModelFolder): Promise<void> {
  for (const f of modelFiles(folder.manifest)) {
    const path = join(folder.dir, f.file);
    let digest: string;
    try {
      digest = await sha256File(path);
    } catch (err) {
      throw new ManifestError(`model file ${path} is missing: ${(err as Error).message}`, { cause: err });
    }
    if (digest !== f.sha256) throw new ManifestError(`model file ${path} has sha256 ${digest}, the manifest says ${f.sha256}`);
  }
}
