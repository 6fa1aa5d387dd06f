import { extname } from 'node:path';

/** FILE.wav for one sample; FILE-1.wav, FILE-2.wav ... for several. */
export function outputPaths(out: string, samples: number): string[] {
  if (samples === 1) return [out];
  const ext = extname(out) || '.wav';
  const base = extname(out) ? out.slice(0, -ext.length) : out;
  return Array.from({ length: samples }, (_, i) => `${base}-${i + 1}${ext}`);
}
