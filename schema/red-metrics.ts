// RED series (rate, errors, duration) of a service: what Trace.metrics, Span.metrics and
// Correlation.metrics return.
import type { RedPoint, RedSeries } from '../src/stores/correlation-types.ts';
import { nsToMs } from '../resolvers/time.ts';
import { builder } from './builder.ts';
import { instantFields } from './fields.ts';

type RedTotal = RedSeries['total'];
const ms = (ns: number | null) => (ns === null ? null : ns / 1e6);

export const RedPointRef = builder.objectRef<RedPoint>('RedPoint').implement({
  description: 'One step of a RED series.',
  fields: (t) => ({
    ...instantFields(t, 'time', (p) => p.timeUnixNano),
    requests: t.exposeFloat('requests', {
      description: 'Entry spans (SERVER, CONSUMER) that started in the step; fractional when estimated by PromQL increase().',
    }),
    errors: t.exposeFloat('errors', { description: 'Of those, the ones with status ERROR.' }),
    requestRate: t.exposeFloat('requestRate', {
      description: 'Requests per second of the step; of a last step cut short by the range end, over the last step-length of the range (a trailing window, derived from spans), so a chart neither dips nor spikes at its right edge.',
    }),
    errorRate: t.exposeFloat('errorRate', { description: 'Errors per second of the step.' }),
    p50Ms: t.float({ nullable: true, description: 'Duration quantiles in ms; null when the step had no request.', resolve: (p) => ms(p.p50Nano) }),
    p95Ms: t.float({ nullable: true, description: 'As p50Ms.', resolve: (p) => ms(p.p95Nano) }),
    p99Ms: t.float({ nullable: true, description: 'As p50Ms.', resolve: (p) => ms(p.p99Nano) }),
  }),
});

const totals = {
  requests: (s: RedSeries) => s.total.requests,
  errorRatio: (s: RedTotal) => (s.requests > 0 ? s.errors / s.requests : 0),
};

export const RedSeriesRef = builder.objectRef<RedSeries & { source?: string }>('RedSeries').implement({
  description: 'Rate, errors and duration of one service over a window, per step and in total.',
  fields: (t) => ({
    service: t.exposeString('service', { description: 'service.name.' }),
    source: t.string({
      description: 'The backend the series came from, e.g. "duckdb (derived from spans)" or "prometheus".',
      resolve: (s, _, ctx) => s.source ?? ctx.stores.correlation?.red.backend ?? 'unknown',
    }),
    ...instantFields(t, 'from', (s) => s.range.from),
    ...instantFields(t, 'to', (s) => s.range.to),
    stepMs: t.float({ description: 'The step of `points`, in milliseconds.', resolve: (s) => nsToMs(s.stepNano) }),
    points: t.field({ type: [RedPointRef], description: 'Every step, oldest first; empty steps have 0 requests.', resolve: (s) => s.points }),
    requests: t.float({ description: 'Over the whole window.', resolve: totals.requests }),
    errors: t.float({ description: 'Of those, the ones with status ERROR.', resolve: (s) => s.total.errors }),
    requestRate: t.float({
      description: 'Requests per second over the window; a window shorter than the step counts as one step, as its only point does.',
      resolve: (s) => s.total.requestRate,
    }),
    errorRate: t.float({ description: 'Errors per second, over the window as requestRate.', resolve: (s) => s.total.errorRate }),
    errorRatio: t.float({ description: 'errors / requests; 0 without requests.', resolve: (s) => totals.errorRatio(s.total) }),
    p50Ms: t.float({ nullable: true, description: 'Duration quantiles over the whole window in ms; null without requests.', resolve: (s) => ms(s.total.p50Nano) }),
    p95Ms: t.float({ nullable: true, description: 'As p50Ms.', resolve: (s) => ms(s.total.p95Nano) }),
    p99Ms: t.float({ nullable: true, description: 'As p50Ms.', resolve: (s) => ms(s.total.p99Nano) }),
  }),
});

/** Arguments of Span.metrics and Trace.metrics: the window around the span or trace, and the step. */
export const redWindowArgs = builder.args((t) => ({
  window: t.field({ type: 'Duration', defaultValue: 900_000_000_000n, description: 'Default 15 minutes.' }),
  step: t.field({ type: 'Duration', description: 'Default: the range in about 30 steps.' }),
}));
