// deploy/Dockerfile.*: the images cannot be built here (no Docker daemon, no registry), so their text is checked for
// the mistakes that would only show on a cluster: a root or named user, the CUDA provider not fetched (or fetched
// into a CPU image), sources the build needs left out of the build stage or the build context, the wrong entry point.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const IMAGES = ['Dockerfile.coordinator', 'Dockerfile.worker', 'Dockerfile.worker-cuda'];

interface Stage {
  from: string;
  name?: string;
  lines: string[];
}

/** Dockerfile → stages (continuation lines joined, comments dropped). */
function stages(file: string): Stage[] {
  const text = readFileSync(join(ROOT, 'deploy', file), 'utf8').replace(/\\\n/g, ' ');
  const out: Stage[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(line);
    if (from) out.push({ from: from[1], name: from[2], lines: [] });
    else if (out.length > 0) out[out.length - 1].lines.push(line);
  }
  return out;
}

function buildIncludes(): string[] {
  const path = join(ROOT, 'tsconfig.build.json');
  const { config, error } = ts.parseConfigFileTextToJson(path, readFileSync(path, 'utf8'));
  assert.equal(error, undefined);
  return config.include as string[];
}

const dockerignore = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'));

/** Whether the build context keeps `path` (the last matching .dockerignore pattern wins; simple patterns only). */
function inContext(path: string): boolean {
  let kept = true;
  for (const pattern of dockerignore) {
    const negate = pattern.startsWith('!');
    const p = negate ? pattern.slice(1) : pattern;
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*\*\//g, '(.*/)?').replace(/\*/g, '[^/]*')}(/.*)?$`);
    if (re.test(path)) kept = negate;
  }
  return kept;
}

for (const file of IMAGES) {
  test(`${file}: runs compiled JS as a numeric non-root user, with what it reads at run time`, () => {
    const all = stages(file);
    const final = all[all.length - 1];
    const user = final.lines.find((l) => /^USER\s/i.test(l));
    assert.ok(user, 'a USER in the final stage');
    const m = /^USER\s+(\d+)(?::(\d+))?$/i.exec(user);
    assert.ok(m, `USER must be numeric (runAsNonRoot cannot check a name): ${user}`);
    assert.ok(Number(m[1]) > 0 && Number(m[2] ?? 1) > 0, 'not root');
    assert.ok(final.lines.some((l) => l === 'ENTRYPOINT ["node", "/app/dist/client/cli.js"]'), 'ENTRYPOINT node /app/dist/client/cli.js');
    assert.ok(final.lines.some((l) => /^ENV .*HOME=\/tmp/.test(l)), 'HOME=/tmp: the only writable place with a read-only root filesystem');
    for (const needed of ['COPY proto/jukebox proto/jukebox', 'COPY models/tiny models/tiny', 'COPY package.json ./', 'COPY --from=build /app/dist dist']) {
      assert.ok(final.lines.includes(needed), `final stage: ${needed}`);
    }
    // The runtime stage installs nothing itself: production node_modules come from a stage of their own.
    assert.ok(final.lines.some((l) => /^COPY --from=deps \/app\/node_modules node_modules$/.test(l)));
    assert.ok(!final.lines.some((l) => /^RUN .*npm (ci|install)/.test(l)));
    const deps = all.find((s) => s.name === 'deps');
    assert.ok(deps?.lines.some((l) => /npm ci --omit=dev --ignore-scripts/.test(l)), 'deps: npm ci --omit=dev (scripts off: `prepare` would build)');
  });

  test(`${file}: the build stage compiles every folder tsconfig.build.json includes`, () => {
    const build = stages(file).find((s) => s.name === 'build');
    assert.ok(build);
    assert.ok(build.lines.includes('RUN npm run build'));
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    assert.match(pkg.scripts.build ?? '', /tsconfig\.build\.json/);
    const copied = build.lines.filter((l) => l.startsWith('COPY ')).map((l) => l.split(/\s+/)[1]);
    for (const dir of buildIncludes()) {
      assert.ok(copied.includes(dir), `COPY ${dir} ${dir} before npm run build`);
      assert.ok(inContext(`${dir}/x.ts`), `.dockerignore keeps ${dir}/`);
    }
    assert.ok(copied.includes('tsconfig.json') && build.lines.some((l) => /tsconfig\.build\.json/.test(l)));
  });
}

test('CUDA worker: the ONNX Runtime CUDA provider fetched at build time onto a CUDA 12 + cuDNN image; CPU images skip it', () => {
  const cuda = stages('Dockerfile.worker-cuda');
  const deps = cuda.find((s) => s.name === 'deps')!;
  const install = deps.lines.find((l) => /script\/install/.test(l));
  assert.ok(install && /ONNXRUNTIME_NODE_INSTALL=cuda12/.test(install), 'onnxruntime-node install with cuda12 forced (the env wins over .npmrc)');
  assert.match(install, /test -s bin\/napi-v6\/linux\/x64\/libonnxruntime_providers_cuda\.so/);
  const text = readFileSync(join(ROOT, 'deploy', 'Dockerfile.worker-cuda'), 'utf8');
  assert.match(text, /ARG CUDA_IMAGE=nvidia\/cuda:12\.[0-9.]+-cudnn-runtime-ubuntu/);
  assert.equal(cuda[cuda.length - 1].from, '${CUDA_IMAGE}');
  assert.ok(cuda[cuda.length - 1].lines.includes('COPY --from=node /usr/local/bin/node /usr/local/bin/node'));
  for (const file of ['Dockerfile.coordinator', 'Dockerfile.worker']) {
    const t = readFileSync(join(ROOT, 'deploy', file), 'utf8');
    assert.doesNotMatch(t, /cuda12/);
    assert.match(t, /ONNXRUNTIME_NODE_INSTALL=skip/);
  }
});

test('.dockerignore: the context keeps what the images copy and drops node_modules, dist, .git and big models', () => {
  for (const kept of ['package.json', 'package-lock.json', '.npmrc', 'tsconfig.json', 'tsconfig.build.json', 'proto/jukebox/v1/worker.proto', 'models/tiny/manifest.json', 'models/model-folder.ts']) {
    assert.ok(inContext(kept), `${kept} in the build context`);
  }
  for (const dropped of ['node_modules/x', 'dist/client/cli.js', '.git/HEAD', 'models/5b_lyrics/manifest.json', 'out/song.wav', 'bench/results/x.json']) {
    assert.ok(!inContext(dropped), `${dropped} not in the build context`);
  }
});

test('the chart\'s appVersion (the default image tag) is the package version', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const chart = readFileSync(join(ROOT, 'helm', 'jukebox-dist', 'Chart.yaml'), 'utf8');
  assert.match(chart, new RegExp(`^appVersion: "${pkg.version.replace(/\./g, '\\.')}"$`, 'm'));
});
