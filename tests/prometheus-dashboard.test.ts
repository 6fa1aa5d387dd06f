// The Grafana dashboard against a real Prometheus (Debian's prometheus package): Prometheus scrapes a worker and a
// coordinator every second while they render a song, then every query of every panel of
// deploy/grafana/jukebox-dashboard.json runs through Prometheus's HTTP API over the render and must return data.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setQuiet } from '../server/log.js';
import { freePort } from './helpers/processes.js';
import { renderSong, startServed, type Served } from './helpers/live-metrics.js';

setQuiet(true);

const DASHBOARD = fileURLToPath(new URL('../deploy/grafana/jukebox-dashboard.json', import.meta.url));
/** Seconds of audio rendered: long enough for several scrapes while it runs. */
const SONG_SECONDS = 4;
/** What the test puts for Grafana's $__rate_interval and $__interval: several 1 s scrapes. */
const INTERVAL = '15s';

interface Panel {
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: { expr: string; refId: string }[];
  panels?: Panel[];
}

interface QueryRangeReply {
  status: string;
  error?: string;
  data?: { resultType: string; result: { metric: Record<string, string>; values: [number, string][] }[] };
}

let served: Served;
let prometheus: ChildProcess | undefined;
let prometheusLog = '';
let dir = '';
let api = '';

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (prometheus?.exitCode !== null && prometheus?.exitCode !== undefined) throw new Error(`prometheus exited with ${prometheus.exitCode}:\n${prometheusLog}`);
    try {
      if (await check()) return;
    } catch {
      // not answering yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}\n${prometheusLog}`);
}

before(async () => {
  served = await startServed();
  dir = await mkdtemp(join(tmpdir(), 'jukebox-prometheus-'));
  const port = await freePort();
  api = `http://127.0.0.1:${port}/api/v1`;
  const target = (url: string): string => new URL(url).host;
  const config = [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    'scrape_configs:',
    '  - job_name: jukebox-coordinator',
    '    static_configs:',
    `      - targets: ['${target(served.metricsUrl.coordinator)}']`,
    '  - job_name: jukebox-worker',
    '    static_configs:',
    `      - targets: ['${target(served.metricsUrl.worker)}']`,
    '',
  ].join('\n');
  await writeFile(join(dir, 'prometheus.yml'), config);
  prometheus = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const keep = (d: Buffer): void => void (prometheusLog = (prometheusLog + d.toString()).slice(-4000));
  prometheus.stdout!.on('data', keep);
  prometheus.stderr!.on('data', keep);
  await new Promise<void>((resolve, reject) => {
    prometheus!.once('spawn', () => resolve());
    prometheus!.once('error', reject);
  });
});

after(async () => {
  const p = prometheus;
  if (p && p.exitCode === null) {
    const exited = new Promise((r) => p.once('exit', r));
    p.kill('SIGTERM');
    await exited;
  }
  await served?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Every target expression of the dashboard's panels (rows' panels included), with its panel's title. */
function dashboardQueries(panels: Panel[]): { panel: string; expr: string }[] {
  return panels.flatMap((p) => [...(p.targets ?? []).map((t) => ({ panel: `${p.title} (${t.refId})`, expr: t.expr })), ...dashboardQueries(p.panels ?? [])]);
}

/** Grafana's built-in interval variables as the test's fixed interval. The dashboard has no other variable in queries. */
function asPrometheusQuery(expr: string): string {
  return expr.replaceAll('$__rate_interval', INTERVAL).replaceAll('$__interval', INTERVAL).replaceAll('${__interval}', INTERVAL);
}

/** A range query over [start, end] as a Grafana panel runs it; returns how many finite values came back. */
async function finiteValues(expr: string, start: number, end: number): Promise<number> {
  const q = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: '1' });
  const res = await fetch(`${api}/query_range?${q}`);
  const reply = (await res.json()) as QueryRangeReply;
  assert.equal(reply.status, 'success', `${expr}: ${reply.error ?? res.status}`);
  return reply.data!.result.reduce((n, series) => n + series.values.filter(([, v]) => Number.isFinite(Number(v))).length, 0);
}

test('every query of the Grafana dashboard returns data from a real Prometheus scraping a render', async (t) => {
  const dashboard = JSON.parse(await readFile(DASHBOARD, 'utf8')) as { panels: Panel[]; templating: { list: { name: string; type: string; query: string }[] } };
  assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource' && v.type === 'datasource' && v.query === 'prometheus'), 'a ${datasource} Prometheus variable');
  const queries = dashboardQueries(dashboard.panels);
  assert.ok(queries.length >= 9, `${queries.length} queries`);
  for (const p of dashboard.panels) assert.equal(p.datasource?.uid, '${datasource}', `${p.title}: datasource`);

  // Both targets scraped once before the render: the counters' first samples are from before it started.
  await waitFor('both targets up', async () => {
    const reply = (await (await fetch(`${api}/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
    return reply.data.activeTargets.length === 2 && reply.data.activeTargets.every((a) => a.health === 'up');
  });
  const start = Date.now() / 1000;
  await renderSong(served.client, SONG_SECONDS);
  const rendered = Date.now() / 1000;
  // A few more scrapes: the end of the job (its state, its duration) is in Prometheus too.
  await new Promise((r) => setTimeout(r, 3000));
  const end = Date.now() / 1000;
  t.diagnostic(`render ${(rendered - start).toFixed(1)} s for ${SONG_SECONDS} s of audio`);

  // The check can fail: a metric that no endpoint serves has no data.
  assert.equal(await finiteValues('sum by (level) (rate(jukebox_no_such_metric_total[15s]))', start, end), 0);
  const empty: string[] = [];
  for (const { panel, expr } of queries) {
    const n = await finiteValues(asPrometheusQuery(expr), start, end);
    t.diagnostic(`${panel}: ${n} values`);
    if (n === 0) empty.push(`${panel}: ${expr}`);
  }
  assert.deepEqual(empty, [], 'dashboard queries without data');
});
