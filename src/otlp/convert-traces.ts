// ExportTraceServiceRequest → SpanRecord[]: one record per span, sharing its Resource and scope.
import type { SpanEvent, SpanLink, SpanRecord, StatusCode } from '../model/telemetry.ts';
import {
  type Decoded,
  type Msg,
  type ScopeGroup,
  convertItems,
  enumValue,
  idHex,
  idProblem,
  fail,
  keyValues,
  list,
  msg,
  openEnumValue,
  optionalId,
  scopeGroups,
  requiredId,
  sharedName,
  str,
  timeNs,
  uint32,
} from './convert-common.ts';
import { type OtlpProto, otlpProto } from './proto.ts';

// Most spans have no events or links: they share one frozen empty array (a push would throw).
const NO_EVENTS = Object.freeze([]) as unknown as SpanEvent[];
const NO_LINKS = Object.freeze([]) as unknown as SpanLink[];

function nonEmpty<T>(items: readonly unknown[], convert: (v: unknown, i: number) => T, empty: T[]): T[] {
  return items.length === 0 ? empty : items.map(convert);
}

export function spansFromOtlp(request: Msg, tenant: string): Decoded<SpanRecord> {
  const { enums } = otlpProto();
  const out: Decoded<SpanRecord> = { items: [], rejected: [] };
  for (const g of scopeGroups(request, 'resourceSpans', 'scopeSpans', 'spans')) {
    convertItems(out, g.items, () => `${g.path}.spans`, (v) => span(v, g, tenant, enums));
  }
  return out;
}

function span(v: unknown, g: ScopeGroup, tenant: string, enums: OtlpProto['enums']): SpanRecord {
  const sp = msg(v, 'span');
  return {
    tenant,
    resource: g.resource,
    scope: g.scope,
    traceId: requiredId(sp.traceId, 16, 'trace_id'),
    spanId: requiredId(sp.spanId, 8, 'span_id'),
    parentSpanId: optionalId(sp.parentSpanId, 8, 'parent_span_id'),
    traceState: str(sp.traceState, 'trace_state'),
    flags: uint32(sp.flags, 'flags'),
    name: sharedName(str(sp.name, 'name')),
    kind: openEnumValue(sp.kind, enums.spanKind, 'kind'),
    startTimeUnixNano: timeNs(sp.startTimeUnixNano, 'start_time_unix_nano'),
    endTimeUnixNano: timeNs(sp.endTimeUnixNano, 'end_time_unix_nano'),
    attributes: keyValues(sp.attributes, 'span'),
    droppedAttributesCount: uint32(sp.droppedAttributesCount, 'dropped_attributes_count'),
    events: nonEmpty(list(sp.events, 'events'), event, NO_EVENTS),
    droppedEventsCount: uint32(sp.droppedEventsCount, 'dropped_events_count'),
    links: nonEmpty(list(sp.links, 'links'), link, NO_LINKS),
    droppedLinksCount: uint32(sp.droppedLinksCount, 'dropped_links_count'),
    status: status(sp.status, enums.statusCode),
  };
}

function event(v: unknown): SpanEvent {
  const e = msg(v, 'event');
  return {
    timeUnixNano: timeNs(e.timeUnixNano, 'event.time_unix_nano'),
    name: str(e.name, 'event.name'),
    attributes: keyValues(e.attributes, 'event'),
    droppedAttributesCount: uint32(e.droppedAttributesCount, 'event.dropped_attributes_count'),
  };
}

function link(v: unknown, i: number): SpanLink {
  const l = msg(v, 'link');
  const traceId = idHex(l.traceId, 16) || fail('', (l, i) => idProblem(l.traceId, 16, `links[${i}].trace_id`), l, i);
  const spanId = idHex(l.spanId, 8) || fail('', (l, i) => idProblem(l.spanId, 8, `links[${i}].span_id`), l, i);
  return {
    traceId,
    spanId,
    traceState: str(l.traceState, 'link.trace_state'),
    flags: uint32(l.flags, 'link.flags'),
    attributes: keyValues(l.attributes, 'link'),
    droppedAttributesCount: uint32(l.droppedAttributesCount, 'link.dropped_attributes_count'),
  };
}

// A status code stays closed (0–2): it decides what counts as an error, and a number outside them
// has no error meaning to count with.
function status(v: unknown, codes: Record<string, number>): SpanRecord['status'] {
  const s = msg(v, 'status');
  return { code: enumValue(s.code, codes, 2, 'status.code') as StatusCode, message: str(s.message, 'status.message') };
}
