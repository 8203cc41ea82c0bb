// The logs table and the mapping both ways between a LogRecord and a row.
import { attributeColumns, storedString, storedText, type StoredAttributeState } from './long-values.ts';
import type { AnyValue, LogRecord } from '../../model/telemetry.ts';
import { anyValueToFilterString, TELEMETRY_SOURCE_KEY } from '../../model/values.ts';
import type { StoredLogRecord } from '../types.ts';
import type { Row } from './connection.ts';
import type { TableSpec } from './ddl.ts';
import { decodeJson, encodeJson } from './json.ts';
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

/**
 * Hands out log IDs: increasing per tenant, never reused (the store's file is locked to one
 * process). Each tenant counts its own records, so the gaps between a tenant's IDs say nothing
 * about other tenants' volume; every read of a log by ID is scoped to its tenant.
 */
export interface LogIds {
  next(tenant: string): bigint;
}

/** `lastUsed`: each tenant's highest stored ID. */
export function createLogIds(lastUsed: ReadonlyMap<string, bigint>): LogIds {
  const last = new Map(lastUsed);
  return {
    next(tenant) {
      const id = (last.get(tenant) ?? 0n) + 1n;
      last.set(tenant, id);
      return id;
    },
  };
}

export interface LogInput extends StoredAttributeState {
  l: LogRecord;
  id: bigint;
  res: ResourceInfo;
  scope: ScopeInfo;
}

export function prepareLog(l: LogRecord, cache: EncodeCache, ids: LogIds): LogInput {
  return { l, id: ids.next(l.tenant), res: cache.resource(l.resource), scope: cache.scope(l.scope), attrTypes: undefined, attrsDropped: 0 };
}

const isStringBody = (v: AnyValue): v is { stringValue: string } => 'stringValue' in v;

/**
 * The body_text column of a log: a string body as is, any other as its JSON text, cut to
 * MAX_STORED_CHARS like every column value. Semantic search links a document to its log row by the
 * md5 of this same value (src/search/text.ts), so both sides take it from here; `counted: false`
 * there, so a cut counts once, when the row is written.
 */
export function storedBodyText(body: AnyValue, counted = true): string | null {
  return storedString(isStringBody(body) ? body.stringValue : anyValueToFilterString(body), counted);
}

// No column is staged as JSON, so rows are appended straight into the table.
// A string body (the common case) is kept once, in body_text; `body` holds the JSON of any other body.
export const logTable: TableSpec<LogInput> = {
  name: 'logs',
  indexes: [],
  columns: [
    { name: 'tenant', repeats: true, type: 'VARCHAR NOT NULL', get: (p) => p.l.tenant },
    { name: 'id', type: 'BIGINT NOT NULL', get: (p) => p.id },
    { name: 'time_ns', type: 'BIGINT', get: (p) => (p.l.timeUnixNano === 0n ? p.l.observedTimeUnixNano : p.l.timeUnixNano) },
    { name: 'time_unix_ns', type: 'BIGINT NOT NULL', get: (p) => p.l.timeUnixNano },
    { name: 'observed_ns', type: 'BIGINT NOT NULL', get: (p) => p.l.observedTimeUnixNano },
    { name: 'severity_number', type: 'INTEGER', get: (p) => p.l.severityNumber },
    { name: 'severity_text', repeats: true, type: 'VARCHAR', get: (p) => nullIfEmpty(p.l.severityText) },
    { name: 'body', type: 'VARCHAR', get: (p) => storedText(p.l.body, (b) => (isStringBody(b) ? null : encodeJson(b))) },
    { name: 'body_text', type: 'VARCHAR', get: (p) => storedBodyText(p.l.body) },
    { name: 'trace_key', type: 'INTEGER', get: (p) => (p.l.traceId ? traceKey(p.l.traceId) : null) },
    { name: 'trace_id', type: 'VARCHAR', get: (p) => nullIfEmpty(p.l.traceId) },
    { name: 'span_id', type: 'VARCHAR', get: (p) => nullIfEmpty(p.l.spanId) },
    { name: 'flags', type: 'UINTEGER', get: (p) => p.l.flags },
    { name: 'event_name', repeats: true, type: 'VARCHAR', get: (p) => nullIfEmpty(p.l.eventName) },
    { name: 'service_name', repeats: true, type: 'VARCHAR', get: (p) => p.res.service },
    { name: 'telemetry_source', repeats: true, type: 'VARCHAR', get: (p) => attrValue(p.l.attributes, p.res.flat, TELEMETRY_SOURCE_KEY) ?? null },
    ...attributeColumns<LogInput>((p) => p.l),
    { name: 'resource_id', type: 'BIGINT NOT NULL', get: (p) => p.res.id },
    { name: 'scope_id', type: 'BIGINT NOT NULL', get: (p) => p.scope.id },
  ],
};

export const LOG_RECORD_COLUMNS =
  'tenant, id, time_ns, time_unix_ns, observed_ns, severity_number, severity_text, body, body_text, trace_id, span_id, ' +
  'flags, event_name, attrs_flat, attributes, dropped_attributes, resource_id, scope_id';

export function decodeLog(row: Row, parts: PartDecoder): StoredLogRecord {
  return {
    id: String(row.id),
    tenant: row.tenant as string,
    resource: parts.resource(row.tenant as string, row.resource_id as bigint),
    scope: parts.scope(row.tenant as string, row.scope_id as bigint),
    timeUnixNano: row.time_unix_ns as bigint,
    observedTimeUnixNano: row.observed_ns as bigint,
    severityNumber: row.severity_number as number,
    severityText: (row.severity_text as string | null) ?? '',
    body: typeof row.body === 'string' ? decodeJson<AnyValue>(row.body) : { stringValue: row.body_text as string },
    attributes: decodeAttrs(row.attrs_flat as string, (row.attributes as string | null) ?? null),
    droppedAttributesCount: row.dropped_attributes as number,
    flags: row.flags as number,
    traceId: (row.trace_id as string | null) ?? '',
    spanId: (row.span_id as string | null) ?? '',
    eventName: (row.event_name as string | null) ?? '',
  };
}
