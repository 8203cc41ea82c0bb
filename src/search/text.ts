// What is embedded for a span or a log: a short text of the parts that carry meaning, with variable
// values masked (template.ts) so that repeated shapes give the same text and are embedded once.
import type { KeyValue, LogRecord, SpanRecord } from '../model/telemetry.ts';
import { anyValueToFilterString, serviceName, stringAttribute, TELEMETRY_SOURCE_KEY } from '../model/values.ts';
import { logTemplate, stripSqlLiterals } from './template.ts';

export type DocKind = 'span' | 'log' | 'exception';

/** One searchable item: its text, and where it points. */
export interface SearchDoc {
  tenant: string;
  kind: DocKind;
  text: string;
  traceId: string; // '' when a log has none
  spanId: string;
  timeNs: bigint;
  service: string;
  telemetrySource: string | null;
  /** Logs only: the natural key the log store's own ID is found by (ids are assigned at write). */
  log?: { timeUnixNano: bigint; observedTimeUnixNano: bigint; bodyText: string };
}

const MAX_TEXT = 512; // characters; longer attribute values add little meaning and cost tokens
const MAX_ATTR = 160;

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

function attr(attrs: readonly KeyValue[], key: string): string | undefined {
  const v = attrs.find((kv) => kv.key === key)?.value;
  if (!v) return undefined;
  const s = anyValueToFilterString(v);
  return s === null || s === '' ? undefined : s;
}

/** Attribute keys worth embedding, by prefix, with how each value is cleaned. */
const MEANINGFUL: readonly { prefix: string; clean?: (v: string) => string }[] = [
  { prefix: 'http.route' },
  { prefix: 'http.method' },
  { prefix: 'http.request.method' },
  { prefix: 'url.template' },
  { prefix: 'db.system' },
  { prefix: 'db.operation' },
  { prefix: 'db.name' },
  { prefix: 'db.statement', clean: stripSqlLiterals },
  { prefix: 'db.query.text', clean: stripSqlLiterals },
  { prefix: 'rpc.' },
  { prefix: 'messaging.system' },
  { prefix: 'messaging.operation' },
  { prefix: 'messaging.destination.name' },
  { prefix: 'gen_ai.system' },
  { prefix: 'gen_ai.operation.name' },
  { prefix: 'gen_ai.request.model' },
  { prefix: 'gen_ai.prompt', clean: (v) => logTemplate(clip(v, MAX_ATTR)) },
  { prefix: 'gen_ai.completion', clean: (v) => logTemplate(clip(v, MAX_ATTR)) },
  { prefix: 'gen_ai.response.finish_reasons' },
  { prefix: 'exception.type' },
  { prefix: 'exception.message', clean: logTemplate },
  { prefix: 'error.type' },
];

function meaningfulAttributes(attrs: readonly KeyValue[]): string[] {
  const out: string[] = [];
  for (const kv of attrs) {
    const rule = MEANINGFUL.find((r) => kv.key === r.prefix || (r.prefix.endsWith('.') && kv.key.startsWith(r.prefix)));
    if (!rule) continue;
    const raw = anyValueToFilterString(kv.value);
    if (!raw) continue;
    const value = clip(rule.clean ? rule.clean(raw) : raw, MAX_ATTR);
    // rpc.* values that are only numbers or IDs add nothing but distinct texts
    if (rule.prefix === 'rpc.' && /^[\d<>a-z]*$/i.test(logTemplate(value)) && /\d/.test(value)) continue;
    out.push(`${kv.key} ${value}`);
  }
  return out;
}

// Plain words for what a span is, so a query in words ("database", "llm", "queue") meets spans whose
// attributes only name the system (db.system=postgresql).
function kindWords(attrs: readonly KeyValue[]): string[] {
  const has = (p: string) => attrs.some((kv) => kv.key.startsWith(p));
  const words: string[] = [];
  if (has('db.')) words.push('database query');
  if (has('http.') || has('url.')) words.push('http request');
  if (has('rpc.')) words.push('rpc call');
  if (has('messaging.')) words.push('message queue');
  if (has('gen_ai.')) words.push('llm model call');
  return words;
}

