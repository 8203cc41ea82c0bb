// The OTLP receiver on real sockets, fed by the real OpenTelemetry SDK exporters (gRPC, HTTP/JSON,
// HTTP/protobuf) and by hand-built requests; what reaches the sink must be exactly what was sent.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import snappy from 'snappyjs';
import { ROOT_CONTEXT, type SpanContext, SpanKind, TraceFlags, ValueType, createTraceState, trace } from '@opentelemetry/api';
import { type AnyValue as SdkAnyValue, SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as GrpcLogExporter } from '@opentelemetry/exporter-logs-otlp-grpc';
import { OTLPLogExporter as JsonLogExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as ProtoLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as JsonMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtoMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as JsonTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { CompressionAlgorithm } from '@opentelemetry/otlp-exporter-base';
import { type Resource as SdkResource, resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, type ReadableLogRecord, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  InstrumentType,
  MeterProvider,
  MetricReader,
  type ResourceMetrics,
} from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { Signal } from '../../ingest/component.ts';
import { exportServiceDefinition } from '../../ingest/receivers/otlp/grpc.ts';
import { type OtlpReceiver, type OtlpReceiverConfig, otlpReceiverFactory } from '../../ingest/receivers/otlp/factory.ts';
import { otlpProto } from '../../src/otlp/proto.ts';
import type {
  AnyValue,
  InstrumentationScope,
  KeyValue,
  LogRecord,
  MetricDescriptor,
  MetricPoint,
  MetricPointValue,
  Resource,
  SpanRecord,
} from '../../src/model/telemetry.ts';
import { silentLogger } from '../../src/logger.ts';
import { type SinkConsumer, sinkConsumer } from '../helpers/sink-consumer.ts';
import { zstdCli } from '../helpers/zstd-cli.ts';
import { startGateway, testConfig } from '../helpers/gateway.ts';
import { buildApp } from '../../src/app.ts';
import { hashApiKey } from '../../src/auth/api-keys.ts';

// ---------------------------------------------------------------------------------------------
// Harness
// ---------------------------------------------------------------------------------------------

interface Running {
  receiver: OtlpReceiver;
  traces: SinkConsumer<'traces'>;
  logs: SinkConsumer<'logs'>;
  metrics: SinkConsumer<'metrics'>;
  http: string;
  grpc: string;
}

async function startReceiver(edit: (c: OtlpReceiverConfig) => void = () => {}): Promise<Running> {
  const config = otlpReceiverFactory.createDefaultConfig();
  config.grpc.port = 0;
  config.http.port = 0;
  edit(config);
  const traces = sinkConsumer<'traces'>();
  const logs = sinkConsumer<'logs'>();
  const metrics = sinkConsumer<'metrics'>();
  const receiver = otlpReceiverFactory.create({ id: 'otlp', logger: silentLogger() }, config, { traces, logs, metrics });
  await receiver.start({ logger: silentLogger(), reportError: () => {} });
  const { http: httpAddr = '', grpc: grpcAddr = '' } = receiver.addresses();
  return { receiver, traces, logs, metrics, http: httpAddr, grpc: grpcAddr };
}

interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

interface PostOptions {
  method?: string;
  headers?: Record<string, string | number>;
  /** Send the body in pieces without Content-Length (chunked). */
  chunked?: boolean;
  /** Send `Expect: 100-continue` and only write the body once the server agrees. */
  expectContinue?: boolean;
}

/** One HTTP request; resolves with the answer even when the server stops reading the body early. */
function post(addr: string, path: string, body: Buffer | string, opts: PostOptions = {}): Promise<HttpAnswer> {
  const [host, port] = splitAddr(addr);
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...opts.headers };
    if (!opts.chunked) headers['content-length'] = data.length;
    if (opts.expectContinue) headers['expect'] = '100-continue';
    const req = http.request({ host, port, path, method: opts.method ?? 'POST', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', (err) => reject(err));
    const send = () => {
      if (opts.chunked) {
        for (let i = 0; i < data.length; i += 64 * 1024) req.write(data.subarray(i, i + 64 * 1024));
        req.end();
      } else req.end(data);
    };
    if (opts.expectContinue) req.on('continue', send);
    else send();
  });
}

function splitAddr(addr: string): [string, number] {
  const i = addr.lastIndexOf(':');
  return [addr.slice(0, i), Number(addr.slice(i + 1))];
}

const JSON_HEADERS = { 'content-type': 'application/json' };
const PROTO_HEADERS = { 'content-type': 'application/x-protobuf' };

/** A google.rpc.Status body, in whichever encoding the answer came in. */
function statusBody(answer: HttpAnswer): { code: number; message: string } {
  if (String(answer.headers['content-type']).startsWith('application/json')) return JSON.parse(answer.body.toString());
  const type = otlpProto().status;
  return type.toObject(type.decode(answer.body), { defaults: true }) as { code: number; message: string };
}

interface GrpcAnswer {
  code: grpc.status;
  details: string;
  response?: Buffer;
}

/** A raw unary Export call with our pass-through definition: the body is sent exactly as given. */
function grpcExport(addr: string, signal: Signal, body: Buffer, metadata = new grpc.Metadata()): Promise<GrpcAnswer> {
  const Client = grpc.makeGenericClientConstructor(exportServiceDefinition(signal), 'Export');
  const client = new Client(addr, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    Export(body: Buffer, md: grpc.Metadata, cb: (err: grpc.ServiceError | null, response?: Buffer) => void): void;
  };
  return new Promise((resolve) => {
    client.Export(body, metadata, (err: grpc.ServiceError | null, response?: Buffer) => {
      client.close();
      resolve(err ? { code: err.code, details: err.details } : { code: grpc.status.OK, details: '', response });
    });
  });
}

