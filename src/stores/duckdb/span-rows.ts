// The spans table: query columns plus the record's own parts as OTLP/JSON text, and the mapping
// both ways between a SpanRecord and a row.
import { attributeColumns, NOTHING_STORED, storedList, storedString, type StoredAttributeState, type StoredList } from './long-values.ts';
import type { InstrumentationScope, Resource, SpanEvent, SpanLink, SpanRecord, StatusCode } from '../../model/telemetry.ts';
import type { SpanPart } from '../types.ts';
import { TELEMETRY_SOURCE_KEY } from '../../model/values.ts';
import type { TableSpec } from './ddl.ts';
import { spanDuration } from '../span-order.ts';
import { decodeJson, encodeJson, encodeJsonWithBigInts } from './json.ts';
import { attrValue } from './attr-text.ts';
import { decodeAttrs } from './attr-types.ts';
import { traceKey } from './trace-key.ts';
import {
  nullIfEmpty,
  type EncodeCache,
  type ResourceInfo,
  type ScopeInfo,
} from './resources.ts';
import type { PartDecoder } from './parts.ts';
import type { Row } from './connection.ts';

export interface SpanInput extends StoredAttributeState {
  s: SpanRecord;
  res: ResourceInfo;
  scope: ScopeInfo;
  /** What the events and links columns keep, worked out by the first that needs it. */
  events: StoredList<SpanEvent> | null;
  links: StoredList<SpanLink> | null;
}

const eventsText = (e: readonly SpanEvent[]) => (e.length ? encodeJsonWithBigInts(e) : null);
const linksText = (l: readonly SpanLink[]) => (l.length ? encodeJson(l) : null);
const eventsOf = (p: SpanInput) => (p.events ??= p.s.events.length ? storedList(p.s.events, eventsText) : NOTHING_STORED);
const linksOf = (p: SpanInput) => (p.links ??= p.s.links.length ? storedList(p.s.links, linksText) : NOTHING_STORED);

export function prepareSpan(s: SpanRecord, cache: EncodeCache): SpanInput {
  return { s, res: cache.resource(s.resource), scope: cache.scope(s.scope), attrTypes: undefined, attrsDropped: 0, events: null, links: null };
}

// Empty strings and lists are stored as NULL: a NULL costs the appender nothing. No column is
// staged as JSON, so rows are appended straight into the table. Attributes, events and links too long
// for a column lose whole items, counted in the dropped_* columns beside them (long-values.ts).
export const spanTable: TableSpec<SpanInput> = {
  name: 'spans',
  indexes: [],
  columns: [
    { name: 'tenant', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.s.tenant },
    { name: 'trace_key', type: 'INTEGER NOT NULL', get: (p) => traceKey(p.s.traceId) },
    { name: 'trace_id', type: 'VARCHAR NOT NULL', get: (p) => p.s.traceId },
    { name: 'span_id', type: 'VARCHAR NOT NULL', get: (p) => p.s.spanId },
    { name: 'parent_span_id', type: 'VARCHAR NOT NULL', get: (p) => p.s.parentSpanId },
    { name: 'trace_state', repeats: true, type: 'VARCHAR', get: (p) => nullIfEmpty(p.s.traceState) },
    { name: 'flags', type: 'UINTEGER', get: (p) => p.s.flags },
    { name: 'name', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => storedString(p.s.name) },
    { name: 'kind', type: 'INTEGER', get: (p) => p.s.kind },
    { name: 'status_code', type: 'INTEGER', get: (p) => p.s.status.code },
    { name: 'status_message', repeats: true, type: 'VARCHAR', get: (p) => storedString(nullIfEmpty(p.s.status.message)) },
    { name: 'start_ns', type: 'BIGINT NOT NULL', get: (p) => p.s.startTimeUnixNano },
    { name: 'end_ns', type: 'BIGINT NOT NULL', get: (p) => p.s.endTimeUnixNano },
    // A span that ends before it starts (a skewed clock) lasts 0, as Span.duration reads it, so
    // duration filters, latency quantiles and alert exemplars agree with it.
    { name: 'duration_ns', type: 'BIGINT', get: (p) => spanDuration(p.s) },
    { name: 'service_name', repeats: true, type: 'VARCHAR', get: (p) => p.res.service },
    { name: 'telemetry_source', repeats: true, type: 'VARCHAR', get: (p) => attrValue(p.s.attributes, p.res.flat, TELEMETRY_SOURCE_KEY) ?? null },
    ...attributeColumns<SpanInput>((p) => p.s),
    { name: 'events', type: 'VARCHAR', get: (p) => eventsOf(p).text },
    { name: 'dropped_events', type: 'UINTEGER', get: (p) => p.s.droppedEventsCount + eventsOf(p).dropped },
    { name: 'links', type: 'VARCHAR', get: (p) => linksOf(p).text },
    { name: 'dropped_links', type: 'UINTEGER', get: (p) => p.s.droppedLinksCount + linksOf(p).dropped },
    { name: 'resource_id', type: 'BIGINT NOT NULL', get: (p) => p.res.id },
    { name: 'scope_id', type: 'BIGINT NOT NULL', get: (p) => p.scope.id },
  ],
};

