// Prometheus's own linter on the live /metrics of both roles after a render: `promtool check metrics` (Debian's
// prometheus package) must accept every metric, the default process metrics included.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setQuiet } from '../server/log.js';
import { renderSong, runWithInput, scrape, startServed, type Served } from './helpers/live-metrics.js';

setQuiet(true);

let served: Served;

before(async () => {
  served = await startServed();
});

after(async () => {
  await served?.close();
});

test('promtool check metrics passes on the coordinator and the worker after a render', async () => {
  await renderSong(served.client, 2);
  for (const role of ['coordinator', 'worker'] as const) {
    const text = await scrape(served.metricsUrl[role]);
    // Something was rendered, under one name for both roles and the role as a label.
    assert.match(text, new RegExp(`^jukebox_tokens_sampled_total\\{level="0",role="${role}"\\} [1-9]`, 'm'));
    const names = [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]);
    assert.ok(names.length > 20, `${role}: ${names.length} metrics`);
    assert.deepEqual(names.filter((n) => !n.startsWith('jukebox_')), [], `${role}: every metric is named jukebox_*`);
    const { code, output } = await runWithInput('promtool', ['check', 'metrics'], text);
    assert.equal(code, 0, `promtool check metrics on the ${role}'s /metrics exited ${code}:\n${output}`);
  }
});