/** A gRPC call over bare HTTP/2 so the message can be sent already compressed, as given. */
function grpcRawFrame(addr: string, signal: Signal, payload: Buffer, compressed: boolean): Promise<{ code: number; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${addr}`);
    session.on('error', reject);
    const service = { traces: 'trace.v1.TraceService', logs: 'logs.v1.LogsService', metrics: 'metrics.v1.MetricsService' }[signal];
    const req = session.request({
      ':method': 'POST',
      ':path': `/opentelemetry.proto.collector.${service}/Export`,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...(compressed && { 'grpc-encoding': 'gzip' }),
    });
    const prefix = Buffer.alloc(5);
    prefix.writeUInt8(compressed ? 1 : 0, 0);
    prefix.writeUInt32BE(payload.length, 1);
    let status: { code: number; message: string } | undefined;
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h['grpc-status'] !== undefined) {
        status = { code: Number(h['grpc-status']), message: decodeURIComponent(String(h['grpc-message'] ?? '')) };
      }
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => {});
    req.on('close', () => {
      session.close();
      if (status) resolve(status);
      else reject(new Error('no grpc-status received'));
    });
    req.on('error', () => {});
    req.end(Buffer.concat([prefix, payload]));
  });
}

interface ResultExporter<T> {
  export(items: T, done: (result: { code: number; error?: Error }) => void): void;
}

function exportWith<T>(exporter: ResultExporter<T>, items: T): Promise<void> {
  return new Promise((resolve, reject) =>
    exporter.export(items, (r) => (r.code === 0 ? resolve() : reject(r.error ?? new Error(`export failed: ${r.code}`)))),
  );
}

function tenantMetadata(tenant: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-scope-orgid', tenant);
  return md;
}

/** An OTLP/JSON request as a protobuf body: IDs are hex or base64 strings in JSON, bytes here. */
function toProtobuf(signal: Signal, json: unknown): Buffer {
  const withBytes = structuredClone(json);
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) return v.forEach(walk);
    if (typeof v !== 'object' || v === null) return;
    const o = v as Record<string, unknown>;
    for (const [k, x] of Object.entries(o)) {
      if (['traceId', 'spanId', 'parentSpanId'].includes(k) && typeof x === 'string') {
        o[k] = /^([0-9a-f]{2})+$/i.test(x) ? Buffer.from(x, 'hex') : Buffer.from(x, 'base64');
      } else walk(x);
    }
  };
  walk(withBytes);
  const type = otlpProto().request[signal];
  return Buffer.from(type.encode(type.fromObject(withBytes as Record<string, unknown>)).finish());
}

function fixture(name: string): unknown {
  return JSON.parse(readFileSync(new URL(`../fixtures/otlp/${name}`, import.meta.url), 'utf8'));
}

function goodSpanJson(name: string): string {
  return JSON.stringify({
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              {
                traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
                spanId: Buffer.from(name.padEnd(8, '.').slice(0, 8)).toString('hex'),
                name,
                startTimeUnixNano: '1700000000000000000',
                endTimeUnixNano: '1700000000100000000',
              },
            ],
          },
        ],
      },
    ],
  });
}

// ---------------------------------------------------------------------------------------------
// Oracles: what OTLP says an SDK object must become in the model
// ---------------------------------------------------------------------------------------------

const ns = (t: [number, number]) => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

function toAnyValue(v: SdkAnyValue): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (typeof v === 'number') return Number.isInteger(v) ? { intValue: BigInt(v).toString() } : { doubleValue: v };
  if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { arrayValue: { values: v.map(toAnyValue) } };
  if (v && typeof v === 'object') return { kvlistValue: { values: toKeyValues(v as Record<string, SdkAnyValue>) } };
  return {};
}

function toKeyValues(attrs: Record<string, unknown> | undefined): KeyValue[] {
  return Object.entries(attrs ?? {}).map(([key, value]) => ({ key, value: toAnyValue(value as SdkAnyValue) }));
}

function expectedResource(r: SdkResource): Resource {
  return { attributes: toKeyValues(r.attributes), droppedAttributesCount: 0, schemaUrl: r.schemaUrl ?? '' };
}

function expectedScope(s: { name: string; version?: string; schemaUrl?: string; attributes?: Record<string, unknown> }): InstrumentationScope {
  return { name: s.name, version: s.version ?? '', attributes: toKeyValues(s.attributes), droppedAttributesCount: 0, schemaUrl: s.schemaUrl ?? '' };
}

/** The Span.flags the exporters write: W3C trace flags plus the "is remote" bits (0x100, 0x200). */
const spanFlags = (traceFlags: number, isRemote: boolean | undefined) => (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);

function expectedSpan(s: ReadableSpan, tenant: string): SpanRecord {
  const ctx = s.spanContext();
  return {
    tenant,
    resource: expectedResource(s.resource),
    scope: expectedScope(s.instrumentationScope),
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? '',
    traceState: ctx.traceState?.serialize() ?? '',
    flags: spanFlags(ctx.traceFlags, s.parentSpanContext?.isRemote),
    name: s.name,
    kind: (s.kind + 1) as SpanRecord['kind'],
    startTimeUnixNano: ns(s.startTime),
    endTimeUnixNano: ns(s.endTime),
    attributes: toKeyValues(s.attributes),
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      timeUnixNano: ns(e.time),
      name: e.name,
      attributes: toKeyValues(e.attributes),
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState?.serialize() ?? '',
      flags: spanFlags(l.context.traceFlags, l.context.isRemote),
      attributes: toKeyValues(l.attributes),
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { code: s.status.code as SpanRecord['status']['code'], message: s.status.message ?? '' },
  };
}

function expectedLog(l: ReadableLogRecord, tenant: string): LogRecord {
  return {
    tenant,
    resource: expectedResource(l.resource),
    scope: expectedScope(l.instrumentationScope),
    timeUnixNano: ns(l.hrTime),
    observedTimeUnixNano: ns(l.hrTimeObserved),
    severityNumber: l.severityNumber ?? 0,
    severityText: l.severityText ?? '',
    body: toAnyValue(l.body as SdkAnyValue),
    attributes: toKeyValues(l.attributes),
    droppedAttributesCount: l.droppedAttributesCount,
    flags: l.spanContext?.traceFlags ?? 0,
    traceId: l.spanContext?.traceId ?? '',
    spanId: l.spanContext?.spanId ?? '',
    eventName: l.eventName ?? '',
  };
}

function expectedMetricPoints(rm: ResourceMetrics, tenant: string): MetricPoint[] {
  const out: MetricPoint[] = [];
  const TYPE = {
    [DataPointType.GAUGE]: 'gauge',
    [DataPointType.SUM]: 'sum',
    [DataPointType.HISTOGRAM]: 'histogram',
    [DataPointType.EXPONENTIAL_HISTOGRAM]: 'exponentialHistogram',
  } as const;
  for (const sm of rm.scopeMetrics) {
    for (const m of sm.metrics) {
      const metric: MetricDescriptor = {
        name: m.descriptor.name,
        description: m.descriptor.description,
        unit: m.descriptor.unit,
        type: TYPE[m.dataPointType],
        aggregationTemporality:
          m.dataPointType === DataPointType.GAUGE ? 0 : m.aggregationTemporality === AggregationTemporality.DELTA ? 1 : 2,
        isMonotonic: m.dataPointType === DataPointType.SUM ? m.isMonotonic : false,
        metadata: [],
      };
      for (const dp of m.dataPoints) {
        const base = { attributes: toKeyValues(dp.attributes), startTimeUnixNano: ns(dp.startTime), timeUnixNano: ns(dp.endTime), flags: 0 };
        let point: MetricPointValue;
        const v = dp.value as unknown;
        if (typeof v === 'number') {
          point = { type: 'number', ...base, exemplars: [] };
          if (m.descriptor.valueType === ValueType.INT) point.asInt = String(v);
          else point.asDouble = v;
        } else if (m.dataPointType === DataPointType.HISTOGRAM) {
          const h = v as { count: number; sum?: number; min?: number; max?: number; buckets: { boundaries: number[]; counts: number[] } };
          point = { type: 'histogram', ...base, count: h.count, bucketCounts: h.buckets.counts, explicitBounds: h.buckets.boundaries, exemplars: [] };
          if (h.sum !== undefined) point.sum = h.sum;
          if (h.min !== undefined) point.min = h.min;
          if (h.max !== undefined) point.max = h.max;
        } else {
          const e = v as {
            count: number;
            sum?: number;
            min?: number;
            max?: number;
            scale: number;
            zeroCount: number;
            positive: { offset: number; bucketCounts: number[] };
            negative: { offset: number; bucketCounts: number[] };
          };
          point = {
            type: 'exponentialHistogram',
            ...base,
            count: e.count,
            scale: e.scale,
            zeroCount: e.zeroCount,
            positive: { offset: e.positive.offset, bucketCounts: e.positive.bucketCounts },
            negative: { offset: e.negative.offset, bucketCounts: e.negative.bucketCounts },
            zeroThreshold: 0,
            exemplars: [],
          };
          if (e.sum !== undefined) point.sum = e.sum;
          if (e.min !== undefined) point.min = e.min;
          if (e.max !== undefined) point.max = e.max;
        }
        out.push({ tenant, resource: expectedResource(rm.resource), scope: expectedScope(sm.scope), metric, point });
      }
    }
  }
  return out;
}

const bySpanId = (a: { spanId: string }, b: { spanId: string }) => a.spanId.localeCompare(b.spanId);
const bySeq = (a: LogRecord, b: LogRecord) => seqOf(a) - seqOf(b);
const seqOf = (l: LogRecord) => Number((l.attributes.find((kv) => kv.key === 'seq')?.value as { intValue: string }).intValue);
const byMetric = (a: MetricPoint, b: MetricPoint) =>
  `${a.metric.name}${JSON.stringify(a.point.attributes)}`.localeCompare(`${b.metric.name}${JSON.stringify(b.point.attributes)}`);

// ---------------------------------------------------------------------------------------------
// SDK telemetry, generated once
// ---------------------------------------------------------------------------------------------

const resource = resourceFromAttributes(
  { 'service.name': 'checkout', 'service.instance.id': 'i-1', 'host.cpus': 8, 'process.runtime.ok': true, 'load.avg': 0.75 },
  { schemaUrl: 'https://opentelemetry.io/schemas/1.26.0' },
);

function makeSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    resource,
    spanProcessors: [new SimpleSpanProcessor(memory)],
    spanLimits: { attributeCountLimit: 12, eventCountLimit: 3, linkCountLimit: 2, attributePerEventCountLimit: 2 },
  });
  const tracer = provider.getTracer('checkout-lib', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.25.0' });
  const other = provider.getTracer('db-driver');
  const remoteParent: SpanContext = {
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: TraceFlags.SAMPLED,
    isRemote: true,
    traceState: createTraceState('rojo=00f067aa0ba902b7,congo=t61rcWkgMzE'),
  };
  const linked: SpanContext = {
    traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
    spanId: '00f067aa0ba902b7',
    traceFlags: TraceFlags.NONE,
    isRemote: true,
    traceState: createTraceState('vendor=v1'),
  };
  const server = tracer.startSpan(
    'POST /checkout',
    {
      kind: SpanKind.SERVER,
      attributes: {
        'http.method': 'POST',
        'http.status_code': 502,
        'http.retry': false,
        'payload.ratio': 0.125,
        'negative.int': -42,
        'big.int': 2 ** 40,
        'empty.string': '',
        'tags': ['a', 'b', ''],
        'codes': [200, 404],
        'weights': [0.5, 1.5],
        'flags.list': [true, false],
      },
      links: [
        { context: linked, attributes: { 'link.reason': 'retry-of', 'link.attempt': 2 } },
        { context: { ...linked, spanId: '00f067aa0ba902b8', traceState: undefined } },
        { context: { ...linked, spanId: '00f067aa0ba902b9' } },
      ],
    },
    trace.setSpanContext(ROOT_CONTEXT, remoteParent),
  );
  server.setAttribute('late.one', 'x');
  server.setAttribute('over.limit.1', 1);
  server.setAttribute('over.limit.2', 2);
  server.addEvent('cache.miss', { 'cache.key': 'cart:42', 'cache.size': 1024, 'cache.extra': 'dropped' });
  server.addEvent('retry', { attempt: 1 });
  server.addEvent('retry', { attempt: 2 });
  server.addEvent('retry', { attempt: 3 });
  server.addEvent('gave.up');
  server.setStatus({ code: 2, message: 'upstream timed out' });
  const child = other.startSpan('SELECT cart', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' } }, trace.setSpan(ROOT_CONTEXT, server));
  child.setStatus({ code: 1 });
  child.end();
  for (const kind of [SpanKind.INTERNAL, SpanKind.PRODUCER, SpanKind.CONSUMER]) other.startSpan(`kind ${kind}`, { kind }).end();
  server.end();
  return memory.getFinishedSpans() as ReadableSpan[];
}

function makeLogs(): ReadableLogRecord[] {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter: memory })] });
  const logger = provider.getLogger('app-logger', '0.9.0', {
    schemaUrl: 'https://opentelemetry.io/schemas/1.24.0',
    attributes: { 'logger.kind': 'app', 'logger.level': 3 },
  });
  const span: SpanContext = { traceId: '5b8efff798038103d269b633813fc60c', spanId: 'eee19b7ec3c1b174', traceFlags: TraceFlags.SAMPLED };
  const inSpan = trace.setSpanContext(ROOT_CONTEXT, span);
  const bodies: SdkAnyValue[] = [
    'user signed in',
    { user: { id: 7, roles: ['admin', 'dev'] }, ok: true, raw: new Uint8Array([0, 1, 254, 255]) },
    ['a', 2, 2.5, false, ['nested']],
    new Uint8Array([222, 173, 190, 239]),
    1234567890123,
    -0.5,
    true,
    undefined,
  ];
  bodies.forEach((body, seq) =>
    logger.emit({
      severityNumber: [SeverityNumber.INFO, SeverityNumber.ERROR3, SeverityNumber.UNSPECIFIED][seq % 3],
      severityText: ['INFO', 'ERROR', ''][seq % 3],
      body,
      attributes: {
        seq,
        'attr.bytes': new Uint8Array([1, 2, 3]),
        'attr.map': { a: 'b', n: { deep: [1, 'x'] } },
        'attr.mixed': ['s', 1, true, null],
      },
      ...(seq % 2 === 0 && { context: inSpan }),
      ...(seq === 1 && { eventName: 'session.start' }),
    }),
  );
  return memory.getFinishedLogRecords();
}

class ManualReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

async function makeMetrics(): Promise<ResourceMetrics> {
  const reader = new ManualReader({
    aggregationTemporalitySelector: (type) =>
      type === InstrumentType.COUNTER ? AggregationTemporality.DELTA : AggregationTemporality.CUMULATIVE,
  });
  const provider = new MeterProvider({
    resource,
    readers: [reader],
    views: [{ instrumentName: 'payload.size', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('metrics-lib', '3.0.0', { schemaUrl: 'https://opentelemetry.io/schemas/1.24.0' });
  const requests = meter.createCounter('http.requests', { description: 'requests served', unit: '{request}', valueType: ValueType.INT });
  requests.add(3, { route: '/a' });
  requests.add(2, { route: '/b', method: 'GET' });
  const depth = meter.createUpDownCounter('queue.depth', { valueType: ValueType.DOUBLE });
  depth.add(5.5);
  depth.add(-2.25);
  meter.createGauge('cpu.temperature', { unit: 'Cel' }).record(61.5, { core: 0 });
  const latency = meter.createHistogram('http.duration', { unit: 'ms', advice: { explicitBucketBoundaries: [10, 50, 100] } });
  for (const v of [3, 12, 48, 51, 250]) latency.record(v, { route: '/a' });
  const size = meter.createHistogram('payload.size', { unit: 'By' });
  for (const v of [0, 1, 3.5, 1024, 4096, -8, -0.25]) size.record(v);
  const { resourceMetrics, errors } = await reader.collect();
  assert.deepEqual(errors, []);
  await provider.shutdown();
  return resourceMetrics;
}

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe('the otlp receiver with the OpenTelemetry SDK exporters', () => {
  let r: Running;
  before(async () => {
    r = await startReceiver();
  });
  after(() => r.receiver.shutdown());

  test('spans sent by the gRPC, HTTP/JSON and HTTP/protobuf trace exporters arrive field for field', async () => {
    const spans = makeSpans();
    // Sanity: the SDK really produced what the assertions below are about.
    const server = spans.find((s) => s.name === 'POST /checkout')!;
    assert.ok(server.droppedAttributesCount > 0 && server.droppedEventsCount > 0 && server.droppedLinksCount > 0);
    assert.equal(spans.length, 5);
    const exporters = [
      ['grpc', new GrpcTraceExporter({ url: `http://${r.grpc}`, metadata: tenantMetadata('team-grpc') }), 'team-grpc'],
      ['http/json', new JsonTraceExporter({ url: `http://${r.http}/v1/traces`, headers: { 'X-Scope-OrgID': 'team-json' } }), 'team-json'],
      ['http/protobuf', new ProtoTraceExporter({ url: `http://${r.http}/v1/traces` }), 'default'],
    ] as const;
    for (const [name, exporter, tenant] of exporters) {
      await exportWith(exporter, spans);
      const got = [...r.traces.batches.at(-1)!].sort(bySpanId);
      assert.deepStrictEqual(got, spans.map((s) => expectedSpan(s, tenant)).sort(bySpanId), `spans via ${name}`);
      assert.ok(got.every((s) => s.resource === got[0]!.resource), `${name}: records share one Resource object`);
      assert.equal(new Set(got.map((s) => s.scope)).size, 2, `${name}: one scope object per ScopeSpans`);
      await exporter.shutdown();
    }
  });

  test('log records sent by the gRPC, HTTP/JSON and HTTP/protobuf log exporters arrive field for field', async () => {
    const logs = makeLogs();
    const expected = logs.map((l) => expectedLog(l, 'default')).sort(bySeq);
    // Sanity: bodies and attributes of every AnyValue kind survived the SDK.
    const kinds = new Set(expected.flatMap((l) => [l.body, ...l.attributes.map((a) => a.value)]).map((v) => Object.keys(v)[0] ?? 'empty'));
    assert.deepEqual([...kinds].sort(), ['arrayValue', 'boolValue', 'bytesValue', 'doubleValue', 'empty', 'intValue', 'kvlistValue', 'stringValue']);
    assert.equal(expected.filter((l) => l.traceId !== '').length, 4);
    const exporters = [
      ['grpc', new GrpcLogExporter({ url: `http://${r.grpc}` })],
      ['http/json', new JsonLogExporter({ url: `http://${r.http}/v1/logs` })],
      ['http/protobuf', new ProtoLogExporter({ url: `http://${r.http}/v1/logs` })],
    ] as const;
    for (const [name, exporter] of exporters) {
      await exportWith(exporter, logs);
      assert.deepStrictEqual([...r.logs.batches.at(-1)!].sort(bySeq), expected, `logs via ${name}`);
      await exporter.shutdown();
    }
  });

  test('metrics sent by the gRPC, HTTP/JSON and HTTP/protobuf metric exporters arrive field for field, exponential histograms included', async () => {
    const rm = await makeMetrics();
    const expected = expectedMetricPoints(rm, 'default').sort(byMetric);
    assert.deepEqual(
      [...new Set(expected.map((p) => `${p.metric.name}:${p.metric.type}:${p.metric.aggregationTemporality}:${p.metric.isMonotonic}`))].sort(),
      [
        'cpu.temperature:gauge:0:false',
        'http.duration:histogram:2:false',
        'http.requests:sum:1:true',
        'payload.size:exponentialHistogram:2:false',
        'queue.depth:sum:2:false',
      ],
    );
    const exporters = [
      ['grpc', new GrpcMetricExporter({ url: `http://${r.grpc}` })],
      ['http/json', new JsonMetricExporter({ url: `http://${r.http}/v1/metrics` })],
      ['http/protobuf', new ProtoMetricExporter({ url: `http://${r.http}/v1/metrics` })],
    ] as const;
    for (const [name, exporter] of exporters) {
      await exportWith(exporter, rm);
      const got = [...r.metrics.batches.at(-1)!].sort(byMetric);
      assert.deepStrictEqual(got, expected, `metrics via ${name}`);
      const requests = got.filter((p) => p.metric.name === 'http.requests');
      assert.equal(requests[0]!.metric, requests[1]!.metric, `${name}: points of one metric share its descriptor`);
      await exporter.shutdown();
    }
  });

  test('gzip-compressed exports from the HTTP and gRPC exporters arrive intact', async () => {
    const spans = makeSpans();
    const expected = spans.map((s) => expectedSpan(s, 'default')).sort(bySpanId);
    const exporters = [
      new GrpcTraceExporter({ url: `http://${r.grpc}`, compression: CompressionAlgorithm.GZIP }),
      new ProtoTraceExporter({ url: `http://${r.http}/v1/traces`, compression: CompressionAlgorithm.GZIP }),
      new JsonTraceExporter({ url: `http://${r.http}/v1/traces`, compression: CompressionAlgorithm.GZIP }),
    ];
    for (const exporter of exporters) {
      await exportWith(exporter, spans);
      assert.deepStrictEqual([...r.traces.batches.at(-1)!].sort(bySpanId), expected);
      await exporter.shutdown();
    }
  });
});