const SLOW_NS = 1_000_000_000n; // a span this long is called slow in its text

/** The text of a span: service, name, status, kind words and the meaningful attributes. */
export function spanText(span: SpanRecord): string {
  const parts = [serviceName(span.resource), logTemplate(span.name), ...kindWords(span.attributes)];
  if (span.status.code === 2) parts.push(`error${span.status.message ? ` ${logTemplate(span.status.message)}` : ''}`);
  if (span.endTimeUnixNano - span.startTimeUnixNano >= SLOW_NS) parts.push('slow');
  parts.push(...meaningfulAttributes(span.attributes));
  return clip(parts.join(' | '), MAX_TEXT);
}

/** The text of a log: service, severity when WARN or worse, and the body's template. */
export function logText(log: LogRecord, bodyText: string): string {
  const parts = [serviceName(log.resource)];
  if (log.severityNumber >= 13) parts.push(log.severityText ? log.severityText.toLowerCase() : log.severityNumber >= 17 ? 'error' : 'warn');
  parts.push(logTemplate(bodyText));
  const extra = meaningfulAttributes(log.attributes);
  if (extra.length) parts.push(...extra);
  return clip(parts.join(' | '), MAX_TEXT);
}

function exceptionText(service: string, attrs: readonly KeyValue[]): string | null {
  const type = attr(attrs, 'exception.type');
  const message = attr(attrs, 'exception.message');
  if (!type && !message) return null;
  return clip(`${service} | exception ${type ?? ''}${message ? `: ${logTemplate(message)}` : ''}`, MAX_TEXT);
}

/** The body as the log store keeps it in its text column (a string body as is, anything else as JSON). */
export function logBodyText(log: LogRecord): string {
  return 'stringValue' in log.body ? log.body.stringValue : (anyValueToFilterString(log.body) ?? '');
}

export function spanDocs(span: SpanRecord): SearchDoc[] {
  const service = serviceName(span.resource);
  const base = {
    tenant: span.tenant,
    traceId: span.traceId,
    spanId: span.spanId,
    timeNs: span.startTimeUnixNano,
    service,
    telemetrySource: stringAttribute(span.attributes, TELEMETRY_SOURCE_KEY) ?? stringAttribute(span.resource.attributes, TELEMETRY_SOURCE_KEY) ?? null,
  };
  const docs: SearchDoc[] = [{ ...base, kind: 'span', text: spanText(span) }];
  for (const ev of span.events) {
    if (ev.name !== 'exception') continue;
    const text = exceptionText(service, ev.attributes);
    if (text) docs.push({ ...base, kind: 'exception', text, timeNs: ev.timeUnixNano || span.startTimeUnixNano });
  }
  return docs;
}

export function logDocs(log: LogRecord): SearchDoc[] {
  const bodyText = logBodyText(log);
  const service = serviceName(log.resource);
  const base = {
    tenant: log.tenant,
    traceId: log.traceId,
    spanId: log.spanId,
    timeNs: log.timeUnixNano || log.observedTimeUnixNano,
    service,
    telemetrySource: stringAttribute(log.attributes, TELEMETRY_SOURCE_KEY) ?? stringAttribute(log.resource.attributes, TELEMETRY_SOURCE_KEY) ?? null,
    log: { timeUnixNano: log.timeUnixNano, observedTimeUnixNano: log.observedTimeUnixNano, bodyText },
  };
  const docs: SearchDoc[] = [{ ...base, kind: 'log', text: logText(log, bodyText) }];
  const ex = exceptionText(service, log.attributes);
  if (ex) docs.push({ ...base, kind: 'exception', text: ex });
  return docs;
}
