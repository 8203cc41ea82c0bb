// Drives the real OpenTelemetry JS SDK and its OTLP exporters (gRPC, HTTP/JSON, HTTP/protobuf) at
// a gateway, and returns what was sent so tests can compare it with what the gateway answers.
import { Metadata } from '@grpc/grpc-js';
import { ValueType, context, trace, SpanKind as ApiSpanKind, SpanStatusCode, type Link } from '@opentelemetry/api';
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { LoggerProvider, SimpleLogRecordProcessor, type LogRecordExporter } from '@opentelemetry/sdk-logs';
import { SeverityNumber } from '@opentelemetry/api-logs';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  AggregationType,
  AggregationTemporality,
  type PushMetricExporter,
} from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as HttpLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';

export type Transport = 'grpc' | 'http-json' | 'http-proto';
export const TRANSPORTS: Transport[] = ['grpc', 'http-json', 'http-proto'];

export interface Endpoints {
  otlpGrpc: string; // host:port
  otlpHttp: string; // http://host:port
}

function grpcMetadata(headers: Record<string, string>): Metadata {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(headers)) metadata.set(k, v);
  return metadata;
}

function traceExporter(t: Transport, e: Endpoints, headers: Record<string, string>): SpanExporter {
  if (t === 'grpc') {
    const metadata = grpcMetadata(headers);
    return new GrpcTraceExporter({ url: `http://${e.otlpGrpc}`, metadata, compression: 'gzip' as never });
  }
  const Exporter = t === 'http-json' ? HttpTraceExporter : ProtoTraceExporter;
  return new Exporter({ url: `${e.otlpHttp}/v1/traces`, headers });
}

function logExporter(t: Transport, e: Endpoints, headers: Record<string, string>): LogRecordExporter {
  if (t === 'grpc') {
    const metadata = grpcMetadata(headers);
    return new GrpcLogExporter({ url: `http://${e.otlpGrpc}`, metadata });
  }
  const Exporter = t === 'http-json' ? HttpLogExporter : ProtoLogExporter;
  return new Exporter({ url: `${e.otlpHttp}/v1/logs`, headers });
}

function metricExporter(t: Transport, e: Endpoints, headers: Record<string, string>): PushMetricExporter {
  const temporalityPreference = AggregationTemporality.CUMULATIVE;
  if (t === 'grpc') {
    const metadata = grpcMetadata(headers);
    return new GrpcMetricExporter({ url: `http://${e.otlpGrpc}`, metadata, temporalityPreference });
  }
  const Exporter = t === 'http-json' ? HttpMetricExporter : ProtoMetricExporter;
  return new Exporter({ url: `${e.otlpHttp}/v1/metrics`, headers, temporalityPreference });
}


export interface SentTrace {
  traceId: string;
  rootSpanId: string;
  childSpanId: string;
  linkedTraceId: string;
  linkedSpanId: string;
  service: string;
  startMs: number;
}

/**
 * One trace of two spans: a SERVER root and an erroring CLIENT child carrying every attribute type
 * the JS API allows (string, bool, int, double, homogeneous arrays), an event with attributes, a
 * link with attributes and trace state.
 */