describe('OTLP requests built by hand', () => {
  let r: Running;
  before(async () => {
    r = await startReceiver();
  });
  after(() => r.receiver.shutdown());

  const checkoutResource: Resource = {
    attributes: [{ key: 'service.name', value: { stringValue: 'checkout' } }],
    droppedAttributesCount: 2,
    schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
  };
  const checkoutScope: InstrumentationScope = {
    name: 'io.example.checkout',
    version: '2.1.0',
    attributes: [{ key: 'scope.attr', value: { boolValue: true } }],
    droppedAttributesCount: 1,
    schemaUrl: 'https://opentelemetry.io/schemas/1.25.0',
  };
  const emptyResource: Resource = { attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
  const emptyScope: InstrumentationScope = { name: '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };

  const expectedFixtureSpans = (tenant: string): SpanRecord[] => [
    {
      tenant,
      resource: checkoutResource,
      scope: checkoutScope,
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: 'eee19b7ec3c1b174',
      parentSpanId: '',
      traceState: 'congo=t61rcWkgMzE',
      flags: 769,
      name: 'POST /checkout',
      kind: 2,
      startTimeUnixNano: 1700000000123456789n,
      endTimeUnixNano: 1700000001000000000n,
      attributes: [
        { key: 'str', value: { stringValue: 'héllo ✓' } },
        { key: 'empty.str', value: { stringValue: '' } },
        { key: 'bool', value: { boolValue: true } },
        { key: 'int.num', value: { intValue: '42' } },
        { key: 'int.min', value: { intValue: '-9223372036854775808' } },
        { key: 'int.big', value: { intValue: '9007199254740993' } },
        { key: 'double', value: { doubleValue: 3.25 } },
        { key: 'double.inf', value: { doubleValue: -Infinity } },
        { key: 'bytes', value: { bytesValue: '3q2+7w==' } },
        {
          key: 'array',
          value: { arrayValue: { values: [{ stringValue: 'a' }, { intValue: '1' }, { arrayValue: { values: [{ boolValue: false }] } }, {}] } },
        },
        {
          key: 'kvlist',
          value: {
            kvlistValue: {
              values: [
                { key: 'inner', value: { kvlistValue: { values: [{ key: 'deep', value: { doubleValue: 0.5 } }] } } },
                { key: 'list', value: { arrayValue: { values: [] } } },
              ],
            },
          },
        },
        { key: 'no.value', value: {} },
        { key: 'absent.value', value: {} },
      ],
      droppedAttributesCount: 3,
      events: [
        {
          timeUnixNano: 1700000000500000000n,
          name: 'exception',
          attributes: [{ key: 'exception.type', value: { stringValue: 'IOError' } }],
          droppedAttributesCount: 1,
        },
      ],
      droppedEventsCount: 2,
      links: [
        {
          traceId: '0af7651916cd43dd8448eb211c80319c',
          spanId: 'b7ad6b7169203331',
          traceState: 'rojo=00f067aa0ba902b7',
          flags: 257,
          attributes: [{ key: 'link.kind', value: { stringValue: 'follows' } }],
          droppedAttributesCount: 4,
        },
      ],
      droppedLinksCount: 1,
      status: { code: 2, message: 'upstream timed out' },
    },
    {
      tenant,
      resource: checkoutResource,
      scope: checkoutScope,
      traceId: '5b8efff798038103d269b633813fc60c',
      spanId: '0102030405060708',
      parentSpanId: 'eee19b7ec3c1b174',
      traceState: '',
      flags: 0,
      name: 'db.query',
      kind: 3,
      startTimeUnixNano: 1700000000200000000n,
      endTimeUnixNano: 1700000000300000000n,
      attributes: [],
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 1, message: '' },
    },
    {
      tenant,
      resource: emptyResource,
      scope: emptyScope,
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      parentSpanId: '',
      traceState: '',
      flags: 0,
      name: 'minimal',
      kind: 0,
      startTimeUnixNano: 0n,
      endTimeUnixNano: 0n,
      attributes: [],
      droppedAttributesCount: 0,
      events: [],
      droppedEventsCount: 0,
      links: [],
      droppedLinksCount: 0,
      status: { code: 0, message: '' },
    },
  ];

  test('OTLP/JSON with every AnyValue type, hex and base64 IDs, int64 as numbers and strings and enum names decodes exactly', async () => {
    const res = await post(r.http, '/v1/traces', JSON.stringify(fixture('traces-json-variants.json')), {
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-scope-orgid': 'acme' },
    });
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers['content-type'], 'application/json');
    assert.deepStrictEqual(JSON.parse(res.body.toString()), {});
    assert.deepStrictEqual(r.traces.batches.at(-1), expectedFixtureSpans('acme'));
  });

  test('the same trace request as protobuf, over HTTP and gRPC, decodes to the same records', async () => {
    const body = toProtobuf('traces', fixture('traces-json-variants.json'));
    const res = await post(r.http, '/v1/traces', body, { headers: PROTO_HEADERS });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0, 'an empty ExportTraceServiceResponse');
    assert.deepStrictEqual(r.traces.batches.at(-1), expectedFixtureSpans('default'));
    const call = await grpcExport(r.grpc, 'traces', body, tenantMetadata('acme'));
    assert.equal(call.code, grpc.status.OK, call.details);
    assert.deepStrictEqual(r.traces.batches.at(-1), expectedFixtureSpans('acme'));
  });

  test('OTLP/JSON with snake_case field names decodes like lowerCamelCase', async () => {
    const snake = JSON.parse(
      JSON.stringify(fixture('traces-json-variants.json')).replace(/"([a-z]+[A-Z][A-Za-z]*)":/g, (_, k: string) => `"${k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}":`),
    );
    assert.ok(JSON.stringify(snake).includes('"resource_spans"'));
    const res = await post(r.http, '/v1/traces', JSON.stringify(snake), { headers: JSON_HEADERS });
    assert.equal(res.status, 200, res.body.toString());
    assert.deepStrictEqual(r.traces.batches.at(-1), expectedFixtureSpans('default'));
  });

  test('summaries, exemplars, metric metadata and no-recorded-value points arrive from OTLP/JSON and protobuf', async () => {
    const meterResource: Resource = { attributes: [{ key: 'service.name', value: { stringValue: 'meter-svc' } }], droppedAttributesCount: 0, schemaUrl: '' };
    const meterScope: InstrumentationScope = { name: 'io.example.meter', version: '0.1.0', attributes: [], droppedAttributesCount: 0, schemaUrl: '' };
    const gauge: MetricDescriptor = {
      name: 'cpu.temperature',
      description: 'CPU die temperature',
      unit: 'Cel',
      type: 'gauge',
      aggregationTemporality: 0,
      isMonotonic: false,
      metadata: [{ key: 'prometheus.type', value: { stringValue: 'gauge' } }],
    };
    const common = { tenant: 'default', resource: meterResource, scope: meterScope };
    const expected: MetricPoint[] = [
      {
        ...common,
        metric: gauge,
        point: {
          type: 'number',
          attributes: [{ key: 'core', value: { intValue: '0' } }],
          startTimeUnixNano: 0n,
          timeUnixNano: 1700000000000000000n,
          flags: 0,
          asDouble: 61.5,
          exemplars: [
            {
              filteredAttributes: [{ key: 'sensor', value: { stringValue: 'die' } }],
              timeUnixNano: 1699999999900000000n,
              asInt: '62',
              spanId: 'b7ad6b7169203331',
              traceId: '0af7651916cd43dd8448eb211c80319c',
            },
          ],
        },
      },
      {
        ...common,
        metric: gauge,
        point: { type: 'number', attributes: [], startTimeUnixNano: 0n, timeUnixNano: 1700000000000000000n, flags: 1, exemplars: [] },
      },
      {
        ...common,
        metric: { name: 'http.requests', description: '', unit: '{request}', type: 'sum', aggregationTemporality: 2, isMonotonic: true, metadata: [] },
        point: {
          type: 'number',
          attributes: [{ key: 'route', value: { stringValue: '/checkout' } }],
          startTimeUnixNano: 1690000000000000000n,
          timeUnixNano: 1700000000000000000n,
          flags: 0,
          asInt: '9223372036854775807',
          exemplars: [],
        },
      },
      {
        ...common,
        metric: { name: 'http.duration', description: '', unit: 'ms', type: 'histogram', aggregationTemporality: 1, isMonotonic: false, metadata: [] },
        point: {
          type: 'histogram',
          attributes: [],
          startTimeUnixNano: 1699999990000000000n,
          timeUnixNano: 1700000000000000000n,
          flags: 0,
          count: 6,
          sum: 123.5,
          bucketCounts: [1, 2, 3],
          explicitBounds: [10, 100],
          min: 2.5,
          max: 80,
          exemplars: [
            {
              filteredAttributes: [],
              timeUnixNano: 1699999995000000000n,
              asDouble: 80,
              traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
              spanId: '00f067aa0ba902b7',
            },
          ],
        },
      },
      {
        ...common,
        metric: { name: 'payload.size', description: '', unit: 'By', type: 'exponentialHistogram', aggregationTemporality: 1, isMonotonic: false, metadata: [] },
        point: {
          type: 'exponentialHistogram',
          attributes: [],
          startTimeUnixNano: 1699999990000000000n,
          timeUnixNano: 1700000000000000000n,
          flags: 0,
          count: 7,
          sum: -3.5,
          scale: -2,
          zeroCount: 1,
          zeroThreshold: 0.001,
          positive: { offset: -1, bucketCounts: [2, 1] },
          negative: { offset: 3, bucketCounts: [3] },
          min: -40,
          max: 12.5,
          exemplars: [],
        },
      },
      {
        ...common,
        metric: { name: 'rpc.latency', description: '', unit: 's', type: 'summary', aggregationTemporality: 0, isMonotonic: false, metadata: [] },
        point: {
          type: 'summary',
          attributes: [{ key: 'method', value: { stringValue: 'Get' } }],
          startTimeUnixNano: 1699999990000000000n,
          timeUnixNano: 1700000000000000000n,
          flags: 0,
          count: 10,
          sum: 4.25,
          quantileValues: [
            { quantile: 0, value: 0.125 },
            { quantile: 0.5, value: 0.375 },
            { quantile: 1, value: 0.875 },
          ],
        },
      },
    ];
    const request = fixture('metrics-all-types.json');
    const viaJson = await post(r.http, '/v1/metrics', JSON.stringify(request), { headers: JSON_HEADERS });
    assert.equal(viaJson.status, 200, viaJson.body.toString());
    assert.deepStrictEqual(r.metrics.batches.at(-1), expected);
    const viaProto = await post(r.http, '/v1/metrics', toProtobuf('metrics', request), { headers: PROTO_HEADERS });
    assert.equal(viaProto.status, 200);
    assert.deepStrictEqual(r.metrics.batches.at(-1), expected);
  });

  test('OTLP/JSON log records accept severity names, base64 IDs and bodies of any type', async () => {
    const request = {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                {
                  timeUnixNano: '1700000000000000001',
                  observedTimeUnixNano: 1700000000000000000,
                  severityNumber: 'SEVERITY_NUMBER_WARN',
                  severityText: 'WARN',
                  body: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'disk low' } }] } },
                  traceId: 'W47/95gDgQPSabYzgT/GDA==',
                  spanId: '7uGbfsPBsXQ=',
                  flags: 1,
                  eventName: 'disk.low',
                },
                { severityNumber: 21, body: { bytesValue: 'AAEC' } },
              ],
            },
          ],
        },
      ],
    };
    const sentAt = BigInt(Date.now()) * 1_000_000n;
    const res = await post(r.http, '/v1/logs', JSON.stringify(request), { headers: JSON_HEADERS });
    assert.equal(res.status, 200, res.body.toString());
    const base = { tenant: 'default', resource: emptyResource, scope: emptyScope, attributes: [], droppedAttributesCount: 0 };
    // A record with neither time is observed when received (at 0 it was stored in 1970 and deleted by retention).
    const observed = r.logs.batches.at(-1)![1]!.observedTimeUnixNano;
    assert.ok(observed >= sentAt && observed <= BigInt(Date.now()) * 1_000_000n, `observed ${observed}`);
    assert.deepStrictEqual(r.logs.batches.at(-1), [
      {
        ...base,
        timeUnixNano: 1700000000000000001n,
        observedTimeUnixNano: 1700000000000000000n,
        severityNumber: 13,
        severityText: 'WARN',
        body: { kvlistValue: { values: [{ key: 'msg', value: { stringValue: 'disk low' } }] } },
        flags: 1,
        traceId: '5b8efff798038103d269b633813fc60c',
        spanId: 'eee19b7ec3c1b174',
        eventName: 'disk.low',
      },
      {
        ...base,
        timeUnixNano: 0n,
        observedTimeUnixNano: observed,
        severityNumber: 21,
        severityText: '',
        body: { bytesValue: 'AAEC' },
        flags: 0,
        traceId: '',
        spanId: '',
        eventName: '',
      },
    ]);
  });

  test('gzip, deflate and zlib bodies are inflated on HTTP, and gzip-compressed messages on gRPC', async () => {
    const gz = await post(r.http, '/v1/traces', zlib.gzipSync(goodSpanJson('gzipped')), { headers: { ...JSON_HEADERS, 'content-encoding': 'gzip' } });
    assert.equal(gz.status, 200);
    const df = await post(r.http, '/v1/traces', zlib.deflateSync(toProtobuf('traces', JSON.parse(goodSpanJson('deflated')))), {
      headers: { ...PROTO_HEADERS, 'content-encoding': 'deflate' },
    });
    assert.equal(df.status, 200);
    // The Collector's otlphttp exporter names zlib-wrapped deflate `zlib`.
    const zl = await post(r.http, '/v1/traces', zlib.deflateSync(goodSpanJson('zlib')), { headers: { ...JSON_HEADERS, 'content-encoding': 'zlib' } });
    assert.equal(zl.status, 200);
    // Sent as-is with the compressed flag set, so the receiver (grpc-js) has to inflate it.
    const call = await grpcRawFrame(r.grpc, 'traces', zlib.gzipSync(toProtobuf('traces', JSON.parse(goodSpanJson('grpc-gzip')))), true);
    assert.equal(call.code, grpc.status.OK, call.message);
    assert.deepEqual(r.traces.all().slice(-4).map((s) => s.name), ['gzipped', 'deflated', 'zlib', 'grpc-gzip']);
  });

  // What the Collector's otlphttp exporter sends with `compression: zstd` or `snappy` (block format
  // since v0.131). The zstd bodies come from the reference encoder (the zstd command).
  test('zstd and snappy bodies are decompressed on HTTP, as the Collector sends them', async () => {
    const proto = toProtobuf('traces', JSON.parse(goodSpanJson('zstd-stream')));
    // From a pipe: no content size in the header, as a streaming encoder writes it.
    const zs = await post(r.http, '/v1/traces', zstdCli(proto), { headers: { ...PROTO_HEADERS, 'content-encoding': 'zstd' } });
    assert.equal(zs.status, 200, zs.body.toString());
    // Two frames in one body (concatenated .zst files are one valid stream).
    const twoFrames = Buffer.from(goodSpanJson('zstd-frames'));
    const half = twoFrames.length >> 1;
    const framed = Buffer.concat([zstdCli(twoFrames.subarray(0, half), ['-19']), zstdCli(twoFrames.subarray(half), ['--no-check'])]);
    const zf = await post(r.http, '/v1/traces', framed, { headers: { ...JSON_HEADERS, 'content-encoding': 'zstd' } });
    assert.equal(zf.status, 200, zf.body.toString());
    const sn = await post(r.http, '/v1/traces', Buffer.from(snappy.compress(toProtobuf('traces', JSON.parse(goodSpanJson('snappy-block'))))), {
      headers: { ...PROTO_HEADERS, 'content-encoding': 'snappy' },
    });
    assert.equal(sn.status, 200, sn.body.toString());
    assert.deepEqual(r.traces.all().slice(-3).map((s) => s.name), ['zstd-stream', 'zstd-frames', 'snappy-block']);
  });
});

