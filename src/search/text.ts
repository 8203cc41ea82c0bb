// What is embedded for a span or a log: a short text of the parts that carry meaning, with variable
// values masked (template.ts) so that repeated shapes give the same text and are embedded once.
import type { AnyValue, KeyValue, LogRecord, SpanRecord } from '../model/telemetry.ts';
import { anyValueToFilterString, findAttribute, serviceName, stringAttribute, TELEMETRY_SOURCE_KEY } from '../model/values.ts';
import { logTemplate, maskRedactionMarkers, MAX_TEMPLATE_INPUT, stripSqlLiterals } from './template.ts';

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
  log?: { timeUnixNano: bigint; observedTimeUnixNano: bigint; body: AnyValue };
}

const MAX_TEXT = 512; // characters; longer attribute values add little meaning and cost tokens
const MAX_ATTR = 160;
/**
 * What the text of one record reads at most: its first 1,000 attributes (the OTel SDKs keep 128 by
 * default) and its span's first 128 events (the SDKs' default limit). A record with more (the
 * receiver takes 16 MiB requests) then costs no more to index than one with that many, and the
 * meaningful attributes stop being collected once the text is full.
 */
const MAX_ATTRIBUTES_READ = 1_000;
const MAX_EVENTS_READ = 128;

const clip = (s: string, n: number) => (s.length > n ? `${s.slice(0, n)}…` : s);

function attr(attrs: readonly KeyValue[], key: string): string | undefined {
  const v = findAttribute(attrs, key);
  if (!v) return undefined;
  const s = anyValueToFilterString(v);
  return s === null || s === '' ? undefined : s;
}

/**
 * A JSON array of chat messages (gen_ai.input.messages, gen_ai.output.messages): its words, as a
 * structured log body's (bodyWords), not its quoted JSON, which the template would mask whole.
 */
const messageWords = (v: string) => bodyWords({ stringValue: v });

/**
 * Attribute keys worth embedding (exact keys, or every key under a prefix ending in `.`), with how
 * each value is cleaned. Both the older and the current semantic-convention names are here
 * (db.system → db.system.name, db.statement → db.query.text, gen_ai.prompt → gen_ai.input.messages).
 */
const MEANINGFUL: readonly { prefix: string; clean?: (v: string) => string }[] = [
  { prefix: 'http.route' },
  { prefix: 'http.method' },
  { prefix: 'http.request.method' },
  { prefix: 'url.template' },
  { prefix: 'db.system' },
  { prefix: 'db.system.name' },
  { prefix: 'db.operation' },
  { prefix: 'db.operation.name' },
  { prefix: 'db.name' },
  { prefix: 'db.namespace' },
  { prefix: 'db.collection.name' },
  { prefix: 'db.statement', clean: stripSqlLiterals },
  { prefix: 'db.query.text', clean: stripSqlLiterals },
  { prefix: 'rpc.' },
  { prefix: 'messaging.system' },
  { prefix: 'messaging.operation' },
  { prefix: 'messaging.operation.name' },
  { prefix: 'messaging.operation.type' },
  { prefix: 'messaging.destination.name' },
  { prefix: 'gen_ai.system' },
  { prefix: 'gen_ai.operation.name' },
  { prefix: 'gen_ai.request.model' },
  { prefix: 'gen_ai.prompt', clean: (v) => logTemplate(clip(v, MAX_ATTR)) },
  { prefix: 'gen_ai.completion', clean: (v) => logTemplate(clip(v, MAX_ATTR)) },
  { prefix: 'gen_ai.input.messages', clean: messageWords },
  { prefix: 'gen_ai.output.messages', clean: messageWords },
  { prefix: 'gen_ai.response.finish_reasons' },
  { prefix: 'exception.type' },
  { prefix: 'exception.message', clean: logTemplate },
  { prefix: 'error.type' },
];

/**
 * `key value` of the meaningful attributes among the first MAX_ATTRIBUTES_READ, until they fill
 * `room` characters (what the text has left). Every value is cut before a rule reads it, and a
 * redaction marker loses its rule's name in every value, templated or not.
 */
