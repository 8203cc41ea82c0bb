import { builder } from './builder.ts';
import { instantFields } from './fields.ts';

builder.objectType('SeriesPoint', {
  description: 'One step of a series.',
  fields: (t) => ({
    ...instantFields(t, 'time', (p) => p.timeUnixNano),
    value: t.exposeFloat('value', {
      nullable: true,
      description:
        'Steps without any point are left out; null when the step cannot be computed (RATE without an earlier point, ' +
        'a histogram step with no observations). Histogram-like series: the aggregation (or quantile) of the observations below.',
    }),
    count: t.exposeFloat('count', {
      nullable: true,
      description:
        'Histogram-like series: how many observations were made during the step (delta points added up; a cumulative ' +
        "point less the series' previous one, a reset counting from zero). DuckDB counts exactly; Prometheus' increase() " +
        'extrapolates to the step.',
    }),
    sum: t.exposeFloat('sum', { nullable: true, description: 'Histogram-like series: the sum of those observations.' }),
  }),
});