describe('partial success', () => {
  let r: Running;
  before(async () => {
    r = await startReceiver();
  });
  after(() => r.receiver.shutdown());

  const spansRequest = {
    resourceSpans: [
      {
        scopeSpans: [
          {
            spans: [
              { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', name: 'good-1' },
              { traceId: '4bf92f3577b34da6a3ce929d0e0e47', spanId: '00f067aa0ba902b8', name: 'short trace id' },
              { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b9', name: 'good-2' },
            ],
          },
        ],
      },
    ],
  };

  test('one span with a bad trace ID is rejected and reported over HTTP/JSON while the good spans are delivered', async () => {
    const res = await post(r.http, '/v1/traces', JSON.stringify(spansRequest), { headers: JSON_HEADERS });
    assert.equal(res.status, 200);
    const { partialSuccess } = JSON.parse(res.body.toString());
    assert.equal(Number(partialSuccess.rejectedSpans), 1);
    assert.match(partialSuccess.errorMessage, /spans\[1\]: trace_id must be 16 bytes/);
    assert.deepEqual(r.traces.batches.at(-1)!.map((s) => s.name), ['good-1', 'good-2']);
  });

  test('partial success comes back as a protobuf ExportTraceServiceResponse over HTTP and gRPC', async () => {
    const body = toProtobuf('traces', spansRequest);
    const response = otlpProto().response.traces;
    const viaHttp = await post(r.http, '/v1/traces', body, { headers: PROTO_HEADERS });
    assert.equal(viaHttp.status, 200);
    const fromHttp = response.toObject(response.decode(viaHttp.body), { longs: Number }) as { partialSuccess: { rejectedSpans: number; errorMessage: string } };
    assert.equal(fromHttp.partialSuccess.rejectedSpans, 1);
    assert.match(fromHttp.partialSuccess.errorMessage, /trace_id must be 16 bytes, got 15/);
    const viaGrpc = await grpcExport(r.grpc, 'traces', body);
    assert.equal(viaGrpc.code, grpc.status.OK);
    const fromGrpc = response.toObject(response.decode(viaGrpc.response!), { longs: Number }) as typeof fromHttp;
    assert.deepEqual(fromGrpc, fromHttp);
    assert.deepEqual(r.traces.batches.at(-1)!.map((s) => s.name), ['good-1', 'good-2']);
  });

  test('spans with an all-zero trace ID, a short span ID or a bad parent ID are each rejected with their reason', async () => {
    const bad = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId: '00000000000000000000000000000000', spanId: '00f067aa0ba902b7', name: 'zero' },
                { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902', name: 'short span' },
                { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', parentSpanId: 'xyz', name: 'bad parent' },
                { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', kind: 'SPAN_KIND_NOPE', name: 'bad kind' },
              ],
            },
          ],
        },
      ],
    };
    const { decodeTraces } = await import('../../src/otlp/codec.ts');
    const decoded = decodeTraces(Buffer.from(JSON.stringify(bad)), 'json', 'default');
    assert.equal(decoded.items.length, 0);
    assert.deepEqual(
      decoded.rejected.map((x) => x.reason),
      [
        'trace_id is all zeros',
        'span_id must be 8 bytes (16 hex chars), got "00f067aa0ba902"',
        'parent_span_id must be 8 bytes (16 hex chars), got "xyz"',
        'kind "SPAN_KIND_NOPE" is not a valid value',
      ],
    );
    const res = await post(r.http, '/v1/traces', JSON.stringify(bad), { headers: JSON_HEADERS });
    assert.equal(Number(JSON.parse(res.body.toString()).partialSuccess.rejectedSpans), 4);
  });

  test('64-bit values sent as JSON numbers arrive exact, and values outside their field\'s range are rejected, not wrapped', async () => {
    // JSON.parse rounds integers past 2^53 (a nanosecond time is past it), and out-of-range values
    // used to be stored wrapped: 2^64-1 as an end time read back as -1 ns, flags of 2^33+1 as 1.
    const span = (name: string, extra: string) =>
      `{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7","name":"${name}","startTimeUnixNano":"1796399152257698655"${extra}}`;
    const spans = [
      span('exact', ',"endTimeUnixNano":1796399152257698661,"attributes":[{"key":"i","value":{"intValue":-9223372036854775808}},{"key":"j","value":{"intValue":9007199254740993}}]'),
      span('end past int64', ',"endTimeUnixNano":"18446744073709551615"'),
      span('negative end', ',"endTimeUnixNano":"-5"'),
      span('end past uint64', ',"endTimeUnixNano":99999999999999999999999'),
      span('int past int64', ',"attributes":[{"key":"i","value":{"intValue":"9223372036854775808"}}]'),
      span('flags past uint32', ',"flags":8589934593'),
      span('dropped past uint32', ',"droppedEventsCount":"4294967297"'),
      '{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"0123456789c","name":"11 hex chars, also 8 bytes of base64"}',
    ];
    const body = `{"resourceSpans":[{"scopeSpans":[{"spans":[${spans.join(',')}]}]}]}`;
    const res = await post(r.http, '/v1/traces', body, { headers: JSON_HEADERS });
    assert.equal(res.status, 200);
    assert.equal(JSON.parse(res.body.toString()).partialSuccess.rejectedSpans, '7');
    const [exact] = r.traces.batches.at(-1)!;
    assert.equal(exact!.name, 'exact');
    assert.equal(exact!.endTimeUnixNano - exact!.startTimeUnixNano, 6n, 'both times exact to the nanosecond');
    assert.deepEqual(exact!.attributes.map((a) => a.value), [{ intValue: '-9223372036854775808' }, { intValue: '9007199254740993' }]);
    const { decodeTraces } = await import('../../src/otlp/codec.ts');
    assert.deepEqual(
      decodeTraces(Buffer.from(body), 'json', 'default').rejected.map((x) => x.reason),
      [
        'end_time_unix_nano must be at most 9223372036854775807 (the year 2262), got 18446744073709551615',
        'end_time_unix_nano must be an integer from 0 to 18446744073709551615, got -5',
        'end_time_unix_nano must be an integer from 0 to 18446744073709551615, got 99999999999999999999999',
        'span attribute "i": intValue must be an integer from -9223372036854775808 to 9223372036854775807, got 9223372036854775808',
        'flags must be an integer from 0 to 4294967295, got 8589934593',
        'dropped_events_count must be an integer from 0 to 4294967295, got 4294967297',
        'span_id must be 8 bytes (16 hex chars), got "0123456789c"',
      ],
    );
  });

  test('an AnyValue nested too deeply rejects its span instead of overflowing the stack', async () => {
    const depth = 10_000; // built as text: JSON.stringify itself would overflow
    const value = `${'{"arrayValue":{"values":['.repeat(depth)}{"stringValue":"bottom"}${']}}'.repeat(depth)}`;
    const request = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', name: 'deep', attributes: [{ key: 'deep', value: 'DEEP' }] },
                { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b8', name: 'fine' },
              ],
            },
          ],
        },
      ],
    };
    const res = await post(r.http, '/v1/traces', JSON.stringify(request).replace('"DEEP"', value), { headers: JSON_HEADERS });
    assert.equal(res.status, 200);
    assert.match(JSON.parse(res.body.toString()).partialSuccess.errorMessage, /AnyValue nested deeper than 64 levels/);
    assert.deepEqual(r.traces.batches.at(-1)!.map((s) => s.name), ['fine']);
  });

  test('log records with malformed IDs and data points without a value are rejected and counted', async () => {
    const logs = {
      resourceLogs: [
        {
          scopeLogs: [
            {
              logRecords: [
                { body: { stringValue: 'ok' } },
                { body: { stringValue: 'bad trace' }, traceId: 'abcd' },
                { body: { stringValue: 'bad span' }, traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f0' },
              ],
            },
          ],
        },
      ],
    };
    const logRes = await post(r.http, '/v1/logs', JSON.stringify(logs), { headers: JSON_HEADERS });
    const logPartial = JSON.parse(logRes.body.toString()).partialSuccess;
    assert.equal(logPartial.rejectedLogRecords, '2');
    assert.match(logPartial.errorMessage, /^2 log records rejected: resourceLogs\[0\]\.scopeLogs\[0\]\.logRecords\[1\]: trace_id must be 16 bytes/);
    assert.deepEqual(r.logs.batches.at(-1)!.map((l) => l.body), [{ stringValue: 'ok' }]);

    const metrics = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'g', gauge: { dataPoints: [{ asDouble: 1 }, { timeUnixNano: '1' }, { asInt: '3' }] } },
                { name: 'h', histogram: { dataPoints: [{ count: 1, bucketCounts: [1, 0], explicitBounds: [1, 2] }] } },
              ],
            },
          ],
        },
      ],
    };
    const metricRes = await post(r.http, '/v1/metrics', toProtobuf('metrics', metrics), { headers: PROTO_HEADERS });
    const response = otlpProto().response.metrics;
    const metricPartial = (response.toObject(response.decode(metricRes.body), { longs: Number }) as { partialSuccess: { rejectedDataPoints: number; errorMessage: string } }).partialSuccess;
    assert.equal(metricPartial.rejectedDataPoints, 2);
    assert.match(metricPartial.errorMessage, /gauge\.dataPoints\[1\]: data point has no value/);
    assert.deepEqual(r.metrics.batches.at(-1)!.map((p) => (p.point.type === 'number' ? (p.point.asDouble ?? p.point.asInt) : p.point.type)), [1, '3']);
    const stats = r.receiver.stats();
    assert.equal(stats.rejectedLogRecords, 2);
    assert.equal(stats.rejectedDataPoints, 2);
  });
});