function meaningfulAttributes(attrs: readonly KeyValue[], room: number): string[] {
  const out: string[] = [];
  const end = Math.min(attrs.length, MAX_ATTRIBUTES_READ);
  for (let i = 0; i < end && room >= 0; i++) {
    const kv = attrs[i]!;
    const rule = MEANINGFUL.find((r) => kv.key === r.prefix || (r.prefix.endsWith('.') && kv.key.startsWith(r.prefix)));
    if (!rule) continue;
    const raw = anyValueToFilterString(kv.value);
    if (!raw) continue;
    const value = clip(maskRedactionMarkers(rule.clean ? rule.clean(raw) : clip(raw, MAX_TEMPLATE_INPUT)), MAX_ATTR);
    // rpc.* values that are only numbers or IDs add nothing but distinct texts
    if (rule.prefix === 'rpc.' && /^[\d<>a-z]*$/i.test(logTemplate(value)) && /\d/.test(value)) continue;
    const part = `${kv.key} ${value}`;
    out.push(part);
    room -= part.length + 3; // and its ' | '
  }
  return out;
}

/** The parts joined as one text, with the meaningful attributes added while it has room. */
function withAttributes(parts: string[], attrs: readonly KeyValue[]): string {
  const head = parts.join(' | ');
  const extra = meaningfulAttributes(attrs, MAX_TEXT - head.length);
  return clip(extra.length ? `${head} | ${extra.join(' | ')}` : head, MAX_TEXT);
}

// Plain words for what a span is, so a query in words ("database", "llm", "queue") meets spans whose
// attributes only name the system (db.system=postgresql).
function kindWords(attrs: readonly KeyValue[]): string[] {
  const read = attrs.length > MAX_ATTRIBUTES_READ ? attrs.slice(0, MAX_ATTRIBUTES_READ) : attrs;
  const has = (p: string) => read.some((kv) => kv.key.startsWith(p));
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
  return withAttributes(parts, span.attributes);
}

/** The text of a log: service, severity when WARN or worse, the body's words (bodyWords) and the meaningful attributes. */
export function logText(log: LogRecord): string {
  const parts = [serviceName(log.resource)];
  if (log.severityNumber >= 13) parts.push(log.severityText ? log.severityText.toLowerCase() : log.severityNumber >= 17 ? 'error' : 'warn');
  parts.push(bodyWords(log.body));
  return withAttributes(parts, log.attributes);
}

function exceptionText(service: string, attrs: readonly KeyValue[]): string | null {
  const type = attr(attrs, 'exception.type');
  const message = attr(attrs, 'exception.message');
  if (!type && !message) return null;
  const shownType = type === undefined ? '' : maskRedactionMarkers(clip(type, MAX_ATTR));
  return clip(`${service} | exception ${shownType}${message ? `: ${logTemplate(message)}` : ''}`, MAX_TEXT);
}

// Structured bodies: the string leaves of a map or array body, or of a string body that is a JSON
// object or array, each through the template. Keys are dropped (they name a shape, not what
// happened, and would make every log of one shape alike); so are numbers and booleans (masked
// anyway) and leaves that are only placeholders (IDs, times). Leaves under message-like keys come
// first, so the message survives the length bound.
const MESSAGE_KEYS = new Set(['msg', 'message', 'body', 'text', 'log', 'error', 'err', 'error_message', 'errormessage', 'reason', 'description', 'detail', 'details', 'summary', 'event']);
/** A string body longer than this is templated as text, not parsed as JSON (bounds the work per record). */
const MAX_JSON_BODY = 65_536;
/** Values visited in one structured body, at most (a huge array is not walked to its end). */
const MAX_NODES = 1_000;

interface Leaves {
  message: string[];
  other: string[];
  chars: number;
  nodes: number;
}

