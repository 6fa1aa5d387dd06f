// Both roles' metrics registries, and serving one on /metrics.
import { createServer, type Server } from 'node:http';
import { Registry, collectDefaultMetrics } from 'prom-client';

/** Every metric's name starts with this, in both roles; the `role` label tells them apart. */
export const METRIC_PREFIX = 'jukebox_';

export type MetricsRole = 'coordinator' | 'worker';

/** Buckets both roles give the same histograms: window and batch wall time (seconds), sample rows of a batch. */
export const DURATION_BUCKETS = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000];
export const ROW_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128];

/**
 * prom-client's default metrics that are gauges named `*_total`, a suffix Prometheus keeps for counters
 * (`promtool check metrics` rejects them). Each is the sum of the by-type gauge of the same name without
 * `_total` (nodejs_active_handles{type} and so on), which stays.
 */
const GAUGES_NAMED_TOTAL = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/**
 * A registry for one role: every series it serves carries role="coordinator" or role="worker", and it holds
 * prom-client's default process and Node.js metrics (prefixed jukebox_) but for the gauges named *_total.
 */
export function roleRegistry(role: MetricsRole): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ role });
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  for (const name of GAUGES_NAMED_TOTAL) registry.removeSingleMetric(METRIC_PREFIX + name);
  return registry;
}

export interface MetricsServer {
  port: number;
  close(): Promise<void>;
}

export async function serveMetrics(registry: Registry, host: string, port: number): Promise<MetricsServer> {
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end('see /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': registry.contentType }).end(text),
      (err: Error) => res.writeHead(500).end(err.message),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === 'object' && addr ? addr.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
