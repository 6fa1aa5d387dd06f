// The official-shaped VQ-VAE port (tools/jukebox_model/vqvae.py): a small random model is
// built and exported by tests/fixtures/vqvae-official-export.py; onnxruntime-node must reproduce the
// PyTorch decode (1e-5), a chunked decode with marginTokens of context must equal a whole decode
// (1e-5), and the encoders must give the PyTorch tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { int64, maxAbsDiff, sessionOptions } from './helpers/onnx-graphs.js';
import { PYTHON, requireTorch } from './helpers/python.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const SCRIPT = join(ROOT, 'tests', 'fixtures', 'vqvae-official-export.py');
const TOL = 1e-5;

interface DecoderRef {
  level: number;
  file: string;
  sha256: string;
  marginTokens: number;
  hopLength: number;
  analytic: [number, number];
  measured: [number, number];
  tokens: number[][];
  audio: number[][];
}
interface EncoderRef {
  level: number;
  file: string;
  sha256: string;
  hopLength: number;
  audio: number[][];
  tokens: number[][];
  gap: number[][];
}
interface Reference {
  hopLengths: number[];
  codebookSize: number;
  decoders: DecoderRef[];
  encoders: EncoderRef[];
}

async function decode(s: ort.InferenceSession, rows: number[][]): Promise<Float32Array> {
  const out = await s.run({ tokens: int64(rows) });
  return out.audio.data as Float32Array;
}

test('VQ-VAE port: ONNX decoders and encoders match PyTorch, chunked decode with marginTokens equals whole', async (t) => {
  requireTorch();
  const dir = mkdtempSync(join(tmpdir(), 'vqvae-official-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const run = spawnSync(PYTHON, [SCRIPT, dir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, `export script failed:\n${run.stdout}\n${run.stderr}`);
  const ref = JSON.parse(readFileSync(join(dir, 'reference.json'), 'utf8')) as Reference;
  assert.equal(ref.decoders.length, 3);
  assert.equal(ref.encoders.length, 3);

  for (const d of ref.decoders) {
    await t.test(`decoder level ${d.level}`, async () => {
      const bytes = readFileSync(join(dir, d.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), d.sha256, 'sha256 of the graph');
      assert.equal(d.file, `vqvae.decoder${d.level}.onnx`);
      assert.equal(d.hopLength, ref.hopLengths[d.level]);
      // marginTokens is the analytic receptive field, reproduced by perturbation.
      assert.deepEqual(d.measured, d.analytic, 'perturbation-measured receptive field = analytic');
      assert.equal(d.marginTokens, Math.max(...d.analytic));

      const s = await ort.InferenceSession.create(bytes, sessionOptions);
      const n = d.tokens[0].length;
      const whole = await decode(s, d.tokens);
      assert.equal(whole.length, d.tokens.length * n * d.hopLength, 'audio is [B, T * hop]');
      const diffTorch = maxAbsDiff(whole, d.audio.flat());
      assert.ok(diffTorch <= TOL, `level ${d.level}: ONNX vs PyTorch max abs diff ${diffTorch}`);

      // Chunked: chunks of C tokens, each decoded with marginTokens of context each side, trimmed.
      const m = d.marginTokens;
      const hop = d.hopLength;
      const chunk = m + 7;
      const chunked = new Float32Array(whole.length);
      for (let s0 = 0; s0 < n; s0 += chunk) {
        const s1 = Math.min(n, s0 + chunk);
        const a = Math.max(0, s0 - m);
        const b = Math.min(n, s1 + m);
        const audio = await decode(s, d.tokens.map((row) => row.slice(a, b)));
        const width = (b - a) * hop;
        for (let r = 0; r < d.tokens.length; r++) {
          const src = audio.subarray(r * width + (s0 - a) * hop, r * width + (s1 - a) * hop);
          chunked.set(src, r * n * hop + s0 * hop);
        }
      }
      const diffChunk = maxAbsDiff(chunked, whole);
      assert.ok(diffChunk <= TOL, `level ${d.level}: chunked vs whole decode max abs diff ${diffChunk}`);
      t.diagnostic(`decoder ${d.level}: marginTokens ${m}, ONNX vs torch ${diffTorch.toExponential(2)}, chunked vs whole ${diffChunk.toExponential(2)}`);

      // One token less of context must change the output (the margin is not larger than needed).
      const a = 2 * m;
      const short = await decode(s, d.tokens.map((row) => row.slice(a - (m - 1), a + 1 + m)));
      const width = (2 * m + 1) * hop;
      let diffShort = 0;
      for (let r = 0; r < d.tokens.length; r++) {
        const got = short.subarray(r * width + (m - 1) * hop, r * width + m * hop);
        const want = whole.subarray(r * n * hop + a * hop, r * n * hop + (a + 1) * hop);
        diffShort = Math.max(diffShort, maxAbsDiff(got, want));
      }
      assert.ok(diffShort > 1e-4, `level ${d.level}: marginTokens - 1 of left context should differ (${diffShort})`);
    });
  }

  for (const e of ref.encoders) {
    await t.test(`encoder level ${e.level}`, async () => {
      const bytes = readFileSync(join(dir, e.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), e.sha256);
      const s = await ort.InferenceSession.create(bytes, sessionOptions);
      const b = e.audio.length;
      const len = e.audio[0].length;
      const out = await s.run({ audio: new ort.Tensor('float32', Float32Array.from(e.audio.flat()), [b, len]) });
      assert.deepEqual(out.tokens.dims, [b, len / e.hopLength]);
      assert.equal(out.tokens.type, 'int64');
      const got = Array.from(out.tokens.data as BigInt64Array, Number);
      const want = e.tokens.flat();
      const gaps = e.gap.flat();
      const bad = want.flatMap((w, i) => (got[i] !== w && gaps[i] > 1e-3 ? [i] : []));
      assert.deepEqual(bad, [], `level ${e.level}: tokens differ where the nearest code is not a near tie`);
    });
  }
});
