// Cross-signal correlation: a trace's or span's RED metrics and logs around it, and `correlate`,
// which starts from a trace, span or log and gathers the trace, its logs, its services' RED
// series, its exception groups and its neighbours in the service graph. Every field loads through
// the per-request DataLoaders, so a list of traces costs one backend call per level, and every
// field is resolved on its own, so one failing backend nulls only its own field.
import type { SpanRecord } from '../src/model/telemetry.ts';
import { serviceName } from '../src/model/values.ts';
import type { RedSeries } from '../src/stores/correlation-types.ts';
import type { StoredLogRecord, TimeRange } from '../src/stores/types.ts';
import { argumentError, limitArg, spanIdArg, traceIdArg } from './args.ts';
import { callStoreNoting, noteSource } from './call-store.ts';
import type { GraphQLContext } from './context.ts';
import { correlationStores } from './loaders.ts';
import { firstLogs, logTime, WINDOW_LOGS_PER_TRACE } from './logs.ts';
import { stepArg } from './metrics.ts';
import type { TraceModel } from './models.ts';
import { loadTrace, traceEnd, traceServices, traceSpan, traceStart } from './traces.ts';
import { INT64_MAX } from '../src/model/int64.ts';
import { requestNow } from '../src/server/request-clock.ts';

/** Default window around a trace or span for its metrics and logs. */
export const DEFAULT_WINDOW_NS = 15n * 60n * 1_000_000_000n;
/** Without a step, a correlation window is cut into about this many steps. */
const CORRELATION_STEPS = 30n;
const SECOND = 1_000_000_000n;

export function windowArg(window: bigint | null | undefined, fallback = DEFAULT_WINDOW_NS): bigint {
  const w = window ?? fallback;
  if (w < 0n) throw argumentError('window must not be negative');
  return w;
}


/** [start − window, end + window], clamped to the instants a Timestamp (and the stores) can hold. */
function around(start: bigint, end: bigint, window: bigint): Required<TimeRange> {
  const from = start - window;
  const to = end + window;
  return { from: from > 0n ? from : 0n, to: to < INT64_MAX ? to : INT64_MAX };
}

/**
 * The RED range around a trace or span: as `around`, but not past now (nor before the span's own end,
 * for a clock ahead of ours), with `grid` the whole range, which the step is taken from so that the
 * steps stay put as time passes. Steps that have not happened yet read as no traffic, and a chart
 * beside a recent trace dropped to zero at now, as in an outage (QA round 38e); a last step cut by
 * now has its rates over the last step-length of the range (red.ts).
 */
function redAround(start: bigint, end: bigint, window: bigint): Required<TimeRange> & { grid: Required<TimeRange> } {
  const grid = around(start, end, window);
  const now = requestNow();
  const latest = now > end ? now : end;
  return { from: grid.from, to: grid.to > latest ? latest : grid.to, grid };
}

function correlationStep(range: Required<TimeRange>, step: bigint | null | undefined): bigint {
  if (step != null) return stepArg(range.from, range.to, step);
  const s = (range.to - range.from + CORRELATION_STEPS - 1n) / CORRELATION_STEPS;
  return s < SECOND ? SECOND : ((s + SECOND - 1n) / SECOND) * SECOND;
}

export interface RedArgs {
  window?: bigint | null;
  step?: bigint | null;
}

/** RED series for each of `services` over one range, through the batched loader. */
export async function redFor(
  ctx: GraphQLContext,
  field: string,
  services: readonly string[],
  { grid, ...range }: Required<TimeRange> & { grid?: Required<TimeRange> },
  step?: bigint | null,
): Promise<RedSeries[]> {
  const stepNano = correlationStep(grid ?? range, step);
  const store = correlationStores(ctx.stores).red;
  noteSource(ctx, field, store.backend);
  return Promise.all(services.map((service) => ctx.loaders.red.load({ service, range, stepNano })));
}

export function traceMetrics(ctx: GraphQLContext, trace: TraceModel, args: RedArgs): Promise<RedSeries[]> {
  const range = redAround(traceStart(trace), traceEnd(trace), windowArg(args.window));
  return redFor(ctx, 'Trace.metrics', traceServices(trace), range, args.step);
}

export async function spanMetrics(ctx: GraphQLContext, span: SpanRecord, args: RedArgs): Promise<RedSeries> {
  const range = redAround(span.startTimeUnixNano, span.endTimeUnixNano, windowArg(args.window));
  const [series] = await redFor(ctx, 'Span.metrics', [serviceName(span.resource)], range, args.step);
  return series!;
}

/**
 * Without `window`: the logs that carry this span's ID. With `window`: the logs of the span's
 * trace, and those of its service that carry no trace ID at all, timed within
 * [start − window, end + window]. When the logs are read from a backend without that query, the
 * trace's logs are filtered by time instead (noted in `extensions.notes`).
 */
