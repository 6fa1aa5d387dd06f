// shared/ runs in the coordinator, the worker, the client and worker threads alike: it must not do I/O or pull
// in a runtime. This reads every shared/*.ts and refuses imports of Node built-ins, ONNX Runtime, gRPC and
// prom-client, imports from outside shared/, and the Node globals that do I/O or schedule work.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { fileURLToPath } from 'node:url';

const SHARED = fileURLToPath(new URL('../../shared/', import.meta.url));
const BUILTINS = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));

function forbidden(specifier: string): string | undefined {
  if (specifier.startsWith('node:') || BUILTINS.has(specifier) || BUILTINS.has(specifier.split('/')[0])) return 'a Node built-in';
  if (/^onnxruntime/.test(specifier)) return 'ONNX Runtime';
  if (specifier.startsWith('@grpc/') || specifier === 'grpc') return 'gRPC';
  if (specifier === 'prom-client') return 'prom-client';
  if (!specifier.startsWith('./')) return 'outside shared/ (only ./sibling.js imports)';
  return undefined;
}

/** Drops comments so that prose mentioning `process.` or an import does not count. */
function code(source: string): string {
  return source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:"'`\\])\/\/.*$/gm, '$1');
}

function specifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bimport\s+(?:type\s+)?(?:[\w*{}\s,]+?\s+from\s+)?['"]([^'"]+)['"]/g,
    /\bexport\s+(?:type\s+)?(?:\*|\{[^}]*\})\s+from\s+['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]);
  return found;
}

const files = readdirSync(SHARED).filter((f) => f.endsWith('.ts'));

test('shared/ has the modules this test guards', () => {
  for (const f of ['types.ts', 'errors.ts', 'manifest.ts', 'plan.ts', 'rng.ts', 'sampler.ts', 'labels.ts', 'job-spec.ts', 'decode-plan.ts', 'stitch.ts', 'wav.ts', 'index.ts']) {
    assert.ok(files.includes(f), `shared/${f} exists`);
  }
});

for (const file of files) {
  test(`shared/${file} is pure`, () => {
    const src = code(readFileSync(SHARED + file, 'utf8'));
    for (const s of specifiers(src)) {
      const why = forbidden(s);
      assert.equal(why, undefined, `shared/${file} imports "${s}": ${why}`);
    }
    for (const [re, what] of [
      [/\bprocess\s*\./, 'process'],
      [/\bBuffer\s*\./, 'Buffer'],
      [/\brequire\s*\(/, 'require()'],
      [/\bset(?:Timeout|Interval|Immediate)\s*\(/, 'timers'],
      [/\bfetch\s*\(/, 'fetch()'],
      [/\bMath\.random\s*\(/, 'Math.random() (randomness is a parameter)'],
    ] as const) {
      assert.doesNotMatch(src, re, `shared/${file} uses ${what}`);
    }
  });
}

test('the checker itself catches what it should', () => {
  const bad = ["import { readFileSync } from 'fs';", "import x from 'node:net';", "import * as ort from 'onnxruntime-node';", "import grpc from '@grpc/grpc-js';", "export { Counter } from 'prom-client';", "const t = await import('node:timers/promises');", "import type { X } from '../coordinator/job.js';"];
  for (const line of bad) assert.ok(specifiers(line).some((s) => forbidden(s) !== undefined), line);
  assert.deepEqual(specifiers("import { a } from './plan.js';\nexport type { B } from './types.js';").map(forbidden), [undefined, undefined]);
  assert.equal(code('// process.exit()\nconst a = 1; /* setTimeout(f) */').includes('process'), false);
});