/** The columns decodeSpan reads. */
export const SPAN_RECORD_COLUMNS =
  'tenant, trace_id, span_id, parent_span_id, trace_state, flags, name, kind, status_code, status_message, start_ns, end_ns, ' +
  'attrs_flat, attributes, dropped_attributes, events, dropped_events, links, dropped_links, resource_id, scope_id';

// The columns every span read takes, and those of each optional part. resource_id and scope_id go
// together: parts.resolve reads both, and scope_id is a constant column (cheap).
const SPAN_CORE_COLUMNS =
  'tenant, trace_id, span_id, parent_span_id, trace_state, flags, name, kind, status_code, status_message, start_ns, end_ns, ' +
  'dropped_attributes, dropped_events, dropped_links';
const PART_COLUMNS: Record<SpanPart, string> = {
  attributes: 'attrs_flat, attributes',
  events: 'events',
  links: 'links',
  resource: 'resource_id, scope_id',
  scope: 'resource_id, scope_id',
};

/**
 * The columns a read of `parts` needs (all of decodeSpan's without `parts`). Each wide column left
 * out is a vector DuckDB neither fetches nor decompresses, and often a block it does not read.
 */
export function spanColumns(parts?: ReadonlySet<SpanPart>): string {
  if (!parts) return SPAN_RECORD_COLUMNS;
  const extra = new Set([...parts].map((part) => PART_COLUMNS[part]));
  return [SPAN_CORE_COLUMNS, ...extra].join(', ');
}

/** Whether rows read for `parts` carry resource_id / scope_id (parts.resolve needs them). */
export const readsParts = (parts?: ReadonlySet<SpanPart>): boolean => !parts || parts.has('resource') || parts.has('scope');

export const NO_PARTS: PartDecoder = {
  resource: (): Resource => ({ attributes: [], droppedAttributesCount: 0, schemaUrl: '' }),
  scope: (): InstrumentationScope => ({ name: '', version: '', attributes: [], droppedAttributesCount: 0, schemaUrl: '' }),
};

type StoredEvent = Omit<SpanEvent, 'timeUnixNano'> & { timeUnixNano: string };

export function decodeSpan(row: Row, parts: PartDecoder): SpanRecord {
  const events = typeof row.events === 'string' ? decodeJson<StoredEvent[]>(row.events) : [];
  return {
    tenant: row.tenant as string,
    resource: parts.resource(row.tenant as string, row.resource_id as bigint),
    scope: parts.scope(row.tenant as string, row.scope_id as bigint),
    traceId: row.trace_id as string,
    spanId: row.span_id as string,
    parentSpanId: row.parent_span_id as string,
    traceState: (row.trace_state as string | null) ?? '',
    flags: row.flags as number,
    name: row.name as string,
    kind: row.kind as number,
    startTimeUnixNano: row.start_ns as bigint,
    endTimeUnixNano: row.end_ns as bigint,
    attributes: typeof row.attrs_flat === 'string' ? decodeAttrs(row.attrs_flat, (row.attributes as string | null) ?? null) : [],
    droppedAttributesCount: row.dropped_attributes as number,
    events: events.map((e) => ({ ...e, timeUnixNano: BigInt(e.timeUnixNano) })),
    droppedEventsCount: row.dropped_events as number,
    links: typeof row.links === 'string' ? decodeJson<SpanLink[]>(row.links) : [],
    droppedLinksCount: row.dropped_links as number,
    status: { code: row.status_code as StatusCode, message: (row.status_message as string | null) ?? '' },
  };
}
