// ExportLogsServiceRequest → LogRecord[]: one record per log record, sharing its Resource and scope.
import type { LogRecord } from '../model/telemetry.ts';
import {
  type Decoded,
  type Msg,
  OtlpDecodeError,
  anyValue,
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

export function logsFromOtlp(request: Msg, tenant: string): Decoded<LogRecord> {
  const severities = otlpProto().enums.severityNumber;
  const out: Decoded<LogRecord> = { items: [], rejected: [] };
  let received: bigint | undefined;
  for (const g of scopeGroups(request, 'resourceLogs', 'scopeLogs', 'logRecords')) {
    for (let i = 0; i < g.items.length; i++) {
      try {
        const l = msg(g.items[i], 'logRecord');
        out.items.push({
          tenant,
          resource: g.resource,
          scope: g.scope,
          timeUnixNano: timeNs(l.timeUnixNano, 'time_unix_nano'),
          // A record with neither time is observed now, by us (as the spec asks of a collector):
          // left at 0 it was stored in 1970 and deleted by the next retention pass.
          observedTimeUnixNano:
            timeNs(l.observedTimeUnixNano, 'observed_time_unix_nano') || (timeNs(l.timeUnixNano, 'time_unix_nano') === 0n ? (received ??= BigInt(Date.now()) * 1_000_000n) : 0n),
          severityNumber: openEnumValue(l.severityNumber, severities, 'severity_number'),
          severityText: str(l.severityText, 'severity_text'),
          body: body(l.body),
          attributes: keyValues(l.attributes, 'log'),
          droppedAttributesCount: uint32(l.droppedAttributesCount, 'dropped_attributes_count'),
          flags: uint32(l.flags, 'flags'),
          traceId: optionalId(l.traceId, 16, 'trace_id'),
          spanId: optionalId(l.spanId, 8, 'span_id'),
          eventName: str(l.eventName, 'event_name'),
        });
      } catch (err) {
        out.rejected.push({ item: `${g.path}.logRecords[${i}]`, reason: reasonOf(err) });
      }
    }
  }
  return out;
}

function body(v: unknown): LogRecord['body'] {
  try {
    return anyValue(v);
  } catch (err) {
    throw new OtlpDecodeError(`log body: ${reasonOf(err)}`);
  }
}