export async function sendTrace(t: Transport, e: Endpoints, opts: { service: string; headers?: Record<string, string> }): Promise<SentTrace> {
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.service, 'service.version': '1.4.2', 'telemetry.source': 'claude', 'host.cpu.count': 8 }),
    spanProcessors: [new SimpleSpanProcessor(traceExporter(t, e, opts.headers ?? {}))],
  });
  const tracer = provider.getTracer('teleql-test-scope', '0.9.1');
  const startMs = Date.now();
  const linked = tracer.startSpan('linked-producer');
  linked.end();
  const link: Link = { context: linked.spanContext(), attributes: { 'link.reason': 'follows', 'link.count': 3 } };
  const root = tracer.startSpan('GET /checkout', { kind: ApiSpanKind.SERVER, attributes: { 'http.route': '/checkout', 'http.response.status_code': 500 } });
  const child = tracer.startSpan(
    'SELECT orders',
    {
      kind: ApiSpanKind.CLIENT,
      attributes: {
        'db.system': 'postgresql',
        'db.statement': "SELECT * FROM orders WHERE id = 42",
        'retry.enabled': true,
        'db.rows': 17,
        'db.duration.ratio': 0.25,
        'tags.list': ['a', 'b'],
        'ints.list': [1, 2, 3],
        'bools.list': [true, false],
      },
      links: [link],
    },
    trace.setSpan(context.active(), root),
  );
  child.addEvent('exception', { 'exception.type': 'TimeoutError', 'exception.message': 'query timed out after 5000 ms' });
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'db timeout' });
  child.end();
  root.setStatus({ code: SpanStatusCode.OK });
  root.end();
  await provider.forceFlush();
  await provider.shutdown();
  return {
    traceId: root.spanContext().traceId,
    rootSpanId: root.spanContext().spanId,
    childSpanId: child.spanContext().spanId,
    linkedTraceId: linked.spanContext().traceId,
    linkedSpanId: linked.spanContext().spanId,
    service: opts.service,
    startMs,
  };
}

export interface SentLogs {
  traceId: string;
  spanId: string;
  service: string;
}

/** Three log records: a string body correlated to a span, a map body, and a bytes body. */
export async function sendLogs(t: Transport, e: Endpoints, opts: { service: string; headers?: Record<string, string> }): Promise<SentLogs> {
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': opts.service }),
    processors: [new SimpleLogRecordProcessor({ exporter: logExporter(t, e, opts.headers ?? {}) })],
  });
  const logger = provider.getLogger('teleql-test-logger', '2.0.0');
  const tracer = new BasicTracerProvider().getTracer('x');
  const span = tracer.startSpan('work');
  const ctx = trace.setSpan(context.active(), span);
  logger.emit({
    severityNumber: SeverityNumber.ERROR,
    severityText: 'ERROR',
    body: 'payment failed for order 42',
    attributes: { 'order.id': 42, 'user.tier': 'gold' },
    context: ctx,
    eventName: 'payment.failed',
  });
  logger.emit({ severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: { message: 'structured', nested: { n: 1.5, ok: true }, list: [1, 'two'] } });
  logger.emit({ severityNumber: SeverityNumber.DEBUG, body: new Uint8Array([0xde, 0xad, 0xbe, 0xef]) });
  await provider.forceFlush();
  await provider.shutdown();
  return { traceId: span.spanContext().traceId, spanId: span.spanContext().spanId, service: opts.service };
}

/** A counter, an up-down counter, a gauge, an explicit-bucket histogram and an exponential one. */
export async function sendMetrics(t: Transport, e: Endpoints, opts: { service: string; prefix: string; headers?: Record<string, string> }): Promise<void> {
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter(t, e, opts.headers ?? {}), exportIntervalMillis: 3_600_000 });
  const provider = new MeterProvider({
    resource: resourceFromAttributes({ 'service.name': opts.service }),
    readers: [reader],
    views: [{ instrumentName: `${opts.prefix}.exp_latency`, aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('teleql-test-meter', '3.0.0');
  meter.createCounter(`${opts.prefix}.requests`, { unit: '{request}', description: 'requests served', valueType: ValueType.INT }).add(5, { route: '/a' });
  meter.createUpDownCounter(`${opts.prefix}.inflight`).add(-2, { route: '/a' });
  meter.createGauge(`${opts.prefix}.temperature`, { unit: 'Cel' }).record(21.5, { room: 'lab' });
  const h = meter.createHistogram(`${opts.prefix}.latency`, { unit: 'ms', advice: { explicitBucketBoundaries: [10, 100, 1000] } });
  for (const v of [5, 50, 500, 5000]) h.record(v, { route: '/a' });
  const eh = meter.createHistogram(`${opts.prefix}.exp_latency`, { unit: 'ms' });
  for (const v of [1, 2, 4, 8]) eh.record(v);
  await reader.forceFlush();
  await provider.shutdown();
}
