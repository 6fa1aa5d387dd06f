// OpenTelemetry traces for both roles, off unless an OTLP endpoint (or, in tests, an exporter) is given. No global
// provider is registered: each server holds its own tracer, and trace context crosses gRPC as W3C `traceparent`
// strings in call metadata (one per window of a batch, in item order).
import { ROOT_CONTEXT, SpanStatusCode, trace, type Context, type Span, type Tracer } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

/** gRPC metadata key of the W3C trace context of each window (repeated, in item order) or of a decode call. */
export const TRACEPARENT_METADATA = 'jukebox-traceparent';

export interface TracingOptions {
  /** OTLP/HTTP traces URL, e.g. http://collector:4318/v1/traces. */
  endpoint?: string;
  /** An exporter of one's own (tests: an in-memory one); spans are then exported one by one. */
  exporter?: SpanExporter;
}

export interface Tracing {
  readonly tracer: Tracer;
  /** Flushes what is buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/** A tracer for `serviceName`, or undefined when tracing is not configured. */
export function startTracing(serviceName: string, opts: TracingOptions): Tracing | undefined {
  if (!opts.endpoint && !opts.exporter) return undefined;
  const processor = opts.exporter ? new SimpleSpanProcessor(opts.exporter) : new BatchSpanProcessor(new OTLPTraceExporter({ url: opts.endpoint }));
  const provider = new BasicTracerProvider({ resource: resourceFromAttributes({ 'service.name': serviceName }), spanProcessors: [processor] });
  return { tracer: provider.getTracer('jukebox-dist'), shutdown: () => provider.shutdown() };
}

const propagator = new W3CTraceContextPropagator();

/** The span's context as a W3C traceparent header value. */
export function traceparentOf(span: Span): string {
  const carrier: Record<string, string> = {};
  propagator.inject(trace.setSpan(ROOT_CONTEXT, span), carrier, { set: (c, k, v) => (c[k] = v) });
  return carrier.traceparent ?? '';
}

/** A context whose parent span is the one a traceparent names (ROOT_CONTEXT when it is empty or malformed). */
export function contextOf(traceparent: string | undefined): Context {
  if (!traceparent) return ROOT_CONTEXT;
  return propagator.extract(ROOT_CONTEXT, { traceparent }, { get: (c, k) => c[k as 'traceparent'], keys: (c) => Object.keys(c) });
}

/** Ends a span, as an error when `error` is given. */
export function endSpan(span: Span, error?: string): void {
  if (error !== undefined) span.setStatus({ code: SpanStatusCode.ERROR, message: error });
  span.end();
}
