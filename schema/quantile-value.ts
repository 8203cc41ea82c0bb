import { builder } from './builder.ts';
import { NON_FINITE_NULL, finiteOrNull } from './fields.ts';

builder.objectType('QuantileValue', {
  fields: (t) => ({
    quantile: t.exposeFloat('quantile'),
    value: t.float({ nullable: true, description: NON_FINITE_NULL, resolve: (q) => finiteOrNull(q.value) }),
  }),
});
