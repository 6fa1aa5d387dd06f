// The chaos run of issue 8 at full size: nats-server, a coordinator and 3 workers as processes; during one
// render, 20 kill -9 of random workers and 5 of the coordinator (each restarted at once) and one nats-server
// restart, in a seeded random order. Checks the song against a fault-free render of the same request and
// reports the work sampled again per fault and the added wall time.
// Run: node --import tsx bench/chaos.ts [--seconds 90] [--seed 1]
import { parseArgs } from 'node:util';
import { Deployment, inFlightAt, injectFaults, render, resampled, workerKeys } from '../tests/helpers/chaos.js';
import { readModelFolder, DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import type { SubmitRequest } from '../client/coordinator-client.js';
import { saveResult } from './common.js';

const { values } = parseArgs({ options: { seconds: { type: 'string', default: '90' }, seed: { type: 'string', default: '1' } } });
const SECONDS = Number(values.seconds);
const SEED = Number(values.seed);
const PLAN = { workerKills: 20, coordinatorKills: 5, natsRestarts: 1, gapMs: [1000, 2500] as [number, number], seed: SEED };
const request: SubmitRequest = { model: 'tiny', artist: 'tiny_ensemble', genres: ['jazz'], lyrics: '', durationSeconds: SECONDS, samples: 1, seed: String(9000 + SEED), sampling: [] };

const d = await Deployment.start(3, { leaseTtlMs: 3000 });
try {
  const clean = await render(d.address, request);
  if (clean.state !== 'JOB_STATE_SUCCEEDED') throw new Error(`fault-free render ${clean.state}: ${clean.error}`);
  process.stderr.write(`fault-free: ${(clean.wallMs / 1000).toFixed(1)} s\n`);

  let done = false;
  const faulty = render(d.address, request).finally(() => (done = true));
  const faults = await injectFaults(d, PLAN, () => done);
  const hurt = await faulty;
  process.stderr.write(`with faults: ${(hurt.wallMs / 1000).toFixed(1)} s, ${faults.length} faults\n`);

  const manifest = (await readModelFolder(DEFAULT_MODEL_DIR)).manifest;
  const keys = workerKeys(manifest, SECONDS, hurt.jobId);
  const stored = new Map([...hurt.storedAtMs].map(([task, ms]) => [keys.get(task) ?? task, ms]));
  const mine = d.batches.filter((b) => b.windows.some((w) => w.startsWith(`${hurt.jobId}@`)));
  const again = resampled(mine);
  const perFault = faults.map((f) => ({ what: f.what, inFlightWindows: inFlightAt(f, mine, stored).length }));
  const atRisk = new Set(faults.flatMap((f) => inFlightAt(f, mine, stored)));
  const tokensPerWindow = again.windows > 0 ? again.tokens / again.windows : 0;
  const kills = faults.filter((f) => f.what !== 'nats-server').length;
  const result = {
    seconds: SECONDS,
    plan: PLAN,
    faultsDone: faults.length,
    faultsPlanned: PLAN.workerKills + PLAN.coordinatorKills + PLAN.natsRestarts,
    state: hurt.state,
    wavIdentical: hurt.wavs.length === 1 && hurt.wavs[0].equals(clean.wavs[0]),
    tokensIdentical: JSON.stringify(hurt.tokens) === JSON.stringify(clean.tokens),
    changesOnceEach: hurt.sequences.every((s, i) => s === i + 1),
    windowsSampledAgain: again.windows,
    tokensSampledAgain: again.tokens,
    tokensSampledAgainPerKill: Math.round(again.tokens / Math.max(1, kills)),
    windowsInFlightAtFaults: atRisk.size,
    sampledAgainOutsideFaults: again.keys.filter((k) => !atRisk.has(k)).length,
    meanTokensPerWindowSampledAgain: Math.round(tokensPerWindow),
    perFault,
    wallSecondsClean: Number((clean.wallMs / 1000).toFixed(0)),
    wallSecondsWithFaults: Number((hurt.wallMs / 1000).toFixed(0)),
    addedWallSeconds: Number(((hurt.wallMs - clean.wallMs) / 1000).toFixed(0)),
    note: 'one run each (a chaos run is long); wall times vary by several seconds between runs on this 2-core machine',
  };
  await saveResult('chaos', result);
  if (!result.wavIdentical || !result.tokensIdentical || !result.changesOnceEach || result.sampledAgainOutsideFaults > 0) process.exitCode = 1;
} finally {
  await d.stop();
}
