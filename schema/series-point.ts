import { builder } from './builder.ts';
import { instantFields } from './fields.ts';

builder.objectType('SeriesPoint', {
  description: 'One step of a series.',
  fields: (t) => ({
    ...instantFields(t, 'time', (p) => p.timeUnixNano),
    value: t.exposeFloat('value', {
      nullable: true,
      description: 'null when the step has no data. Histogram-like series: the mean of the distribution below, whatever the aggregation.',
    }),
    count: t.exposeFloat('count', {
      nullable: true,
      description:
        "Histogram-like series: observations of the distribution the step ends with: the step's delta points added up, or a cumulative point's count since its start time.",
    }),
    sum: t.exposeFloat('sum', { nullable: true, description: 'Histogram-like series: the sum of those observations.' }),
  }),
});
