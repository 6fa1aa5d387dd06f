// The coordinator's traces: one trace per job (a "job" span from submission, or from its resumption after a
// restart, to its end), a child span per window and decode chunk from sending to stored, whose context travels
// to the worker so that the worker's spans join the same trace.
import type { Span } from '@opentelemetry/api';
import { contextOf, endSpan, traceparentOf, type Tracing } from '../server/tracing.js';
import { trace } from '@opentelemetry/api';

/** What the dispatcher tells the tracer; the no-op one costs nothing. */
export interface JobTracer {
  jobStarted(jobId: string, attributes: Record<string, string | number>): void;
  jobEnded(jobId: string, state: string, error?: string): void;
  /** A window or decode chunk is sent; returns the traceparent for the call ('' without tracing). */
  taskStarted(jobId: string, key: string, worker: string): string;
  taskEnded(jobId: string, key: string, error?: string): void;
}

export const noJobTracing: JobTracer = {
  jobStarted: () => undefined,
  jobEnded: () => undefined,
  taskStarted: () => '',
  taskEnded: () => undefined,
};

export class OtelJobTracer implements JobTracer {
  private readonly jobs = new Map<string, { span: Span; tasks: Map<string, Span> }>();

  constructor(private readonly tracing: Tracing) {}

  jobStarted(jobId: string, attributes: Record<string, string | number>): void {
    if (this.jobs.has(jobId)) return;
    const span = this.tracing.tracer.startSpan('job', { attributes: { 'jukebox.job_id': jobId, ...attributes } });
    this.jobs.set(jobId, { span, tasks: new Map() });
  }

  jobEnded(jobId: string, state: string, error?: string): void {
    const j = this.jobs.get(jobId);
    if (!j) return;
    this.jobs.delete(jobId);
    for (const s of j.tasks.values()) endSpan(s, `job ended ${state}`);
    j.span.setAttribute('jukebox.state', state);
    endSpan(j.span, error);
  }

  taskStarted(jobId: string, key: string, worker: string): string {
    const j = this.jobs.get(jobId);
    if (!j) return '';
    j.tasks.get(key)?.end();
    const [kind, ...rest] = key.split(':');
    const attributes: Record<string, string | number> = { 'jukebox.job_id': jobId, 'jukebox.task': key, 'jukebox.worker': worker };
    if (kind === 'window') {
      attributes['jukebox.level'] = Number(rest[0]);
      attributes['jukebox.segment'] = Number(rest[1]);
      attributes['jukebox.window'] = Number(rest[2]);
    } else attributes['jukebox.decode_chunk'] = Number(rest[0]);
    const span = this.tracing.tracer.startSpan(kind === 'window' ? 'window' : 'decode chunk', { attributes }, trace.setSpan(contextOf(undefined), j.span));
    j.tasks.set(key, span);
    return traceparentOf(span);
  }

  taskEnded(jobId: string, key: string, error?: string): void {
    const j = this.jobs.get(jobId);
    const span = j?.tasks.get(key);
    if (!j || !span) return;
    j.tasks.delete(key);
    endSpan(span, error);
  }
}
