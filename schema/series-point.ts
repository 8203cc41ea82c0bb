import { builder } from './builder.ts';
import { NON_FINITE_NULL, finiteOrNull, instantFields } from './fields.ts';

builder.objectType('SeriesPoint', {
  description: 'One step of a series.',
  fields: (t) => ({
    ...instantFields(t, 'time', (p) => p.timeUnixNano),
    value: t.float({
      nullable: true,
      description:
        'Steps without any point are left out; null when the step cannot be computed (RATE without an earlier point, ' +
        `a histogram step with no observations), and ${NON_FINITE_NULL} Histogram-like series: the aggregation (or quantile) of the observations below.`,
      resolve: (p) => finiteOrNull(p.value),
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
