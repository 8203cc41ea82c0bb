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
        description: 'Number series only; histogram-like series give each step its distribution (SeriesPoint.count, sum, value).',
      }),
    },
    resolve: (_, args, ctx) => metricSeries(ctx, args),
  }),
}));
