// ExportLogsServiceRequest → LogRecord[]: one record per log record, sharing its Resource and scope.
import type { LogRecord } from '../model/telemetry.ts';
import {
  type Decoded,
  type Msg,
  type ScopeGroup,
  anyValue,
  OtlpDecodeError,
  convertItems,
  keyValues,
  msg,
  openEnumValue,
  optionalId,
  reasonOf,
  scopeGroups,
  str,
  timeNs,
  uint32,
} from './convert-common.ts';
import { otlpProto } from './proto.ts';

/** `receivedAt` (Unix nanoseconds): when the request was received; now when not given. */
export function logsFromOtlp(request: Msg, tenant: string, receivedAt?: bigint): Decoded<LogRecord> {
  const severities = otlpProto().enums.severityNumber;
  const out: Decoded<LogRecord> = { items: [], rejected: [] };
  let received = receivedAt;
  // A record with neither time is observed now, by us (as the spec asks of a collector): left at 0
  // it was stored in 1970 and deleted by the next retention pass.
  const now = (): bigint => (received ??= BigInt(Date.now()) * 1_000_000n);
  for (const g of scopeGroups(request, 'resourceLogs', 'scopeLogs', 'logRecords')) {
    convertItems(out, g.items, () => `${g.path}.logRecords`, (v) => logRecord(v, g, tenant, severities, now));
  }
  return out;
}

function logRecord(v: unknown, g: ScopeGroup, tenant: string, severities: Record<string, number>, now: () => bigint): LogRecord {
  const l = msg(v, 'logRecord');
  const timeUnixNano = timeNs(l.timeUnixNano, 'time_unix_nano');
  return {
    tenant,
    resource: g.resource,
    scope: g.scope,
    timeUnixNano,
    observedTimeUnixNano: timeNs(l.observedTimeUnixNano, 'observed_time_unix_nano') || (timeUnixNano === 0n ? now() : 0n),
    severityNumber: openEnumValue(l.severityNumber, severities, 'severity_number'),
    severityText: str(l.severityText, 'severity_text'),
    body: body(l.body),
    attributes: keyValues(l.attributes, 'log'),
    droppedAttributesCount: uint32(l.droppedAttributesCount, 'dropped_attributes_count'),
    flags: uint32(l.flags, 'flags'),
    traceId: optionalId(l.traceId, 16, 'trace_id'),
    spanId: optionalId(l.spanId, 8, 'span_id'),
    eventName: str(l.eventName, 'event_name'),
  };
}

function body(v: unknown): LogRecord['body'] {
  try {
    return anyValue(v);
  } catch (err) {
    throw new OtlpDecodeError(`log body: ${reasonOf(err)}`);
  }
}