function addLeaf(into: Leaves, key: string, value: string): void {
  const t = logTemplate(clip(value, MAX_ATTR));
  // Nothing but placeholders and punctuation: it says nothing a query could meet.
  if (!/\p{L}/u.test(t.replace(/<[a-z]+>/g, ''))) return;
  const last = key.slice(key.lastIndexOf('.') + 1).toLowerCase();
  (MESSAGE_KEYS.has(last) ? into.message : into.other).push(t);
  into.chars += t.length + 3;
}

/** String leaves of an OTLP AnyValue (a map or array body). */
function anyValueLeaves(v: AnyValue, key: string, into: Leaves): void {
  if (into.chars >= MAX_TEXT || ++into.nodes > MAX_NODES) return;
  if ('stringValue' in v) addLeaf(into, key, v.stringValue);
  else if ('kvlistValue' in v) for (const kv of v.kvlistValue.values) anyValueLeaves(kv.value, kv.key, into);
  else if ('arrayValue' in v) for (const x of v.arrayValue.values) anyValueLeaves(x, key, into);
}

/** String leaves of a parsed JSON value. */
function jsonLeaves(v: unknown, key: string, into: Leaves): void {
  if (into.chars >= MAX_TEXT || ++into.nodes > MAX_NODES) return;
  if (typeof v === 'string') addLeaf(into, key, v);
  else if (Array.isArray(v)) for (const x of v) jsonLeaves(x, key, into);
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) jsonLeaves(x, k, into);
}

const joinLeaves = (l: Leaves) => [...l.message, ...l.other].join(' | ');

/** A string body that is a JSON object or array, parsed; undefined for anything else. */
function parseJsonBody(s: string): object | undefined {
  if (s.length < 2 || s.length > MAX_JSON_BODY) return undefined;
  const t = s.trim();
  const first = t[0];
  const last = t[t.length - 1];
  if (!((first === '{' && last === '}') || (first === '[' && last === ']'))) return undefined;
  try {
    const v: unknown = JSON.parse(t);
    return v !== null && typeof v === 'object' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The words of a log body to embed: a plain string body's template; for a map or array body, or a
 * string body that is a JSON object or array, its string leaves' templates (message-like keys
 * first, keys themselves dropped), so {"msg":"payment failed for order"} reads "payment failed for
 * order", not "{<str>:<str>}". Any other body: the template of its text.
 */
export function bodyWords(body: AnyValue): string {
  const leaves: Leaves = { message: [], other: [], chars: 0, nodes: 0 };
  if ('stringValue' in body) {
    const json = parseJsonBody(body.stringValue);
    if (json === undefined) return logTemplate(body.stringValue);
    jsonLeaves(json, '', leaves);
  } else if ('kvlistValue' in body || 'arrayValue' in body) anyValueLeaves(body, '', leaves);
  else return logTemplate(anyValueToFilterString(body) ?? '');
  return joinLeaves(leaves);
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
  const events = Math.min(span.events.length, MAX_EVENTS_READ);
  for (let i = 0; i < events; i++) {
    const ev = span.events[i]!;
    if (ev.name !== 'exception') continue;
    const text = exceptionText(service, ev.attributes);
    if (text) docs.push({ ...base, kind: 'exception', text, timeNs: ev.timeUnixNano || span.startTimeUnixNano });
  }
  return docs;
}

export function logDocs(log: LogRecord): SearchDoc[] {
  const service = serviceName(log.resource);
  const base = {
    tenant: log.tenant,
    traceId: log.traceId,
    spanId: log.spanId,
    timeNs: log.timeUnixNano || log.observedTimeUnixNano,
    service,
    telemetrySource: stringAttribute(log.attributes, TELEMETRY_SOURCE_KEY) ?? stringAttribute(log.resource.attributes, TELEMETRY_SOURCE_KEY) ?? null,
    log: { timeUnixNano: log.timeUnixNano, observedTimeUnixNano: log.observedTimeUnixNano, body: log.body },
  };
  const docs: SearchDoc[] = [{ ...base, kind: 'log', text: logText(log) }];
  const ex = exceptionText(service, log.attributes);
  if (ex) docs.push({ ...base, kind: 'exception', text: ex });
  return docs;
}
