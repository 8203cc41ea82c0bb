// Log queries and the log ↔ span/trace correlation fields.
import type { StoredLogRecord } from '../src/stores/types.ts';
import { limitArg } from './args.ts';
import { callStore, noteSource } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import type { ConnectionModel, TraceModel } from './models.ts';
import { searchPage, type PageArgs } from './traces.ts';

/** How many of a trace's logs `Span.logs(window:)` looks through. */
export const WINDOW_LOGS_PER_TRACE = 1000;

export function searchLogs(ctx: GraphQLContext, args: PageArgs): Promise<ConnectionModel<StoredLogRecord>> {
  const store = ctx.stores.logs;
  return searchPage(ctx, args, 'logs', store.backend, (filter, request) => store.searchLogs(ctx.tenant, filter, request));
}

export async function getLog(ctx: GraphQLContext, id: string): Promise<StoredLogRecord | null> {
  const [log] = await callStore(() => ctx.stores.logs.getLogs(ctx.tenant, [id]));
  return log ?? null;
}

export function logTime(log: StoredLogRecord): bigint {
  // OTLP: when the source did not set a time, the observed time stands in for it.
  return log.timeUnixNano > 0n ? log.timeUnixNano : log.observedTimeUnixNano;
}

export function traceLogs(ctx: GraphQLContext, trace: TraceModel, args: { first?: number | null }): Promise<StoredLogRecord[]> {
  noteSource(ctx, 'Trace.logs', ctx.stores.logs.backend);
  const first = limitArg('first', args.first, 100);
  return firstLogs(ctx, 'Trace.logs', first, (limit) => ctx.loaders.traceLogs.load({ key: trace.traceId, limit }));
}

/**
 * At most `first` of a field's logs, one more read to know whether more match: then
 * `extensions.notes` says so, once per field and request (QA round 38c: a trace of 1,500 logs
 * answered 1,000 without a word, where Trace.spans says what it leaves out).
 */
export async function firstLogs(ctx: GraphQLContext, field: string, first: number, load: (limit: number) => Promise<StoredLogRecord[]>): Promise<StoredLogRecord[]> {
  const logs = await load(first + 1);
  if (logs.length <= first) return logs;
  const note = `${field}: more logs match than first (${first}) lets through; the first ${first} are sent`;
  if (!ctx.notes.includes(note)) ctx.notes.push(note);
  return logs.slice(0, first);
}


/** The first number of the OTLP severity range (TRACE 1–4 … FATAL 21–24); null when unset. */
export function severityLevel(severityNumber: number): 1 | 5 | 9 | 13 | 17 | 21 | null {
  if (severityNumber < 1) return null;
  return (Math.floor((Math.min(severityNumber, 24) - 1) / 4) * 4 + 1) as 1 | 5 | 9 | 13 | 17 | 21;
}
