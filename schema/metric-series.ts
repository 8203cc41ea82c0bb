import { metricSeries } from '../resolvers/metrics.ts';
import { builder } from './builder.ts';
import { LABELS_ARG } from './fields.ts';
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
    nullable: true,
    type: ['MetricSeries'],
    description:
      'Series of one metric in [from, to], one per label set. Without step, the range is cut into about 250 steps ' +
      '(whole seconds); at most 11000 points per series.',
    args: {
      name: t.arg.string({ required: true }),
      labels: t.arg({ type: 'JSON', description: LABELS_ARG }),
      from: t.arg({ type: 'Timestamp', required: true }),
      to: t.arg({ type: 'Timestamp', required: true }),
      step: t.arg({ type: 'Duration' }),
      aggregation: t.arg({
        type: AggregationEnum,
        defaultValue: 'AVG',
        description:
          'How a step of a number series combines its points. A step of a histogram-like series (histogram, exponential ' +
          'histogram, summary) is what was observed during it: AVG gives their mean, SUM their sum, COUNT how many, RATE ' +
          'how many per second; MIN, MAX and LAST are refused (GW_BAD_FILTER). RATE is for counters (monotonic sums) and ' +
          'histogram-like series: of a gauge or a non-monotonic sum (UpDownCounter) it is refused (GW_BAD_FILTER).',
      }),
      quantile: t.arg.float({
        description:
          'Histogram-like series only (else GW_BAD_FILTER): each step\'s value is this quantile (0 to 1) of what was observed ' +
          'during it, estimated from the buckets as Prometheus\' histogram_quantile does (linear within a bucket; a rank in ' +
          'the +Inf bucket gives the highest finite bound). Summaries answer only a quantile they carry, from their last point. ' +
          'The aggregation does not apply.',
      }),
      groupBy: t.arg.stringList({
        description:
          'Combine the series that share the values of these labels into one series per group, as Prometheus\' `sum by (…)`; ' +
          '`[]` combines every series into one. A group\'s labels are these (a series without one of them groups with the others ' +
          'that lack it). Per step, a number series\' AVG is the mean of all the group\'s points, MIN and MAX the least and greatest, ' +
          'and SUM, COUNT, LAST and RATE the total of the series\' own values; a histogram-like group adds up what its series ' +
          'observed, then takes AVG, SUM, COUNT, RATE or quantile of that (a summary\'s quantile cannot be combined: GW_BAD_FILTER). ' +
          'Name labels by their OTel keys, as in `labels`; the groups\' labels come back as the store names them (from Prometheus: ' +
          'job for service.name, instance for service.instance.id, other names sanitised).',
      }),
    },
    resolve: (_, args, ctx) => metricSeries(ctx, args),
  }),
}));