describe('the tenant', () => {
  let r: Running;
  before(async () => {
    r = await startReceiver((c) => (c.tenantHeader = 'X-Tenant'));
  });
  after(() => r.receiver.shutdown());

  test('the configured tenant header and gRPC metadata key set record.tenant; without one it is "default"', async () => {
    await post(r.http, '/v1/traces', goodSpanJson('t1'), { headers: { ...JSON_HEADERS, 'x-tenant': "team.a_(1)*!'-" } });
    assert.equal(r.traces.batches.at(-1)![0]!.tenant, "team.a_(1)*!'-");
    await post(r.http, '/v1/traces', goodSpanJson('t2'), { headers: JSON_HEADERS });
    assert.equal(r.traces.batches.at(-1)![0]!.tenant, 'default');
    const md = new grpc.Metadata();
    md.set('x-tenant', 'grpc-team');
    const call = await grpcExport(r.grpc, 'traces', toProtobuf('traces', JSON.parse(goodSpanJson('t3'))), md);
    assert.equal(call.code, grpc.status.OK);
    assert.equal(r.traces.batches.at(-1)![0]!.tenant, 'grpc-team');
  });

  test('an invalid tenant is refused with 400 or INVALID_ARGUMENT naming the header', async () => {
    const count = r.traces.count();
    for (const tenant of ['has space', 'x'.repeat(151), 'slash/y', '..']) {
      const res = await post(r.http, '/v1/traces', goodSpanJson('t'), { headers: { ...JSON_HEADERS, 'x-tenant': tenant } });
      assert.equal(res.status, 400, tenant);
      assert.match(statusBody(res).message, /invalid tenant in X-Tenant/);
    }
    const md = new grpc.Metadata();
    md.set('x-tenant', 'bad tenant');
    const call = await grpcExport(r.grpc, 'traces', toProtobuf('traces', JSON.parse(goodSpanJson('t'))), md);
    assert.equal(call.code, grpc.status.INVALID_ARGUMENT);
    assert.match(call.details, /invalid tenant/);
    assert.equal(r.traces.count(), count);
  });
});

