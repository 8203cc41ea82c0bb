// How much an OTLP request body would become once decoded, counted before it is: a 5 MB protobuf
// body of a million empty log records took ~250 MB of the gateway's memory while protobufjs built
// every record and the converters copied them (fuzz QA, session 28), and the memory limiter only
// looks between requests. The receiver refuses a body past its receivers.otlp.maxRequestItems /
// maxRequestMessages from these counts, so what one request can cost is bounded by them, not by
// how densely its bytes pack empty messages.
import protobuf from 'protobufjs';
import type { Signal } from '../model/telemetry.ts';
import { PROTOBUF_RECURSION_LIMIT } from './convert-common.ts';
import { otlpProto } from './proto.ts';

export interface RequestLimits {
  /** Spans, log records or metric data points. */
  maxItems: number;
  /** Messages (protobuf) or objects and arrays (JSON) at any depth: records, attributes, values, events, links, data points… */
  maxMessages: number;
}

/** A body past a RequestLimits bound; the receiver answers 413 / RESOURCE_EXHAUSTED with the message. */
export class RequestTooLargeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RequestTooLargeError';
  }
}

/** What decodes into the gateway's records, per signal (a metric's data points, not the metric). */
const ITEM_TYPES = new Set([
  'opentelemetry.proto.trace.v1.Span',
  'opentelemetry.proto.logs.v1.LogRecord',
  'opentelemetry.proto.metrics.v1.NumberDataPoint',
  'opentelemetry.proto.metrics.v1.HistogramDataPoint',
  'opentelemetry.proto.metrics.v1.ExponentialHistogramDataPoint',
  'opentelemetry.proto.metrics.v1.SummaryDataPoint',
]);

const ITEM_NAME: Record<Signal, string> = { traces: 'spans', logs: 'log records', metrics: 'metric data points' };

/** A message type as the counter walks it: field number → the message type that field holds. */
interface Shape {
  item: boolean;
  children: Map<number, Shape>;
}

const shapes = new Map<string, Shape>();

/** From protobufjs's reflection, so the walk follows the .proto files the decoder uses; cycles (AnyValue ⇄ KeyValueList) share one Shape. */
function shapeOf(type: protobuf.Type): Shape {
  let shape = shapes.get(type.fullName);
  if (shape) return shape;
  shape = { item: ITEM_TYPES.has(type.fullName.replace(/^\./, '')), children: new Map() };
  shapes.set(type.fullName, shape);
  for (const field of type.fieldsArray) {
    if (field.resolvedType instanceof protobuf.Type) shape.children.set(field.id, shapeOf(field.resolvedType));
  }
  return shape;
}

const requestShapes = new Map<Signal, Shape>();
const requestShape = (signal: Signal): Shape => {
  let shape = requestShapes.get(signal);
  if (!shape) requestShapes.set(signal, (shape = shapeOf(otlpProto().request[signal])));
  return shape;
};

/**
 * Items and messages in a protobuf body, reading only tags and lengths (protobufjs's Reader). Stops
 * as soon as a bound is passed, and at the first malformed byte or nesting past the decoder's
 * limit: the decoder then says what is wrong with the body.
 */
export function countProtobuf(signal: Signal, body: Uint8Array, limits: RequestLimits): { items: number; messages: number } {
  const reader = protobuf.Reader.create(body);
  const stack: { shape: Shape; end: number }[] = [];
  let shape = requestShape(signal);
  let end = body.length;
  let items = 0;
  let messages = 0;
  try {
    for (;;) {
      while (reader.pos >= end) {
        const outer = stack.pop();
        if (!outer) return { items, messages };
        ({ shape, end } = outer);
      }
      const tag = reader.uint32();
      const child = (tag & 7) === 2 ? shape.children.get(tag >>> 3) : undefined;
      if (!child) {
        reader.skipType(tag & 7);
        continue;
      }
      const childEnd = reader.uint32() + reader.pos;
      if (childEnd > end) return { items, messages };
      messages++;
      if (child.item) items++;
      if (items > limits.maxItems || messages > limits.maxMessages) return { items, messages };
      if (child.children.size === 0) {
        reader.pos = childEnd;
      } else {
        if (stack.length >= PROTOBUF_RECURSION_LIMIT) return { items, messages };
        stack.push({ shape, end });
        shape = child;
        end = childEnd;
      }
    }
  } catch {
    return { items, messages };
  }
}

/**
 * JSON objects and arrays a body can parse into, at most: its `{` and `[` bytes (those inside
 * strings counted too, so an over-estimate). Stops past `max`.
 */
export function countJsonContainers(body: Uint8Array, max: number): number {
  let n = 0;
  for (let i = 0; i < body.length; i++) {
    const b = body[i];
    if ((b === 0x7b || b === 0x5b) && ++n > max) return n;
  }
  return n;
}

const list = (o: unknown, key: string): unknown[] => {
  const v = o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[key] : undefined;
  return Array.isArray(v) ? v : [];
};

/** Items in a parsed OTLP/JSON request (keys already camelCase), counted as countProtobuf does. */
export function countJsonItems(signal: Signal, request: unknown): number {
  const [resources, scopes, records] = signal === 'traces' ? ['resourceSpans', 'scopeSpans', 'spans'] : signal === 'logs' ? ['resourceLogs', 'scopeLogs', 'logRecords'] : ['resourceMetrics', 'scopeMetrics', 'metrics'];
  let n = 0;
  for (const r of list(request, resources)) {
    for (const s of list(r, scopes)) {
      if (signal !== 'metrics') {
        n += list(s, records).length;
        continue;
      }
      for (const m of list(s, records)) {
        for (const kind of ['gauge', 'sum', 'histogram', 'exponentialHistogram', 'summary']) {
          const data = m !== null && typeof m === 'object' ? (m as Record<string, unknown>)[kind] : undefined;
          n += list(data, 'dataPoints').length;
        }
      }
    }
  }
  return n;
}

/** The refusal for a count past its bound, naming the setting to raise. */
export function tooLargeMessage(signal: Signal, what: 'items' | 'messages' | 'containers', limits: RequestLimits): string {
  if (what === 'items') {
    return `the request holds more than ${limits.maxItems.toLocaleString('en-US')} ${ITEM_NAME[signal]} (receivers.otlp.maxRequestItems); send them in smaller requests`;
  }
  const unit = what === 'messages' ? 'protobuf messages' : 'JSON objects and arrays';
  return (
    `the request holds more than ${limits.maxMessages.toLocaleString('en-US')} ${unit} (records, attributes, values, events, links, data points: ` +
    'receivers.otlp.maxRequestMessages); send them in smaller requests'
  );
}
