import { builder } from './builder.ts';
import { instantFields } from './fields.ts';

builder.objectType('SeriesPoint', {
  description: 'One step of a series.',
  fields: (t) => ({
    ...instantFields(t, 'time', (p) => p.timeUnixNano),
    value: t.exposeFloat('value', { nullable: true, description: 'null when the step has no data.' }),
    count: t.exposeFloat('count', { nullable: true, description: 'Histogram-like series: observations in the step.' }),
    sum: t.exposeFloat('sum', { nullable: true, description: 'Histogram-like series: sum of the observations in the step.' }),
  }),
});