describe('bad requests', () => {
  let r: Running;
  let bomb: Buffer;
  before(async () => {
    r = await startReceiver();
    // 64 MiB of zeros gzips to ~64 KiB; 64 gzip members back to back inflate to 4 GiB from 4 MiB.
    const member = zlib.gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 });
    bomb = Buffer.concat(Array.from({ length: 64 }, () => member));
  });
  after(() => r.receiver.shutdown());

  /** Sends one good span first, runs the bad request, then checks the sink and that serving goes on. */
  async function stillServingAround(bad: () => Promise<void>): Promise<void> {
    const seeded = await post(r.http, '/v1/traces', goodSpanJson('before'), { headers: JSON_HEADERS });
    assert.equal(seeded.status, 200);
    const before = structuredClone(r.traces.all());
    await bad();
    assert.deepStrictEqual(r.traces.all(), before, 'what was received earlier is intact');
    const after = await post(r.http, '/v1/traces', goodSpanJson('after'), { headers: JSON_HEADERS });
    assert.equal(after.status, 200, 'the next good request is served');
    assert.equal(r.traces.all().at(-1)!.name, 'after');
  }

  test('malformed protobuf is answered with 400 and a protobuf Status naming the message type', () =>
    stillServingAround(async () => {
      const res = await post(r.http, '/v1/traces', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]), { headers: PROTO_HEADERS });
      assert.equal(res.status, 400);
      assert.equal(res.headers['content-type'], 'application/x-protobuf');
      const status = statusBody(res);
      assert.equal(status.code, grpc.status.INVALID_ARGUMENT);
      assert.match(status.message, /not a valid protobuf ExportTraceServiceRequest/);
    }));

  test('malformed JSON is answered with 400 and a JSON Status saying it is not valid JSON', () =>
    stillServingAround(async () => {
      const res = await post(r.http, '/v1/traces', '{"resourceSpans": [', { headers: JSON_HEADERS });
      assert.equal(res.status, 400);
      assert.match(statusBody(res).message, /request body is not valid JSON/);
      const wrongShape = await post(r.http, '/v1/traces', '{"resourceSpans": {"not": "a list"}}', { headers: JSON_HEADERS });
      assert.equal(wrongShape.status, 400);
      assert.match(statusBody(wrongShape).message, /resourceSpans must be an array/);
    }));

  test('a wrong or missing Content-Type is answered with 415 naming the accepted types, as the Collector does', () =>
    stillServingAround(async () => {
      for (const headers of [{ 'content-type': 'text/plain' }, {}] as Record<string, string>[]) {
        const res = await post(r.http, '/v1/traces', goodSpanJson('x'), { headers });
        assert.equal(res.status, 415);
        assert.match(statusBody(res).message, /unsupported Content-Type .*use application\/x-protobuf or application\/json/);
      }
    }));

  test('an unknown path is answered with 404 listing the paths that exist, a wrong method with 405', () =>
    stillServingAround(async () => {
      const res = await post(r.http, '/v1/spans', goodSpanJson('x'), { headers: JSON_HEADERS });
      assert.equal(res.status, 404);
      assert.equal(statusBody(res).message, 'unknown path /v1/spans; this receiver serves POST /v1/traces, /v1/logs, /v1/metrics');
      const get = await post(r.http, '/v1/traces', '', { method: 'GET' });
      assert.equal(get.status, 405);
      assert.equal(get.headers.allow, 'POST');
      assert.match(statusBody(get).message, /method GET is not allowed on \/v1\/traces/);
    }));

  test('a body over the limit is answered with 413, by Content-Length up front and while streaming without one', () =>
    stillServingAround(async () => {
      const big = Buffer.alloc(16 * 1024 * 1024 + 1, 0x20);
      for (const opts of [{}, { expectContinue: true }, { chunked: true }] satisfies PostOptions[]) {
        const started = performance.now();
        const res = await post(r.http, '/v1/traces', big, { ...opts, headers: JSON_HEADERS });
        assert.equal(res.status, 413, JSON.stringify(opts));
        assert.match(statusBody(res).message, /exceeds the limit of 16777216 bytes/);
        // Not a speed check: an Expect: 100-continue client sends nothing until answered, and the
        // receiver used to wait out its 5 s stall for that body before answering.
        if (opts.expectContinue) assert.ok(performance.now() - started < 4000, 'the 413 comes without waiting for a body the client holds back');
      }
    }));

  test('a gzip bomb is refused with 413 as soon as the inflated size passes the limit', () =>
    stillServingAround(async () => {
      // Only half the bomb is sent and the request is never ended: an answer proves the receiver
      // counted inflated bytes while streaming and stopped, rather than inflating a whole body.
      const [host, port] = splitAddr(r.http);
      const answer = await new Promise<HttpAnswer>((resolve, reject) => {
        const req = http.request(
          { host, port, path: '/v1/traces', method: 'POST', agent: false, headers: { ...PROTO_HEADERS, 'content-encoding': 'gzip' } },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              req.destroy();
              resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) });
            });
          },
        );
        req.on('error', () => {}); // the server closes while we still hold the request open
        req.write(bomb.subarray(0, bomb.length / 2));
        setTimeout(() => reject(new Error('no answer to the gzip bomb')), 10_000).unref();
      });
      assert.equal(answer.status, 413);
      assert.match(statusBody(answer).message, /gzip request body inflates to more than the limit of 16777216 bytes/);
    }));

  test('a client that disconnects halfway through its body does not disturb the server', () =>
    stillServingAround(async () => {
      const [host, port] = splitAddr(r.http);
      const failedBefore = r.receiver.stats().failedRequests.bad_request;
      await new Promise<void>((resolve) => {
        const req = http.request({ host, port, path: '/v1/traces', method: 'POST', agent: false, headers: { ...JSON_HEADERS, 'content-length': 1000 } });
        req.on('error', () => resolve());
        req.write('{"resourceSpans": [');
        setTimeout(() => req.destroy(), 50);
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(r.receiver.stats().failedRequests.bad_request, failedBefore + 1);
    }));

  test('corrupt gzip is answered with 400 saying it could not be decompressed', () =>
    stillServingAround(async () => {
      const res = await post(r.http, '/v1/traces', Buffer.from('definitely not gzip'), { headers: { ...JSON_HEADERS, 'content-encoding': 'gzip' } });
      assert.equal(res.status, 400);
      assert.match(statusBody(res).message, /gzip request body could not be decompressed/);
      const br = await post(r.http, '/v1/traces', goodSpanJson('x'), { headers: { ...JSON_HEADERS, 'content-encoding': 'br' } });
      assert.equal(br.status, 415);
    }));

  test('zstd and snappy bombs, huge windows, corrupt bodies and framed snappy are refused, and nothing else is lost', () =>
    stillServingAround(async () => {
      const limit = 16 * 1024 * 1024;
      // 64 MiB of zeros in a few KiB: refused when its output passes the limit.
      const bomb = await post(r.http, '/v1/traces', zstdCli(Buffer.alloc(4 * limit)), { headers: { ...PROTO_HEADERS, 'content-encoding': 'zstd' } });
      assert.equal(bomb.status, 413);
      assert.match(statusBody(bomb).message, /zstd request body decompresses to more than the limit of 16777216 bytes/);
      // A 128 MiB window (--long=27) is refused from the frame header, before any block is decoded.
      const wide = await post(r.http, '/v1/traces', zstdCli(Buffer.from(goodSpanJson('wide')), ['--long=27', '--no-content-size']), {
        headers: { ...JSON_HEADERS, 'content-encoding': 'zstd' },
      });
      assert.equal(wide.status, 413);
      assert.match(statusBody(wide).message, /zstd request body asks for a window of 134217728 bytes, over the limit of 16777216 bytes/);
      const corrupt = await post(r.http, '/v1/traces', Buffer.from('definitely not zstd'), { headers: { ...JSON_HEADERS, 'content-encoding': 'zstd' } });
      assert.equal(corrupt.status, 400);
      assert.match(statusBody(corrupt).message, /zstd request body could not be decompressed: not a zstd frame at byte 0/);
      const good = zstdCli(goodSpanJson('cut'));
      const cut = await post(r.http, '/v1/traces', good.subarray(0, good.length - 10), { headers: { ...JSON_HEADERS, 'content-encoding': 'zstd' } });
      assert.equal(cut.status, 400);
      assert.match(statusBody(cut).message, /zstd request body could not be decompressed: zstd body ends inside a block/);
      // snappy's header states the length: 64 MiB is refused before anything is decompressed.
      const snappyBomb = await post(r.http, '/v1/traces', Buffer.from(snappy.compress(Buffer.alloc(4 * limit))), { headers: { ...PROTO_HEADERS, 'content-encoding': 'snappy' } });
      assert.equal(snappyBomb.status, 413);
      assert.match(statusBody(snappyBomb).message, /snappy request body decompresses to more than the limit of 16777216 bytes/);
      const snappyBad = await post(r.http, '/v1/traces', Buffer.from([0x05, 0xff, 0xff, 0xff]), { headers: { ...PROTO_HEADERS, 'content-encoding': 'snappy' } });
      assert.equal(snappyBad.status, 400);
      assert.match(statusBody(snappyBad).message, /snappy request body could not be decompressed/);
      // The framing format (a stream identifier chunk first), as Collectors before v0.131 sent `snappy`.
      const framedBody = Buffer.concat([Buffer.from([0xff, 0x06, 0x00, 0x00]), Buffer.from('sNaPpY'), Buffer.from([0x01, 0x05, 0x00, 0x00, 0, 0, 0, 0, 0x7b])]);
      const framedSnappy = await post(r.http, '/v1/traces', framedBody, { headers: { ...JSON_HEADERS, 'content-encoding': 'snappy' } });
      assert.equal(framedSnappy.status, 415);
      assert.match(statusBody(framedSnappy).message, /framing format \(x-snappy-framed\), which is not supported/);
      for (const encoding of ['x-snappy-framed', 'lz4']) {
        const other = await post(r.http, '/v1/traces', goodSpanJson('x'), { headers: { ...JSON_HEADERS, 'content-encoding': encoding } });
        assert.equal(other.status, 415);
        assert.match(statusBody(other).message, /use gzip, deflate \(zlib\), zstd, snappy \(block format\) or none/);
      }
    }));

  test('malformed protobuf over gRPC is answered with INVALID_ARGUMENT naming the message type', () =>
    stillServingAround(async () => {
      const call = await grpcExport(r.grpc, 'logs', Buffer.from([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01]));
      assert.equal(call.code, grpc.status.INVALID_ARGUMENT);
      assert.match(call.details, /not a valid protobuf ExportLogsServiceRequest/);
    }));

  test('a gRPC message over the limit is answered with RESOURCE_EXHAUSTED', () =>
    stillServingAround(async () => {
      const call = await grpcExport(r.grpc, 'traces', Buffer.alloc(16 * 1024 * 1024 + 1));
      assert.equal(call.code, grpc.status.RESOURCE_EXHAUSTED);
    }));

  // A million empty log records are 5 MB on the wire and took ~250 MB of memory once decoded.
  test('a request of more items than maxRequestItems is refused with 413 / RESOURCE_EXHAUSTED before it is decoded', () =>
    stillServingAround(async () => {
      const logsBefore = r.logs.count();
      // ExportLogsServiceRequest { resource_logs (1) { scope_logs (2) { log_records (2) × 1M } } }: each record holds a one-byte trace_id.
      const records = Buffer.alloc(1_000_000 * 5, Buffer.from([0x12, 0x03, 0x4a, 0x01, 0x00]));
      const flood = Buffer.from(protobuf.Writer.create().uint32(0x0a).bytes(protobuf.Writer.create().uint32(0x12).bytes(records).finish()).finish());
      const res = await post(r.http, '/v1/logs', flood, { headers: PROTO_HEADERS });
      assert.equal(res.status, 413);
      assert.equal(statusBody(res).code, grpc.status.RESOURCE_EXHAUSTED);
      assert.equal(
        statusBody(res).message,
        'the request holds more than 100,000 log records (receivers.otlp.maxRequestItems); send them in smaller requests',
      );
      const call = await grpcExport(r.grpc, 'logs', flood);
      assert.equal(call.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(call.details, /more than 100,000 log records \(receivers\.otlp\.maxRequestItems\)/);
      assert.equal(r.logs.count(), logsBefore, 'nothing of the refused requests was delivered');
      assert.ok(r.receiver.stats().failedRequests.too_large >= 2);
    }));

  test('maxRequestItems and maxRequestMessages bound protobuf and JSON requests, exactly at their values', async () => {
    const small = await startReceiver((c) => {
      c.maxRequestItems = 1000;
      c.maxRequestMessages = 5000;
    });
    try {
      const logs = (n: number, attributes: unknown[] = []) => ({
        resourceLogs: [{ resource: { attributes: [] }, scopeLogs: [{ scope: { name: 's' }, logRecords: Array.from({ length: n }, (_, i) => ({ body: { stringValue: `r${i}` }, attributes })) }] }],
      });
      // 1,000 records (each with a body value: 2,000 messages, and the resource, scope and their lists) pass; 1,001 do not.
      for (const [format, encode] of [
        ['protobuf', (j: unknown) => toProtobuf('logs', j)],
        ['json', (j: unknown) => Buffer.from(JSON.stringify(j))],
      ] as const) {
        const headers = format === 'json' ? JSON_HEADERS : PROTO_HEADERS;
        const before = small.logs.count();
        assert.equal((await post(small.http, '/v1/logs', encode(logs(1000)), { headers })).status, 200, format);
        assert.equal(small.logs.count(), before + 1000);
        const over = await post(small.http, '/v1/logs', encode(logs(1001)), { headers });
        assert.equal(over.status, 413, format);
        assert.match(statusBody(over).message, /more than 1,000 log records \(receivers\.otlp\.maxRequestItems\)/);
        // 500 records with two attributes each pass (KeyValue + AnyValue per attribute: 3,004 messages, 3,509 JSON containers); with four, 5,004 and 5,509 do not.
        const attrs = [{ key: 'a', value: { stringValue: 'x' } }, { key: 'b', value: { intValue: '1' } }];
        assert.equal((await post(small.http, '/v1/logs', encode(logs(500, attrs)), { headers })).status, 200, format);
        const wide = await post(small.http, '/v1/logs', encode(logs(500, [...attrs, ...attrs.map((a) => ({ ...a, key: `${a.key}2` }))])), { headers });
        assert.equal(wide.status, 413, format);
        assert.match(
          statusBody(wide).message,
          format === 'json'
            ? /more than 5,000 JSON objects and arrays \(records, attributes, values, events, links, data points: receivers\.otlp\.maxRequestMessages\)/
            : /more than 5,000 protobuf messages \(records, attributes, values, events, links, data points: receivers\.otlp\.maxRequestMessages\)/,
        );
        assert.equal(small.logs.count(), before + 1500, 'only the requests within the limits were delivered');
      }
      // Metric data points are the items of a metrics request (one gauge of 1,001 points).
      const points = (n: number) => ({
        resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'm', gauge: { dataPoints: Array.from({ length: n }, (_, i) => ({ timeUnixNano: String(1e18 + i), asDouble: i })) } }] }] }],
      });
      assert.equal((await post(small.http, '/v1/metrics', toProtobuf('metrics', points(1000)), { headers: PROTO_HEADERS })).status, 200);
      const overPoints = await grpcExport(small.grpc, 'metrics', toProtobuf('metrics', points(1001)));
      assert.equal(overPoints.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(overPoints.details, /more than 1,000 metric data points/);
    } finally {
      await small.receiver.shutdown();
    }
  });

  // Inflating and holding 4 GiB is impossible in this process: an answer at all (within the
  // test's timeout) is one given at the limit.
  test('a gzip bomb over gRPC is refused with RESOURCE_EXHAUSTED without inflating it all', { timeout: 60_000 }, () =>
    stillServingAround(async () => {
      const refused = await grpcRawFrame(r.grpc, 'traces', bomb, true);
      assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
      assert.match(refused.message, /decompresses to a size larger than 16777216/);
    }));

  test('a permanent consumer error is answered with 400 / INVALID_ARGUMENT, a retryable one with 503 + Retry-After / UNAVAILABLE', () =>
    stillServingAround(async () => {
      const body = toProtobuf('traces', JSON.parse(goodSpanJson('refused')));
      r.traces.failWith('permanent', 'schema mismatch downstream');
      try {
        const res = await post(r.http, '/v1/traces', body, { headers: PROTO_HEADERS });
        assert.equal(res.status, 400);
        assert.match(statusBody(res).message, /the pipeline refused the data: schema mismatch downstream/);
        const call = await grpcExport(r.grpc, 'traces', body);
        assert.equal(call.code, grpc.status.INVALID_ARGUMENT);
        r.traces.failWith('retryable', 'queue full');
        const busy = await post(r.http, '/v1/traces', body, { headers: PROTO_HEADERS });
        assert.equal(busy.status, 503);
        assert.equal(busy.headers['retry-after'], '1');
        assert.equal(statusBody(busy).code, grpc.status.UNAVAILABLE);
        assert.match(statusBody(busy).message, /retry later: queue full/);
        const busyCall = await grpcExport(r.grpc, 'traces', body);
        assert.equal(busyCall.code, grpc.status.UNAVAILABLE);
        assert.match(busyCall.details, /queue full/);
      } finally {
        r.traces.failWith(null);
      }
      assert.ok(r.receiver.stats().refusedSpans >= 4);
    }));
});

