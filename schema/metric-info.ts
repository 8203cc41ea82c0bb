import { metricNames } from '../resolvers/metrics.ts';
import { builder } from './builder.ts';
import { MetricTypeEnum } from './enums.ts';

builder.objectType('MetricInfo', {
  fields: (t) => ({
    name: t.exposeString('name'),
    type: t.expose('type', { type: MetricTypeEnum }),
    unit: t.exposeString('unit'),
    description: t.exposeString('description'),
  }),
});

builder.queryFields((t) => ({
  metrics: t.field({
    nullable: true,
    type: ['MetricInfo'],
    description: 'Metric names with their type and unit; without from/to, over all stored data.',
    args: { from: t.arg({ type: 'Timestamp' }), to: t.arg({ type: 'Timestamp' }) },
    resolve: (_, args, ctx) => metricNames(ctx, args),
  }),
}));
