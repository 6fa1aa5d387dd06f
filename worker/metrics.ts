// Worker metrics, base units: seconds and tokens.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export class WorkerMetrics {
  readonly registry = new Registry();
  readonly tokens = new Counter({
    name: 'jukebox_worker_tokens_sampled_total',
    help: 'Tokens sampled, summed over rows',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly windowSeconds = new Histogram({
    name: 'jukebox_worker_window_duration_seconds',
    help: 'Wall time of one window (that of the batch it rode in), conditioning and prefill included',
    labelNames: ['level'],
    buckets: [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000],
    registers: [this.registry],
  });
  readonly windowsRunning = new Gauge({
    name: 'jukebox_worker_windows_running',
    help: 'Windows being sampled now',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly batchRows = new Histogram({
    name: 'jukebox_worker_batch_rows',
    help: 'Sample rows of one SampleWindow batch, all its windows together',
    labelNames: ['level'],
    buckets: [1, 2, 4, 8, 16, 32, 64, 128],
    registers: [this.registry],
  });
  readonly batchWindows = new Histogram({
    name: 'jukebox_worker_batch_windows',
    help: 'Windows of one SampleWindow batch',
    labelNames: ['level'],
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly decodeSeconds = new Histogram({
    name: 'jukebox_worker_decode_duration_seconds',
    help: 'Wall time of one VQ-VAE decode chunk',
    buckets: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'jukebox_worker_request_failures_total',
    help: 'Requests that ended with an error status',
    labelNames: ['method', 'code'],
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'jukebox_worker_' });
  }
}