describe('lifecycle and configuration', () => {
  test('the factory makes an otlp receiver for all three signals, loopback on 4317/4318 with a 16 MiB limit', () => {
    assert.equal(otlpReceiverFactory.type, 'otlp');
    assert.equal(otlpReceiverFactory.kind, 'receiver');
    assert.deepEqual(otlpReceiverFactory.signals, ['traces', 'logs', 'metrics']);
    assert.deepEqual(otlpReceiverFactory.createDefaultConfig(), {
      grpc: { enabled: true, host: '127.0.0.1', port: 4317 },
      http: { enabled: true, host: '127.0.0.1', port: 4318, cors: { allowedOrigins: [], allowedHeaders: [], maxAge: 7200 } },
      maxRequestBytes: 16 * 1024 * 1024,
      maxRequestItems: 100_000,
      maxRequestMessages: 2_000_000,
      tenantHeader: 'x-scope-orgid',
    });
    const config = { ...otlpReceiverFactory.createDefaultConfig(), maxRequestBytes: 0 };
    assert.throws(() => otlpReceiverFactory.create({ id: 'otlp', logger: silentLogger() }, config, {}), /maxRequestBytes: expected an integer greater than 0/);
    for (const key of ['maxRequestItems', 'maxRequestMessages'] as const) {
      const bad = { ...otlpReceiverFactory.createDefaultConfig(), [key]: 1.5 };
      assert.throws(() => otlpReceiverFactory.create({ id: 'otlp', logger: silentLogger() }, bad, {}), new RegExp(`${key}: expected an integer greater than 0 \\(actual: 1\\.5\\)`));
    }
  });

  test('shutdown works before start and when called twice', async () => {
    const config = otlpReceiverFactory.createDefaultConfig();
    const unstarted = otlpReceiverFactory.create({ id: 'otlp/a', logger: silentLogger() }, config, {});
    await unstarted.shutdown();
    await unstarted.shutdown();
    const r = await startReceiver();
    assert.match(r.http, /^127\.0\.0\.1:\d+$/);
    assert.match(r.grpc, /^127\.0\.0\.1:\d+$/);
    await r.receiver.shutdown();
    await r.receiver.shutdown();
    assert.deepEqual(r.receiver.addresses(), {});
    await assert.rejects(post(r.http, '/v1/traces', goodSpanJson('late'), { headers: JSON_HEADERS }), /ECONNREFUSED/);
  });

  test('only the enabled transport listens, and signals without a pipeline are not served', async () => {
    const config = otlpReceiverFactory.createDefaultConfig();
    config.grpc.enabled = false;
    config.http.port = 0;
    const logs = sinkConsumer<'logs'>();
    const receiver = otlpReceiverFactory.create({ id: 'otlp/logs-only', logger: silentLogger() }, config, { logs });
    await receiver.start({ logger: silentLogger(), reportError: () => {} });
    try {
      assert.deepEqual(Object.keys(receiver.addresses()), ['http']);
      const res = await post(receiver.addresses().http!, '/v1/traces', goodSpanJson('x'), { headers: JSON_HEADERS });
      assert.equal(res.status, 404);
      assert.equal(statusBody(res).message, 'unknown path /v1/traces; this receiver serves POST /v1/logs');
    } finally {
      await receiver.shutdown();
    }
  });

  test('shutdown lets an in-flight request finish before closing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = { consume: async () => gate };
    const config = otlpReceiverFactory.createDefaultConfig();
    config.grpc.enabled = false;
    config.http.port = 0;
    const receiver = otlpReceiverFactory.create({ id: 'otlp/slow', logger: silentLogger() }, config, { traces: slow });
    await receiver.start({ logger: silentLogger(), reportError: () => {} });
    const inFlight = post(receiver.addresses().http!, '/v1/traces', goodSpanJson('slow'), { headers: JSON_HEADERS });
    await new Promise((resolve) => setTimeout(resolve, 100));
    let closed = false;
    const closing = receiver.shutdown().then(() => (closed = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(closed, false, 'shutdown waits for the request');
    release();
    assert.equal((await inFlight).status, 200);
    await closing;
  });

  test('CORS answers preflights for allowed origins and headers only and marks allowed responses', async () => {
    const r = await startReceiver((c) => (c.http.cors = { allowedOrigins: ['https://*.example.com'], allowedHeaders: ['X-Trace-Client'], maxAge: 600 }));
    try {
      // What a browser SDK asks before a JSON export with a tenant, credentials and a header of its own.
      const withHeaders = await post(r.http, '/v1/traces', '', {
        method: 'OPTIONS',
        headers: {
          origin: 'https://app.example.com',
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'content-type, X-Scope-OrgID, authorization, x-trace-client',
        },
      });
      assert.equal(withHeaders.status, 204);
      assert.equal(withHeaders.headers['access-control-allow-headers'], 'content-type, x-scope-orgid, authorization, x-trace-client');
      assert.equal(withHeaders.headers['access-control-max-age'], '600');
      const unlisted = await post(r.http, '/v1/traces', '', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, x-other' },
      });
      assert.equal(unlisted.status, 403);
      assert.equal(unlisted.headers['access-control-allow-headers'], undefined);
      assert.match(unlisted.body.toString(), /request headers x-other are not allowed \(receivers\.otlp\.http\.cors\.allowedHeaders\)/);
      const preflight = await post(r.http, '/v1/traces', '', {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.equal(preflight.headers['access-control-allow-methods'], 'POST');
      assert.equal(preflight.headers['access-control-allow-headers'], 'content-type');
      const denied = await post(r.http, '/v1/traces', '', {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.test', 'access-control-request-method': 'POST' },
      });
      assert.equal(denied.status, 403);
      const res = await post(r.http, '/v1/traces', goodSpanJson('cors'), { headers: { ...JSON_HEADERS, origin: 'https://app.example.com' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['access-control-allow-origin'], 'https://app.example.com');
      assert.equal(res.headers['access-control-expose-headers'], 'Retry-After', 'a browser SDK may read the Retry-After of a 429 / 503');
    } finally {
      await r.receiver.shutdown();
    }
  });

  test('the gateway takes the CORS settings from its config, as the README lists them, and checks them', async () => {
    // receivers.otlp.http.cors was documented but refused as an unknown key at start-up.
    const gw = await startGateway({ receivers: { otlp: { http: { cors: { allowedOrigins: ['https://app.example.com'] } } } } });
    try {
      const res = await fetch(`${gw.otlpHttp}/v1/logs`, {
        method: 'OPTIONS',
        headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
      assert.equal(res.status, 204);
      assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
      assert.equal(res.headers.get('access-control-max-age'), '7200');
    } finally {
      await gw.stop();
    }
    const bad = buildApp(testConfig({ receivers: { otlp: { http: { cors: { allowedOrigins: ['https://app.example.com'], maxAge: -1 } } } } }), { logger: silentLogger() });
    await assert.rejects(bad.start(), /http\.cors\.maxAge: expected whole seconds, 0 or more \(actual: -1\)/);
    await bad.stop();
  });

  test('stats count requests, accepted, rejected and refused items, and failed requests by reason', async () => {
    const r = await startReceiver();
    try {
      await post(r.http, '/v1/traces', goodSpanJson('a'), { headers: JSON_HEADERS });
      await grpcExport(r.grpc, 'traces', toProtobuf('traces', JSON.parse(goodSpanJson('b'))));
      await post(r.http, '/v1/traces', 'nope', { headers: JSON_HEADERS });
      r.traces.failWith('retryable', 'queue full');
      await grpcExport(r.grpc, 'traces', toProtobuf('traces', JSON.parse(goodSpanJson('c'))));
      r.traces.failWith(null);
      await post(r.http, '/v1/traces', goodSpanJson('d'), { headers: { 'content-type': 'text/plain' } });
      assert.deepEqual(r.receiver.stats(), {
        httpRequests: 3,
        grpcRequests: 2,
        failedRequests: {
          bad_request: 1,
          unauthenticated: 0,
          permission_denied: 0,
          not_found: 0,
          method_not_allowed: 0,
          too_large: 0,
          unsupported_media_type: 1,
          rate_limited: 0,
          unavailable: 1,
          internal: 0,
        },
        closedUnread: 0,
        acceptedSpans: 2,
        acceptedLogRecords: 0,
        acceptedDataPoints: 0,
        rejectedSpans: 0,
        rejectedLogRecords: 0,
        rejectedDataPoints: 0,
        refusedSpans: 1,
        refusedLogRecords: 0,
        refusedDataPoints: 0,
      });
    } finally {
      await r.receiver.shutdown();
    }
  });

  test('/metrics counts failed requests by a reason from a fixed set, so credentials, limits and bad input can be told apart', async () => {
    const keys = {
      ingest: 'reasons-ingest-key-0123456789',
      limited: 'reasons-limited-key-0123456789',
      queryOnly: 'reasons-query-key-0123456789',
      admin: 'reasons-admin-key-0123456789',
    };
    const gw = await startGateway({
      auth: {
        mode: 'apiKey',
        apiKeys: [
          { name: 'ingest', hash: hashApiKey(keys.ingest), tenant: 'reasons', scopes: ['ingest'] },
          { name: 'limited', hash: hashApiKey(keys.limited), tenant: 'reasons-limited', scopes: ['ingest'] },
          { name: 'query-only', hash: hashApiKey(keys.queryOnly), tenant: 'reasons', scopes: ['query'] },
          { name: 'admin', hash: hashApiKey(keys.admin), tenant: 'reasons', scopes: ['admin', 'metrics'] },
        ],
      },
      receivers: { otlp: { maxRequestBytes: 4096 } },
      limits: { ingest: { itemsPerSecond: 1 } },
    });
    try {
      const httpAddr = gw.otlpHttp.replace(/^http:\/\//, '');
      const as = (key: string, headers: Record<string, string> = JSON_HEADERS) => ({ headers: { ...headers, 'x-api-key': key } });
      const answers = [
        await post(httpAddr, '/v1/traces', goodSpanJson('no-key'), { headers: JSON_HEADERS }),
        await post(httpAddr, '/v1/traces', goodSpanJson('wrong-scope'), as(keys.queryOnly)),
        await post(httpAddr, '/v1/traces', 'not json', as(keys.ingest)),
        await post(httpAddr, '/v1/traces', goodSpanJson('text'), as(keys.ingest, { 'content-type': 'text/plain' })),
        await post(httpAddr, '/v1/spans', goodSpanJson('path'), as(keys.ingest)),
        await post(httpAddr, '/v1/traces', '', { ...as(keys.ingest), method: 'PUT' }),
        await post(httpAddr, '/v1/traces', Buffer.alloc(8192, ' '), as(keys.ingest)),
      ];
      assert.deepEqual(answers.map((a) => a.status), [401, 403, 400, 415, 404, 405, 413]);
      // One item per second (a tenant of its own): the second request within the second is refused
      // (HTTP), and so is a gRPC call, at its metadata.
      const admitted = await post(httpAddr, '/v1/traces', goodSpanJson('first'), as(keys.limited));
      assert.equal(admitted.status, 200);
      assert.equal((await post(httpAddr, '/v1/traces', goodSpanJson('second'), as(keys.limited))).status, 429);
      const md = new grpc.Metadata();
      md.set('x-api-key', keys.limited);
      assert.equal((await grpcExport(gw.otlpGrpc, 'traces', toProtobuf('traces', JSON.parse(goodSpanJson('third'))), md)).code, grpc.status.RESOURCE_EXHAUSTED);

      const text = await (await fetch(gw.graphqlUrl.replace(/\/graphql$/, '/metrics'), { headers: { 'x-api-key': keys.admin } })).text();
      const failed = Object.fromEntries(
        [...text.matchAll(/^teleql_otlp_failed_requests_total\{component="otlp",reason="([a-z_]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]),
      );
      assert.deepEqual(failed, {
        bad_request: 1,
        unauthenticated: 1,
        permission_denied: 1,
        not_found: 1,
        method_not_allowed: 1,
        too_large: 1,
        unsupported_media_type: 1,
        rate_limited: 2,
        unavailable: 0,
        internal: 0,
      });
      assert.equal(text.match(/^teleql_otlp_failed_requests_total/gm)?.length, 10, 'one series per reason, nothing else');
    } finally {
      await gw.stop();
    }
  });
});
