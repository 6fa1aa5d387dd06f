// OpenTelemetry across processes: a worker process and a coordinator export spans over OTLP/HTTP to a
// collector this test runs; one job's trace must hold a coordinator span and a worker span for every window and
// every decode chunk, each worker span a child of its coordinator span.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Coordinator } from '../coordinator/coordinator.js';
import { CoordinatorClient } from '../client/coordinator-client.js';
import { DEFAULT_MODEL_DIR } from '../models/model-folder.js';
import { setQuiet } from '../server/log.js';
import { BIN } from './helpers/cli.js';

setQuiet(true);

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes?: { key: string; value: { stringValue?: string; intValue?: string | number } }[];
}

/** A minimal OTLP/HTTP JSON traces receiver. */
async function collector(): Promise<{ url: string; spans: { service: string; span: OtlpSpan }[]; close: () => Promise<void> }> {
  const spans: { service: string; span: OtlpSpan }[] = [];
  const body = async (req: IncomingMessage): Promise<string> => {
    let s = '';
    for await (const chunk of req) s += chunk;
    return s;
  };
  const server = createServer((req, res) => {
    void body(req).then((text) => {
      const doc = JSON.parse(text) as { resourceSpans: { resource: { attributes: OtlpSpan['attributes'] }; scopeSpans: { spans: OtlpSpan[] }[] }[] };
      for (const rs of doc.resourceSpans) {
        const service = rs.resource.attributes?.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        for (const ss of rs.scopeSpans) for (const span of ss.spans) spans.push({ service, span });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}/v1/traces`, spans, close: () => new Promise((r) => server.close(() => r())) };
}

const attr = (s: OtlpSpan, key: string): string | undefined => {
  const v = s.attributes?.find((a) => a.key === key)?.value;
  return v === undefined ? undefined : String(v.stringValue ?? v.intValue);
};

test('one trace per job holds every window and decode chunk, on the coordinator and on the worker process', { timeout: 300_000 }, async () => {
  const otlp = await collector();
  const worker = spawn(process.execPath, [BIN, 'worker', '--host', '127.0.0.1', '--port', '0', '--metrics-port', '-1', '--otlp-endpoint', otlp.url, '--announce'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let coordinator: Coordinator | undefined;
  try {
    const address = await new Promise<string>((resolve, reject) => {
      createInterface({ input: worker.stdout! }).on('line', (l) => l.includes('listening') && resolve((JSON.parse(l) as { listening: string }).listening));
      worker.once('exit', (code) => reject(new Error(`worker exited ${code}`)));
    });
    coordinator = await Coordinator.start({ modelDirs: [DEFAULT_MODEL_DIR], workers: [address], decodeChunkTokens: 4000, tracing: { endpoint: otlp.url } });
    const client = new CoordinatorClient(coordinator.address);
    const job = await client.submit({ model: 'tiny', artist: 'tiny_ensemble', genres: ['jazz'], lyrics: '', durationSeconds: 4, samples: 1, seed: '5', sampling: [] });
    let last = job;
    for await (const j of client.watch(job.jobId)) last = j;
    client.close();
    assert.equal(last.state, 'JOB_STATE_SUCCEEDED');
    // Both processes flush their spans as they stop.
    await coordinator.close();
    coordinator = undefined;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.kill('SIGTERM');
    });

    const root = otlp.spans.find((s) => s.span.name === 'job' && attr(s.span, 'jukebox.job_id') === job.jobId);
    assert.ok(root, 'a job span');
    assert.equal(root.service, 'jukebox-coordinator');
    const trace = otlp.spans.filter((s) => s.span.traceId === root.span.traceId);
    const windows = trace.filter((s) => s.service === 'jukebox-coordinator' && s.span.name === 'window');
    const chunks = trace.filter((s) => s.service === 'jukebox-coordinator' && s.span.name === 'decode chunk');
    const totalWindows = last.levels.reduce((n, l) => n + l.windowsTotal, 0);
    assert.equal(new Set(windows.map((s) => attr(s.span, 'jukebox.task'))).size, totalWindows, 'a coordinator span for every window');
    assert.equal(new Set(chunks.map((s) => attr(s.span, 'jukebox.task'))).size, last.decodeChunksTotal, 'a coordinator span for every decode chunk');
    assert.ok(last.decodeChunksTotal > 1);
    for (const s of [...windows, ...chunks]) assert.equal(s.span.parentSpanId, root.span.spanId);
    const onWorker = trace.filter((s) => s.service === 'jukebox-worker');
    const parents = new Set(onWorker.map((s) => s.span.parentSpanId));
    for (const s of windows) assert.ok(parents.has(s.span.spanId), `a worker span under ${attr(s.span, 'jukebox.task')}`);
    for (const s of chunks) assert.ok(parents.has(s.span.spanId), `a worker span under ${attr(s.span, 'jukebox.task')}`);
    assert.equal(onWorker.filter((s) => s.span.name === 'sample window').length, windows.length);
    assert.equal(onWorker.filter((s) => s.span.name === 'decode').length, chunks.length);
  } finally {
    await coordinator?.close();
    worker.kill('SIGKILL');
    await otlp.close();
  }
});
