// Worker metrics, base units (seconds, tokens). A quantity both roles measure has one name in both
// (coordinator/metrics.ts); every series carries role="worker". Level labels: a prior level ("0", "1", ...) or
// "decode" (VQ-VAE decoding).
import { Counter, Gauge, Histogram } from 'prom-client';
import { DURATION_BUCKETS, ROW_BUCKETS, roleRegistry } from '../server/metrics-http.js';

export class WorkerMetrics {
  readonly registry = roleRegistry('worker');
  readonly tokens = new Counter({
    name: 'jukebox_tokens_sampled_total',
    help: 'Tokens sampled here, summed over rows (padding rows excluded; a window sampled again counts again)',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly audioSeconds = new Counter({
    name: 'jukebox_audio_seconds_total',
    help: 'Seconds of audio produced, summed over rows: for a prior level its sampled tokens times the level\'s hop length over the sample rate, for level "decode" the samples decoded over the sample rate',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly busySeconds = new Counter({
    name: 'jukebox_busy_seconds_total',
    help: 'Seconds inference threads spent on batches and decode chunks that succeeded (wall time of each, summed over threads running at once)',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly windowSeconds = new Histogram({
    name: 'jukebox_window_duration_seconds',
    help: 'Wall time of one window here (that of the batch it rode in), conditioning and prefill included, windows that succeeded',
    labelNames: ['level'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });
  readonly windowsRunning = new Gauge({
    name: 'jukebox_windows_running',
    help: 'Windows being sampled here now',
    labelNames: ['level'],
    registers: [this.registry],
  });
  readonly batchRows = new Histogram({
    name: 'jukebox_batch_rows',
    help: 'Sample rows of one SampleWindow batch sampled here, all its windows together (padding excluded)',
    labelNames: ['level'],
    buckets: ROW_BUCKETS,
    registers: [this.registry],
  });
  readonly batchWindows = new Histogram({
    name: 'jukebox_batch_windows',
    help: 'Windows of one SampleWindow batch sampled here',
    labelNames: ['level'],
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });
  readonly decodeSeconds = new Histogram({
    name: 'jukebox_decode_duration_seconds',
    help: 'Wall time of one VQ-VAE decode chunk here, chunks that succeeded',
    buckets: [0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30],
    registers: [this.registry],
  });
  readonly failures = new Counter({
    name: 'jukebox_request_failures_total',
    help: 'Requests that ended with an error status, by method and gRPC status code; requests the caller cancelled are not counted here',
    labelNames: ['method', 'code'],
    registers: [this.registry],
  });
  readonly cancelled = new Counter({
    name: 'jukebox_requests_cancelled_total',
    help: 'Requests the caller cancelled before they ended (the coordinator gave the work up)',
    labelNames: ['method'],
    registers: [this.registry],
  });
}
