import { metricSeries } from '../resolvers/metrics.ts';
import { builder } from './builder.ts';
import { AggregationEnum, MetricTypeEnum } from './enums.ts';

builder.objectType('MetricSeries', {
  description: 'One labelled series, aggregated per step.',
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.expose('type', { type: MetricTypeEnum }),
    unit: t.exposeString('unit'),
    description: t.exposeString('description'),
    labels: t.field({ type: 'JSON', description: 'The label set of this series as a JSON object.', resolve: (s) => s.labels }),
    points: t.field({ type: ['SeriesPoint'], resolve: (s) => s.points }),
    exemplars: t.field({ type: ['Exemplar'], resolve: (s) => s.exemplars }),
  }),
});

builder.queryFields((t) => ({
  metricSeries: t.field({
    type: ['MetricSeries'],
    description:
      'Series of one metric in [from, to], one per label set. Without step, the range is cut into about 250 steps ' +
      '(whole seconds); at most 11000 points per series.',
    args: {
      name: t.arg.string({ required: true }),
      labels: t.arg({ type: 'JSON', description: 'Exact matches on point or resource attributes, e.g. {"service.name": "checkout"}.' }),
      from: t.arg({ type: 'Timestamp', required: true }),
      to: t.arg({ type: 'Timestamp', required: true }),
      step: t.arg({ type: 'Duration' }),
      aggregation: t.arg({
        type: AggregationEnum,
        defaultValue: 'AVG',
        description:
          'How a step of a number series combines its points. A step of a histogram-like series (histogram, exponential ' +
          'histogram, summary) is what was observed during it: AVG gives their mean, SUM their sum, COUNT how many, RATE ' +
          'how many per second; MIN, MAX and LAST are refused (GW_BAD_FILTER).',
      }),
      quantile: t.arg.float({
        description:
          'Histogram-like series only (else GW_BAD_FILTER): each step\'s value is this quantile (0 to 1) of what was observed ' +
          'during it, estimated from the buckets as Prometheus\' histogram_quantile does (linear within a bucket; a rank in ' +
          'the +Inf bucket gives the highest finite bound). Summaries answer only a quantile they carry, from their last point. ' +
          'The aggregation does not apply.',
      }),
    },
    resolve: (_, args, ctx) => metricSeries(ctx, args),
  }),
}));