export async function spanLogsAround(
  ctx: GraphQLContext,
  span: SpanRecord,
  args: { first?: number | null; window?: bigint | null },
  field = args.window == null ? 'Span.logs' : 'Span.logs(window)',
): Promise<StoredLogRecord[]> {
  const first = limitArg('first', args.first, 100);
  if (args.window == null) {
    noteSource(ctx, field, ctx.stores.logs.backend);
    return firstLogs(ctx, field, first, (limit) => ctx.loaders.spanLogs.load({ key: { traceId: span.traceId, spanId: span.spanId }, limit }));
  }
  const range = around(span.startTimeUnixNano, span.endTimeUnixNano, windowArg(args.window));
  const windows = ctx.stores.correlation?.logWindows;
  if (windows) {
    noteSource(ctx, field, windows.backend);
    return firstLogs(ctx, field, first, (limit) => ctx.loaders.logsAround.load({ key: { traceId: span.traceId, service: serviceName(span.resource), range }, limit }));
  }
  ctx.notes.push(
    `${field}: ${ctx.stores.logs.backend} has no query for logs without a trace ID, so only the trace's logs ` +
      `(at most ${WINDOW_LOGS_PER_TRACE}) were filtered by time`,
  );
  const logs = await ctx.loaders.traceLogs.load({ key: span.traceId, limit: WINDOW_LOGS_PER_TRACE });
  return logs.filter((l) => logTime(l) >= range.from && logTime(l) <= range.to).slice(0, first);
}

/** What `correlate` starts from, once resolved to a trace (and maybe a span or a log). */
export interface CorrelationModel {
  traceId: string;
  spanId: string | null;
  logId: string | null;
  window: bigint;
  step: bigint | null;
}

export interface CorrelateArgs {
  traceId?: string | null;
  spanId?: string | null;
  logId?: string | null;
  window?: bigint | null;
  step?: bigint | null;
}

/**
 * Resolves the starting point to a trace ID: a log gives its trace (and span); a span ID alone is
 * looked up among the spans (span IDs are unique only within a trace, so the newest match wins);
 * a trace ID with a span ID is that span of that trace, the pair `span(traceId, spanId)` takes.
 * Null when the trace, span or log is unknown, the trace has no such span, or a log carries no trace
 * ID; a log whose span is not in its stored trace gives the trace (spanId null, with a note).
 */
export async function correlate(ctx: GraphQLContext, args: CorrelateArgs): Promise<CorrelationModel | null> {
  const given = [args.traceId, args.spanId, args.logId].filter((v) => v != null).length;
  if (given === 0) throw argumentError('correlate needs traceId, spanId or logId');
  if (args.logId != null && given > 1) throw argumentError('correlate takes logId alone');
  const window = windowArg(args.window);
  const step = args.step ?? null;
  if (args.logId != null) {
    const log = await ctx.loaders.log.load(args.logId);
    if (!log?.traceId) return null;
    const spanId = log.spanId || null;
    if (await traceHasSpan(ctx, log.traceId, spanId)) return { traceId: log.traceId, spanId, logId: log.id, window, step };
    // The trace without the log's span (a span still running, not yet exported; a hop that sends
    // logs but no spans): the log still correlates with its trace (QA round 38c: it was null).
    if (spanId === null || !(await traceHasSpan(ctx, log.traceId, null))) return null;
    ctx.notes.push(`correlate(logId): the log's span ${spanId} is not in its trace ${log.traceId} (not received yet, or never sent); correlating the trace`);
    return { traceId: log.traceId, spanId: null, logId: log.id, window, step };
  }
  const spanId = args.spanId != null ? spanIdArg(args.spanId) : null;
  if (args.traceId != null) {
    const traceId = traceIdArg(args.traceId);
    return (await traceHasSpan(ctx, traceId, spanId)) ? { traceId, spanId, logId: null, window, step } : null;
  }
  // Its notes: e.g. Jaeger saying which range it searched for a span it did not find.
  const page = await callStoreNoting(ctx, () => ctx.stores.traces.searchSpans(ctx.tenant, { spanId: [spanId!] }, { first: 1 }));
  const span = page.items[0]?.node;
  if (!span) return null;
  ctx.loaders.span.prime({ traceId: span.traceId, spanId: span.spanId }, span);
  return { traceId: span.traceId, spanId: span.spanId, logId: null, window, step };
}

/** Whether the trace is stored (and has the span, when one is named). */
async function traceHasSpan(ctx: GraphQLContext, traceId: string, spanId: string | null): Promise<boolean> {
  // The trace loads once per request: every correlated field reuses it.
  const trace = await loadTrace(ctx, traceId);
  return trace !== null && (spanId === null || traceSpan(trace, spanId) !== null);
}

export function correlationTrace(ctx: GraphQLContext, c: CorrelationModel): Promise<TraceModel | null> {
  return loadTrace(ctx, c.traceId);
}

/** The window the correlated fields cover: the trace ± window (or null when the trace is unknown). */
export async function correlationRange(ctx: GraphQLContext, c: CorrelationModel): Promise<Required<TimeRange> | null> {
  const trace = await loadTrace(ctx, c.traceId);
  return trace ? around(traceStart(trace), traceEnd(trace), c.window) : null;
}

export async function correlationLogs(ctx: GraphQLContext, c: CorrelationModel, args: { first?: number | null }): Promise<StoredLogRecord[]> {
  const first = limitArg('first', args.first, 100);
  if (c.spanId) {
    const span = await ctx.loaders.span.load({ traceId: c.traceId, spanId: c.spanId });
    if (span) return spanLogsAround(ctx, span, { first, window: c.window }, 'Correlation.logs');
  }
  noteSource(ctx, 'Correlation.logs', ctx.stores.logs.backend);
  return firstLogs(ctx, 'Correlation.logs', first, (limit) => ctx.loaders.traceLogs.load({ key: c.traceId, limit }));
}

export async function correlationMetrics(ctx: GraphQLContext, c: CorrelationModel): Promise<RedSeries[]> {
  const trace = await loadTrace(ctx, c.traceId);
  if (!trace) return [];
  return redFor(ctx, 'Correlation.metrics', traceServices(trace), redAround(traceStart(trace), traceEnd(trace), c.window), c.step);
}
