// npm run bench: every benchmark in turn; each prints its JSON and saves it under bench/results/.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

for (const name of ['worker-throughput', 'fused-loop', 'sampler-speed', 'sizing', 'schedule', 'render', 'coordinator-memory', 'chaos']) {
  const file = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
  execFileSync(process.execPath, ['--import', 'tsx', file, ...process.argv.slice(2)], { stdio: 'inherit' });
}
